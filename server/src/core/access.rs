//! Who may do what: the one place access rules are decided.
//!
//! | credential            | SESSION namespaces        | USER namespaces        | SANDBOX namespaces |
//! |-----------------------|---------------------------|------------------------|--------------------|
//! | admin key             | read, write               | read, write            | read, write, create|
//! | app key               | read, write, create       | read, write, create    | read               |
//! | session token         | its own session's: r, w, create | its user's: r, w, create | read      |
//!
//! Everything is limited to the credential's sandbox, except for an admin
//! key configured for all sandboxes. Sessions: admin and app keys open,
//! list, renew, read and close any session of their sandbox; a session token
//! renews, reads and closes only itself. A namespace the caller may not
//! reach is PERMISSION_DENIED whether or not it exists (only a caller who
//! reaches every sandbox is told NOT_FOUND), so ids cannot be probed.
//!
//! Every denial and every mutation is logged as an audit event (target
//! `arca::audit`): who (key or session id, never a secret), what, which
//! namespace, and the result.

use arca_proto::v1::Scope;

use crate::auth::{Identity, Role};
use crate::error::{Error, Result};
use crate::meta::NamespaceRecord;

/// What a call does to a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads content or metadata.
    Read,
    /// Changes content, metadata, or the namespace itself.
    Write,
}

/// Whether `who` may `access` the namespace `ns`.
pub fn may_access(who: &Identity, ns: &NamespaceRecord, access: Access) -> bool {
    if !who.reaches_sandbox(&ns.sandbox) {
        return false;
    }
    let shared = ns.scope == Scope::Sandbox as i32;
    match &who.role {
        Role::Admin { .. } => true,
        Role::App => !shared || access == Access::Read,
        Role::Session { user, session } => {
            if shared {
                access == Access::Read
            } else if ns.scope == Scope::Session as i32 {
                ns.session == *session
            } else {
                ns.user == *user
            }
        }
    }
}

/// The refusal for a namespace the caller may not reach (or that does not
/// exist, which the caller is not told).
pub fn denied(who: &Identity, ns_id: &str) -> Error {
    if who.is_global_admin() {
        Error::NotFound(format!("namespace {ns_id} not found"))
    } else {
        Error::PermissionDenied(format!("namespace {ns_id} does not exist or is not yours"))
    }
}

/// The owner a new namespace gets: the credential's identity filled in and
/// the requested one checked against it.
pub fn owner_for_create(
    who: &Identity,
    scope: Scope,
    sandbox: &str,
    user: &str,
    session: &str,
) -> Result<(String, String, String)> {
    let sandbox = if sandbox.is_empty() {
        who.sandbox.clone()
    } else {
        sandbox.to_owned()
    };
    crate::ids::validate_id("sandbox", &sandbox)?;
    if !who.reaches_sandbox(&sandbox) {
        return Err(Error::PermissionDenied(format!(
            "this credential does not reach sandbox {sandbox:?}"
        )));
    }
    let same_or = |given: &str, own: &str, what: &str| -> Result<String> {
        if given.is_empty() || given == own {
            Ok(own.to_owned())
        } else {
            Err(Error::PermissionDenied(format!(
                "a session token acts only for its own {what}"
            )))
        }
    };
    match (&who.role, scope) {
        (Role::Session { .. }, Scope::Sandbox) | (Role::App, Scope::Sandbox) => Err(
            Error::PermissionDenied("only admin keys create SANDBOX-scope namespaces".into()),
        ),
        (
            Role::Session {
                user: own_user,
                session: own_session,
            },
            Scope::Session,
        ) => Ok((
            sandbox,
            same_or(user, own_user, "user")?,
            same_or(session, own_session, "session")?,
        )),
        (Role::Session { user: own_user, .. }, Scope::User) => {
            if !session.is_empty() {
                return Err(Error::InvalidArgument(
                    "a USER-scope namespace belongs to no session; leave session empty".into(),
                ));
            }
            Ok((sandbox, same_or(user, own_user, "user")?, String::new()))
        }
        _ => Ok((sandbox, user.to_owned(), session.to_owned())),
    }
}

/// Whether `who` may manage the session `(sandbox, session_id)`.
pub fn may_manage_session(who: &Identity, sandbox: &str, session_id: &str) -> bool {
    match &who.role {
        Role::Session { session, .. } => session == session_id && who.sandbox == sandbox,
        Role::Admin { .. } | Role::App => who.reaches_sandbox(sandbox),
    }
}

/// Whether `who` may open sessions, and list them.
pub fn may_open_sessions(who: &Identity) -> bool {
    matches!(who.role, Role::Admin { .. } | Role::App)
}

/// Logs one audit event.
pub fn audit(who: &Identity, action: &str, namespace: &str, result: &Result<impl Sized>) {
    match result {
        Ok(_) => tracing::info!(
            target: "arca::audit",
            principal = %who.principal,
            sandbox = %who.sandbox,
            action,
            namespace,
            result = "ok",
        ),
        Err(e) => tracing::info!(
            target: "arca::audit",
            principal = %who.principal,
            sandbox = %who.sandbox,
            action,
            namespace,
            result = ?e.code(),
            reason = %e.public_message(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(scope: Scope, sandbox: &str, user: &str, session: &str) -> NamespaceRecord {
        NamespaceRecord {
            scope: scope as i32,
            sandbox: sandbox.into(),
            user: user.into(),
            session: session.into(),
            ..Default::default()
        }
    }

    fn who(role: Role, sandbox: &str) -> Identity {
        Identity {
            sandbox: sandbox.into(),
            role,
            principal: "test".into(),
        }
    }

    #[test]
    fn the_table() {
        let admin = who(
            Role::Admin {
                all_sandboxes: false,
            },
            "sb",
        );
        let global = who(
            Role::Admin {
                all_sandboxes: true,
            },
            "default",
        );
        let app = who(Role::App, "sb");
        let alice = who(
            Role::Session {
                user: "alice".into(),
                session: "s1".into(),
            },
            "sb",
        );
        let foreign = who(Role::App, "other");
        let own_session = ns(Scope::Session, "sb", "alice", "s1");
        let other_session = ns(Scope::Session, "sb", "alice", "s2");
        let own_user = ns(Scope::User, "sb", "alice", "");
        let bob = ns(Scope::User, "sb", "bob", "");
        let shared = ns(Scope::Sandbox, "sb", "", "");
        use Access::*;
        for (who, ns, access, expected) in [
            (&admin, &shared, Write, true),
            (&admin, &bob, Write, true),
            (&global, &bob, Write, true),
            (&app, &bob, Write, true),
            (&app, &own_session, Write, true),
            (&app, &shared, Read, true),
            (&app, &shared, Write, false),
            (&alice, &own_session, Write, true),
            (&alice, &other_session, Read, false),
            (&alice, &own_user, Write, true),
            (&alice, &bob, Read, false),
            (&alice, &shared, Read, true),
            (&alice, &shared, Write, false),
            (&foreign, &bob, Read, false),
            (&foreign, &shared, Read, false),
        ] {
            assert_eq!(
                may_access(who, ns, access),
                expected,
                "{who:?} {access:?} {ns:?}"
            );
        }
    }
}
