//! `arca meta`: a file's metadata, read and set (merged or replaced,
//! keys removed).

use arca_client::{Client, pb};
use serde_json::json;

use crate::args::MetaCommand;
use crate::support::*;
use std::collections::HashMap;

pub(crate) async fn run(client: &Client, out: &Out, command: MetaCommand) -> Result<(), Failure> {
    let mut files = client.files.clone();
    match command {
        MetaCommand::Get { remote: spec } => {
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
        MetaCommand::Set {
            remote: spec,
            pairs,
            replace,
            remove,
        } => {
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
    }
    Ok(())
}
