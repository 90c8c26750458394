//! Presigned URLs that this server serves itself (for backends without
//! their own, the filesystem and memory ones): signing, checking, and the
//! HTTP endpoint in [`http`].
//!
//! A URL is `{public_url}{path}?expires={unix seconds}&signature={hex}`,
//! where the signature is HMAC-SHA256, under the server's presign key, of
//! `arca-presign-v1`, the HTTP method, the path and the expiry, one per
//! line. The path names exactly one target (an object of a namespace, or a
//! presigned upload), so a URL is bound to one object and one method;
//! changing any part of it breaks the signature. The key comes from a file
//! (a Kubernetes Secret) or is generated in the data directory on first
//! start, so URLs survive restarts.

pub mod http;

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::Config;
use crate::error::{Error, Result, invalid};

/// Expiry used when a request asks for none.
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(3600);
/// Shortest accepted HMAC key, in bytes.
const MIN_KEY_BYTES: usize = 32;
/// Domain separation: no other signature of this key can pass for a URL's.
const SCHEME: &str = "arca-presign-v1";

/// The path of a download URL of object `object_id` of namespace `ns_id`.
pub fn object_path(ns_id: &str, object_id: &str) -> String {
    format!("/presigned/v1/objects/{ns_id}/{object_id}")
}

/// The path of the upload URL of presigned upload `upload_id`.
pub fn upload_path(upload_id: &str) -> String {
    format!("/presigned/v1/uploads/{upload_id}")
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The query lacks `expires` or `signature`, or they are malformed.
    #[error("the URL is not a presigned Arca URL (expires and signature are required)")]
    Malformed,
    /// The signature does not match: tampered, or another method or object.
    #[error("the signature does not match this URL and method")]
    BadSignature,
    /// Past its expiry.
    #[error("the URL has expired")]
    Expired,
}

/// Signs and checks URLs.
pub struct UrlSigner {
    key: Vec<u8>,
    base: String,
    max_expiry: Duration,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlSigner")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl UrlSigner {
    /// The signer the configuration describes: its key file, else the key
    /// a shared metadata engine holds for every replica, else the key
    /// generated in the data directory.
    pub fn load(config: &Config, shared_key: Option<String>) -> Result<Self> {
        let key = match (&config.presign.hmac_key_file, shared_key) {
            (Some(path), _) => crate::auth::read_private_file(path)?.trim().to_owned(),
            (None, Some(key)) => key,
            (None, None) => {
                crate::auth::load_or_create_secret(&config.data_dir.join("presign.key"), "arca_p_")?
            }
        };
        if key.len() < MIN_KEY_BYTES {
            return Err(Error::InvalidArgument(format!(
                "the presign HMAC key must be at least {MIN_KEY_BYTES} characters"
            )));
        }
        let base = match &config.presign.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let scheme = if config.tls.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{}", config.listen)
            }
        };
        Ok(UrlSigner {
            key: key.into_bytes(),
            base,
            max_expiry: Duration::from_secs(config.presign.max_expiry_secs),
        })
    }

    /// The expiry to use for a request asking for `secs` (0: the default),
    /// refusing one beyond the configured maximum.
    pub fn expiry(&self, secs: u32) -> Result<Duration> {
        let wanted = if secs == 0 {
            DEFAULT_EXPIRY.min(self.max_expiry)
        } else {
            Duration::from_secs(u64::from(secs))
        };
        if wanted > self.max_expiry {
            return Err(invalid(format!(
                "expires_in_secs {secs} is beyond the maximum of {} seconds",
                self.max_expiry.as_secs()
            )));
        }
        Ok(wanted)
    }

    fn mac(&self, method: &str, path: &str, expires: i64) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(format!("{SCHEME}\n{method}\n{path}\n{expires}").as_bytes());
        mac
    }

    /// The full URL for `method` on `path`, valid until `expires` (Unix
    /// seconds).
    pub fn sign(&self, method: &str, path: &str, expires: i64) -> String {
        let signature = hex::encode(self.mac(method, path, expires).finalize().into_bytes());
        format!(
            "{}{path}?expires={expires}&signature={signature}",
            self.base
        )
    }

    /// Checks a request for `method` on `path` with the URL's `query`, at
    /// `now` (Unix seconds). The signature is checked first, in constant
    /// time, so an expired URL is only called expired if it is genuine.
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        query: &str,
        now: i64,
    ) -> std::result::Result<(), Refusal> {
        let (mut expires, mut signature) = (None, None);
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) if expires.is_none() => expires = Some(v),
                Some(("signature", v)) if signature.is_none() => signature = Some(v),
                Some(("expires" | "signature", _)) => return Err(Refusal::Malformed),
                _ => {}
            }
        }
        let expires: i64 = expires
            .and_then(|v| v.parse().ok())
            .ok_or(Refusal::Malformed)?;
        let signature = signature
            .and_then(|v| hex::decode(v).ok())
            .ok_or(Refusal::Malformed)?;
        self.mac(method, path, expires)
            .verify_slice(&signature)
            .map_err(|_| Refusal::BadSignature)?;
        if expires <= now {
            return Err(Refusal::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner {
            key: b"0123456789abcdef0123456789abcdef".to_vec(),
            base: "http://127.0.0.1:7420".into(),
            max_expiry: Duration::from_secs(86400),
        }
    }

    fn query(url: &str) -> &str {
        url.split_once('?').unwrap().1
    }

    proptest::proptest! {
        /// Any query string is refused unless it is exactly the signed
        /// one's; the parser never panics, whatever it is given.
        #[test]
        fn only_the_signed_query_passes(query in ".{0,120}", now in 0i64..2_000) {
            let s = signer();
            let path = object_path("ns1", "obj1");
            let url = s.sign("GET", &path, 1_000);
            let genuine = super::tests::query(&url).to_owned();
            let verdict = s.verify("GET", &path, &query, now);
            if query != genuine && !genuine.split('&').all(|pair| query.split('&').any(|q| q == pair)) {
                proptest::prop_assert!(verdict.is_err(), "{query:?} passed");
            }
        }

        /// Tampering with any one character of a genuine URL's query is
        /// refused.
        #[test]
        fn a_changed_character_is_refused(at in 0usize..200, c in proptest::char::range('0', 'z')) {
            let s = signer();
            let path = object_path("ns1", "obj1");
            let url = s.sign("GET", &path, 1_000);
            let genuine = super::tests::query(&url);
            let at = at % genuine.len();
            let mut changed: Vec<char> = genuine.chars().collect();
            // (Hex is read in either case: 'e' and 'E' are the same byte.)
            proptest::prop_assume!(!changed[at].eq_ignore_ascii_case(&c));
            changed[at] = c;
            let changed: String = changed.into_iter().collect();
            proptest::prop_assert!(s.verify("GET", &path, &changed, 999).is_err(), "{changed:?} passed");
        }
    }

    #[test]
    fn a_url_passes_for_its_method_path_and_time_only() {
        let s = signer();
        let path = object_path("ns1", "obj1");
        let url = s.sign("GET", &path, 1_000);
        assert!(url.starts_with("http://127.0.0.1:7420/presigned/v1/objects/ns1/obj1?"));
        assert_eq!(s.verify("GET", &path, query(&url), 999), Ok(()));
        assert_eq!(
            s.verify("PUT", &path, query(&url), 999),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            s.verify("GET", &object_path("ns1", "obj2"), query(&url), 999),
            Err(Refusal::BadSignature)
        );
        assert_eq!(
            s.verify("GET", &path, query(&url), 1_000),
            Err(Refusal::Expired)
        );
        let later = query(&url).replace("expires=1000", "expires=9000");
        assert_eq!(
            s.verify("GET", &path, &later, 999),
            Err(Refusal::BadSignature)
        );
        assert_eq!(s.verify("GET", &path, "", 999), Err(Refusal::Malformed));
        assert_eq!(
            s.verify("GET", &path, "expires=1000&signature=zz", 999),
            Err(Refusal::Malformed)
        );
        let twice = format!("{}&expires=9000", query(&url));
        assert_eq!(s.verify("GET", &path, &twice, 999), Err(Refusal::Malformed));
    }

    #[test]
    fn expiry_is_bounded() {
        let s = signer();
        assert_eq!(s.expiry(0).unwrap(), DEFAULT_EXPIRY);
        assert_eq!(s.expiry(900).unwrap(), Duration::from_secs(900));
        assert_eq!(s.expiry(86400).unwrap(), Duration::from_secs(86400));
        assert!(matches!(s.expiry(86401), Err(Error::InvalidArgument(_))));
    }
}
