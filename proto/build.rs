//! Compiles `proto/arca/v1/*.proto` with protox (no system `protoc`) and
//! generates prost messages and tonic stubs, keeping the encoded descriptor
//! set for gRPC reflection.

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "proto/arca/v1/common.proto",
        "proto/arca/v1/namespace.proto",
        "proto/arca/v1/file.proto",
        "proto/arca/v1/session.proto",
        "proto/arca/v1/checkpoint.proto",
        "proto/arca/v1/presign.proto",
        "proto/arca/v1/admin.proto",
        "proto/arca/v1/changes.proto",
        "proto/arca/v1/archive.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    let out_dir = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("arca_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .bytes(".")
        .compile_fds(descriptors)?;
    Ok(())
}
