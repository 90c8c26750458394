//! The HTTP routes as a fuzz property: arbitrary requests (method, target,
//! one header, body, and which credential they carry) sent through the
//! server's own HTTP router (presigned URLs, WebDAV, the fallback) over a
//! real core, one per process, on the memory backend with metadata in a
//! temporary directory. Requests are built the way hyper hands them to the
//! router, so what cannot be an HTTP request (a method or target hyper
//! refuses) is skipped.

use std::sync::{Arc, OnceLock};

use arca_proto::v1::{NamespaceType, Scope};
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header};
use tower::ServiceExt;

use crate::auth::{Identity, sha256_hex};
use crate::config::{ApiKeyConfig, Config, KeyRole};
use crate::core::namespaces::NewNamespace;
use crate::core::{Core, WriteOptions};

/// The admin key's secret in the fixture.
const SECRET: &str = "fuzz-admin-secret";
/// A response body read past this is a bug of the fixture, not the server.
const MAX_BODY: usize = 1 << 20;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    core: Arc<Core>,
    router: axum::Router,
    /// A signed GET of the fixture's file and a signed PUT of one upload:
    /// path and query, which inputs mutate.
    signed_get: String,
    signed_put: String,
    /// The namespace's WebDAV collection.
    dav_root: String,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a runtime");
        let dir = fixture_dir();
        let mut config = Config {
            data_dir: dir,
            ..Config::default()
        };
        config.webdav.enabled = true;
        config.auth.keys.insert(
            "fuzz".into(),
            ApiKeyConfig {
                sandbox: "sb".into(),
                role: KeyRole::Admin,
                all_sandboxes: false,
                secret_sha256: sha256_hex(SECRET),
            },
        );
        let config = config.finalize().expect("the fixture's configuration");
        let fixture = runtime.block_on(async move {
            let core = Core::open(config).await.expect("a core");
            let who: Identity = core.authenticate(SECRET).await.expect("the admin key");
            let ns = core
                .create_namespace(
                    &who,
                    NewNamespace {
                        ns_type: NamespaceType::Workspace,
                        scope: Scope::Sandbox,
                        sandbox: "sb".into(),
                        ..NewNamespace::default()
                    },
                )
                .await
                .expect("a namespace");
            let data = bytes::Bytes::from_static(b"0123456789");
            core.write_file(&who, &ns.id, "dir/file.txt", data, WriteOptions::default())
                .await
                .expect("a file");
            let get = core
                .presign_download(&who, &ns.id, "dir/file.txt", 3600)
                .await
                .expect("a signed GET");
            let put = core
                .presign_upload(&who, &ns.id, "up.bin", WriteOptions::default(), None, 3600)
                .await
                .expect("a signed PUT");
            let router = crate::api::http_routes(core.clone()).fallback(crate::api::no_route);
            (
                path_and_query(&get.url),
                path_and_query(&put.parts[0].url),
                format!("/dav/{}/", ns.id),
                core,
                router,
            )
        });
        let (signed_get, signed_put, dav_root, core, router) = fixture;
        Fixture {
            runtime,
            core,
            router,
            signed_get,
            signed_put,
            dav_root,
        }
    });
    FIXTURE.get().expect("set above")
}

/// This process's metadata directory; those of processes that have ended
/// are removed (a fixture lives as long as its process, so it cannot).
fn fixture_dir() -> std::path::PathBuf {
    const STEM: &str = "arca-fuzz-http-";
    let tmp = std::env::temp_dir();
    for entry in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ended = name
            .strip_prefix(STEM)
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
        if ended {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    let dir = tmp.join(format!("{STEM}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn path_and_query(url: &str) -> String {
    let uri: Uri = url.parse().expect("a signed URL");
    uri.path_and_query().expect("a path").as_str().to_owned()
}

/// `base` with its last `from_end` bytes replaced by `with` (0 and an
/// empty `with`: `base` itself): small edits of a valid target reach the
/// checks behind the signature's.
fn mutate(base: &str, from_end: u8, with: &str) -> String {
    let at = base.len().saturating_sub(usize::from(from_end));
    let at = (0..=at)
        .rev()
        .find(|i| base.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}{with}", &base[..at])
}

/// HTTP requests: no request makes a route fail as the server's fault
/// (500); WebDAV without a valid credential is 401 with a challenge; a
/// presigned route answers 2xx only to a request its URL's signature
/// verifies; a target no route serves is 404.
pub fn http_requests(data: &[u8]) {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let Some((&at, rest)) = rest.split_first() else {
        return;
    };
    let [method, target, name, value, body] = super::fields::<5>(rest);
    let fx = fixture();
    let target = match shape % 5 {
        0 => target,
        1 => mutate(&fx.signed_get, at, &target),
        2 => mutate(&fx.signed_put, at, &target),
        _ => format!("{}{target}", fx.dav_root),
    };
    let credential = match shape / 5 % 3 {
        0 => None,
        1 => Some(format!("Bearer {SECRET}")),
        _ => Some(format!("Bearer {SECRET}x")),
    };
    let method = if method.is_empty() { "GET" } else { &method };
    let (Ok(method), Ok(uri)) = (Method::from_bytes(method.as_bytes()), target.parse::<Uri>())
    else {
        return;
    };
    let Some(path) = uri.path_and_query().map(|p| p.path().to_owned()) else {
        return;
    };
    let query = uri.query().unwrap_or("").to_owned();
    let mut request = Request::builder().method(method.clone()).uri(uri);
    if let Some(credential) = &credential {
        request = request.header(header::AUTHORIZATION, credential);
    }
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(&value),
    ) && name != header::AUTHORIZATION
        && name != header::CONTENT_LENGTH
        && name != header::TRANSFER_ENCODING
    {
        request = request.header(name, value);
    }
    let Ok(request) = request.body(Body::from(body.into_bytes())) else {
        return;
    };
    let grpc = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/grpc"));
    let (status, challenged) = fx.runtime.block_on(async {
        let response = fx
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible");
        let status = response.status();
        let challenged = response.headers().contains_key(header::WWW_AUTHENTICATE);
        let body = axum::body::to_bytes(response.into_body(), MAX_BODY).await;
        assert!(body.is_ok(), "{status}: the body did not end");
        (status, challenged)
    });
    // 501 (a method no route implements), 503 (unreachable storage) and
    // 507 (a quota) are answers; any other 5xx blames the server for the
    // request.
    assert!(
        !status.is_server_error()
            || [
                StatusCode::NOT_IMPLEMENTED,
                StatusCode::SERVICE_UNAVAILABLE,
                StatusCode::INSUFFICIENT_STORAGE
            ]
            .contains(&status),
        "{method} {path}?{query}: {status}, a request is never the server's fault"
    );
    let valid_credential = credential.as_deref() == Some(&format!("Bearer {SECRET}"));
    if path == "/dav" || path.starts_with("/dav/") {
        if !valid_credential {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert!(challenged, "{method} {path}: 401 without a challenge");
        }
    } else if let Some(signed) = path.strip_prefix("/presigned/v1/") {
        if status.is_success() {
            let signed_as = if method == Method::HEAD {
                "GET"
            } else {
                method.as_str()
            };
            let now = fx.core.meta.now_ms() / 1000;
            assert!(
                fx.core.signer.verify(signed_as, &path, &query, now).is_ok(),
                "{method} {path}?{query} ({signed}): 2xx without a valid signature"
            );
        }
    } else if !grpc {
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: no route");
    }
}
