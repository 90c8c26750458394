//! The Arca v1 gRPC contract.
//!
//! The `.proto` files under `proto/arca/v1/` are the public API; this crate
//! holds only the code generated from them and the encoded descriptor set
//! that the server registers for gRPC reflection.

#![allow(clippy::all, missing_docs)]

/// Package `arca.v1`: messages and service stubs.
pub mod v1 {
    tonic::include_proto!("arca.v1");
}

/// The encoded `FileDescriptorSet` of every Arca proto file, for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/arca_descriptor.bin"));

pub use prost_types;
