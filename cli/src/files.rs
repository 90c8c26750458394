//! The file commands: put and get (a file, or a tree with -r), cat, ls,
//! stat, mkdir, rm, mv, cp and find.

use arca_client::{Client, pb};
use serde_json::{Value, json};

use crate::args::FileCommand;
use crate::support::*;
use arca_client::TransferOptions;

pub(crate) async fn run(client: &Client, out: &Out, command: FileCommand) -> Result<(), Failure> {
    let mut files = client.files.clone();
    match command {
        FileCommand::Put {
            local,
            remote: spec,
            recursive,
            mime,
        } => {
            let (ns, path) = remote(&spec);
            if recursive {
                let done = client
                    .upload_tree(&ns, &local, &path, 4, &TransferOptions::default())
                    .await?;
                out.show(Value::Array(done.iter().map(entry_json).collect()), || {
                    format!("uploaded {} files", done.len())
                });
            } else {
                let target = if path.is_empty() || path.ends_with('/') {
                    join_remote(
                        &path,
                        &local
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    )
                } else {
                    path
                };
                let entry = put_one(client, &ns, &target, &local, &mime).await?;
                out.show(entry_json(&entry), || {
                    format!(
                        "{}  {} bytes  sha256 {}",
                        entry.path, entry.size, entry.sha256
                    )
                });
            }
        }
        FileCommand::Get {
            remote: spec,
            local,
            recursive,
        } => {
            let (ns, path) = remote(&spec);
            if recursive {
                let done = client
                    .download_tree(&ns, &path, &local, 4, &TransferOptions::default())
                    .await?;
                out.show(json!({"files": done.len()}), || {
                    format!("downloaded {} files", done.len())
                });
            } else {
                let entry = files
                    .stat(pb::StatRequest {
                        namespace_id: ns.clone(),
                        path: path.clone(),
                    })
                    .await?
                    .into_inner();
                let target = if local.is_dir() {
                    local.join(entry.path.rsplit('/').next().unwrap_or("file"))
                } else {
                    local
                };
                get_one(client, &ns, &path, &target, entry.size).await?;
                out.show(entry_json(&entry), String::new);
            }
        }
        FileCommand::Cat { remote: spec } => {
            let (ns, path) = remote(&spec);
            let mut stdout = tokio::io::stdout();
            let request = pb::DownloadRequest {
                namespace_id: ns,
                path,
                ..Default::default()
            };
            client
                .download_into(request, &mut stdout, &TransferOptions::default())
                .await?;
        }
        FileCommand::Ls {
            remote: spec,
            recursive,
        } => {
            let (ns, path) = remote(&spec);
            let entries = list_all(client, &ns, &path, recursive).await?;
            out.show(
                Value::Array(entries.iter().map(entry_json).collect()),
                || {
                    entries
                        .iter()
                        .map(|e| {
                            if e.kind == pb::EntryKind::Directory as i32 {
                                format!("{:>12}  {}/", "-", e.path)
                            } else {
                                format!("{:>12}  {}", e.size, e.path)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        FileCommand::Stat { remote: spec } => {
            let (ns, path) = remote(&spec);
            let entry = files
                .stat(pb::StatRequest {
                    namespace_id: ns,
                    path,
                })
                .await?
                .into_inner();
            let value = entry_json(&entry);
            out.show(value.clone(), || {
                serde_json::to_string_pretty(&value).unwrap_or_default()
            });
        }
        FileCommand::Mkdir {
            remote: spec,
            parents,
        } => {
            let (ns, path) = remote(&spec);
            let entry = files
                .mkdir(pb::MkdirRequest {
                    namespace_id: ns,
                    path,
                    parents,
                    exist_ok: parents,
                })
                .await?
                .into_inner();
            out.show(entry_json(&entry), String::new);
        }
        FileCommand::Rm {
            remote: spec,
            recursive,
        } => {
            let (ns, path) = remote(&spec);
            let removed = files
                .remove(pb::RemoveRequest {
                    namespace_id: ns,
                    path,
                    recursive,
                })
                .await?
                .into_inner();
            out.show(
                json!({"entries_removed": removed.entries_removed}),
                String::new,
            );
        }
        FileCommand::Mv {
            source,
            destination,
            force,
            to_namespace,
        } => {
            let (ns, src) = remote(&source);
            let entry = files
                .r#move(pb::MoveRequest {
                    namespace_id: ns,
                    source: src,
                    destination,
                    overwrite: force,
                    parents: true,
                    target_namespace_id: to_namespace,
                })
                .await?
                .into_inner();
            out.show(entry_json(&entry), String::new);
        }
        FileCommand::Cp {
            source,
            destination,
            force,
            to_namespace,
        } => {
            let (ns, src) = remote(&source);
            let entry = files
                .copy(pb::CopyRequest {
                    namespace_id: ns,
                    source: src,
                    destination,
                    overwrite: force,
                    parents: true,
                    target_namespace_id: to_namespace,
                })
                .await?
                .into_inner();
            out.show(entry_json(&entry), String::new);
        }
        FileCommand::Find {
            remote: spec,
            pattern,
            mime,
            metadata,
        } => {
            let (ns, path) = remote(&spec);
            let mut found = Vec::new();
            let mut token = String::new();
            loop {
                let page = files
                    .find(pb::FindRequest {
                        namespace_id: ns.clone(),
                        path: path.clone(),
                        pattern: pattern.clone(),
                        mime_prefix: mime.clone(),
                        metadata: metadata.iter().cloned().collect(),
                        page_size: 10_000,
                        page_token: token,
                    })
                    .await?
                    .into_inner();
                found.extend(page.entries);
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            out.show(Value::Array(found.iter().map(entry_json).collect()), || {
                found
                    .iter()
                    .map(|e| e.path.clone())
                    .collect::<Vec<_>>()
                    .join("\n")
            });
        }
    }
    Ok(())
}

/// `rel` under the remote directory `base` (the namespace's root when
/// `base` is empty).
fn join_remote(base: &str, rel: &str) -> String {
    let base = base.trim_matches('/');
    if base.is_empty() {
        rel.to_owned()
    } else {
        format!("{base}/{rel}")
    }
}
