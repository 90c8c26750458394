//! Identifiers: validation of caller-supplied ids and digests, and
//! generation of ours.
//!
//! Sandbox, user and session ids become segments of grid keys, so they are
//! held to a strict charset: 1 to 64 characters of `[A-Za-z0-9_.-]`, not
//! starting with '.' or '-'. Nothing a caller sends can change where bytes
//! land. Server-made ids (namespaces, uploads, objects) are random UUIDv4 in
//! simple (32 hex) form.

use crate::error::{Result, invalid};

/// Whether `s` is a lowercase hex SHA-256 (64 characters), the form every
/// digest takes in the contract, the configuration and the metadata.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Longest accepted sandbox, user or session id.
pub const MAX_ID_LEN: usize = 64;

/// Validates a caller-supplied sandbox, user or session id.
pub fn validate_id(kind: &str, id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(invalid(format!("{kind} id is required")));
    }
    if id.len() > MAX_ID_LEN {
        return Err(invalid(format!(
            "{kind} id is longer than {MAX_ID_LEN} characters"
        )));
    }
    if id.starts_with('.') || id.starts_with('-') {
        return Err(invalid(format!("{kind} id may not start with '.' or '-'")));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        return Err(invalid(format!(
            "{kind} id may only contain A-Z, a-z, 0-9, '_', '.' and '-'"
        )));
    }
    Ok(())
}

/// Validates a server-made id (32 lowercase hex characters) sent back by a
/// caller, so that a malformed one is INVALID_ARGUMENT rather than NOT_FOUND.
pub fn validate_server_id(kind: &str, id: &str) -> Result<()> {
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(invalid(format!("malformed {kind} id")))
    }
}

/// Validates an object id as the server makes them: a server id, or one
/// prefixed by the 12-hex tag of the replica that made it (`{tag}-{id}`).
pub fn validate_object_id(id: &str) -> Result<()> {
    let bare = match id.split_once('-') {
        Some((tag, rest))
            if tag.len() == 12 && tag.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            rest
        }
        Some(_) => return Err(invalid("malformed object id")),
        None => id,
    };
    validate_server_id("object", bare)
}

/// A new random id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_ids_may_carry_a_replica_tag() {
        validate_object_id(&new_id()).unwrap();
        validate_object_id(&format!("0123456789ab-{}", new_id())).unwrap();
        for bad in [
            "",
            "0123456789ab-",
            "0123456789a-x",
            &format!("XYZ456789abc-{}", new_id()),
        ] {
            assert!(validate_object_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids() {
        for ok in ["alice", "a.b-c_d", "A9", &"x".repeat(64)] {
            validate_id("user", ok).unwrap();
        }
        for bad in [
            "",
            "..",
            "../x",
            "a/b",
            ".hidden",
            "-x",
            "a b",
            "é",
            &"x".repeat(65),
            "a\0",
        ] {
            assert!(validate_id("user", bad).is_err(), "{bad:?}");
        }
        validate_server_id("namespace", &new_id()).unwrap();
        assert!(validate_server_id("namespace", "XYZ").is_err());
    }

    proptest::proptest! {
        /// Whatever a caller sends, an accepted id is safe as a storage key
        /// segment: its own characters only, never a path, never hidden.
        #[test]
        fn accepted_ids_are_key_safe(id in "\\PC{0,70}") {
            if validate_id("user", &id).is_ok() {
                proptest::prop_assert!(!id.is_empty() && id.len() <= 64);
                proptest::prop_assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
                proptest::prop_assert!(!id.starts_with('.') && !id.starts_with('-'));
            }
            if validate_server_id("namespace", &id).is_ok() {
                proptest::prop_assert!(id.len() == 32 && id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
            }
        }
    }
}
