//! The properties of every parser that takes outside input, each a function
//! of arbitrary bytes that panics when its property fails. They are the
//! bodies of the coverage-guided targets in `fuzz/` (libFuzzer, run for a
//! bounded time by the test command) and of the property tests below, which
//! run them on the committed corpus and on random inputs in every build.
//!
//! Each input is read as UTF-8 (lossily: a parser sees text, as it does from
//! gRPC strings, TOML files and URLs), split on its first bytes where a
//! property needs more than one string.

mod http;

pub use http::http_requests;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::config::Config;
use crate::core::{page_token, parse_page_token};
use crate::error::Error;
use crate::ids::{is_sha256_hex, validate_id, validate_object_id, validate_server_id};
use crate::paths::{self, PathLimits};
use crate::presign::UrlSigner;

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// `data` as up to `n` strings split at NUL bytes (missing ones empty).
fn fields<const N: usize>(data: &[u8]) -> [String; N] {
    let mut out: [String; N] = std::array::from_fn(|_| String::new());
    for (slot, part) in out.iter_mut().zip(data.splitn(N, |b| *b == 0)) {
        *slot = text(part);
    }
    out
}

fn refused_plainly(e: &Error) {
    assert!(
        matches!(e, Error::InvalidArgument(_)),
        "a refusal must be INVALID_ARGUMENT, not {e:?}"
    );
}

/// Path normalisation: what it accepts is normal (idempotent, within the
/// limits, no empty, `.`, `..`, control or backslash segment, no leading or
/// trailing '/'), its ancestors are normal prefixes, and what it refuses is
/// INVALID_ARGUMENT. Small limits (chosen by the first byte) let inputs
/// reach them.
pub fn paths(data: &[u8]) {
    let (limits, data) = match data.split_first() {
        Some((b, rest)) if b % 2 == 0 => (
            PathLimits {
                max_path_bytes: 40,
                max_segment_bytes: 8,
            },
            rest,
        ),
        _ => (PathLimits::default(), data),
    };
    let raw = text(data);
    let normal = match paths::normalize(&raw, limits) {
        Ok(p) => p,
        Err(e) => {
            refused_plainly(&e);
            assert!(paths::normalize_entry(&raw, limits).is_err());
            assert!(paths::normalize_file(&raw, limits).is_err());
            return;
        }
    };
    assert_eq!(
        paths::normalize(&normal, limits).ok().as_ref(),
        Some(&normal)
    );
    assert!(normal.len() <= limits.max_path_bytes);
    assert!(!normal.starts_with('/') && !normal.ends_with('/'));
    if normal.is_empty() {
        assert!(paths::normalize_entry(&raw, limits).is_err());
        return;
    }
    for segment in normal.split('/') {
        assert!(!segment.is_empty() && segment != "." && segment != "..");
        assert!(segment.len() <= limits.max_segment_bytes);
        assert!(!segment.contains('\\') && !segment.chars().any(char::is_control));
    }
    for ancestor in paths::ancestors(&normal) {
        assert!(paths::is_within(&normal, ancestor));
        assert_eq!(
            paths::normalize(ancestor, limits).ok().as_deref(),
            Some(ancestor)
        );
    }
    assert_eq!(
        paths::join(paths::parent(&normal), paths::file_name(&normal)),
        normal
    );
    assert_eq!(
        paths::normalize_entry(&raw, limits).ok().as_ref(),
        Some(&normal)
    );
    assert_eq!(
        paths::normalize_file(&raw, limits).is_ok(),
        !raw.ends_with('/')
    );
}

/// Ids: a caller's sandbox, user or session id is accepted only in its
/// charset and length (it becomes a grid key segment); server ids only as
/// 32 lowercase hex, object ids with or without a 12-hex replica tag.
pub fn ids(data: &[u8]) {
    let id = text(data);
    match validate_id("user", &id) {
        Ok(()) => {
            assert!((1..=crate::ids::MAX_ID_LEN).contains(&id.len()));
            assert!(!id.starts_with('.') && !id.starts_with('-'));
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            );
            assert!(!id.contains('/') && id != "..");
        }
        Err(e) => refused_plainly(&e),
    }
    let hex32 = |s: &str| {
        s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    match validate_server_id("namespace", &id) {
        Ok(()) => assert!(hex32(&id)),
        Err(e) => refused_plainly(&e),
    }
    match validate_object_id(&id) {
        Ok(()) => match id.split_once('-') {
            Some((tag, rest)) => assert!(tag.len() == 12 && hex32(rest)),
            None => assert!(hex32(&id)),
        },
        Err(e) => refused_plainly(&e),
    }
    if is_sha256_hex(&id) {
        assert!(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

/// Page tokens: one that parses names the key it was made from; a key
/// always survives a round trip; anything else is INVALID_ARGUMENT.
pub fn page_tokens(data: &[u8]) {
    let token = text(data);
    match parse_page_token(&token) {
        Ok(Some(key)) => assert_eq!(page_token(&key), token.to_ascii_lowercase()),
        Ok(None) => assert!(token.is_empty()),
        Err(e) => refused_plainly(&e),
    }
    let expected = if token.is_empty() {
        None
    } else {
        Some(token.clone())
    };
    assert_eq!(parse_page_token(&page_token(&token)).ok(), Some(expected));
}

fn signer() -> &'static UrlSigner {
    static SIGNER: OnceLock<UrlSigner> = OnceLock::new();
    SIGNER.get_or_init(|| {
        UrlSigner::load(
            &Config::default(),
            Some("arca_p_fuzzing-key-0123456789abcdef".into()),
        )
        .expect("a signer")
    })
}

/// Presigned URLs: a request (method, path, query, clock) passes only with
/// the signature the key makes for exactly that method, path and expiry,
/// before that expiry; a URL the server signs passes, and fails for any
/// other method or path.
pub fn presigned_urls(data: &[u8]) {
    let [method, path, query, now] = fields::<4>(data);
    let now: i64 = now.trim().parse().unwrap_or(1_000);
    let signer = signer();
    if signer.verify(&method, &path, &query, now).is_ok() {
        let expires: i64 = query
            .split('&')
            .find_map(|p| p.strip_prefix("expires="))
            .and_then(|v| v.parse().ok())
            .expect("an accepted query names its expiry");
        assert!(expires > now);
        let genuine = signer.sign(&method, &path, expires);
        let signature = genuine.rsplit_once("signature=").unwrap().1;
        assert!(
            query.split('&').any(|p| p
                .strip_prefix("signature=")
                .is_some_and(|s| s.eq_ignore_ascii_case(signature))),
            "accepted a query without the genuine signature"
        );
    }
    // A clock at the end of time has no future to sign for.
    let Some(expires) = now.checked_add(60) else {
        return;
    };
    let url = signer.sign(&method, &path, expires);
    let signed_query = url.rsplit_once('?').unwrap().1;
    assert!(signer.verify(&method, &path, signed_query, now).is_ok());
    assert!(
        signer
            .verify(&method, &path, signed_query, expires)
            .is_err()
    );
    let other_method = format!("{method}X");
    assert!(
        signer
            .verify(&other_method, &path, signed_query, now)
            .is_err()
    );
    let other_path = format!("{path}/x");
    assert!(
        signer
            .verify(&method, &other_path, signed_query, now)
            .is_err()
    );
}

/// Configuration files: any text parses into a configuration or is
/// INVALID_ARGUMENT, and one that parses is checked as a whole the same way
/// (finalize never panics, whatever the values).
pub fn config_files(data: &[u8]) {
    match Config::from_toml(&text(data)) {
        Ok(config) => {
            if let Err(e) = config.finalize() {
                refused_plainly(&e);
            }
        }
        Err(e) => refused_plainly(&e),
    }
}

/// Keys files: any text adds well-formed keys (every secret a lowercase
/// SHA-256, no id twice) or is INVALID_ARGUMENT.
pub fn keys_files(data: &[u8]) {
    let configured = BTreeMap::new();
    match crate::auth::KeyRing::with_keys_file(&Config::default(), configured, &text(data)) {
        Ok(keys) => {
            for key in keys.values() {
                assert!(is_sha256_hex(&key.secret_sha256), "{key:?}");
            }
        }
        Err(e) => refused_plainly(&e),
    }
}

/// Tar archives (plain or gzip) as an import reads them: any bytes give
/// well-formed items or INVALID_ARGUMENT, never a panic or a hang; every
/// path is relative, without `..` or empty segments; a file's content
/// adds up to its declared size; a hard link names an earlier file.
pub fn tar_archives(data: &[u8]) {
    use crate::archive::read::{ChannelReader, Item, parse};
    let (bytes_tx, bytes_rx) = tokio::sync::mpsc::channel(1);
    let (items_tx, mut items_rx) = tokio::sync::mpsc::channel(4);
    let input = bytes::Bytes::copy_from_slice(data);
    let parser = std::thread::spawn(move || parse(ChannelReader::new(bytes_rx), &items_tx));
    bytes_tx.blocking_send(input).expect("the parser reads");
    drop(bytes_tx);
    let normal = |p: &str| {
        !p.is_empty()
            && !p.starts_with('/')
            && p.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
    };
    let (mut files, mut open): (std::collections::HashSet<String>, Option<(String, u64)>) =
        (Default::default(), None);
    let close = |open: &mut Option<(String, u64)>,
                 files: &mut std::collections::HashSet<String>| {
        if let Some((path, left)) = open.take() {
            assert_eq!(left, 0, "{path}: content short of its size");
            files.insert(path);
        }
    };
    while let Some(item) = items_rx.blocking_recv() {
        match item {
            Err(e) => {
                refused_plainly(&e);
                open = None;
            }
            Ok(Item::Data(piece)) => {
                let (_, left) = open.as_mut().expect("data belongs to a file");
                *left = left
                    .checked_sub(piece.len() as u64)
                    .expect("content past its size");
            }
            Ok(Item::File { path, size, .. }) => {
                close(&mut open, &mut files);
                assert!(normal(&path), "{path:?}");
                open = Some((path, size));
            }
            Ok(Item::Directory { path, .. }) => {
                close(&mut open, &mut files);
                assert!(normal(&path), "{path:?}");
            }
            Ok(Item::Link { path, target }) => {
                close(&mut open, &mut files);
                assert!(
                    normal(&path) && files.contains(&target),
                    "{path:?} -> {target:?}"
                );
            }
        }
    }
    parser.join().expect("the parser does not panic");
}

/// One property: a function of arbitrary bytes that panics when it fails.
pub type Property = fn(&[u8]);

/// Every target by name, for the property tests and the corpus runner.
pub const TARGETS: &[(&str, Property)] = &[
    ("paths", paths),
    ("ids", ids),
    ("page_tokens", page_tokens),
    ("presigned_urls", presigned_urls),
    ("config_files", config_files),
    ("keys_files", keys_files),
    ("http_requests", http_requests),
    ("tar_archives", tar_archives),
];

#[cfg(test)]
mod tests {
    use super::TARGETS;

    /// The committed corpus of every target, run as a regression suite.
    #[test]
    fn the_committed_corpus_passes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        let mut inputs = 0;
        for (name, target) in TARGETS {
            let dir = root.join(name);
            let entries =
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            for entry in entries {
                let path = entry.unwrap().path();
                target(&std::fs::read(&path).unwrap());
                inputs += 1;
            }
        }
        assert!(inputs >= TARGETS.len(), "a corpus is missing");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Random bytes and random text through every target.
        #[test]
        fn random_inputs_hold_every_property(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            text in "[a-z0-9/._\\-\\\\=&\\x00 \\[\\]\"#]{0,120}",
        ) {
            for (_, target) in TARGETS {
                target(&bytes);
                target(text.as_bytes());
            }
        }
    }
}
