//! Grid keys: where a namespace's bytes live in a backend.
//!
//! Everything of a namespace lives under one deterministic prefix, so that
//! listing the prefix audits it and deleting the prefix removes it:
//! `grid/{sandbox}/sess-{session}/{ns}/` for SESSION scope,
//! `grid/{sandbox}/user-{user}/{ns}/` for USER scope and
//! `grid/{sandbox}/shared/{ns}/` for SANDBOX scope. Objects are
//! `{prefix}objects/{object id}`. Every id in a key was validated by
//! `crate::ids` first, so no caller input can steer a key elsewhere.
//!
//! An object stays under the prefix of the namespace that wrote it for its
//! whole life. Forks and cross-namespace copies within a sandbox share it
//! rather than copy it (see `core::refs`), so a namespace's prefix holds
//! everything it wrote, its tree may also name objects under other
//! namespaces' prefixes of the same sandbox, and an object others still
//! share outlives its namespace's destruction under that prefix. The
//! sandbox's prefix `grid/{sandbox}/` therefore always holds, and audits,
//! everything of a sandbox; the key alone names the sandbox and scope
//! ([`owner_of_key`]).

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

/// The sandbox and scope a grid key belongs to, read from the key itself.
pub fn owner_of_key(key: &str) -> Option<(String, Scope)> {
    let mut parts = key.strip_prefix("grid/")?.splitn(3, '/');
    let sandbox = parts.next()?.to_owned();
    let owner = parts.next()?;
    let scope = if owner.starts_with("sess-") {
        Scope::Session
    } else if owner.starts_with("user-") {
        Scope::User
    } else if owner == "shared" {
        Scope::Sandbox
    } else {
        return None;
    };
    Some((sandbox, scope))
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
        assert_eq!(
            owner_of_key("grid/sb/sess-s1/n1/objects/o"),
            Some(("sb".into(), Scope::Session))
        );
        assert_eq!(
            owner_of_key("grid/sb/shared/n1/objects/o"),
            Some(("sb".into(), Scope::Sandbox))
        );
        assert_eq!(owner_of_key("other/sb/user-a/n1"), None);
    }
}
