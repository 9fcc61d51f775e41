//! End to end: a sweep of hostile requests against a fresh `minitwit serve`.
//!
//! Each row of the table is one request a misbehaving client could send:
//! malformed, truncated, oversized and deeply nested JSON, wrong JSON types
//! and content types, invalid UTF-8 and `%2F`, `%00`, `..` in path segments,
//! 10 KB names, control characters, odd `no` and `latest` values, garbled
//! `Authorization` headers, crafted cookies, unknown routes and methods, and
//! bytes that are not HTTP at all; then a second table from someone signed
//! in on the site (odd posts and follows, links opened from a mail, a
//! session cookie changed). Well-formed HTTP goes through `reqwest`;
//! what `reqwest` would refuse or normalise (invalid UTF-8, dot segments,
//! odd framing) is written to a socket byte for byte.
//!
//! For every answer: never a 5xx; on the API an error is JSON
//! `{"status", "error_msg"}` with the answer's status; on the site an error
//! is one of the site's own HTML pages; no body holds a password hash; the
//! `X-Request-Id` answered is a sane one; a `413` says `Connection: close`
//! (the rest of the body is never read, so the connection cannot be reused).
//! Requests the server cannot even route (a request line that is not HTTP)
//! may be answered by the HTTP layer itself, with a 4xx. After the sweep
//! the server is healthy, a normal registration, post and read work, and
//! its log holds no panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use minitwit_sim_api::SimClient;
use support::Server;

/// The simulator's credential.
const AUTH: &str = "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmUh";
/// A user that exists during the sweep.
const ALICE: &str = "Alice Hostile";
const ALICE_PATH: &str = "Alice%20Hostile";

/// Which frontend a request is meant for, which decides what its error
/// answers must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Side {
    /// The simulator API: errors are JSON.
    Api,
    /// The HTML site: errors are its own pages.
    Site,
    /// The operations endpoints (`/health`, `/metrics`, `/admin`): JSON or
    /// text of their own; only the general checks apply.
    Ops,
    /// Not HTTP the router can see (a broken request line, headers over
    /// the HTTP layer's limits): a 4xx from the HTTP layer, with an empty
    /// body, or either frontend's error.
    Unrouted,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Site => "site",
            Self::Ops => "ops",
            Self::Unrouted => "http",
        }
    }
}

/// How a request is sent.
enum Via {
    /// Through `reqwest`.
    Reqwest,
    /// These bytes, written to a fresh connection as they are.
    Raw(Vec<u8>),
}

/// What status a row must get (never a 5xx, whatever this says).
enum Expect {
    /// Exactly this one.
    Status(u16),
    /// One of these.
    OneOf(&'static [u16]),
    /// Any status below 500.
    NotServerError,
}

/// One row of the sweep.
struct Case {
    name: String,
    side: Side,
    method: &'static str,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    via: Via,
    expect: Expect,
}

impl Case {
    fn new(
        side: Side,
        name: impl Into<String>,
        method: &'static str,
        path: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            side,
            method,
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
            via: Via::Reqwest,
            expect: Expect::NotServerError,
        }
    }

    fn api(name: impl Into<String>, method: &'static str, path: impl Into<String>) -> Self {
        Self::new(Side::Api, name, method, path)
    }

    fn site(name: impl Into<String>, method: &'static str, path: impl Into<String>) -> Self {
        Self::new(Side::Site, name, method, path)
    }

    /// Bytes written to the socket as they are: `Host`, `Connection: close`
    /// and `Content-Length` (when there is a body) are added after `head`
    /// (the request line and any headers, each ending in CRLF).
    fn raw(side: Side, name: impl Into<String>, head: &[u8], body: &[u8]) -> Self {
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(b"Host: 127.0.0.1\r\nConnection: close\r\n");
        if !body.is_empty() {
            bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        Self::raw_exact(side, name, bytes)
    }

    /// Exactly these bytes, nothing added.
    fn raw_exact(side: Side, name: impl Into<String>, bytes: Vec<u8>) -> Self {
        let mut case = Self::new(side, name, "RAW", String::new());
        case.via = Via::Raw(bytes);
        case
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    fn auth(self) -> Self {
        self.header("Authorization", AUTH)
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn json(self, body: impl Into<Vec<u8>>) -> Self {
        self.header("Content-Type", "application/json").body(body)
    }

    fn form(self, body: impl Into<Vec<u8>>) -> Self {
        self.header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
    }

    fn expect(mut self, status: u16) -> Self {
        self.expect = Expect::Status(status);
        self
    }

    fn expect_one_of(mut self, statuses: &'static [u16]) -> Self {
        self.expect = Expect::OneOf(statuses);
        self
    }
}

/// An answer, as far as the checks need it.
struct Answer {
    status: u16,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(http: &reqwest::Client, server: &Server, case: &Case) -> Result<Answer, String> {
    match &case.via {
        Via::Reqwest => {
            let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
            let mut request = http
                .request(method, format!("{}{}", server.site(), case.path))
                .body(case.body.clone());
            for (name, value) in &case.headers {
                request = request.header(name, value);
            }
            let response = request.send().await.map_err(|err| format!("{err:?}"))?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = response
                .bytes()
                .await
                .map_err(|err| format!("{err:?}"))?
                .to_vec();
            Ok(Answer {
                status,
                headers,
                body,
            })
        }
        Via::Raw(bytes) => {
            let port = server.port;
            let bytes = bytes.clone();
            tokio::task::spawn_blocking(move || raw_exchange(port, &bytes))
                .await
                .unwrap()
        }
    }
}

/// Writes `bytes` to a new connection and reads the answer until the server
/// closes it.
fn raw_exchange(port: u16, bytes: &[u8]) -> Result<Answer, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|err| err.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    // The server may answer (and close) before it has read everything, for
    // a body or headers over a limit: what it answered is what counts.
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        let bytes = bytes.to_vec();
        std::thread::spawn(move || {
            let _ = stream.write_all(&bytes);
        })
    };
    let mut received = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            // A reset after the answer arrived (unread bytes of ours at
            // close) still leaves the answer.
            Err(_) if !received.is_empty() => break,
            Err(err) => return Err(format!("no answer: {err}")),
        }
    }
    let _ = writer.join();
    parse_answer(&received)
}

fn parse_answer(raw: &[u8]) -> Result<Answer, String> {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP answer: {:?}", String::from_utf8_lossy(raw)))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let end = rest
            .windows(2)
            .position(|window| window == b"\r\n")
            .ok_or("a chunk size without its line end")?;
        let size_text = String::from_utf8_lossy(&rest[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size + 2 {
            return Err("a chunk cut short".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// What is wrong with `answer` to `case`, if anything.
fn problems(case: &Case, answer: &Answer) -> Vec<String> {
    let mut found = Vec::new();
    let status = answer.status;
    if status >= 500 {
        found.push(format!("a server error: {status}"));
    }
    match &case.expect {
        Expect::Status(expected) if status != *expected => {
            found.push(format!("expected {expected}, got {status}"));
        }
        Expect::OneOf(expected) if !expected.contains(&status) => {
            found.push(format!("expected one of {expected:?}, got {status}"));
        }
        _ => {}
    }
    // The rest of a body over the limit is never read, so the connection
    // is closed after the answer, which must say so: a client that reused
    // it would find it closed under its next request.
    if status == 413 && answer.header("connection") != Some("close") {
        found.push("a 413 that does not say Connection: close".into());
    }
    if let Some(id) = answer.header("x-request-id") {
        let plain = id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b));
        if id.is_empty() || id.len() > 128 || !plain {
            found.push(format!("a request id that is not a sane one: {id:.60}"));
        }
    }
    let text = answer.text();
    if text.contains("$argon2") {
        found.push("the body holds a password hash".into());
    }
    let head = case.method == "HEAD";
    let looks = match case.side {
        Side::Api => api_shape(answer, head),
        Side::Site => site_shape(answer, head),
        Side::Unrouted if status < 400 => Err(format!("{status} for a request nobody can route")),
        Side::Unrouted if answer.body.is_empty() => Ok(()),
        Side::Unrouted => api_shape(answer, false).or_else(|_| site_shape(answer, false)),
        Side::Ops => Ok(()),
    };
    if let Err(problem) = looks {
        found.push(problem);
    }
    found
}

/// An API answer: an error is `{"status": CODE, "error_msg": TEXT}` as JSON;
/// a success with a body is JSON.
fn api_shape(answer: &Answer, head: bool) -> Result<(), String> {
    let content_type = answer.header("content-type").unwrap_or_default();
    if head || answer.status == 204 || (300..400).contains(&answer.status) {
        return Ok(());
    }
    if !content_type.starts_with("application/json") {
        return Err(format!("an API answer of type {content_type:?}"));
    }
    let json: serde_json::Value = serde_json::from_slice(&answer.body)
        .map_err(|err| format!("an API answer that is not JSON ({err}): {}", answer.text()))?;
    if answer.status >= 400 {
        let object = json
            .as_object()
            .ok_or("an API error that is not an object")?;
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        if keys != ["error_msg", "status"] {
            return Err(format!("an API error with the keys {keys:?}"));
        }
        if object["status"] != serde_json::json!(answer.status) {
            return Err(format!(
                "an API error whose status says {} on a {} answer",
                object["status"], answer.status
            ));
        }
        if object["error_msg"].as_str().is_none_or(str::is_empty) {
            return Err("an API error without a text".into());
        }
    }
    Ok(())
}

/// A site answer: a page of the site (an error is its error page), or a
/// redirect somewhere.
fn site_shape(answer: &Answer, head: bool) -> Result<(), String> {
    if (300..400).contains(&answer.status) {
        return match answer.header("location") {
            Some(_) => Ok(()),
            None => Err("a redirect without Location".into()),
        };
    }
    let content_type = answer.header("content-type").unwrap_or_default();
    if !content_type.starts_with("text/html") {
        return Err(format!("a site answer of type {content_type:?}"));
    }
    if head {
        return Ok(());
    }
    let text = answer.text();
    if !text.contains("| MiniTwit</title>") {
        return Err("a site answer that is not one of its pages".into());
    }
    if answer.status >= 400 && !text.contains("class=\"status-message\"") {
        return Err("a site error that is not its error page".into());
    }
    Ok(())
}

fn repeat(text: &str, times: usize) -> String {
    text.repeat(times)
}

/// The sweep.
#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    use Side::{Api, Ops, Site, Unrouted};
    let ten_kb_name = repeat("u", 10 * 1024);
    let too_big = format!(r#"{{"content": "{}"}}"#, repeat("x", 200 * 1024));
    let nested = format!("{}{}", repeat("[", 60_000), repeat("]", 60_000));
    let nested_field = format!(
        r#"{{"content": {}{}}}"#,
        repeat("[", 50_000),
        repeat("]", 50_000)
    );
    let nested_objects = format!(
        r#"{{"username": "x", "extra": {}1{}}}"#,
        repeat(r#"{"a":"#, 20_000),
        repeat("}", 20_000)
    );
    let registration = |name: &str| {
        serde_json::json!({"username": name, "email": "h@example.org", "pwd": "pw"}).to_string()
    };
    let auth_line = format!("Authorization: {AUTH}\r\n");
    let with_auth = |line: &[u8]| {
        let mut head = line.to_vec();
        head.extend_from_slice(auth_line.as_bytes());
        head
    };
    let json_head = |line: &[u8]| {
        let mut head = with_auth(line);
        head.extend_from_slice(b"Content-Type: application/json\r\n");
        head
    };
    // A body of 192 KB in chunks: no Content-Length says how large it is.
    let chunked = {
        let mut bytes = json_head(format!("POST /api/msgs/{ALICE_PATH} HTTP/1.1\r\n").as_bytes());
        bytes.extend_from_slice(
            b"Transfer-Encoding: chunked\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        );
        bytes.extend_from_slice(b"d\r\n{\"content\": \"\r\n");
        let chunk = repeat("x", 64 * 1024);
        for _ in 0..3 {
            bytes.extend_from_slice(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes());
        }
        bytes.extend_from_slice(b"2\r\n\"}\r\n0\r\n\r\n");
        bytes
    };
    vec![
        // ---- JSON bodies -------------------------------------------------
        Case::api("malformed JSON", "POST", "/api/register")
            .auth()
            .json("{nope}")
            .expect(400),
        Case::api("truncated JSON", "POST", "/api/register")
            .auth()
            .json(r#"{"username": "abc"#)
            .expect(400),
        Case::api("empty body", "POST", "/api/register")
            .auth()
            .json("")
            .expect(400),
        Case::api("not JSON at all", "POST", "/api/register")
            .auth()
            .json("hello there")
            .expect(400),
        Case::raw(
            Api,
            "Content-Length cuts the JSON short",
            &json_head(b"POST /api/register HTTP/1.1\r\n"),
            br#"{"username": "cut", "em"#,
        )
        .expect(400),
        Case::api("oversized JSON (200 KB)", "POST", format!("/api/msgs/{ALICE_PATH}"))
            .auth()
            .json(too_big.clone())
            .expect(413),
        Case::api("oversized JSON without credential", "POST", "/api/register")
            .json(too_big.clone())
            .expect(403),
        Case::raw_exact(Api, "oversized chunked JSON", chunked).expect(413),
        Case::api("JSON nested 60,000 deep", "POST", "/api/register")
            .auth()
            .json(nested)
            .expect(400),
        Case::api("a field nested 50,000 deep", "POST", format!("/api/msgs/{ALICE_PATH}"))
            .auth()
            .json(nested_field)
            .expect(400),
        Case::api("an unknown key nested 20,000 deep", "POST", "/api/register")
            .auth()
            .json(nested_objects)
            .expect(400),
        Case::api("username a number", "POST", "/api/register")
            .auth()
            .json(r#"{"username": 1, "email": "a@b", "pwd": "x"}"#)
            .expect(400),
        Case::api("fields null and a list", "POST", "/api/register")
            .auth()
            .json(r#"{"username": null, "email": [], "pwd": {}}"#)
            .expect(400),
        Case::api("body a JSON string", "POST", "/api/register")
            .auth()
            .json(r#""just a string""#)
            .expect(400),
        Case::api("body JSON null", "POST", "/api/register")
            .auth()
            .json("null")
            .expect(400),
        Case::api("content a number", "POST", format!("/api/msgs/{ALICE_PATH}"))
            .auth()
            .json(r#"{"content": 12}"#)
            .expect(400),
        Case::api("follow a list", "POST", format!("/api/fllws/{ALICE_PATH}"))
            .auth()
            .json(r#"{"follow": ["x"]}"#)
            .expect(400),
        Case::api("follow and unfollow at once", "POST", format!("/api/fllws/{ALICE_PATH}"))
            .auth()
            .json(r#"{"follow": "x", "unfollow": "y"}"#)
            .expect(400),
        Case::api("numbers beyond any type", "POST", format!("/api/msgs/{ALICE_PATH}"))
            .auth()
            .json(format!(r#"{{"content": "x", "n": 1e999999, "m": {}}}"#, repeat("9", 5000)))
            .expect_one_of(&[204, 400]),
        Case::raw(
            Api,
            "invalid UTF-8 inside a JSON string",
            &json_head(b"POST /api/register HTTP/1.1\r\n"),
            b"{\"username\": \"\xff\xfe\", \"email\": \"a@b\", \"pwd\": \"x\"}",
        )
        .expect(400),
        Case::raw(
            Api,
            "a lone surrogate escape in JSON",
            &json_head(b"POST /api/register HTTP/1.1\r\n"),
            br#"{"username": "\ud800", "email": "a@b", "pwd": "x"}"#,
        )
        .expect(400),
        // ---- content types -----------------------------------------------
        Case::api("text/plain", "POST", "/api/register")
            .auth()
            .header("Content-Type", "text/plain")
            .body(registration("Plain Text"))
            .expect(415),
        Case::api("a form", "POST", "/api/register")
            .auth()
            .form("username=a&email=a@b&pwd=x")
            .expect(415),
        Case::api("multipart", "POST", "/api/register")
            .auth()
            .header("Content-Type", "multipart/form-data; boundary=x")
            .body("--x--")
            .expect(415),
        Case::api("a content type that does not parse", "POST", "/api/register")
            .auth()
            .header("Content-Type", "garbage///")
            .body(registration("Garbled Type"))
            .expect(415),
        Case::api("no content type (accepted as JSON)", "POST", "/api/register")
            .auth()
            .body(registration("No Content Type"))
            .expect(204),
        Case::api("JSON with a charset", "POST", format!("/api/msgs/{ALICE_PATH}"))
            .auth()
            .header("Content-Type", "application/json; charset=utf-8")
            .body(r#"{"content": "with a charset"}"#)
            .expect(204),
        // ---- paths ---------------------------------------------------------
        Case::api("%2F in a name", "GET", "/api/msgs/a%2Fb").auth().expect(404),
        Case::api("%2F in a posted name", "POST", "/api/msgs/a%2Fb")
            .auth()
            .json(r#"{"content": "x"}"#)
            .expect(404),
        Case::api("%00 in a name", "GET", "/api/msgs/%00").auth().expect(404),
        Case::api("%FF%FE (invalid UTF-8) in a name", "GET", "/api/fllws/%FF%FE")
            .auth()
            .expect_one_of(&[404, 422]),
        Case::api("%2e%2e as a name", "GET", "/api/msgs/%2e%2e").auth().expect(404),
        Case::raw(Api, "a literal .. as a name", &with_auth(b"GET /api/msgs/.. HTTP/1.1\r\n"), &[])
            .expect(404),
        Case::raw(
            Api,
            "dot segments climbing out",
            &with_auth(b"GET /api/msgs/../../../etc/passwd HTTP/1.1\r\n"),
            &[],
        )
        .expect(404),
        Case::raw(
            Unrouted,
            "raw invalid UTF-8 in the path",
            &with_auth(b"GET /api/msgs/\xff\xfe HTTP/1.1\r\n"),
            &[],
        )
        .expect(400),
        Case::raw(Unrouted, "a space in the path", b"GET /api/msgs/a b HTTP/1.1\r\n", &[])
            .expect(400),
        Case::api("a 10 KB name in the path", "GET", format!("/api/msgs/{ten_kb_name}"))
            .auth()
            .expect(404),
        Case::api("a 10 KB name registered", "POST", "/api/register")
            .auth()
            .json(registration(&ten_kb_name))
            .expect(400),
        Case::api("a 10 KB follow target", "POST", format!("/api/fllws/{ALICE_PATH}"))
            .auth()
            .json(serde_json::json!({"follow": ten_kb_name}).to_string())
            .expect(404),
        Case::api("a NUL and a bell in a name", "POST", "/api/register")
            .auth()
            .json(registration("a\u{0}b\u{7}"))
            .expect(400),
        Case::api("a right-to-left override in a name", "POST", "/api/register")
            .auth()
            .json(registration("evil\u{202e}gnp.exe"))
            .expect(400),
        Case::api("a zero-width space in a name", "POST", "/api/register")
            .auth()
            .json(registration("Alice\u{200b}Hostile"))
            .expect(400),
        Case::api("a page's name", "POST", "/api/register")
            .auth()
            .json(registration("public"))
            .expect(400),
        Case::api("a name of dots", "POST", "/api/register")
            .auth()
            .json(registration(".."))
            .expect(400),
        Case::api("control characters in a message", "POST", format!("/api/msgs/{ALICE_PATH}"))
            .auth()
            .json(serde_json::json!({"content": "bell\u{7} nul\u{0} esc\u{1b}[31m del\u{7f}"}).to_string())
            .expect(204),
        Case::api("a message of 10,001 characters", "POST", format!("/api/msgs/{ALICE_PATH}"))
            .auth()
            .json(serde_json::json!({"content": repeat("é", 10_001)}).to_string())
            .expect(400),
        Case::api("a 2 KB password", "POST", "/api/register")
            .auth()
            .json(serde_json::json!({"username": "Long Password", "email": "a@b", "pwd": repeat("p", 2048)}).to_string())
            .expect(400),
        // ---- no and latest -----------------------------------------------
        Case::api("no negative", "GET", "/api/msgs?no=-5").auth().expect(200),
        Case::api("no huge", "GET", format!("/api/msgs?no={}", repeat("9", 60))).auth().expect(200),
        Case::api("no hugely negative", "GET", format!("/api/msgs?no=-{}", repeat("9", 60)))
            .auth()
            .expect(200),
        Case::api("no not a number", "GET", "/api/msgs?no=abc").auth().expect(400),
        Case::api("no a float", "GET", "/api/msgs?no=1.5").auth().expect(400),
        Case::api("no empty", "GET", "/api/msgs?no=").auth().expect(400),
        Case::api("no with %00", "GET", "/api/msgs?no=1%00").auth().expect(400),
        Case::api("no given twice", "GET", "/api/msgs?no=1&no=x").auth().expect_one_of(&[200, 400]),
        Case::api("no on a user's follows", "GET", format!("/api/fllws/{ALICE_PATH}?no=-1"))
            .auth()
            .expect(200),
        Case::api("latest negative", "GET", "/api/msgs?latest=-7").auth().expect(200),
        Case::api("latest huge", "GET", format!("/api/msgs?latest={}", repeat("9", 40)))
            .auth()
            .expect(400),
        Case::api("latest not a number", "GET", "/api/msgs?latest=abc").auth().expect(400),
        Case::api("latest a float", "GET", "/api/msgs?latest=1.5").auth().expect(400),
        Case::api("latest empty", "GET", "/api/msgs?latest=").auth().expect(400),
        Case::api("latest on a register", "POST", "/api/register?latest=x%FFy")
            .auth()
            .json(registration("Latest Junk"))
            .expect(400),
        Case::api("latest on GET /latest", "GET", "/api/latest?latest=abc").expect(200),
        Case::api("a query of 30 KB", "GET", format!("/api/msgs?x={}", repeat("q", 30 * 1024)))
            .auth()
            .expect(200),
        // ---- Authorization -------------------------------------------------
        Case::api("no credential", "GET", "/api/msgs").expect(403),
        Case::api("not base64", "GET", "/api/msgs")
            .header("Authorization", "Basic !!!not*base64***")
            .expect(403),
        Case::api("no colon", "GET", "/api/msgs")
            .header("Authorization", "Basic c2ltdWxhdG9y")
            .expect(403),
        Case::api("wrong password", "GET", "/api/msgs")
            .header("Authorization", "Basic c2ltdWxhdG9yOnN1cGVyX3NhZmU=")
            .expect(403),
        Case::api("wrong scheme", "GET", "/api/msgs")
            .header("Authorization", "Bearer c2ltdWxhdG9yOnN1cGVyX3NhZmUh")
            .expect(403),
        Case::api("scheme only", "GET", "/api/msgs").header("Authorization", "Basic").expect(403),
        Case::api("a 100 KB credential", "GET", "/api/msgs")
            .header("Authorization", format!("Basic {}", repeat("QUFB", 25 * 1024)))
            .expect(403),
        Case::api("two credentials", "GET", "/api/msgs")
            .header("Authorization", "Bearer x")
            .auth()
            .expect_one_of(&[200, 403]),
        Case::raw(
            Api,
            "invalid UTF-8 in the credential",
            b"GET /api/msgs HTTP/1.1\r\nAuthorization: Basic \xff\xfe\xfd\r\n",
            &[],
        )
        .expect(403),
        Case::raw(
            Unrouted,
            "a 1 MB credential",
            format!("GET /api/msgs HTTP/1.1\r\nAuthorization: Basic {}\r\n", repeat("A", 1 << 20)).as_bytes(),
            &[],
        )
        .expect_one_of(&[400, 431]),
        Case::api("a credential with a session cookie", "GET", "/api/msgs")
            .auth()
            .header("Cookie", "minitwit_session=garbage; _flash=1:%C3%A9")
            .expect(200),
        // ---- unknown routes and methods -------------------------------------
        Case::api("an unknown API route", "GET", "/api/nope").auth().expect(404),
        Case::api("too many segments", "GET", "/api/msgs/a/b/c").auth().expect(404),
        Case::api("DELETE on msgs", "DELETE", "/api/msgs").auth().expect(405),
        Case::api("PUT on register", "PUT", "/api/register").auth().json("{}").expect(405),
        Case::api("PATCH on fllws", "PATCH", format!("/api/fllws/{ALICE_PATH}")).auth().expect(405),
        Case::api("OPTIONS on msgs", "OPTIONS", "/api/msgs").auth().expect_one_of(&[200, 204, 404, 405]),
        Case::api("HEAD on msgs", "HEAD", "/api/msgs").auth().expect(200),
        Case::api("PROPFIND on msgs", "PROPFIND", "/api/msgs").auth().expect_one_of(&[400, 405]),
        Case::api("a made-up method", "BREW", "/api/latest").expect_one_of(&[400, 405]),
        Case::api("GET on register", "GET", "/api/register").auth().expect(405),
        // ---- the site: cookies ---------------------------------------------
        Case::site("Rocket's flash cookie with a split character", "GET", "/public")
            .header("Cookie", "_flash=1:%C3%A9")
            .expect(200),
        Case::site("the same on the sign-in page", "GET", "/login")
            .header("Cookie", "_flash=1:%C3%A9")
            .expect(200),
        Case::site("the same on the sign-up page", "GET", "/register")
            .header("Cookie", "_flash=1:%C3%A9")
            .expect(200),
        Case::site("the same on a user's page", "GET", format!("/{ALICE_PATH}"))
            .header("Cookie", "_flash=99:x")
            .expect(200),
        Case::site("our flash cookie garbled", "GET", "/public")
            .header("Cookie", "minitwit_flash=garbage")
            .expect(200),
        Case::site("our flash cookie as base64 noise", "GET", "/public")
            .header("Cookie", format!("minitwit_flash={}", repeat("QUJD", 40)))
            .expect(200),
        Case::site("a session cookie that does not decrypt", "GET", "/")
            .header("Cookie", "minitwit_session=garbage")
            .expect(303),
        Case::site("a session cookie of base64 noise", "GET", "/")
            .header("Cookie", format!("minitwit_session={}", repeat("AAAA", 30)))
            .expect(303),
        Case::site("a session cookie of %-escapes", "GET", "/public")
            .header("Cookie", "minitwit_session=%C3%A9%FF%00")
            .expect(200),
        Case::site("a garbled session posting", "POST", "/add_message")
            .header("Cookie", "minitwit_session=garbage")
            .form("text=hi")
            .expect(401),
        Case::site("a garbled session following", "GET", format!("/{ALICE_PATH}/follow"))
            .header("Cookie", "minitwit_session=garbage")
            .expect(401),
        Case::site("a 60 KB cookie", "GET", "/public")
            .header("Cookie", format!("big={}", repeat("c", 60 * 1024)))
            .expect(200),
        Case::site("a cookie header of separators", "GET", "/public")
            .header("Cookie", ";;; =; =x; ;a=b=c; minitwit_session")
            .expect(200),
        Case::raw(
            Site,
            "invalid UTF-8 in a cookie",
            b"GET /public HTTP/1.1\r\nCookie: minitwit_session=\xff\xfe; _flash=\xc3\r\n",
            &[],
        )
        .expect(200),
        Case::raw(
            Unrouted,
            "a 1 MB cookie",
            format!("GET /public HTTP/1.1\r\nCookie: a={}\r\n", repeat("c", 1 << 20)).as_bytes(),
            &[],
        )
        .expect_one_of(&[400, 431]),
        Case::raw(
            Unrouted,
            "200 headers",
            format!(
                "GET /public HTTP/1.1\r\n{}",
                (0..200).map(|n| format!("X-H{n}: {n}\r\n")).collect::<String>()
            )
            .as_bytes(),
            &[],
        )
        .expect_one_of(&[400, 431]),
        // ---- the site: paths, forms, methods --------------------------------
        Case::site("%FF as a user", "GET", "/%FF").expect_one_of(&[404, 422]),
        Case::site("%00 as a user", "GET", "/%00").expect(404),
        Case::site("%2F in a user", "GET", "/a%2Fb").expect(404),
        Case::site("a 10 KB user", "GET", format!("/{ten_kb_name}")).expect(404),
        Case::site("a 10 KB user to follow", "POST", format!("/{ten_kb_name}/follow"))
            .expect_one_of(&[401, 404]),
        Case::raw(Site, "a literal .. as a user", b"GET /.. HTTP/1.1\r\n", &[]).expect(404),
        Case::raw(
            Site,
            "dot segments into the static files",
            b"GET /static/../../Cargo.toml HTTP/1.1\r\n",
            &[],
        )
        .expect(404),
        Case::site("%2e%2e into the static files", "GET", "/static/%2e%2e/%2e%2e/Cargo.toml").expect(404),
        Case::site("an avatar of a climbing name", "GET", "/avatar/..%2F..%2Fetc.svg").expect(404),
        Case::site("an unknown page", "GET", "/no/such/page/here").expect(404),
        Case::site("an avatar that is not hex", "GET", "/avatar/zzzz.svg").expect(404),
        Case::site("a 10 KB avatar", "GET", format!("/avatar/{}.svg", repeat("a", 10 * 1024)))
            .expect(404),
        Case::site("an avatar of %00", "GET", "/avatar/%00.svg").expect(404),
        // ---- operations --------------------------------------------------------
        Case::new(Ops, "health with junk in the query", "GET", "/health?x=%FF&&=").expect(200),
        Case::new(Ops, "POST on health", "POST", "/health").expect_one_of(&[404, 405]),
        Case::raw(
            Ops,
            "metrics with a garbled token",
            b"GET /metrics HTTP/1.1\r\nAuthorization: Bearer \x7fgar\xffbage\r\n",
            &[],
        )
        .expect_one_of(&[200, 400, 401, 403]),
        Case::new(Ops, "the backup endpoint, not configured", "GET", "/admin/backup")
            .header("Authorization", "Bearer guess")
            .expect_one_of(&[401, 403, 404]),
        Case::api("the OpenAPI document with junk", "GET", "/api/openapi.json?no=x&latest=y")
            .expect_one_of(&[200, 400]),
        Case::site("before not a number", "GET", "/public?before=abc").expect_one_of(&[200, 400, 404, 422]),
        Case::site("before negative", "GET", "/public?before=-1").expect_one_of(&[200, 400, 404, 422]),
        Case::site("before huge", "GET", format!("/public?before={}", repeat("9", 40)))
            .expect_one_of(&[200, 400, 404, 422]),
        Case::site("a sign-in with a 10 KB name", "POST", "/login")
            .form(format!("username={ten_kb_name}&password=x")),
        Case::site("a sign-in with bad escapes", "POST", "/login").form("username=%ZZ%&password=%"),
        Case::site("a sign-in without fields", "POST", "/login").form(""),
        Case::site("a sign-in as JSON", "POST", "/login").json(r#"{"username": "a", "password": "b"}"#),
        Case::site("a sign-in of 1 MB", "POST", "/login")
            .form(format!("username=a&password={}", repeat("p", 1 << 20)))
            .expect_one_of(&[400, 413]),
        Case::site("a sign-up with control characters", "POST", "/register")
            .form("username=a%00b%07&email=a%40b&password=x&password2=x"),
        Case::site("a sign-up with a 10 KB name", "POST", "/register")
            .form(format!("username={ten_kb_name}&email=a%40b&password=x&password2=x")),
        Case::site("a sign-up with a bidi override", "POST", "/register")
            .form("username=evil%E2%80%AEgnp&email=a%40b&password=x&password2=x"),
        Case::site("a sign-in behind a forged X-Forwarded-For", "POST", "/login")
            .header("X-Forwarded-For", "garbage, ::::, 999.1.1.1, 10.0.0.1")
            .form("username=nobody&password=x"),
        Case::site("a cross-site sign-in", "POST", "/login")
            .header("Sec-Fetch-Site", "cross-site")
            .form("username=nobody&password=x")
            .expect(403),
        Case::site("a garbled Origin", "POST", "/login")
            .header("Origin", "::garbage::")
            .form("username=nobody&password=x")
            .expect(403),
        Case::site("a 10 KB request id", "GET", "/public")
            .header("X-Request-Id", repeat("i", 10 * 1024))
            .expect(200),
        Case::raw(Site, "no Host header", b"GET /public HTTP/1.0\r\n", &[]).expect(200),
        Case::raw(Site, "a Host header of garbage", b"GET /public HTTP/1.1\r\nHost: [[[::\r\n", &[])
            .expect_one_of(&[200, 400]),
        Case::site("PROPFIND on a page", "PROPFIND", "/public").expect_one_of(&[400, 405]),
        Case::site("a made-up method on /", "BREW", "/").expect_one_of(&[400, 405]),
        Case::site("DELETE on a page", "DELETE", "/public").expect_one_of(&[404, 405]),
        Case::site("PUT on add_message", "PUT", "/add_message").expect_one_of(&[404, 405]),
        Case::site("TRACE on a page", "TRACE", "/public").expect_one_of(&[404, 405]),
        Case::site("HEAD on a page", "HEAD", "/public").expect(200),
        // ---- not HTTP at all -------------------------------------------------
        Case::raw_exact(Unrouted, "a request line of garbage", b"GARBAGE\r\n\r\n".to_vec()).expect(400),
        Case::raw_exact(Unrouted, "binary noise", (0u8..=255).cycle().take(4096).collect()).expect(400),
        Case::raw(Unrouted, "HTTP/9.9", b"GET /public HTTP/9.9\r\n", &[]).expect_one_of(&[400, 505]),
        Case::raw(Unrouted, "a header name with a space", b"GET /public HTTP/1.1\r\nBad Name: x\r\n", &[])
            .expect(400),
        Case::raw(
            Unrouted,
            "Content-Length not a number",
            &json_head(b"POST /api/register HTTP/1.1\r\nContent-Length: abc\r\n"),
            &[],
        )
        .expect(400),
        Case::raw(
            Unrouted,
            "two different Content-Lengths",
            &json_head(b"POST /api/register HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 5\r\n"),
            b"{}",
        )
        .expect(400),
    ]
}

/// Hostile requests from someone signed in on the site (`session` is the
/// session cookie): posts, follows and pages with odd values.
fn signed_in_cases(session: &str) -> Vec<Case> {
    let ten_kb_name = repeat("u", 10 * 1024);
    let signed_in = |name: &str, method: &'static str, path: String| {
        Case::site(name, method, path).header("Cookie", session)
    };
    vec![
        signed_in(
            "a message of 10,001 characters",
            "POST",
            "/add_message".into(),
        )
        .form(format!("text={}", repeat("x", 10_001)))
        .expect(303),
        signed_in(
            "a message with NUL, bell and escape",
            "POST",
            "/add_message".into(),
        )
        .form("text=nul%00bell%07esc%1B%5B31m")
        .expect(303),
        signed_in("an empty message", "POST", "/add_message".into())
            .form("text=")
            .expect(303),
        signed_in("a post without its field", "POST", "/add_message".into())
            .form("other=1")
            .expect_one_of(&[303, 400, 422]),
        signed_in("a post with invalid UTF-8", "POST", "/add_message".into())
            .form("text=%FF%FE")
            .expect_one_of(&[303, 400, 422]),
        signed_in("a post of 1 MB", "POST", "/add_message".into())
            .form(format!("text={}", repeat("x", 1 << 20)))
            .expect_one_of(&[400, 413]),
        signed_in(
            "following a 10 KB name",
            "GET",
            format!("/{ten_kb_name}/follow"),
        )
        .expect(404),
        signed_in("following a%2Fb", "GET", "/a%2Fb/follow".into()).expect(404),
        signed_in("following %00", "POST", "/%00/follow".into()).expect(404),
        signed_in("following oneself", "GET", "/Bob%20Hostile/follow".into())
            .expect_one_of(&[303, 400]),
        signed_in(
            "unfollowing someone not followed",
            "POST",
            format!("/{ALICE_PATH}/unfollow"),
        )
        .expect(303),
        signed_in(
            "a cross-site follow",
            "POST",
            format!("/{ALICE_PATH}/follow"),
        )
        .header("Sec-Fetch-Site", "cross-site")
        .expect(403),
        signed_in(
            "a follow link opened from a mail",
            "GET",
            format!("/{ALICE_PATH}/follow"),
        )
        .header("Sec-Fetch-Site", "none")
        .expect(200),
        signed_in(
            "a sign-out link opened from a mail",
            "GET",
            "/logout".into(),
        )
        .header("Sec-Fetch-Site", "none")
        .expect(200),
        signed_in("home before not a number", "GET", "/?before=abc".into())
            .expect_one_of(&[200, 400, 422]),
        signed_in(
            "home before huge",
            "GET",
            format!("/?before={}", repeat("9", 40)),
        )
        .expect_one_of(&[200, 400, 422]),
        signed_in(
            "a user's page before 0",
            "GET",
            format!("/{ALICE_PATH}?before=0"),
        )
        .expect(200),
        signed_in("the sign-in page while signed in", "GET", "/login".into()).expect(303),
        signed_in("a sign-up while signed in", "POST", "/register".into())
            .form("username=x&email=a%40b&password=x&password2=x")
            .expect(303),
        Case::site("the session cookie with a byte more", "GET", "/")
            .header("Cookie", format!("{session}A"))
            .expect(303),
        Case::site("the session cookie cut short", "GET", "/")
            .header("Cookie", &session[..session.len() - 4])
            .expect(303),
        Case::site("the session cookie twice, once garbled", "GET", "/")
            .header("Cookie", format!("minitwit_session=garbage; {session}"))
            .expect_one_of(&[200, 303]),
    ]
}

/// Sends every case; returns what was wrong, after printing a summary.
async fn sweep(http: &reqwest::Client, server: &Server, what: &str, cases: &[Case]) -> Vec<String> {
    let mut failures = Vec::new();
    let mut groups: BTreeMap<(Side, u16), Vec<&str>> = BTreeMap::new();
    for case in cases {
        match send(http, server, case).await {
            Ok(answer) => {
                groups
                    .entry((case.side, answer.status))
                    .or_default()
                    .push(&case.name);
                let found = problems(case, &answer);
                if !found.is_empty() {
                    let body: String = answer.text().chars().take(300).collect();
                    failures.push(format!(
                        "{} ({} answered {}): {}\n    body: {body}",
                        case.name,
                        case.side.label(),
                        answer.status,
                        found.join("; ")
                    ));
                }
            }
            Err(err) => failures.push(format!("{} (no answer): {err}", case.name)),
        }
    }
    eprintln!(
        "{what}: {} requests, {} answered wrongly; by side and status:",
        cases.len(),
        failures.len()
    );
    for ((side, status), names) in &groups {
        eprintln!(
            "  {} {status} x{}: {}",
            side.label(),
            names.len(),
            names.join(" | ")
        );
    }
    failures
}

/// The value of the `name` cookie that `response` sets, as `name=value`.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_4xx_answers_and_leave_the_server_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sled:{}", dir.path().join("data").display());
    let server = Server::start(&store, dir.path());
    let api = SimClient::new(&server.api()).unwrap();
    api.register(ALICE, "alice@example.org", "alice's password", None)
        .await
        .unwrap();
    // A connection per request, as the simulator does: the server may close
    // a connection after refusing a body it did not read (which a 413 must
    // say), and a pooled one could then fail the next row.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    let anonymous = cases();
    let mut failures = sweep(&http, &server, "hostile sweep", &anonymous).await;

    // The same, signed in on the site.
    let site = server.site();
    let signed_up = http
        .post(format!("{site}/register"))
        .form(&[
            ("username", "Bob Hostile"),
            ("email", "bob@example.org"),
            ("password", "bob's password"),
            ("password2", "bob's password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_up.status(), 303, "signing up after the sweep");
    let signed_in = http
        .post(format!("{site}/login"))
        .form(&[("username", "Bob Hostile"), ("password", "bob's password")])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303, "signing in after the sweep");
    let session = set_cookie(&signed_in, "minitwit_session").expect("no session cookie");
    let signed_in_cases = signed_in_cases(&session);
    failures.extend(sweep(&http, &server, "signed in", &signed_in_cases).await);
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests were answered wrongly:\n{}\nserver log:\n{}",
        failures.len(),
        anonymous.len() + signed_in_cases.len(),
        failures.join("\n"),
        server.log()
    );
    // Neither link opened from a mail acted: still signed in, following
    // nobody.
    let home = http
        .get(format!("{site}/"))
        .header("Cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200, "the session no longer works");
    let home = home.text().await.unwrap();
    assert!(
        home.contains("My Timeline") && home.contains("nul"),
        "{home}"
    );
    assert!(api.follows(ALICE, None, None).await.unwrap().is_empty());

    // Still healthy, and still doing its job.
    let health = http
        .get(format!("{}/health", server.site()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "/health after the sweep");
    api.register("After Sweep", "after@example.org", "pw", Some(1))
        .await
        .unwrap();
    api.post_message("After Sweep", "still standing", Some(2))
        .await
        .unwrap();
    let messages = api
        .user_messages("After Sweep", Some(10), None)
        .await
        .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].content, "still standing");
    assert_eq!(api.latest().await.unwrap(), 2);
    let public = http
        .get(format!("{}/public", server.site()))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), 200);
    assert!(public.text().await.unwrap().contains("still standing"));

    let log = server.log();
    assert!(
        !log.contains("panicked"),
        "a panic in the server log:\n{log}"
    );
    // Rocket itself logs every unmatched route at error level; ours must
    // log none: hostile input is the client's fault, not the server's.
    let errors: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("ERROR") && line.contains(" minitwit"))
        .collect();
    assert!(
        errors.is_empty(),
        "hostile input caused error-level log lines:\n{}",
        errors.join("\n")
    );
}
