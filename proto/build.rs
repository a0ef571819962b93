//! Generates the Rust types and gRPC services from `proto/shoal/v1`,
//! with the protoc binary vendored by `protoc-bin-vendored`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["objects", "store", "control", "dispatcher", "raft", "logs", "admin", "ca"]
        .map(|f| format!("proto/shoal/v1/{f}.proto"));
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    tonic_prost_build::configure().compile_with_config(config, &files, &["proto".to_string()])?;
    Ok(())
}
