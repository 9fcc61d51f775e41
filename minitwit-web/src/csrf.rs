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
//!
//! The state-changing GETs (the legacy follow, unfollow and sign-out links)
//! must also not act on a top-level navigation that the site did not
//! start: a link in a mail or a chat (`Sec-Fetch-Site: none`), or one on
//! another site. [`GetOrigin`] tells those apart; the handlers then show a
//! page with a button that does it by `POST`, instead of doing it.

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome, Request};

/// Proof that a request is not cross-site. Its refusal is a 403 page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SameOrigin;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for SameOrigin {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let said = Provenance::of(req);
        if is_cross_site(said.fetch_site, said.origin, &said.hosts) {
            tracing::warn!(uri = %req.uri(), "refused a cross-site request");
            Outcome::Error((Status::Forbidden, ()))
        } else {
            Outcome::Success(Self)
        }
    }
}

/// Where a state-changing `GET` comes from (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GetOrigin {
    /// One of the site's own pages, or a client that is no browser.
    Site,
    /// A link opened from elsewhere: confirm before acting.
    Elsewhere,
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for GetOrigin {
    type Error = ();

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        let headers = req.headers();
        let said = Provenance::of(req);
        let browser = looks_like_a_browser(
            headers.get_one("User-Agent"),
            headers.get_one("Accept"),
            headers.contains("Upgrade-Insecure-Requests") || headers.contains("Sec-Ch-Ua"),
        );
        Outcome::Success(classify_get(
            said.fetch_site,
            said.origin,
            &said.hosts,
            browser,
        ))
    }
}

/// What a request's headers say about where it comes from.
struct Provenance<'r> {
    /// `Sec-Fetch-Site`, when the browser sent fetch metadata.
    fetch_site: Option<&'r str>,
    /// `Origin`, else the origin of the `Referer`.
    origin: Option<&'r str>,
    /// The names the request says it was sent to.
    hosts: Vec<&'r str>,
}

impl<'r> Provenance<'r> {
    fn of(req: &'r Request<'_>) -> Self {
        let headers = req.headers();
        // A Referer is a URL; its scheme and authority are an origin.
        let referer_origin = headers.get_one("Referer").map(origin_of_url);
        Self {
            fetch_site: headers.get_one("Sec-Fetch-Site"),
            origin: headers.get_one("Origin").or(referer_origin),
            // Behind a proxy the public host may be in X-Forwarded-Host; a
            // forged request from a browser can set neither header.
            hosts: headers
                .get("Host")
                .chain(headers.get("X-Forwarded-Host"))
                .collect(),
        }
    }
}

/// Where a `GET` with these headers comes from.
fn classify_get(
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    hosts: &[&str],
    browser: bool,
) -> GetOrigin {
    let from_site = match (sec_fetch_site, origin) {
        (Some(site), _) => site.trim().eq_ignore_ascii_case("same-origin"),
        (None, Some(origin)) => hosts
            .iter()
            .any(|host| origin_matches_host(origin.trim(), host.trim())),
        (None, None) => !browser,
    };
    if from_site {
        GetOrigin::Site
    } else {
        GetOrigin::Elsewhere
    }
}

/// Whether a request without fetch metadata looks like a browser's: one
/// that says it is Mozilla-compatible, asks for HTML, or sends headers only
/// browsers send.
fn looks_like_a_browser(
    user_agent: Option<&str>,
    accept: Option<&str>,
    browser_headers: bool,
) -> bool {
    browser_headers
        || user_agent.is_some_and(|agent| agent.starts_with("Mozilla/"))
        || accept.is_some_and(|accept| accept.contains("text/html"))
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
    fn state_changing_gets_act_only_for_the_site_and_non_browsers() {
        let hosts = ["a.test:8000"];
        let get = |site, origin, browser| classify_get(site, origin, &hosts, browser);
        assert_eq!(get(Some("same-origin"), None, true), GetOrigin::Site);
        // A link opened from a mail: the address bar's own navigation.
        assert_eq!(get(Some("none"), None, true), GetOrigin::Elsewhere);
        assert_eq!(get(Some("cross-site"), None, true), GetOrigin::Elsewhere);
        assert_eq!(get(Some("same-site"), None, true), GetOrigin::Elsewhere);
        assert_eq!(get(None, Some("http://a.test:8000"), true), GetOrigin::Site);
        assert_eq!(
            get(None, Some("https://evil.example"), true),
            GetOrigin::Elsewhere
        );
        // No metadata at all: a browser (old, or with the Referer stripped)
        // confirms; a script with a session cookie acts.
        assert_eq!(get(None, None, true), GetOrigin::Elsewhere);
        assert_eq!(get(None, None, false), GetOrigin::Site);
    }

    #[test]
    fn browsers_are_told_from_scripts() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert!(looks_like_a_browser(Some(firefox), None, false));
        assert!(looks_like_a_browser(
            None,
            Some("text/html,*/*;q=0.8"),
            false
        ));
        assert!(looks_like_a_browser(None, None, true));
        assert!(!looks_like_a_browser(
            Some("python-requests/2.32"),
            Some("*/*"),
            false
        ));
        assert!(!looks_like_a_browser(
            Some("curl/8.5.0"),
            Some("*/*"),
            false
        ));
        assert!(!looks_like_a_browser(None, None, false));
    }

    #[test]
    fn clients_without_browser_headers_pass() {
        assert!(!is_cross_site(None, None, &[]));
        assert!(!is_cross_site(None, None, &["a.test"]));
    }
}
