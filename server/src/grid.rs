//! Grid keys: where a namespace's bytes live in a backend.
//!
//! Everything of a namespace lives under one deterministic prefix, so that
//! listing the prefix audits it and deleting the prefix removes it:
//! `grid/{sandbox}/sess-{session}/{ns}/` for SESSION scope,
//! `grid/{sandbox}/user-{user}/{ns}/` for USER scope and
//! `grid/{sandbox}/shared/{ns}/` for SANDBOX scope. Objects are
//! `{prefix}objects/{object id}`. Every id in a key was validated by
//! `crate::ids` first, so no caller input can steer a key elsewhere.

use arca_proto::v1::Scope;

use crate::error::{Result, invalid};
use crate::ids::validate_id;

/// The grid prefix of a namespace, validating the ids it is built from.
pub fn namespace_prefix(
    scope: Scope,
    sandbox: &str,
    user: &str,
    session: &str,
    namespace_id: &str,
) -> Result<String> {
    validate_id("sandbox", sandbox)?;
    let owner = match scope {
        Scope::Session => {
            validate_id("session", session)?;
            format!("sess-{session}")
        }
        Scope::User => {
            validate_id("user", user)?;
            format!("user-{user}")
        }
        Scope::Sandbox => "shared".to_owned(),
        Scope::Unspecified => return Err(invalid("scope is required")),
    };
    Ok(format!("grid/{sandbox}/{owner}/{namespace_id}/"))
}

/// The key of an object of a namespace.
pub fn object_key(prefix: &str, object_id: &str) -> String {
    format!("{prefix}objects/{object_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            namespace_prefix(Scope::User, "sb", "alice", "", "n1").unwrap(),
            "grid/sb/user-alice/n1/"
        );
        assert_eq!(
            namespace_prefix(Scope::Session, "sb", "alice", "s1", "n1").unwrap(),
            "grid/sb/sess-s1/n1/"
        );
        assert_eq!(
            namespace_prefix(Scope::Sandbox, "sb", "", "", "n1").unwrap(),
            "grid/sb/shared/n1/"
        );
        assert!(namespace_prefix(Scope::User, "sb", "../etc", "", "n1").is_err());
        assert!(namespace_prefix(Scope::User, "..", "alice", "", "n1").is_err());
        assert!(namespace_prefix(Scope::Unspecified, "sb", "alice", "", "n1").is_err());
    }
}
