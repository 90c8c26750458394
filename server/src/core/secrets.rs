//! Secrets every replica must share when no file gives them: the presign
//! HMAC key and the first-start admin key. On an embedded engine they are
//! files in the data directory; on a shared one, each replica has its own
//! data directory, so they live in the engine, made once by whichever
//! replica starts first.

use crate::error::Result;
use crate::meta::{self, MetaStore};

/// The secret called `name`, made (starting with `prefix`) if there is none.
pub(crate) async fn shared_secret(meta: &MetaStore, name: &str, prefix: &str) -> Result<String> {
    // Made before the job, so a re-run of the job offers the same one.
    let fresh = crate::auth::new_secret(prefix)?;
    let key = name.to_owned();
    meta.write(move |txn| {
        if let Some(existing) = txn.get(&meta::SECRETS, &key)? {
            return Ok(existing);
        }
        txn.put(&meta::SECRETS, &key, fresh.as_str())?;
        Ok(fresh.clone())
    })
    .await
}
