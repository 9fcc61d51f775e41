//! Refusing cross-site request forgery.
//!
//! Every state-changing request takes the [`SameOrigin`] guard. The rule is
//! the fetch-metadata one: a browser says where a request comes from in
//! `Sec-Fetch-Site`; only `same-origin` and `none` (typed into the address
//! bar, a bookmark) are accepted. Browsers too old for that header still send
//! `Origin` on cross-origin POSTs, which must then name our host; on a plain
//! GET (the legacy follow links) they send no `Origin`, but usually a
//! `Referer`, which must then name our host too. A client that sends none
//! of these (curl, a test script with a session cookie) is not a browser
//! tricked by another site, and is accepted.

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};

/// Proof that a request is not cross-site. Its refusal is a 403 page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SameOrigin;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SameOrigin {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let headers = req.headers();
        // Behind a proxy the public host may be in X-Forwarded-Host; a
        // forged request from a browser can set neither header.
        let hosts: Vec<&str> = headers
            .get("Host")
            .chain(headers.get("X-Forwarded-Host"))
            .collect();
        // A Referer is a URL; its scheme and authority are an origin.
        let referer_origin = headers.get_one("Referer").map(origin_of_url);
        if is_cross_site(
            headers.get_one("Sec-Fetch-Site"),
            headers.get_one("Origin").or(referer_origin),
            &hosts,
        ) {
            tracing::warn!(uri = %req.uri(), "refused a cross-site request");
            Outcome::Error((Status::Forbidden, ()))
        } else {
            Outcome::Success(Self)
        }
    }
}

/// `scheme://authority` of a URL (what an `Origin` header would say).
fn origin_of_url(url: &str) -> &str {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    &url[..scheme.len() + 3 + authority_len]
}

/// Whether a request with these headers must be refused; `hosts` are the
/// names the request says it was sent to; `origin` is the `Origin` header,
/// else the origin of the `Referer`.
fn is_cross_site(sec_fetch_site: Option<&str>, origin: Option<&str>, hosts: &[&str]) -> bool {
    if let Some(site) = sec_fetch_site {
        let site = site.trim();
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
    }
    match origin {
        None => false,
        Some(origin) => !hosts
            .iter()
            .any(|host| origin_matches_host(origin.trim(), host.trim())),
    }
}

/// Whether an `Origin` (`scheme://host[:port]`, or `null`) names `host` (a
/// `Host` header value, `host[:port]`), default ports included or left out.
fn origin_matches_host(origin: &str, host: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => ":80",
        "https" => ":443",
        _ => return false,
    };
    let strip = |value: &str| -> String {
        let value = value.to_ascii_lowercase();
        match value.strip_suffix(default_port) {
            Some(bare) => bare.to_owned(),
            None => value,
        }
    };
    !authority.is_empty() && strip(authority) == strip(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_metadata_decides_when_present() {
        assert!(!is_cross_site(Some("same-origin"), None, &[]));
        assert!(!is_cross_site(Some("none"), None, &[]));
        assert!(is_cross_site(Some("cross-site"), None, &["a.test"]));
        assert!(is_cross_site(Some("same-site"), None, &["a.test"]));
        // Sec-Fetch-Site wins over a matching Origin.
        assert!(is_cross_site(
            Some("cross-site"),
            Some("http://a.test"),
            &["a.test"]
        ));
    }

    #[test]
    fn origin_must_name_the_host() {
        assert!(!is_cross_site(
            None,
            Some("http://a.test:8000"),
            &["a.test:8000"]
        ));
        assert!(!is_cross_site(
            None,
            Some("https://A.test"),
            &["a.test:443"]
        ));
        assert!(!is_cross_site(None, Some("http://a.test:80"), &["a.test"]));
        assert!(is_cross_site(
            None,
            Some("https://evil.example"),
            &["a.test"]
        ));
        assert!(is_cross_site(
            None,
            Some("http://a.test:8001"),
            &["a.test:8000"]
        ));
        assert!(is_cross_site(None, Some("null"), &["a.test"]));
        assert!(is_cross_site(None, Some("http://a.test"), &[]));
    }

    #[test]
    fn a_referer_stands_in_for_a_missing_origin() {
        assert_eq!(
            origin_of_url("https://evil.example/page?x=1"),
            "https://evil.example"
        );
        assert_eq!(origin_of_url("http://a.test:8000"), "http://a.test:8000");
        assert_eq!(
            origin_of_url("http://a.test:8000/b/follow"),
            "http://a.test:8000"
        );
        let from = |referer| is_cross_site(None, Some(origin_of_url(referer)), &["a.test:8000"]);
        assert!(!from("http://a.test:8000/Zo%C3%AB"));
        assert!(from("https://evil.example/trap.html"));
    }

    #[test]
    fn clients_without_browser_headers_pass() {
        assert!(!is_cross_site(None, None, &[]));
        assert!(!is_cross_site(None, None, &["a.test"]));
    }
}
