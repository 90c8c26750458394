//! A plain HTTP/1.1 client for the tests: what a browser, curl or a
//! WebDAV client sends, with no gRPC and no credential of its own.

/// A plain HTTP/1.1 answer.
#[derive(Debug)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Headers (lowercase names).
    pub headers: std::collections::BTreeMap<String, String>,
    /// Body.
    pub body: Vec<u8>,
}

/// One request with a plain HTTP/1.1 client (no gRPC, no credential), as a
/// browser or curl would send to a presigned URL.
pub async fn http(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> HttpAnswer {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let mut request = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let request = request
        .body(Full::new(bytes::Bytes::from(body)))
        .expect("request");
    let response = client.request(request).await.expect("http request");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("http body")
        .to_bytes()
        .to_vec();
    HttpAnswer {
        status,
        headers,
        body,
    }
}
