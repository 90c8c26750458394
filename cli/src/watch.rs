//! `arca watch NS`: one line (or, with `--json`, one JSON object) per
//! change of a namespace, as changes commit, until Ctrl-C. `--since REV`
//! resumes after a revision (the last one printed), so nothing is missed
//! and nothing printed twice; a revision the server no longer keeps fails
//! with the oldest it has.

use arca_client::{Client, pb};
use pb::watch_namespace_response::Message as Out;
use serde_json::json;

use crate::support::{Failure, Out as Printer};

/// What to watch.
pub(crate) struct WatchArgs {
    pub(crate) namespace: String,
    pub(crate) since: Option<u64>,
    pub(crate) prefix: String,
    pub(crate) glob: String,
}

fn kind_name(kind: pb::ChangeKind) -> &'static str {
    use pb::ChangeKind as K;
    match kind {
        K::FileCreated => "created",
        K::FileReplaced => "replaced",
        K::FileDeleted => "deleted",
        K::Moved => "moved",
        K::DirectoryCreated => "mkdir",
        K::DirectoryRemoved => "rmdir",
        K::MetadataChanged => "metadata",
        K::Restored => "restored",
        K::Destroyed => "destroyed",
        K::Unspecified => "unknown",
    }
}

fn show(out: &Printer, c: &pb::Change) {
    let kind = kind_name(c.kind());
    let entry = c.entry.as_ref();
    let value = json!({
        "revision": c.revision,
        "kind": kind,
        "path": c.path,
        "old_path": c.old_path,
        "size": entry.map(|e| e.size),
        "sha256": entry.map(|e| e.sha256.clone()),
        "version": entry.map(|e| e.version),
        "checkpoint_id": c.checkpoint_id,
        "committed_at": c.committed_at.as_ref().map(|t| t.seconds * 1000 + i64::from(t.nanos / 1_000_000)),
    });
    out.show(value, || {
        let what = match c.kind() {
            pb::ChangeKind::Moved => format!("{} -> {}", c.old_path, c.path),
            pb::ChangeKind::Restored => format!("checkpoint {}", c.checkpoint_id),
            pb::ChangeKind::Destroyed => String::new(),
            _ => c.path.clone(),
        };
        format!("{:>8} {kind:<9} {what}", c.revision)
    });
}

/// Prints changes until the watch ends (the namespace destroyed) or the
/// process is interrupted.
pub(crate) async fn run(client: &Client, out: &Printer, args: WatchArgs) -> Result<(), Failure> {
    let mut stream = client
        .changes
        .clone()
        .watch_namespace(pb::WatchNamespaceRequest {
            namespace_id: args.namespace.clone(),
            since_revision: args.since,
            filter: Some(pb::ChangeFilter {
                path_prefix: args.prefix,
                glob: args.glob,
            }),
        })
        .await?
        .into_inner();
    while let Some(message) = stream.message().await? {
        match message.message {
            Some(Out::Started(s)) => eprintln!(
                "watching {} after revision {} (now at {}, oldest kept {})",
                args.namespace, s.since_revision, s.head_revision, s.oldest_revision
            ),
            Some(Out::Change(c)) => show(out, &c),
            Some(Out::Progress(_)) | None => {}
        }
    }
    Ok(())
}
