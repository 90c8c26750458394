//! `arca checkpoint`: create, list, restore, delete and diff a namespace's
//! checkpoints.

use arca_client::{Client, pb};
use serde_json::{Value, json};

use crate::args::CheckpointCommand;
use crate::support::*;

pub(crate) async fn run(
    client: &Client,
    out: &Out,
    command: CheckpointCommand,
) -> Result<(), Failure> {
    let mut checkpoints = client.checkpoints.clone();
    match command {
        CheckpointCommand::Create {
            namespace,
            name,
            description,
        } => {
            let cp = checkpoints
                .create_checkpoint(pb::CreateCheckpointRequest {
                    namespace_id: namespace,
                    name,
                    description,
                })
                .await?
                .into_inner();
            out.show(checkpoint_json(&cp), || cp.checkpoint_id.clone());
        }
        CheckpointCommand::Ls { namespace } => {
            let list = checkpoints
                .list_checkpoints(pb::ListCheckpointsRequest {
                    namespace_id: namespace,
                    page_size: 1000,
                    page_token: String::new(),
                })
                .await?
                .into_inner();
            out.show(
                Value::Array(list.checkpoints.iter().map(checkpoint_json).collect()),
                || {
                    list.checkpoints
                        .iter()
                        .map(|c| {
                            format!(
                                "{}  {:>6} entries  {:>10} bytes  {}",
                                c.checkpoint_id, c.entry_count, c.total_bytes, c.name
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        CheckpointCommand::Restore {
            namespace,
            checkpoint,
        } => {
            let restored = checkpoints
                .restore_checkpoint(pb::RestoreCheckpointRequest {
                    namespace_id: namespace,
                    checkpoint_id: checkpoint,
                })
                .await?
                .into_inner();
            out.show(json!({"entry_count": restored.entry_count}), || {
                format!("restored: {} entries", restored.entry_count)
            });
        }
        CheckpointCommand::Rm {
            namespace,
            checkpoint,
        } => {
            checkpoints
                .delete_checkpoint(pb::DeleteCheckpointRequest {
                    namespace_id: namespace,
                    checkpoint_id: checkpoint,
                })
                .await?;
            out.show(json!({}), String::new);
        }
        CheckpointCommand::Diff {
            namespace,
            from,
            to,
        } => {
            let diff = checkpoints
                .diff_checkpoints(pb::DiffCheckpointsRequest {
                    namespace_id: namespace,
                    from_checkpoint_id: from,
                    to_checkpoint_id: to.unwrap_or_default(),
                })
                .await?
                .into_inner();
            let paths = |l: &[pb::PathChange]| l.iter().map(|c| c.path.clone()).collect::<Vec<_>>();
            let value = json!({"added": paths(&diff.added), "removed": paths(&diff.removed), "changed": paths(&diff.changed)});
            out.show(value, || {
                let mut lines = Vec::new();
                lines.extend(diff.added.iter().map(|c| format!("+ {}", c.path)));
                lines.extend(diff.removed.iter().map(|c| format!("- {}", c.path)));
                lines.extend(diff.changed.iter().map(|c| format!("~ {}", c.path)));
                lines.join("\n")
            });
        }
    }
    Ok(())
}
