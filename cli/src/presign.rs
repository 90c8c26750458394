//! `arca presign`: URLs to download a file or upload one with plain HTTP,
//! and the finalize that verifies and commits an upload.

use arca_client::{Client, pb};
use serde_json::{Value, json};

use crate::args::PresignCommand;
use crate::support::*;

pub(crate) async fn run(
    client: &Client,
    out: &Out,
    command: PresignCommand,
) -> Result<(), Failure> {
    match command {
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
    }
    Ok(())
}
