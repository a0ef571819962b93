//! `shoal cluster admin ...`: admin client certificates, the keys to the
//! control API from another machine. `node init` writes the first one;
//! more are made for a key made here (it never leaves this machine), and
//! any can be revoked: every manager refuses it from then on.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::{Value, json};
use shoal_proto::{AdminCertificate, CreateAdminCertificateRequest, GetClusterRequest, RevokeAdminCertificateRequest};

use crate::cli::format::ListFlags;
use crate::cli::{Ctx, args, each, human};
use crate::client::status;
use crate::daemon::certs;

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// List admin certificates
    #[command(alias = "list")]
    Ls {
        #[command(flatten)]
        list: ListFlags,
    },
    /// Make a new admin certificate and write it (ca.pem, cert.pem, key.pem) to a folder
    Create {
        /// Folder to write the bundle to (copy it to ~/.shoal on the admin's machine)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Validity period (ns|us|ms|s|m|h) [default: 1 year]
        #[arg(long, value_name = "DURATION", value_parser = args::duration_ns)]
        expiry: Option<i64>,
    },
    /// Revoke admin certificates: every manager refuses them from then on
    Revoke {
        /// Certificate id (or unique prefix)
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
}

pub async fn run(ctx: &mut Ctx, cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::Ls { list } => {
            let cluster = ctx.control().await?.get_cluster(GetClusterRequest {}).await.map_err(status)?.into_inner();
            let rows: Vec<Value> = cluster.admin_certificates.iter().map(row).collect();
            if list.quiet {
                rows.iter().for_each(|r| outln!("{}", r["ID"].as_str().unwrap_or_default()));
                return Ok(());
            }
            list.format().print_rows(
                &rows,
                &[("ID", "ID"), ("CREATED", "Created"), ("EXPIRES", "Expires"), ("STATUS", "Status")],
            )
        }
        AdminCommand::Create { out, expiry } => {
            if out.join("key.pem").exists() {
                anyhow::bail!("--out: {} holds a key already (key.pem): give a new folder", out.display());
            }
            let (csr, key) = shoal_manager::ca::request()?;
            let request = CreateAdminCertificateRequest { csr, expiry_ns: expiry.unwrap_or_default() };
            let issued = ctx.control().await?.create_admin_certificate(request).await.map_err(status)?.into_inner();
            certs::save(&out, &issued.ca_cert, &issued.cert, &key)
                .with_context(|| format!("--out: writing the bundle to {}", out.display()))?;
            outln!("{}", issued.certificate.unwrap_or_default().id);
            Ok(())
        }
        AdminCommand::Revoke { ids } => {
            let client = ctx.control().await?;
            each(ids, |id| {
                let mut client = client.clone();
                async move {
                    let revoked = client.revoke_admin_certificate(RevokeAdminCertificateRequest { id }).await?;
                    Ok(revoked.into_inner().id)
                }
            })
            .await
        }
    }
}

/// A row of `cluster admin ls`.
fn row(cert: &AdminCertificate) -> Value {
    let status = match () {
        _ if cert.revoked_at > 0 => format!("Revoked {}", human::ago(cert.revoked_at)),
        _ if cert.expires_at > 0 && cert.expires_at < shoal_proto::now_nanos() => "Expired".to_string(),
        _ => "Active".to_string(),
    };
    let when = |nanos: i64| if nanos > 0 { human::ago(nanos) } else { String::new() };
    let expires = if cert.expires_at > 0 { human::rfc3339(cert.expires_at) } else { String::new() };
    json!({ "ID": cert.id, "Created": when(cert.issued_at), "Expires": expires, "Status": status })
}
