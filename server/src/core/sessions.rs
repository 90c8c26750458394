//! Sessions: leases in the metadata that SESSION-scope namespaces live on, and the
//! resolution of bearer secrets into identities.
//!
//! A session has a random id and a random bearer token; only the token's
//! SHA-256 is stored. Renewing extends the lease; closing it, or its lease
//! running out, makes its namespaces unreadable at once and the reclaimer
//! destroys them (see `reclaim`).

use std::sync::Arc;
use std::time::Duration;

use super::access::{self, may_manage_session, may_open_sessions};
use super::{Core, page_size, page_token, parse_page_token};
use crate::auth::{Identity, Role, new_secret, sha256_hex};
use crate::error::{Error, Result, invalid};
use crate::ids::{new_id, validate_id, validate_server_id};
use crate::meta::{self, SessionRecord, Span, Step};

/// A session with its id.
pub type Session = (String, SessionRecord);

/// Tokens a named session keeps besides its first (each reopening adds
/// one; the oldest goes first).
const MAX_EXTRA_TOKENS: usize = 16;
/// Longest session name, in bytes.
const MAX_SESSION_NAME: usize = 128;

/// A session name: empty (none), or 1 to 128 bytes without control
/// characters.
fn validate_session_name(name: &str) -> Result<()> {
    if name.len() > MAX_SESSION_NAME || name.chars().any(char::is_control) {
        return Err(invalid(format!(
            "a session name is at most {MAX_SESSION_NAME} bytes without control characters"
        )));
    }
    Ok(())
}

impl Core {
    /// Resolves a bearer secret: an API key, else a live session token.
    pub async fn authenticate(&self, secret: &str) -> Result<Identity> {
        if let Some(identity) = self.keys.find(secret) {
            return Ok(identity);
        }
        let hash = sha256_hex(secret);
        // The token's session, then that session: two reads, each one
        // statement on a shared engine. They need not share a snapshot:
        // the session's own record names its tokens, and only a record
        // that names this one lets it in.
        let key = hash.clone();
        let id = self
            .meta
            .read_named(
                || meta::Wanted::default().row(&meta::SESSION_TOKENS, &hash),
                move |r| r.get(&meta::SESSION_TOKENS, &key),
            )
            .await?;
        let session = match id {
            None => None,
            Some(id) => {
                let key = id.clone();
                self.meta
                    .read_named(
                        || meta::Wanted::default().row(&meta::SESSIONS, &id),
                        move |r| r.get(&meta::SESSIONS, &key),
                    )
                    .await?
                    .map(|record| (id, record))
            }
        };
        match session {
            Some((id, record))
                if record.expires_ms > self.meta.now_ms()
                    && (record.token_sha256 == hash || record.more_tokens.contains(&hash)) =>
            {
                Ok(Identity {
                    sandbox: record.sandbox,
                    role: Role::Session {
                        user: record.user,
                        session: id.clone(),
                    },
                    principal: format!("session:{id}"),
                })
            }
            Some(_) => Err(Error::Unauthenticated(
                "the session has expired or was closed".into(),
            )),
            None => Err(Error::Unauthenticated("unknown credential".into())),
        }
    }

    fn session_lease(&self, ttl: Option<Duration>) -> Result<i64> {
        let auth = &self.config.auth;
        let secs = match ttl {
            None => auth.session_default_ttl_secs,
            Some(t) if t.is_zero() => auth.session_default_ttl_secs,
            Some(t) if t.as_secs() > auth.session_max_ttl_secs => {
                return Err(invalid(format!(
                    "a session lease is at most {} seconds",
                    auth.session_max_ttl_secs
                )));
            }
            Some(t) => t.as_secs().max(1),
        };
        Ok(self
            .meta
            .now_ms()
            .saturating_add(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)))
    }

    /// Opens a session for `user`; returns it, its bearer token, and
    /// whether a live session of that `name` was returned instead of a new
    /// one (with a new token).
    pub async fn open_session(
        &self,
        who: &Identity,
        user: &str,
        ttl: Option<Duration>,
        sandbox: &str,
        name: &str,
    ) -> Result<(Session, String, bool)> {
        let sandbox = if sandbox.is_empty() {
            who.sandbox.clone()
        } else {
            sandbox.to_owned()
        };
        let result = async {
            if !may_open_sessions(who) || !who.reaches_sandbox(&sandbox) {
                return Err(Error::PermissionDenied(
                    "only admin and app keys of the sandbox open sessions".into(),
                ));
            }
            validate_id("user", user)?;
            validate_id("sandbox", &sandbox)?;
            validate_session_name(name)?;
            // Made before the job, so a re-run of the job uses the same ones.
            let token = new_secret("arca_st_")?;
            let fresh_id = new_id();
            let now = self.meta.now_ms();
            let fresh = SessionRecord {
                sandbox: sandbox.clone(),
                user: user.to_owned(),
                token_sha256: sha256_hex(&token),
                created_ms: now,
                expires_ms: self.session_lease(ttl)?,
                name: name.to_owned(),
                more_tokens: Vec::new(),
            };
            let opened = self
                .meta
                .write(move |txn| {
                    let name_key = (
                        fresh.sandbox.as_str(),
                        fresh.user.as_str(),
                        fresh.name.as_str(),
                    );
                    if !fresh.name.is_empty()
                        && let Some(id) = txn.get(&meta::SESSION_NAMES, name_key)?
                        && let Some(mut live) = txn.get(&meta::SESSIONS, &id)?
                        && live.expires_ms > txn.now_ms()
                    {
                        // The same session, one more token.
                        live.more_tokens.push(fresh.token_sha256.clone());
                        while live.more_tokens.len() > MAX_EXTRA_TOKENS {
                            let oldest = live.more_tokens.remove(0);
                            txn.delete(&meta::SESSION_TOKENS, &oldest)?;
                        }
                        live.expires_ms = live.expires_ms.max(fresh.expires_ms);
                        txn.put(&meta::SESSION_TOKENS, &fresh.token_sha256, &id)?;
                        txn.put(&meta::SESSIONS, &id, &live)?;
                        return Ok(((id, live), true));
                    }
                    txn.put(&meta::SESSION_TOKENS, &fresh.token_sha256, &fresh_id)?;
                    txn.put(&meta::SESSIONS, &fresh_id, &fresh)?;
                    if !fresh.name.is_empty() {
                        txn.put(&meta::SESSION_NAMES, name_key, &fresh_id)?;
                    }
                    Ok(((fresh_id.clone(), fresh.clone()), false))
                })
                .await?;
            Ok((opened.0, token, opened.1))
        }
        .await;
        access::audit(who, "OpenSession", "", &result);
        result
    }

    fn own_or(who: &Identity, session_id: &str) -> Result<String> {
        match (&who.role, session_id.is_empty()) {
            (Role::Session { session, .. }, true) => Ok(session.clone()),
            (_, true) => Err(invalid("session_id is required for a key")),
            (_, false) => {
                validate_server_id("session", session_id)?;
                Ok(session_id.to_owned())
            }
        }
    }

    fn session_denied(who: &Identity, id: &str) -> Error {
        if who.is_global_admin() {
            Error::NotFound(format!("session {id} not found"))
        } else {
            Error::PermissionDenied(format!("session {id} does not exist or is not yours"))
        }
    }

    /// A live session `who` may manage.
    pub async fn get_session(&self, who: &Identity, session_id: &str) -> Result<Session> {
        let id = Self::own_or(who, session_id)?;
        let key = id.clone();
        let record = self
            .meta
            .read(move |r| r.get(&meta::SESSIONS, &key))
            .await?;
        match record {
            Some(r)
                if may_manage_session(who, &r.sandbox, &id)
                    && r.expires_ms > self.meta.now_ms() =>
            {
                Ok((id, r))
            }
            _ => Err(Self::session_denied(who, &id)),
        }
    }

    /// Extends a session's lease.
    pub async fn renew_session(
        &self,
        who: &Identity,
        session_id: &str,
        ttl: Option<Duration>,
    ) -> Result<Session> {
        let result = async {
            let (id, _) = self.get_session(who, session_id).await?;
            let expires = self.session_lease(ttl)?;
            let key = id.clone();
            let record = self
                .meta
                .write(move |txn| {
                    let mut record = txn
                        .get(&meta::SESSIONS, &key)?
                        .filter(|r: &SessionRecord| r.expires_ms > txn.now_ms())
                        .ok_or_else(|| Error::NotFound("the session ended".into()))?;
                    record.expires_ms = expires;
                    txn.put(&meta::SESSIONS, &key, &record)?;
                    Ok(record)
                })
                .await?;
            Ok((id, record))
        }
        .await;
        access::audit(who, "RenewSession", "", &result);
        result
    }

    /// Ends a session and destroys its SESSION-scope namespaces.
    pub async fn close_session(self: &Arc<Self>, who: &Identity, session_id: &str) -> Result<u64> {
        let result = async {
            let (id, _) = self.get_session(who, session_id).await?;
            self.end_session(&id).await
        }
        .await;
        access::audit(who, "CloseSession", "", &result);
        result
    }

    /// Ends session `id` (closed or expired): its record and token go in one
    /// commit, so its namespaces are unreadable from then on; then each of
    /// them is destroyed. Returns how many were.
    pub(crate) async fn end_session(self: &Arc<Self>, id: &str) -> Result<u64> {
        let key = id.to_owned();
        self.meta
            .write(move |txn| {
                if let Some(record) = txn.get(&meta::SESSIONS, &key)? {
                    txn.delete(&meta::SESSIONS, &key)?;
                    txn.delete(&meta::SESSION_TOKENS, &record.token_sha256)?;
                    for token in &record.more_tokens {
                        txn.delete(&meta::SESSION_TOKENS, token)?;
                    }
                    // The name is free again, unless it names a newer session.
                    let name_key = (
                        record.sandbox.as_str(),
                        record.user.as_str(),
                        record.name.as_str(),
                    );
                    if !record.name.is_empty()
                        && txn.get(&meta::SESSION_NAMES, name_key)?.as_deref() == Some(key.as_str())
                    {
                        txn.delete(&meta::SESSION_NAMES, name_key)?;
                    }
                }
                Ok(())
            })
            .await?;
        let id_owned = id.to_owned();
        let doomed: Vec<String> = self
            .scan(move |r| {
                let mut out = Vec::new();
                for row in r.rows(&meta::NAMESPACES, Span::all()) {
                    let (id, ns) = row?;
                    if ns.scope == arca_proto::v1::Scope::Session as i32 && ns.session == id_owned {
                        out.push(id);
                    }
                }
                Ok(out)
            })
            .await?;
        let mut destroyed = 0;
        for ns in doomed {
            match self.destroy_namespace_unchecked(&ns).await {
                Ok(_) => destroyed += 1,
                Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(destroyed)
    }

    /// Lists the live sessions of the caller's sandbox.
    pub async fn list_sessions(
        self: &Arc<Self>,
        who: &Identity,
        user: &str,
        requested_page: u32,
        token: &str,
    ) -> Result<(Vec<Session>, String)> {
        if !may_open_sessions(who) {
            return Err(Error::PermissionDenied(
                "only admin and app keys list sessions".into(),
            ));
        }
        let after = parse_page_token(token)?;
        let limit = page_size(requested_page, 100, 1000);
        let (who, user) = (who.clone(), user.to_owned());
        self.scan(move |r| {
            let now = r.now_ms();
            let span = match &after {
                Some(a) => Span::all().after(meta::key_of(&meta::SESSIONS, a)),
                None => Span::all(),
            };
            let page = r.page(&meta::SESSIONS, span, limit, |_, record| {
                let shown = record.expires_ms > now
                    && record.sandbox == who.sandbox
                    && (user.is_empty() || record.user == user);
                Ok(if shown {
                    Step::Take(record)
                } else {
                    Step::Skip
                })
            })?;
            let out: Vec<Session> = page.items;
            let next = match out.last() {
                Some((id, _)) if page.more => page_token(id),
                _ => String::new(),
            };
            Ok((out, next))
        })
        .await
    }

    /// Whether session `id` is live and belongs to `(sandbox, user)`.
    pub(crate) async fn session_belongs(
        &self,
        id: &str,
        sandbox: &str,
        user: &str,
    ) -> Result<bool> {
        let key = id.to_owned();
        let record = self
            .meta
            .read(move |r| r.get(&meta::SESSIONS, &key))
            .await?;
        Ok(record.is_some_and(|r| {
            r.sandbox == sandbox && r.user == user && r.expires_ms > self.meta.now_ms()
        }))
    }
}
