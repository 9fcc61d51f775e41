//! End to end in a real browser: headless Chromium, driven over WebDriver,
//! walks through the HTML site of the real `minitwit` binary on a sled
//! directory, as a person would: signs up, signs in, posts, follows, reads
//! the timeline page by page, unfollows, signs out. Every page is saved as a
//! screenshot under `target/test-artifacts/browser/`.
//!
//! Needs Debian's `chromium` and `chromium-driver`; without them the test
//! fails and says how to install them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

#[path = "support/browser.rs"]
mod browser;

use std::collections::HashSet;

use anyhow::ensure;
use browser::{Browser, artifacts_dir};
use fantoccini::Locator;
use minitwit_sim_api::SimClient;
use support::Server;

/// Someone with a plain name.
const ANA: (&str, &str, &str) = ("Ana Lima", "ana@example.org", "correct horse battery");
/// Someone whose name has a space and letters beyond ASCII.
const ZOE: (&str, &str, &str) = ("Zoë Ångström", "zoe@example.org", "ångström-pässword");

/// Her first message: markup and quotes must come out as text.
const ZOE_FIRST: &str = r#"Hej! <b>not bold</b> & "quoted" 'text' — ünïcödé"#;

/// Messages posted through the API to fill more than one page.
const BULK: usize = 36;

/// A timeline page holds this many messages.
const PAGE: usize = 30;

fn owned(messages: &[(&str, &str)]) -> Vec<(String, String)> {
    messages
        .iter()
        .map(|(author, text)| ((*author).to_owned(), (*text).to_owned()))
        .collect()
}

/// Fails unless every image on the page loaded.
async fn expect_images_loaded(browser: &Browser, at_least: usize) -> anyhow::Result<()> {
    let (total, broken) = browser.broken_images().await?;
    ensure!(
        broken.is_empty(),
        "{} of {total} images did not load: {broken:?}",
        broken.len()
    );
    ensure!(
        total >= at_least,
        "expected at least {at_least} avatars, the page has {total} images"
    );
    Ok(())
}

/// `YYYY-MM-DD @ HH:MM` after the dash of a message's `<small>`.
fn looks_like_timestamp(small: &str) -> bool {
    let stamp = small.trim().trim_start_matches('—').trim();
    let shape: String = stamp
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    shape == "9999-99-99 @ 99:99"
}

async fn register(
    browser: &mut Browser,
    (username, email, password): (&str, &str, &str),
    shot: &str,
) -> anyhow::Result<()> {
    browser
        .click_to_new_page(r#"nav a[href="/register"]"#)
        .await?;
    ensure!(browser.heading().await? == "Sign Up");
    // The contract: inputs in this order, the submit inside `.actions`.
    let mut names = Vec::new();
    for input in browser
        .client()
        .find_all(Locator::Css("form.form input:not([type=submit])"))
        .await?
    {
        names.push(input.attr("name").await?.unwrap_or_default());
    }
    ensure!(
        names == ["username", "email", "password", "password2"],
        "the register form's inputs are {names:?}"
    );
    browser
        .fill_by_position("form.form", &[username, email, password, password])
        .await?;
    browser.screenshot(shot).await?;
    browser
        .click_to_new_page(".actions input[type=submit]")
        .await?;
    browser
        .expect_flash("You were successfully registered and can login now")
        .await?;
    ensure!(browser.path().await? == "/login");
    Ok(())
}

async fn sign_in(
    browser: &mut Browser,
    (username, _, password): (&str, &str, &str),
) -> anyhow::Result<()> {
    if browser.path().await? != "/login" {
        browser.click_to_new_page(r#"nav a[href="/login"]"#).await?;
    }
    ensure!(browser.heading().await? == "Sign In");
    browser
        .fill_by_position("form.form", &[username, password])
        .await?;
    browser
        .click_to_new_page(".actions input[type=submit]")
        .await?;
    browser.expect_flash("You were logged in").await?;
    ensure!(browser.path().await? == "/");
    ensure!(browser.heading().await? == "My Timeline");
    let sign_out = browser
        .wait_for(r#"nav a[href="/logout"]"#)
        .await?
        .text()
        .await?;
    ensure!(
        sign_out == format!("sign out [{username}]"),
        "the navigation says {sign_out:?}"
    );
    Ok(())
}

async fn sign_out(browser: &mut Browser) -> anyhow::Result<()> {
    browser
        .click_to_new_page(r#"nav a[href="/logout"]"#)
        .await?;
    browser.expect_flash("You were logged out").await?;
    ensure!(browser.path().await? == "/public");
    browser.wait_for(r#"nav a[href="/login"]"#).await?;
    Ok(())
}

async fn post_through_form(browser: &mut Browser, text: &str) -> anyhow::Result<()> {
    let input = browser.wait_for(".twitbox input#text").await?;
    input.send_keys(text).await?;
    browser
        .click_to_new_page(".twitbox input[type=submit]")
        .await?;
    browser.expect_flash("Your message was recorded").await?;
    ensure!(browser.path().await? == "/");
    Ok(())
}

async fn follow_status(browser: &Browser) -> anyhow::Result<String> {
    Ok(browser
        .wait_for(".followstatus")
        .await?
        .text()
        .await?
        .trim()
        .to_owned())
}

/// The whole walk through the site.
async fn walk(browser: &mut Browser, server: &Server) -> anyhow::Result<()> {
    // Signed out, `/` is the public timeline, empty so far.
    browser.open("/").await?;
    browser.wait_for("footer.footer").await?;
    ensure!(browser.path().await? == "/public");
    ensure!(browser.heading().await? == "Public Timeline");
    let empty = browser.wait_for("ul.messages li").await?.text().await?;
    ensure!(
        empty == "There's no message so far.",
        "empty timeline says {empty:?}"
    );
    browser.screenshot("public-empty").await?;

    // Two people sign up through the form.
    register(browser, ZOE, "register-filled").await?;
    browser.screenshot("registered-login").await?;
    register(browser, ANA, "register-second").await?;

    // A taken name is refused on the form page.
    browser
        .click_to_new_page(r#"nav a[href="/register"]"#)
        .await?;
    browser
        .fill_by_position("form.form", &[ZOE.0, "other@example.org", "x", "x"])
        .await?;
    browser
        .click_to_new_page(".actions input[type=submit]")
        .await?;
    let error = browser.wait_for(".error").await?.text().await?;
    ensure!(
        error.contains("The username is already taken"),
        "the register page says {error:?}"
    );
    browser.screenshot("register-taken").await?;

    // Zoë signs in and posts.
    browser.click_to_new_page(r#"nav a[href="/login"]"#).await?;
    sign_in(browser, ZOE).await?;
    browser.screenshot("home-empty").await?;
    post_through_form(browser, ZOE_FIRST).await?;
    ensure!(browser.messages().await? == owned(&[(ZOE.0, ZOE_FIRST)]));
    let markup = browser
        .client()
        .find_all(Locator::Css("ul.messages .text b"))
        .await?;
    ensure!(markup.is_empty(), "a message's markup was rendered as HTML");
    let stamp = browser
        .wait_for("ul.messages li small")
        .await?
        .text()
        .await?;
    ensure!(
        looks_like_timestamp(&stamp),
        "a message's time reads {stamp:?}"
    );
    expect_images_loaded(browser, 1).await?;
    browser.screenshot("home-first-message").await?;
    sign_out(browser).await?;
    ensure!(browser.messages().await? == owned(&[(ZOE.0, ZOE_FIRST)]));
    browser.screenshot("public-signed-out").await?;

    // Ana signs in, finds Zoë on the public timeline and follows her.
    sign_in(browser, ANA).await?;
    ensure!(browser.messages().await?.is_empty());
    browser
        .click_to_new_page(r#"nav a[href="/public"]"#)
        .await?;
    browser
        .click_text_to_new_page("ul.messages li p strong a", ZOE.0)
        .await?;
    ensure!(browser.heading().await? == format!("{}'s Timeline", ZOE.0));
    ensure!(browser.client().title().await? == format!("{}'s Timeline | MiniTwit", ZOE.0));
    let status = follow_status(browser).await?;
    ensure!(
        status.starts_with("You are not yet following this user."),
        "the follow status reads {status:?}"
    );
    expect_images_loaded(browser, 1).await?;
    browser.screenshot("profile-not-following").await?;
    browser
        .click_to_new_page(".followstatus button.follow")
        .await?;
    browser
        .expect_flash(&format!("You are now following \"{}\"", ZOE.0))
        .await?;
    let status = follow_status(browser).await?;
    ensure!(
        status.starts_with("You are currently following this user."),
        "the follow status reads {status:?}"
    );
    browser.screenshot("profile-following").await?;

    // Her message is on Ana's timeline now.
    browser.click_to_new_page(r#"nav a[href="/"]"#).await?;
    ensure!(browser.messages().await? == owned(&[(ZOE.0, ZOE_FIRST)]));
    browser.screenshot("home-following").await?;

    // Enough messages for more than one page: most through the API (the
    // site and the API share the store), the newest through the form.
    let api = SimClient::new(&server.api())?;
    let mut posted: Vec<(String, String)> = vec![(ZOE.0.to_owned(), ZOE_FIRST.to_owned())];
    for n in 0..BULK {
        let author = if n % 2 == 0 { ANA.0 } else { ZOE.0 };
        let text = format!("message {n:02} from {author}");
        api.post_message(author, &text, None).await?;
        posted.push((author.to_owned(), text));
    }
    let last = "the newest one, typed into the form";
    post_through_form(browser, last).await?;
    posted.push((ANA.0.to_owned(), last.to_owned()));
    let newest_first: Vec<(String, String)> = posted.iter().rev().cloned().collect();

    let first_page = browser.messages().await?;
    ensure!(
        first_page == newest_first[..PAGE],
        "page 1 shows {first_page:?}"
    );
    expect_images_loaded(browser, PAGE).await?;
    browser.screenshot("home-page-1").await?;
    browser.scroll_to_bottom().await?;
    browser.screenshot("home-page-1-bottom").await?;
    ensure!(
        browser
            .client()
            .find_all(Locator::Css(".pager a:not([rel=next])"))
            .await?
            .is_empty(),
        "the first page links to the newest messages"
    );

    // The same page on a phone.
    browser.client().set_window_size(390, 844).await?;
    browser.wait_for("ul.messages").await?;
    browser.screenshot("home-page-1-phone").await?;
    browser.scroll_to_bottom().await?;
    browser.screenshot("home-page-1-phone-bottom").await?;
    let (overflow, culprits) = browser.horizontal_overflow().await?;
    browser.client().set_window_size(1280, 900).await?;
    ensure!(
        overflow == 0,
        "at 390 px wide the page is {overflow} px too wide: {culprits:?}"
    );

    // Older messages, without repeating any of page 1.
    let older = browser.wait_for(".pager a[rel=next]").await?.text().await?;
    ensure!(
        older.to_lowercase().contains("older messages"),
        "the pager link reads {older:?}"
    );
    browser.click_to_new_page(".pager a[rel=next]").await?;
    ensure!(browser.path().await?.starts_with("/?before="));
    let second_page = browser.messages().await?;
    ensure!(
        second_page == newest_first[PAGE..],
        "page 2 shows {second_page:?}"
    );
    let on_first: HashSet<&(String, String)> = first_page.iter().collect();
    ensure!(
        second_page
            .iter()
            .all(|message| !on_first.contains(message))
    );
    ensure!(
        browser
            .client()
            .find_all(Locator::Css(".pager a[rel=next]"))
            .await?
            .is_empty(),
        "the last page links to older messages"
    );
    browser.wait_for(r#".pager a[href="/"]"#).await?;
    expect_images_loaded(browser, newest_first.len() - PAGE).await?;
    browser.screenshot("home-page-2").await?;
    browser.scroll_to_bottom().await?;
    browser.screenshot("home-page-2-bottom").await?;

    // The public timeline pages the same way.
    browser
        .click_to_new_page(r#"nav a[href="/public"]"#)
        .await?;
    ensure!(browser.messages().await? == newest_first[..PAGE]);
    browser.click_to_new_page(".pager a[rel=next]").await?;
    ensure!(browser.path().await?.starts_with("/public?before="));
    ensure!(browser.messages().await? == newest_first[PAGE..]);
    expect_images_loaded(browser, newest_first.len() - PAGE).await?;
    browser.screenshot("public-page-2").await?;

    // Ana's own page says so.
    browser
        .click_text_to_new_page("ul.messages li p strong a", ANA.0)
        .await?;
    ensure!(browser.heading().await? == format!("{}'s Timeline", ANA.0));
    let status = follow_status(browser).await?;
    ensure!(
        status == "This is you!",
        "her own page's status reads {status:?}"
    );
    browser.screenshot("profile-self").await?;

    // Ana unfollows Zoë from her page.
    browser.click_to_new_page(r#"nav a[href="/"]"#).await?;
    browser
        .click_text_to_new_page("ul.messages li p strong a", ZOE.0)
        .await?;
    ensure!(browser.heading().await? == format!("{}'s Timeline", ZOE.0));
    browser
        .click_to_new_page(".followstatus button.unfollow")
        .await?;
    browser
        .expect_flash(&format!("You are no longer following \"{}\"", ZOE.0))
        .await?;
    let status = follow_status(browser).await?;
    ensure!(
        status.starts_with("You are not yet following this user."),
        "the follow status reads {status:?}"
    );
    browser.screenshot("profile-unfollowed").await?;

    // Only her own messages are left on her timeline.
    browser.click_to_new_page(r#"nav a[href="/"]"#).await?;
    let own: Vec<(String, String)> = newest_first
        .iter()
        .filter(|(author, _)| author == ANA.0)
        .cloned()
        .collect();
    ensure!(own.len() < PAGE);
    ensure!(browser.messages().await? == own);
    browser.screenshot("home-after-unfollow").await?;

    sign_out(browser).await?;
    browser.screenshot("signed-out").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_walks_through_the_site_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sled:{}", dir.path().join("data").display());
    let server = Server::start(&store, dir.path());

    let artifacts = artifacts_dir();
    // Only this run's screenshots.
    let _ = std::fs::remove_dir_all(&artifacts);
    let mut browser = Browser::start(&server.site(), dir.path(), artifacts.clone())
        .await
        .unwrap();

    if let Err(err) = walk(&mut browser, &server).await {
        let shot = browser.screenshot("failure").await;
        let page = browser.describe().await;
        panic!(
            "{err:?}\n\nat {page}\n\nscreenshot: {shot:?}\n\nserver log:\n{}",
            server.log()
        );
    }
    browser.close().await.unwrap();
    eprintln!("screenshots in {}", artifacts.display());
}
