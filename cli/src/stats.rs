//! `arca stats`: usage per sandbox, backend and scope, and the backends'
//! state (admin keys).

use arca_client::{Client, pb};
use serde_json::{Value, json};

use crate::support::*;

pub(crate) async fn run(
    client: &Client,
    out: &Out,
    sandbox: Option<String>,
) -> Result<(), Failure> {
    let stats = client
        .admin
        .clone()
        .get_stats(pb::GetStatsRequest {
            sandbox: sandbox.unwrap_or_default(),
        })
        .await?
        .into_inner();
    let usage: Vec<Value> = stats
        .usage
        .iter()
        .map(|u| {
            json!({
                "sandbox": u.sandbox, "backend": u.backend,
                "scope": scope_name(u.scope),
                "namespaces": u.namespaces, "files": u.files, "bytes": u.bytes,
                "stored_objects": u.stored_objects, "stored_bytes": u.stored_bytes,
            })
        })
        .collect();
    let backends: Vec<Value> = stats
        .backends
        .iter()
        .map(|b| json!({"name": b.name, "kind": b.kind, "reachable": b.reachable, "location": b.location}))
        .collect();
    out.show(
        json!({
            "usage": usage, "backends": backends,
            "active_sessions": stats.active_sessions,
            "uploads_in_progress": stats.uploads_in_progress,
            "checkpoints": stats.checkpoints,
            "metadata_bytes": stats.metadata_bytes,
            "version": stats.version,
        }),
        || {
            let mut text =
                String::from("SANDBOX\tBACKEND\tSCOPE\tNAMESPACES\tFILES\tBYTES\tSTORED");
            for u in &stats.usage {
                let scope = scope_name(u.scope);
                text.push_str(&format!(
                    "\n{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    u.sandbox, u.backend, scope, u.namespaces, u.files, u.bytes, u.stored_bytes
                ));
            }
            for b in &stats.backends {
                let state = if b.reachable {
                    "reachable"
                } else {
                    "UNREACHABLE"
                };
                text.push_str(&format!("\nbackend {} ({}): {state}", b.name, b.kind));
            }
            text.push_str(&format!(
                "\nsessions {}, uploads in progress {}, checkpoints {}",
                stats.active_sessions, stats.uploads_in_progress, stats.checkpoints
            ));
            text
        },
    );
    Ok(())
}
