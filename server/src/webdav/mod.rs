//! WebDAV (RFC 4918, classes 1 and 2) under `/dav/` on the listening port,
//! beside gRPC and presigned URLs, over HTTP/1.1 and HTTP/2, with or
//! without TLS.
//!
//! This module owns what is WebDAV's alone: credentials from HTTP headers
//! (`Authorization: Bearer`, or Basic with the API key or session token as
//! the password, as file managers send), the bound on `Depth: infinity`,
//! and the protocol handler (the `dav-server` crate) over [`fs::CoreFs`].
//! What a credential may do is decided in the core, as for gRPC.
//!
//! Locks (class 2) are kept in this process's memory: they are advisory
//! to WebDAV clients (gRPC writes do not see them) and are lost on restart.

mod file;
mod fs;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use dav_server::DavHandler;
use dav_server::memls::MemLs;

use crate::auth::Identity;
use crate::core::Core;
use crate::error::Error;

pub use fs::CoreFs;

/// Where WebDAV is served.
pub const PREFIX: &str = "/dav";
/// Bytes a GET reads from the backend per piece of the response body.
const READ_PIECE: usize = 256 * 1024;
/// The header through which `dav-server` allows `Depth: infinity` (it was
/// added for the litmus suite); set here only after the bound is checked,
/// and removed from every client request.
const INFINITE_DEPTH_ALLOWED: &str = "x-litmus";

struct Dav {
    core: Arc<Core>,
    handler: DavHandler<Identity>,
}

/// The WebDAV routes, for merging into the server's router.
pub fn router(core: Arc<Core>) -> Router {
    let handler = DavHandler::builder()
        .filesystem(Box::new(CoreFs::new(core.clone())))
        .locksystem(MemLs::new())
        .strip_prefix(PREFIX)
        .read_buf_size(READ_PIECE)
        .autoindex(false)
        .build_handler();
    let dav = Arc::new(Dav { core, handler });
    Router::new()
        .route(PREFIX, any(serve))
        .route(&format!("{PREFIX}/"), any(serve))
        .route(&format!("{PREFIX}/{{*path}}"), any(serve))
        .with_state(dav)
}

/// 401 with the challenges a client can answer.
fn challenge(reason: &str) -> Response {
    tracing::info!(target: "arca::audit", result = "Unauthenticated", reason, "webdav credential refused");
    let mut response = (StatusCode::UNAUTHORIZED, format!("{reason}\n")).into_response();
    let headers = response.headers_mut();
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"arca\", charset=\"UTF-8\""),
    );
    headers.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"arca\""),
    );
    response
}

/// The secret an `Authorization` header carries: a bearer token, or the
/// password of Basic credentials (the user name is not used: the secret
/// alone says who is calling).
fn secret(headers: &HeaderMap) -> Result<String, &'static str> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or("a credential is required: Authorization: Bearer <secret>, or Basic with the secret as password")?
        .to_str()
        .map_err(|_| "the Authorization header is not text")?
        .trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    let secret = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| "Basic credentials are not base64")?;
        let text = String::from_utf8(decoded).map_err(|_| "Basic credentials are not UTF-8")?;
        let (_, password) = text
            .split_once(':')
            .ok_or("Basic credentials must be user:password")?;
        password.to_owned()
    } else {
        return Err("the Authorization scheme must be Bearer or Basic");
    };
    if secret.is_empty() {
        return Err("the credential is empty");
    }
    Ok(secret)
}

async fn serve(State(dav): State<Arc<Dav>>, mut request: Request) -> Response {
    if !dav.core.config.webdav.enabled {
        return (
            StatusCode::NOT_FOUND,
            "WebDAV is not enabled on this server\n",
        )
            .into_response();
    }
    let who = match secret(request.headers()) {
        Ok(secret) => match dav.core.authenticate(&secret).await {
            Ok(who) => who,
            Err(Error::Unauthenticated(reason)) => return challenge(&reason),
            Err(e) => return failure(&e),
        },
        Err(reason) => return challenge(reason),
    };
    if let Err((status, reason)) = paths_within_root(&request) {
        return (status, format!("{reason}\n")).into_response();
    }
    request.headers_mut().remove(INFINITE_DEPTH_ALLOWED);
    if request.method().as_str() == "PROPFIND" && infinite_depth(request.headers()) {
        match within_depth_bound(&dav.core, &who, request.uri().path()).await {
            Ok(true) => {
                request.headers_mut().insert(
                    INFINITE_DEPTH_ALLOWED,
                    HeaderValue::from_static("bounded by arca"),
                );
            }
            Ok(false) => {
                return finite_depth_only(dav.core.config.webdav.max_infinite_depth_entries);
            }
            Err(e) => return failure(&e),
        }
    }
    let principal = who.principal.clone();
    let response = dav.handler.handle_guarded(request, principal, who).await;
    response.map(Body::new)
}

/// Refuses a request whose path, or `Destination`, leaves the WebDAV root
/// once `.` and `..` are resolved, or is not a path (400). dav-server would
/// answer one outside its prefix with 502, a gateway's failure, though the
/// fault is the client's; and it would take `/dav/../davx/f` as `x/f`. A
/// `Destination` that is the root itself is refused too (403): the root
/// lists namespaces and takes no copy or move, and dav-server 0.11 panics
/// on one (the parent of its root is an empty path).
fn paths_within_root(request: &Request) -> Result<(), (StatusCode, String)> {
    let bad = |reason: String| (StatusCode::BAD_REQUEST, reason);
    within_root(request.uri().path()).map_err(bad)?;
    let Some(destination) = request.headers().get("destination") else {
        return Ok(());
    };
    let destination = destination
        .to_str()
        .map_err(|_| bad("the Destination is not a URL".to_owned()))?;
    // A query or fragment names no resource here, and dav-server 0.11
    // panics on some (`/dav?x/y`): refused before it sees them.
    if destination.contains(['?', '#']) {
        return Err(bad(format!(
            "the Destination carries a query or fragment: {destination}"
        )));
    }
    let path = if destination.starts_with('/') {
        destination.to_owned()
    } else {
        destination
            .parse::<axum::http::Uri>()
            .map_err(|_| bad("the Destination is not a URL".to_owned()))?
            .path()
            .to_owned()
    };
    if within_root(&path).map_err(bad)? {
        return Err((
            StatusCode::FORBIDDEN,
            format!("the Destination is the WebDAV root, which holds namespaces: {destination}"),
        ));
    }
    Ok(())
}

/// Whether `path` is inside the WebDAV root once resolved: `Ok(true)` for
/// the root itself, `Ok(false)` for a path under it, or why it is neither.
fn within_root(path: &str) -> Result<bool, String> {
    use dav_server::davpath::{DavPath, ParseError};
    let normal = DavPath::new(path).map_err(|e| {
        let reason = match e {
            ParseError::ForbiddenPath => "the path climbs above the root with ..",
            _ => "the path is not a valid URL path (printable ASCII, no fragment, no NUL)",
        };
        format!("{reason}: {path}")
    })?;
    let bytes = normal.as_bytes();
    let prefix = PREFIX.as_bytes();
    let under = bytes.strip_prefix(prefix);
    match under {
        Some(b"" | b"/") => Ok(true),
        Some(rest) if rest.starts_with(b"/") => Ok(false),
        _ => Err(format!("the path leaves {PREFIX}/: {path}")),
    }
}

/// A failure of the server itself, before the protocol handler ran.
fn failure(e: &Error) -> Response {
    let status = match e {
        Error::Unavailable(_) | Error::Backend(_) | Error::Metadata(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    tracing::warn!(error = %e, "webdav request failed");
    (status, format!("{}\n", e.public_message())).into_response()
}

fn infinite_depth(headers: &HeaderMap) -> bool {
    headers
        .get("depth")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("infinity"))
}

/// RFC 4918 9.1: a server may refuse `Depth: infinity` with 403 and this
/// precondition; clients then walk with `Depth: 1`.
fn finite_depth_only(bound: usize) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <D:error xmlns:D=\"DAV:\"><D:propfind-finite-depth/>\
         <D:responsedescription>Depth: infinity answers at most {bound} entries here; \
         use Depth: 1</D:responsedescription></D:error>\n"
    );
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Whether a `Depth: infinity` PROPFIND of `uri_path` stays within the
/// configured number of entries. The server root (every namespace) never
/// does; a file always does; anything the listing cannot answer is left to
/// the handler, which reports it as it would at any depth.
async fn within_depth_bound(
    core: &Arc<Core>,
    who: &Identity,
    uri_path: &str,
) -> Result<bool, Error> {
    let bound = core.config.webdav.max_infinite_depth_entries;
    let Ok(path) = dav_server::davpath::DavPath::new(uri_path) else {
        return Ok(true);
    };
    let rel = path.as_bytes();
    let rel = rel.strip_prefix(PREFIX.as_bytes()).unwrap_or(rel);
    let Ok(rel) = std::str::from_utf8(rel) else {
        return Ok(true);
    };
    let trimmed = rel.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(false);
    }
    let (namespace, dir) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let mut counted = 0usize;
    let mut token = String::new();
    loop {
        let page = u32::try_from(bound.clamp(1, 10_000)).unwrap_or(10_000);
        match core.list(who, namespace, dir, true, page, &token).await {
            Ok((page, next)) => {
                counted += page.entries.len();
                if counted > bound {
                    return Ok(false);
                }
                if next.is_empty() {
                    return Ok(true);
                }
                token = next;
            }
            Err(Error::Unavailable(m)) => return Err(Error::Unavailable(m)),
            Err(Error::Metadata(m)) => return Err(Error::Metadata(m)),
            // A file, a missing path, a denied namespace: the handler answers.
            Err(_) => return Ok(true),
        }
    }
}

/// Whether a method is one WebDAV defines or uses (metrics label these
/// by name; others are the client's invention).
pub fn is_dav_method(method: &str) -> bool {
    matches!(
        method,
        "OPTIONS"
            | "GET"
            | "HEAD"
            | "PUT"
            | "DELETE"
            | "MKCOL"
            | "COPY"
            | "MOVE"
            | "PROPFIND"
            | "PROPPATCH"
            | "LOCK"
            | "UNLOCK"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn credentials() {
        assert_eq!(secret(&with("Bearer arca_k_1")).unwrap(), "arca_k_1");
        assert_eq!(secret(&with("bearer  arca_k_1 ")).unwrap(), "arca_k_1");
        let basic = base64::engine::general_purpose::STANDARD.encode("me:arca_s_2");
        assert_eq!(
            secret(&with(&format!("Basic {basic}"))).unwrap(),
            "arca_s_2"
        );
        // A password may itself hold ':'.
        let colon = base64::engine::general_purpose::STANDARD.encode(":a:b");
        assert_eq!(secret(&with(&format!("Basic {colon}"))).unwrap(), "a:b");
        assert!(secret(&HeaderMap::new()).is_err());
        assert!(secret(&with("Bearer ")).is_err());
        assert!(secret(&with("Basic !!!")).is_err());
        let no_password = base64::engine::general_purpose::STANDARD.encode("me");
        assert!(secret(&with(&format!("Basic {no_password}"))).is_err());
        assert!(secret(&with("Digest x")).is_err());
    }
}
