//! `arca`: the command line for an Arca server.
//!
//! Remote paths are written `NAMESPACE:PATH` (`PATH` defaults to the root),
//! like scp. The address comes from `--addr` or `ARCA_ADDR` (default
//! `http://127.0.0.1:7420`); the credential from `--token`, `ARCA_TOKEN`, a
//! token file (`--token-file`, `ARCA_TOKEN_FILE`), or else the admin key a
//! local server writes on first start (`./arca-data/admin.key`). TLS: an
//! `https://` address trusts the system roots, `--ca-file` / `ARCA_CA_FILE`
//! a custom CA. Progress bars show on a terminal only; `--json` prints machine-readable results.
//! Errors are one line on stderr, with an exit code per kind of failure.

mod archive;
mod args;
mod mount;
mod support;
mod watch;

use std::collections::HashMap;
use std::process::ExitCode;

use arca_client::{Client, TransferOptions, pb};
use clap::Parser;
use serde_json::{Value, json};

use args::*;
use support::*;

async fn run(cli: Cli) -> Result<(), Failure> {
    let out = Out { json: cli.json };
    let (addr, tls) = tls_for(&cli)?;
    let client = Client::connect_with(
        addr,
        arca_client::ConnectOptions {
            secret: token(&cli)?,
            tls,
        },
    )
    .await
    .map_err(|e| fail(7, format!("cannot reach {}: {e}", cli.addr)))?;
    let mut files = client.files.clone();
    match cli.command {
        Command::Ns(NsCommand::Create {
            ns_type,
            scope,
            user,
            session,
            sandbox,
            name,
            ttl,
            metadata,
            from,
            variables,
            template,
            profile,
        }) => {
            let source = from.map(|spec| {
                let (namespace_id, checkpoint_id) = match spec.split_once('@') {
                    Some((ns, ckpt)) => (ns.to_owned(), ckpt.to_owned()),
                    None => (spec, String::new()),
                };
                pb::NamespaceSource {
                    namespace_id,
                    checkpoint_id,
                    variables: variables.into_iter().collect(),
                }
            });
            let ns_type = match (ns_type, source.is_some()) {
                (Some(NsType::Blob), _) => pb::NamespaceType::Blob,
                (Some(NsType::Workspace), _) | (None, false) => pb::NamespaceType::Workspace,
                (None, true) => pb::NamespaceType::Unspecified,
            };
            let request = pb::CreateNamespaceRequest {
                r#type: ns_type as i32,
                source,
                template,
                profile: profile.map(|preset| pb::AccessProfile {
                    preset,
                    ..Default::default()
                }),
                scope: match scope {
                    ScopeArg::Session => pb::Scope::Session,
                    ScopeArg::User => pb::Scope::User,
                    ScopeArg::Sandbox => pb::Scope::Sandbox,
                } as i32,
                owner: Some(pb::Owner {
                    sandbox,
                    user,
                    session,
                }),
                summary: String::new(),
                initial_file: None,
                name,
                metadata: metadata.into_iter().collect(),
                ttl: seconds(ttl),
                backend: String::new(),
            };
            let ns = client
                .namespaces
                .clone()
                .create_namespace(request)
                .await?
                .into_inner();
            out.show(namespace_json(&ns), || ns.namespace_id.clone());
        }
        Command::Ns(NsCommand::Ls { user }) => {
            let mut all = Vec::new();
            let mut token = String::new();
            loop {
                let page = client
                    .namespaces
                    .clone()
                    .list_namespaces(pb::ListNamespacesRequest {
                        user: user.clone(),
                        page_token: token,
                        page_size: 1000,
                        ..Default::default()
                    })
                    .await?
                    .into_inner();
                all.extend(page.namespaces);
                if page.next_page_token.is_empty() {
                    break;
                }
                token = page.next_page_token;
            }
            out.show(
                Value::Array(all.iter().map(namespace_json).collect()),
                || {
                    all.iter()
                        .map(|n| {
                            let owner = n.owner.clone().unwrap_or_default();
                            let scope = scope_name(n.scope);
                            format!(
                                "{}  {:<13} {:<10} {:>10}  {}",
                                n.namespace_id, scope, owner.user, n.total_bytes, n.name
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        Command::Ns(NsCommand::Info { namespace }) => {
            let ns = client
                .namespaces
                .clone()
                .get_namespace(pb::GetNamespaceRequest {
                    namespace_id: namespace,
                })
                .await?
                .into_inner();
            let value = namespace_json(&ns);
            out.show(value.clone(), || {
                serde_json::to_string_pretty(&value).unwrap_or_default()
            });
        }
        Command::Ns(NsCommand::Rm { namespace }) => {
            let gone = client
                .namespaces
                .clone()
                .destroy_namespace(pb::DestroyNamespaceRequest {
                    namespace_id: namespace,
                })
                .await?
                .into_inner();
            out.show(
                json!({"files_removed": gone.files_removed, "bytes_removed": gone.bytes_removed}),
                || {
                    format!(
                        "destroyed: {} files, {} bytes",
                        gone.files_removed, gone.bytes_removed
                    )
                },
            );
        }
        Command::Put {
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
                let entry = put_one(&client, &ns, &target, &local, &mime).await?;
                out.show(entry_json(&entry), || {
                    format!(
                        "{}  {} bytes  sha256 {}",
                        entry.path, entry.size, entry.sha256
                    )
                });
            }
        }
        Command::Get {
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
                get_one(&client, &ns, &path, &target, entry.size).await?;
                out.show(entry_json(&entry), String::new);
            }
        }
        Command::Cat { remote: spec } => {
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
        Command::Ls {
            remote: spec,
            recursive,
        } => {
            let (ns, path) = remote(&spec);
            let entries = list_all(&client, &ns, &path, recursive).await?;
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
        Command::Stat { remote: spec } => {
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
        Command::Mkdir {
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
        Command::Rm {
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
        Command::Mv {
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
        Command::Cp {
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
        Command::Find {
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
        Command::Meta(MetaCommand::Get { remote: spec }) => {
            let (ns, path) = remote(&spec);
            let meta = files
                .get_metadata(pb::GetMetadataRequest {
                    namespace_id: ns,
                    path,
                })
                .await?
                .into_inner();
            let sorted: std::collections::BTreeMap<_, _> = meta.metadata.iter().collect();
            out.show(json!({"metadata": meta.metadata, "version": meta.version, "mime_type": meta.mime_type}), || {
                sorted.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n")
            });
        }
        Command::Meta(MetaCommand::Set {
            remote: spec,
            pairs,
            replace,
            remove,
        }) => {
            let (ns, path) = remote(&spec);
            let mode = if replace {
                pb::MetadataUpdateMode::Replace
            } else {
                pb::MetadataUpdateMode::Merge
            };
            let metadata: HashMap<String, String> = pairs.into_iter().collect();
            let entry = files
                .set_metadata(pb::SetMetadataRequest {
                    namespace_id: ns,
                    path,
                    mode: mode as i32,
                    metadata,
                    remove_keys: remove,
                    if_version_match: None,
                })
                .await?
                .into_inner();
            out.show(entry_json(&entry), String::new);
        }
        Command::Checkpoint(command) => {
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
                    let paths =
                        |l: &[pb::PathChange]| l.iter().map(|c| c.path.clone()).collect::<Vec<_>>();
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
        }
        Command::Mount {
            remote: spec,
            mountpoint,
            read_only,
            cache_ttl,
            spool_dir,
        } => {
            use crate::mount::{MountError, MountOptions, mount};
            let (namespace, root) = remote(&spec);
            let mut options = MountOptions::new(namespace);
            options.root = root;
            options.read_only = read_only;
            options.cache_ttl = std::time::Duration::from_secs_f64(cache_ttl.clamp(0.0, 86_400.0));
            options.spool_dir = spool_dir;
            let shown = mountpoint.display().to_string();
            let ready = || eprintln!("mounted {spec} at {shown}; Ctrl-C or SIGTERM unmounts");
            mount(client.clone(), options, &mountpoint, ready)
                .await
                .map_err(|e| match e {
                    MountError::Remote(e) => e.into(),
                    MountError::NotADirectory(_) => fail(6, e.to_string()),
                    MountError::Fuse(_) => fail(10, e.to_string()),
                })?;
        }
        Command::Export { source, file } => archive::export(&client, &out, &source, &file).await?,
        Command::Import {
            target,
            file,
            overwrite,
        } => archive::import(&client, &out, &target, &file, overwrite).await?,
        Command::Watch {
            namespace,
            since,
            prefix,
            glob,
        } => {
            let args = watch::WatchArgs {
                namespace,
                since,
                prefix,
                glob,
            };
            watch::run(&client, &out, args).await?;
        }
        Command::Stats { sandbox } => {
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
                            u.sandbox,
                            u.backend,
                            scope,
                            u.namespaces,
                            u.files,
                            u.bytes,
                            u.stored_bytes
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
        }
        Command::Presign(command) => match command {
            PresignCommand::Get {
                remote: spec,
                expires,
            } => {
                let (ns, path) = remote(&spec);
                let signed = client
                    .presign_download(
                        &ns,
                        &path,
                        std::time::Duration::from_secs(u64::from(expires)),
                    )
                    .await?;
                out.show(
                    json!({
                        "url": signed.url,
                        "method": signed.method,
                        "expires_at": signed.expires_at.map(|t| t.seconds),
                    }),
                    || signed.url.clone(),
                );
            }
            PresignCommand::Put {
                remote: spec,
                size,
                expires,
            } => {
                let (ns, path) = remote(&spec);
                let plan = client
                    .presign_upload(
                        &ns,
                        &path,
                        size,
                        std::time::Duration::from_secs(u64::from(expires)),
                    )
                    .await?;
                let parts: Vec<Value> = plan
                    .parts
                    .iter()
                    .map(|p| {
                        json!({"part_number": p.part_number, "url": p.url, "offset": p.offset, "length": p.length})
                    })
                    .collect();
                out.show(
                    json!({
                        "upload_id": plan.upload_id,
                        "method": plan.method,
                        "parts": parts,
                        "headers": plan.headers,
                        "expires_at": plan.expires_at.map(|t| t.seconds),
                        "finalize_by": plan.finalize_by.map(|t| t.seconds),
                    }),
                    || {
                        let mut text = plan.upload_id.clone();
                        for part in &plan.parts {
                            text.push_str(&format!("\n{} {}", plan.method, part.url));
                        }
                        text
                    },
                );
            }
            PresignCommand::Finalize {
                upload_id,
                sha256,
                parts,
            } => {
                let parts = parts
                    .into_iter()
                    .map(|(part_number, etag)| pb::UploadedPart { part_number, etag })
                    .collect();
                let entry = client
                    .finalize_upload(&upload_id, sha256.as_deref(), parts)
                    .await?;
                out.show(entry_json(&entry), || {
                    format!("{} {} {}", entry.path, entry.size, entry.sha256)
                });
            }
        },
        Command::Session(command) => {
            let mut sessions = client.sessions.clone();
            match command {
                SessionCommand::Open { user, ttl, name } => {
                    let opened = sessions
                        .open_session(pb::OpenSessionRequest {
                            user,
                            ttl: seconds(ttl),
                            sandbox: String::new(),
                            name,
                        })
                        .await?
                        .into_inner();
                    let id = opened.session.map(|s| s.session_id).unwrap_or_default();
                    let shown = json!({"session_id": id, "token": opened.token, "reopened": opened.reopened});
                    out.show(shown, || format!("{id}\n{}", opened.token));
                }
                SessionCommand::Renew { session, ttl } => {
                    let renewed = sessions
                        .renew_session(pb::RenewSessionRequest {
                            session_id: session.unwrap_or_default(),
                            ttl: seconds(ttl),
                        })
                        .await?
                        .into_inner();
                    out.show(json!({"session_id": renewed.session_id}), String::new);
                }
                SessionCommand::Close { session } => {
                    let closed = sessions
                        .close_session(pb::CloseSessionRequest {
                            session_id: session.unwrap_or_default(),
                        })
                        .await?
                        .into_inner();
                    out.show(
                        json!({"namespaces_destroyed": closed.namespaces_destroyed}),
                        String::new,
                    );
                }
            }
        }
    }
    Ok(())
}

/// jemalloc, not glibc's malloc: a transfer frees a chunk-sized buffer per
/// message (the gRPC encoder's and decoder's, which this process does not
/// choose), and glibc hands such memory back to the kernel as soon as the
/// top of its heap is free, so every next buffer is faulted in, zeroed and
/// charged again page by page: 130,000 page faults and a seventh of the
/// CPU of an `arca put` of 1 GiB. jemalloc keeps freed memory for a while
/// and returns it on a timer, which also suits a long `arca mount`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("arca: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn join_remote(base: &str, rel: &str) -> String {
    let base = base.trim_matches('/');
    if base.is_empty() {
        rel.to_owned()
    } else {
        format!("{base}/{rel}")
    }
}
