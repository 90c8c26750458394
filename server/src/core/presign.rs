//! Presigned transfers: the policy behind PresignDownload, PresignUpload
//! and FinalizeUpload, and the lookups the server's own URL endpoint makes.
//!
//! Asking for a URL is checked like the read or write it stands for. A
//! download URL is bound to the immutable object a file holds at signing
//! time. A presigned upload is an upload record (kept in the metadata like a
//! streamed one, so the reclaimer discards it if it is never finalized)
//! whose content arrives over HTTP: on the staging key for a single PUT, or
//! as the parts of a multipart upload of the object key on S3. Finalize
//! first takes the content out of the URL's reach (moves the staged object
//! to the object key, or completes the multipart upload), then takes the
//! digest of what is there and commits it only if size and digest hold.
//! The digest is the one the server's PUT computed as it wrote, where the
//! backend kept it with that very object (a file's extended attribute
//! follows the file through the move); otherwise the object is read back
//! and hashed.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::access::{self, Access};
use super::quota;
use super::replicas::{Attachment, Fence};
use super::tree::NewFile;
use super::{Core, WriteOptions};
use crate::auth::Identity;
use crate::blobs::{BlobStore, SignedUrl};
use crate::error::{Error, Result, invalid, not_found, precondition};
use crate::grid;
use crate::hashing::BesideHasher;
use crate::ids::{new_id, validate_server_id};
use crate::meta::{self, EntryRecord, UploadRecord};
use crate::presign::{object_path, upload_path};

/// A signed download.
pub struct PresignedDownload {
    /// The URL.
    pub url: String,
    /// When it stops working, ms since the epoch.
    pub expires_ms: i64,
    /// The file it serves, with its path.
    pub path: String,
    /// The entry at signing time.
    pub entry: EntryRecord,
}

/// One URL of an upload plan.
pub struct PlannedPart {
    /// The URL.
    pub url: String,
    /// 1-based part number.
    pub number: u32,
    /// First byte of the file it carries.
    pub offset: u64,
    /// Bytes it carries (0 with an unknown size in a one-part plan).
    pub length: u64,
}

/// A signed upload plan.
pub struct PresignedUpload {
    /// The upload id, for FinalizeUpload.
    pub upload_id: String,
    /// The parts.
    pub parts: Vec<PlannedPart>,
    /// Headers every request must carry.
    pub headers: Vec<(String, String)>,
    /// When the URLs stop working, ms since the epoch.
    pub expires_ms: i64,
    /// When an unfinalized upload is discarded, ms since the epoch.
    pub finalize_by_ms: i64,
}

/// Where a presigned PUT served by this server writes.
pub struct PutTarget {
    /// The backend.
    pub store: Arc<dyn BlobStore>,
    /// The staging key.
    pub key: String,
    /// The most bytes the body may carry (declared size or largest-file
    /// quota), if bounded.
    pub max_bytes: Option<u64>,
    /// Holds the upload against a concurrent PUT or finalize until dropped.
    pub _claim: Attachment,
}

fn expires_at(now_ms: i64, expiry: Duration) -> i64 {
    now_ms.saturating_add(i64::try_from(expiry.as_millis()).unwrap_or(i64::MAX))
}

/// The whole second a URL signed to expire at `expires_ms` carries: rounded
/// up, so that a URL given N seconds lasts at least N (rounded down, one
/// given a second could expire at once).
fn url_expiry_secs(expires_ms: i64) -> i64 {
    expires_ms.saturating_add(999) / 1000
}

impl Core {
    /// Signs a download URL for the file at `raw_path`, as `who` reads it.
    pub async fn presign_download(
        &self,
        who: &Identity,
        ns_id: &str,
        raw_path: &str,
        expires_in_secs: u32,
    ) -> Result<PresignedDownload> {
        let expiry = self.signer.expiry(expires_in_secs)?;
        validate_server_id("namespace", ns_id)?;
        let path = crate::paths::normalize(raw_path, self.config.limits.paths())?;
        // One snapshot: who may read, which backend, which object.
        let (ns, entry) = {
            let (who, ns_id, path) = (who.clone(), ns_id.to_owned(), path.clone());
            self.meta
                .read(move |r| {
                    let ns = Core::namespace_for(r, &who, &ns_id, Access::Read)?;
                    let entry = super::listing::stat(r, &ns, &path)?;
                    Ok((ns, entry))
                })
                .await?
        };
        if entry.is_dir() {
            return Err(precondition(format!("{path} is a directory")));
        }
        let store = self.backend(&ns.backend)?;
        let expires_ms = expires_at(self.meta.now_ms(), expiry);
        let url = match store.direct_urls() {
            Some(direct) => direct.presign_get(&entry.object_key, expiry).await?.url,
            None => self.signer.sign(
                "GET",
                &object_path(ns_id, &entry.object_id),
                url_expiry_secs(expires_ms),
            ),
        };
        Ok(PresignedDownload {
            url,
            expires_ms,
            path,
            entry,
        })
    }

    /// Plans a presigned upload of `raw_path`, as `who` writes it.
    pub async fn presign_upload(
        self: &Arc<Self>,
        who: &Identity,
        ns_id: &str,
        raw_path: &str,
        opts: WriteOptions,
        total_size: Option<u64>,
        expires_in_secs: u32,
    ) -> Result<PresignedUpload> {
        validate_server_id("namespace", ns_id)?;
        let expiry = self.signer.expiry(expires_in_secs)?;
        let path = crate::paths::normalize_file(raw_path, self.config.limits.paths())?;
        let opts = opts.validated_for(&path)?;
        let (ns, _) = self
            .check_write_target(who, ns_id, &path, &opts, total_size, None)
            .await?;
        if let Some(size) = total_size {
            quota::check_file_size(&self.quotas, &ns.sandbox, size)?;
        }
        let store = self.backend(&ns.backend)?;
        let object_id = self.new_object_id().await?;
        let object_key = grid::object_key(&ns.grid_prefix, &object_id);
        let upload_id = new_id();
        let expires_ms = expires_at(self.meta.now_ms(), expiry);
        let window_ms = i64::try_from(
            self.config
                .presign
                .finalize_window_secs
                .saturating_mul(1000),
        )
        .unwrap_or(i64::MAX);
        let finalize_by_ms = expires_ms.saturating_add(window_ms);

        // S3 multipart for a large declared size; one PUT otherwise.
        let multipart = store.direct_urls().and_then(|d| {
            total_size
                .filter(|size| *size > d.part_size())
                .map(|s| (d, s))
        });
        let (token, staging_key, parts, headers) = match (store.direct_urls(), multipart) {
            (Some(_), Some((direct, size))) => {
                let part_size = direct.part_size();
                let count = size.div_ceil(part_size);
                if count > 10_000 {
                    return Err(invalid(format!(
                        "{size} bytes need {count} parts of {part_size} bytes; S3 allows 10,000"
                    )));
                }
                // The upload record is saved before any part can arrive, and
                // the orphan sweep keeps a multipart upload its record names.
                let token = direct.start_parts(&object_key).await?;
                let mut parts = Vec::with_capacity(count as usize);
                let mut headers = Vec::new();
                for number in 1..=count as u32 {
                    let SignedUrl { url, headers: h } = direct
                        .presign_part(&object_key, &token, number, expiry)
                        .await?;
                    headers = h;
                    let offset = (u64::from(number) - 1) * part_size;
                    parts.push(PlannedPart {
                        url,
                        number,
                        offset,
                        length: part_size.min(size - offset),
                    });
                }
                (token, String::new(), parts, headers)
            }
            (Some(direct), None) => {
                let staging_key = grid::object_key(&ns.grid_prefix, &self.new_object_id().await?);
                let SignedUrl { url, headers } = direct.presign_put(&staging_key, expiry).await?;
                let part = PlannedPart {
                    url,
                    number: 1,
                    offset: 0,
                    length: total_size.unwrap_or(0),
                };
                (String::new(), staging_key, vec![part], headers)
            }
            (None, _) => {
                let staging_key = grid::object_key(&ns.grid_prefix, &self.new_object_id().await?);
                let part = PlannedPart {
                    url: self.signer.sign(
                        "PUT",
                        &upload_path(&upload_id),
                        url_expiry_secs(expires_ms),
                    ),
                    number: 1,
                    offset: 0,
                    length: total_size.unwrap_or(0),
                };
                (String::new(), staging_key, vec![part], Vec::new())
            }
        };
        let (must_not_exist, if_version_match) =
            super::uploads::precondition_fields(opts.precondition);
        let record = UploadRecord {
            namespace_id: ns_id.to_owned(),
            path: path.clone(),
            mime_type: opts.mime_type,
            metadata: opts.metadata,
            total_size,
            expected_sha256: opts.expected_sha256.unwrap_or_default(),
            must_not_exist,
            if_version_match,
            object_id,
            object_key: object_key.clone(),
            backend: ns.backend.clone(),
            token: token.clone(),
            persisted: 0,
            hash_state: Vec::new(),
            lease_expires_ms: finalize_by_ms,
            presigned: true,
            staging_key,
        };
        let (id, stored, quotas) = (upload_id.clone(), record.clone(), self.quotas.clone());
        // Its staged bytes settle on the owners' usage rows: their turn.
        let owner = quota::Owner::of(&ns);
        let saved = self
            .meta
            .write_reading(
                || owner.turns_alone(),
                move |txn| quota::save_upload(txn, &quotas, &id, &stored),
            )
            .await;
        if let Err(e) = saved {
            if !token.is_empty() {
                let _ = store.discard(&object_key, &token).await;
            }
            return Err(e);
        }
        tracing::info!(upload = %upload_id, namespace = %ns_id, path = %path, parts = parts.len(), "presigned upload planned");
        Ok(PresignedUpload {
            upload_id,
            parts,
            headers,
            expires_ms,
            finalize_by_ms,
        })
    }

    async fn presigned_record(&self, upload_id: &str) -> Result<UploadRecord> {
        let key = upload_id.to_owned();
        let record: UploadRecord = self
            .meta
            .read(move |r| r.get(&meta::UPLOADS, &key))
            .await?
            .ok_or_else(|| super::uploads::unknown_upload(upload_id))?;
        if record.lease_expires_ms <= self.meta.now_ms() {
            return Err(super::uploads::unknown_upload(upload_id));
        }
        if !record.presigned {
            return Err(precondition(format!(
                "upload {upload_id} is a streamed upload: finish it on its Upload stream"
            )));
        }
        Ok(record)
    }

    /// Where the server's own endpoint writes a PUT to upload `upload_id`
    /// (whose URL was already verified). Holds the upload while it lasts.
    pub async fn presigned_put_target(self: &Arc<Self>, upload_id: &str) -> Result<PutTarget> {
        validate_server_id("upload", upload_id)?;
        let claim = self.claim_upload(upload_id).await?;
        let record = self.presigned_record(upload_id).await?;
        let ns_id = record.namespace_id.clone();
        let sandbox = self
            .meta
            .read(move |r| Core::resolve_namespace(r, None, &ns_id, Access::Write))
            .await?;
        if record.staging_key.is_empty() {
            return Err(precondition(format!(
                "upload {upload_id} takes its content in parts sent to the store"
            )));
        }
        let quota = quota::largest_file(&self.quotas, &sandbox.sandbox);
        let max_bytes = match (record.total_size, quota) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(PutTarget {
            store: self.backend(&record.backend)?,
            key: record.staging_key,
            max_bytes,
            _claim: claim,
        })
    }

    /// The object a download URL names, if its namespace is still alive
    /// and still holds it: its backend, key and size.
    pub async fn presigned_object(
        &self,
        ns_id: &str,
        object_id: &str,
    ) -> Result<(Arc<dyn BlobStore>, String, u64)> {
        validate_server_id("namespace", ns_id)?;
        crate::ids::validate_object_id(object_id)?;
        let (ns_id, object_id) = (ns_id.to_owned(), object_id.to_owned());
        let object: meta::ObjectRecord = self
            .meta
            .read(move |r| {
                Core::resolve_namespace(r, None, &ns_id, Access::Read)?;
                r.get(&meta::OBJECTS, (&ns_id, &object_id))?
                    .ok_or_else(|| not_found("the object is gone"))
            })
            .await?;
        Ok((self.backend(&object.backend)?, object.key, object.size))
    }

    /// Verifies and commits a presigned upload, as `who`.
    pub async fn finalize_upload(
        self: &Arc<Self>,
        who: &Identity,
        upload_id: &str,
        expected_sha256: Option<String>,
        parts: Vec<(u32, String)>,
    ) -> Result<(String, EntryRecord)> {
        let result = self
            .finalize_upload_as(who, upload_id, expected_sha256, parts)
            .await;
        access::audit(
            who,
            "FinalizeUpload",
            &format!("upload:{upload_id}"),
            &result,
        );
        result
    }

    async fn finalize_upload_as(
        self: &Arc<Self>,
        who: &Identity,
        upload_id: &str,
        expected_sha256: Option<String>,
        mut parts: Vec<(u32, String)>,
    ) -> Result<(String, EntryRecord)> {
        validate_server_id("upload", upload_id)?;
        if let Some(sha) = &expected_sha256 {
            super::validate_sha256(sha)?;
        }
        parts.sort_by_key(|(number, _)| *number);
        for (i, (number, etag)) in parts.iter().enumerate() {
            if *number as usize != i + 1 {
                return Err(invalid(
                    "parts must be numbered 1 to N, each once".to_owned(),
                ));
            }
            if etag.is_empty() || etag.len() > 256 || etag.chars().any(char::is_control) {
                return Err(invalid(format!("part {number}: a malformed ETag")));
            }
        }
        // Only a caller who may write the target finalizes; to anyone else
        // the upload does not exist (the same answer as an unknown id, given
        // before anything else, even whether a request holds it).
        self.owned_upload(who, upload_id).await?;
        let claim = self.claim_upload(upload_id).await?;
        let record = self.presigned_record(upload_id).await?;
        let (caller, ns_id) = (who.clone(), record.namespace_id.clone());
        let ns = self
            .meta
            .read(move |r| Core::namespace_for(r, &caller, &ns_id, Access::Write))
            .await?;
        let store = self.backend(&record.backend)?;

        // Take the content out of the URLs' reach.
        let moved = if record.staging_key.is_empty() {
            let direct = store.direct_urls().ok_or_else(|| {
                Error::Internal("a multipart plan on a backend without direct URLs".into())
            })?;
            let planned = record
                .total_size
                .unwrap_or_default()
                .div_ceil(direct.part_size().max(1));
            if parts.len() as u64 != planned {
                return Err(invalid(format!(
                    "this upload was planned in {planned} parts: list each with its ETag, not {}",
                    parts.len()
                )));
            }
            direct
                .complete_parts(&record.object_key, &record.token, &parts)
                .await
        } else {
            if !parts.is_empty() {
                return Err(invalid(
                    "this upload was planned as one PUT: it takes no parts",
                ));
            }
            store.promote(&record.staging_key, &record.object_key).await
        };
        match moved {
            Ok(()) => {}
            Err(Error::NotFound(_)) => {
                return Err(precondition(format!(
                    "nothing has been uploaded for upload {upload_id} yet"
                )));
            }
            Err(e) => return Err(e),
        }

        let verified = self.verify_content(&*store, &record, expected_sha256).await;
        let (size, sha256) = match verified {
            Ok(found) => found,
            Err(e) => {
                // The content cannot commit: the upload is over.
                if let Err(cleanup) =
                    super::uploads::discard_upload(self, upload_id, &record, false).await
                {
                    tracing::warn!(upload = %upload_id, error = %cleanup, "could not discard a refused presigned upload");
                }
                return Err(e);
            }
        };
        if let Err(e) = quota::check_file_size(&self.quotas, &ns.sandbox, size) {
            let _ = super::uploads::discard_upload(self, upload_id, &record, false).await;
            return Err(e);
        }
        let precondition = super::uploads::record_precondition(&record);
        let file = NewFile {
            object_id: record.object_id.clone(),
            object_key: record.object_key.clone(),
            size,
            sha256,
            mime_type: record.mime_type.clone(),
            metadata: record.metadata.clone(),
            precondition,
            written: true,
            fence: Fence::of(&claim),
            replaces: None,
        };
        // A refused commit queues the object for reclaim itself.
        let committed = self
            .commit_object(
                who,
                &record.namespace_id,
                &quota::Owner::of(&ns),
                &record.path,
                file,
            )
            .await;
        let id = upload_id.to_owned();
        let owner = quota::Owner::of(&ns);
        if let Err(e) = self
            .meta
            .write_reading(
                || owner.turns_alone(),
                move |txn| quota::delete_upload(txn, &id),
            )
            .await
        {
            tracing::warn!(upload = %upload_id, error = %e, "could not delete a finalized upload's record");
        }
        let entry = committed?;
        tracing::info!(upload = %upload_id, size = entry.size, "presigned upload committed");
        Ok((record.path, entry))
    }

    /// Checks the object at the upload's key against the declared size and
    /// digest; returns its size and SHA-256.
    async fn verify_content(
        &self,
        store: &dyn BlobStore,
        record: &UploadRecord,
        expected_sha256: Option<String>,
    ) -> Result<(u64, String)> {
        let size = store
            .size(&record.object_key)
            .await?
            .ok_or_else(|| Error::DataLoss("the uploaded object vanished".into()))?;
        if let Some(total) = record.total_size
            && total != size
        {
            return Err(invalid(format!(
                "uploaded {size} bytes, not the declared total size of {total}; nothing was committed"
            )));
        }
        // Hashed by the PUT as it wrote (the digest went with the very
        // file promoted); read back and hashed only when it was not kept.
        let sha256 = match store.remembered_sha256(&record.object_key).await? {
            Some(sha256) => sha256,
            None => hash_object(store, &record.object_key, size).await?,
        };
        let expected = expected_sha256.unwrap_or_else(|| record.expected_sha256.clone());
        if !expected.is_empty() && expected != sha256 {
            return Err(invalid(format!(
                "content SHA-256 is {sha256}, not the expected {expected}; nothing was committed"
            )));
        }
        Ok((size, sha256))
    }
}

/// The SHA-256 of the object at `key`, read back: the next chunk is read
/// while the last one is hashed.
async fn hash_object(store: &dyn BlobStore, key: &str, size: u64) -> Result<String> {
    let mut stream = store.read(key, 0..size).await?;
    let mut hash = BesideHasher::default();
    while let Some(chunk) = stream.next().await {
        hash.feed(chunk?).await?;
    }
    hash.finish().await
}
