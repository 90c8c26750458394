//! `arca ns`: create (or fork) a namespace, list, show and destroy them.

use arca_client::{Client, pb};
use serde_json::{Value, json};

use crate::args::{NsCommand, NsType, ScopeArg};
use crate::support::*;

pub(crate) async fn run(client: &Client, out: &Out, command: NsCommand) -> Result<(), Failure> {
    match command {
        NsCommand::Create {
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
        } => {
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
        NsCommand::Ls { user } => {
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
        NsCommand::Info { namespace } => {
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
        NsCommand::Rm { namespace } => {
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
    }
    Ok(())
}
