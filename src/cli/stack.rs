//! `shoal stack ...`: compose files as `docker stack` reads them. `stack
//! config` prints the merged, interpolated file in its normal form (long
//! syntax, durations and sizes spelled out) without deploying it, with
//! `$` written `$$`, so the output reads back as the same file.

use anyhow::Result;
use clap::Subcommand;

use crate::stack::{interpolate, load};

#[derive(Subcommand, Debug)]
pub enum StackCommand {
    /// Print the merged, interpolated compose file (nothing is deployed)
    Config {
        /// Path to a compose file, or "-" to read from stdin; several merge in order
        #[arg(short = 'c', long = "compose-file", value_name = "FILE", required = true)]
        compose_file: Vec<String>,
        /// Variables for interpolation [default: .env beside the first file]
        #[arg(long, value_name = "FILE")]
        env_file: Option<std::path::PathBuf>,
    },
}

pub fn run(cmd: StackCommand) -> Result<()> {
    match cmd {
        StackCommand::Config { compose_file, env_file } => {
            let loaded = load::load(&compose_file, env_file.as_deref())?;
            for warning in &loaded.warnings {
                eprintln!("WARN: {warning}");
            }
            // The normal form, as a compose file: `$` escaped, so it reads
            // back the same.
            let mut tree = serde_json::to_value(&loaded.compose)?;
            interpolate::escape(&mut tree);
            print!("{}", serde_saphyr::to_string(&tree)?);
            Ok(())
        }
    }
}
