//! Conversions between protobuf messages and core types. Nothing here
//! decides anything; it only translates.

use std::collections::BTreeMap;
use std::collections::HashMap;

use arca_proto::v1 as pb;
use prost_types::Timestamp;

use crate::core::{MetadataUpdate, Precondition, WriteOptions};
use crate::error::{Error, Result, invalid};
use crate::meta::{EntryRecord, KIND_DIRECTORY, NamespaceRecord};

/// Milliseconds since the epoch as a protobuf timestamp.
pub fn timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// An entry as the contract shows it.
pub fn entry(path: &str, e: &EntryRecord) -> pb::Entry {
    pb::Entry {
        path: path.to_owned(),
        kind: if e.kind == KIND_DIRECTORY {
            pb::EntryKind::Directory
        } else {
            pb::EntryKind::File
        } as i32,
        size: e.size,
        sha256: e.sha256.clone(),
        mime_type: e.mime_type.clone(),
        metadata: e.metadata.clone().into_iter().collect(),
        version: e.version,
        created_at: Some(timestamp(e.created_ms)),
        modified_at: Some(timestamp(e.modified_ms)),
        grid_key: e.object_key.clone(),
    }
}

/// A page of entries as the contract shows it.
pub fn entries(page: &[(String, EntryRecord)]) -> Vec<pb::Entry> {
    page.iter().map(|(path, e)| entry(path, e)).collect()
}

/// A namespace as the contract shows it.
/// A namespace as `who` sees it (with whether `who` may change it).
pub fn namespace(ns: &NamespaceRecord, who: &crate::auth::Identity) -> pb::Namespace {
    pb::Namespace {
        writable: crate::core::access::may_access(who, ns, crate::core::access::Access::Write),
        // Read from the usage counters; only GetNamespace fills it in.
        quota: None,
        namespace_id: ns.id.clone(),
        r#type: ns.ns_type,
        scope: ns.scope,
        name: ns.name.clone(),
        owner: Some(pb::Owner {
            sandbox: ns.sandbox.clone(),
            user: ns.user.clone(),
            session: ns.session.clone(),
        }),
        metadata: ns.metadata.clone().into_iter().collect(),
        created_at: Some(timestamp(ns.created_ms)),
        expires_at: ns.expires_ms.map(timestamp),
        backend: ns.backend.clone(),
        grid_prefix: ns.grid_prefix.clone(),
        file_count: ns.file_count,
        total_bytes: ns.total_bytes,
        summary: ns.summary.clone(),
        template: ns.template,
        profile: ns.profile.as_ref().map(profile),
    }
}

/// A stored access profile as the contract shows it (every value filled in).
pub fn profile(p: &crate::meta::ProfileRecord) -> pb::AccessProfile {
    pb::AccessProfile {
        preset: p.preset.clone(),
        read_only: Some(p.read_only),
        allowed_globs: p.allowed_globs.clone(),
        denied_globs: p.denied_globs.clone(),
        max_file_bytes: p.max_file_bytes,
        max_files: p.max_files,
        allowed_mime_prefixes: p.allowed_mime_prefixes.clone(),
    }
}

/// An access profile request from the wire.
pub fn profile_request(p: pb::AccessProfile) -> crate::core::profile::ProfileRequest {
    crate::core::profile::ProfileRequest {
        preset: p.preset,
        read_only: p.read_only,
        allowed_globs: p.allowed_globs,
        denied_globs: p.denied_globs,
        max_file_bytes: p.max_file_bytes,
        max_files: p.max_files,
        allowed_mime_prefixes: p.allowed_mime_prefixes,
    }
}

/// A map from the wire into the sorted form the core stores.
pub fn map(m: HashMap<String, String>) -> BTreeMap<String, String> {
    m.into_iter().collect()
}

/// A precondition from the wire.
pub fn precondition(p: Option<pb::Precondition>) -> Precondition {
    match p.and_then(|p| p.condition) {
        None | Some(pb::precondition::Condition::MustNotExist(false)) => Precondition::None,
        Some(pb::precondition::Condition::MustNotExist(true)) => Precondition::MustNotExist,
        Some(pb::precondition::Condition::IfVersionMatch(v)) => Precondition::VersionMatch(v),
    }
}

/// A metadata update from the wire.
pub fn metadata_update(
    mode: i32,
    set: HashMap<String, String>,
    remove: Vec<String>,
) -> Result<MetadataUpdate> {
    match pb::MetadataUpdateMode::try_from(mode)
        .map_err(|_| invalid("unknown metadata update mode"))?
    {
        pb::MetadataUpdateMode::Replace => {
            if !remove.is_empty() {
                return Err(invalid("remove_keys only applies to MERGE"));
            }
            Ok(MetadataUpdate::Replace(map(set)))
        }
        pb::MetadataUpdateMode::Merge | pb::MetadataUpdateMode::Unspecified => {
            Ok(MetadataUpdate::Merge {
                set: map(set),
                remove,
            })
        }
    }
}

/// Write options from the fields every write message has.
pub fn write_options(
    mime_type: String,
    metadata: HashMap<String, String>,
    precondition_msg: Option<pb::Precondition>,
    expected_sha256: String,
) -> WriteOptions {
    WriteOptions {
        mime_type,
        metadata: map(metadata),
        precondition: precondition(precondition_msg),
        expected_sha256: Some(expected_sha256).filter(|s| !s.is_empty()),
    }
}

/// A batch item's failure.
pub fn item_error(e: Error) -> pb::ItemError {
    let status = tonic::Status::from(e);
    pb::ItemError {
        code: status.code() as i32,
        message: status.message().to_owned(),
    }
}
