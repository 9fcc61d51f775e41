//! A headless Chromium driven over WebDriver (chromedriver + fantoccini),
//! for end-to-end tests of the HTML site.
//!
//! Chromium and chromedriver are Debian's (`/usr/bin/chromium`,
//! `/usr/bin/chromedriver`). They are required: without them the test fails
//! and says how to install them.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// The browser binary.
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// The WebDriver server for it.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How to get both on this machine's Debian.
pub const INSTALL: &str = "apt-get install -y chromium chromium-driver";

/// How long to wait for an element or a page before giving up.
const WAIT: Duration = Duration::from_secs(30);

/// A chromedriver process, in its own process group so that the browsers it
/// starts go with it.
struct Driver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Driver {
    async fn start(log_dir: &Path) -> anyhow::Result<Self> {
        for (binary, what) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver")] {
            if !Path::new(binary).is_file() {
                panic!(
                    "{what} is not installed ({binary} is missing); \
                     the browser test needs it. Install it with: {INSTALL}"
                );
            }
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = log_dir.join(format!("chromedriver-{port}.log"));
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {CHROMEDRIVER}; install it with: {INSTALL}"))?;
        let mut driver = Self { child, port, log };
        driver.wait_until_ready().await?;
        Ok(driver)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls `GET /status` until the driver says it is ready.
    async fn wait_until_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status_url = format!("{}/status", self.url());
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "chromedriver exited during start-up with {status}:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(answer) = reqwest::get(&status_url).await
                && let Ok(status) = answer.json::<Value>().await
                && status["value"]["ready"] == Value::Bool(true)
            {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "chromedriver did not answer on {status_url}:\n{}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One headless Chromium session. Screenshots go to `artifacts`, numbered in
/// the order they were taken.
pub struct Browser {
    client: Option<Client>,
    // Dropped after the client: the driver takes the browser with it, then
    // the profile directory can go.
    driver: Driver,
    _profile: tempfile::TempDir,
    artifacts: PathBuf,
    shots: usize,
    base: String,
}

impl Browser {
    /// Starts chromedriver and a browser in a fresh profile; pages are
    /// opened relative to `base` (e.g. `http://127.0.0.1:8000`).
    pub async fn start(base: &str, log_dir: &Path, artifacts: PathBuf) -> anyhow::Result<Self> {
        let driver = Driver::start(log_dir).await?;
        let profile = tempfile::tempdir()?;
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                    "--window-size=1280,900",
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal");
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .with_context(|| {
                format!(
                    "cannot open a Chromium session (is {CHROMIUM} working? {INSTALL}); \
                     chromedriver log:\n{}",
                    std::fs::read_to_string(&driver.log).unwrap_or_default()
                )
            })?;
        std::fs::create_dir_all(&artifacts)?;
        Ok(Self {
            client: Some(client),
            driver,
            _profile: profile,
            artifacts,
            shots: 0,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// The WebDriver session.
    pub fn client(&self) -> &Client {
        self.client.as_ref().expect("browser already closed")
    }

    /// Ends the session (Chromium quits); the driver goes on drop.
    pub async fn close(mut self) -> anyhow::Result<()> {
        if let Some(client) = self.client.take() {
            client.close().await?;
        }
        Ok(())
    }

    /// Opens `path` on the site.
    pub async fn open(&self, path: &str) -> anyhow::Result<()> {
        let url = format!("{}{path}", self.base);
        self.client()
            .goto(&url)
            .await
            .with_context(|| format!("open {url}"))
    }

    /// The path and query of the page shown.
    pub async fn path(&self) -> anyhow::Result<String> {
        let url = self.client().current_url().await?;
        Ok(match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        })
    }

    /// Waits for an element matching `css`.
    pub async fn wait_for(&self, css: &str) -> anyhow::Result<Element> {
        match self
            .client()
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => Ok(element),
            Err(err) => {
                Err(err).context(format!("no element {css:?} on {}", self.describe().await))
            }
        }
    }

    /// Clicks what matches `css` and waits until a new document is shown.
    pub async fn click_to_new_page(&self, css: &str) -> anyhow::Result<()> {
        let element = self.wait_for(css).await?;
        self.click_element_to_new_page(element)
            .await
            .with_context(|| format!("click {css:?}"))
    }

    /// Clicks the first element matching `css` whose text is `text`, and
    /// waits until a new document is shown.
    pub async fn click_text_to_new_page(&self, css: &str, text: &str) -> anyhow::Result<()> {
        self.wait_for(css).await?;
        for element in self.client().find_all(Locator::Css(css)).await? {
            if element.text().await?.trim() == text {
                return self
                    .click_element_to_new_page(element)
                    .await
                    .with_context(|| format!("click {css:?} {text:?}"));
            }
        }
        bail!("no {css:?} reads {text:?} on {}", self.describe().await)
    }

    /// Clicks `element` and waits until a new document is shown: the old
    /// one is marked first, so its elements are never mistaken for the new
    /// page's.
    async fn click_element_to_new_page(&self, element: Element) -> anyhow::Result<()> {
        self.client()
            .execute(
                "document.documentElement.setAttribute('data-left', '1');",
                vec![],
            )
            .await?;
        element.click().await?;
        self.wait_for("html:not([data-left])").await?;
        self.wait_for("footer.footer").await?;
        Ok(())
    }

    /// The texts of the flash messages on the page.
    pub async fn flashes(&self) -> anyhow::Result<Vec<String>> {
        let mut texts = Vec::new();
        for item in self.client().find_all(Locator::Css(".flashes li")).await? {
            texts.push(item.text().await?.trim().to_owned());
        }
        Ok(texts)
    }

    /// Fails unless the page shows exactly the flash `text`.
    pub async fn expect_flash(&self, text: &str) -> anyhow::Result<()> {
        self.wait_for(".flashes li").await?;
        let flashes = self.flashes().await?;
        ensure!(
            flashes == [text],
            "expected the flash {text:?}, the page shows {flashes:?} ({})",
            self.describe().await
        );
        Ok(())
    }

    /// Types `values` into the text and password inputs of the form that
    /// matches `form_css`, in the order those inputs appear.
    pub async fn fill_by_position(&self, form_css: &str, values: &[&str]) -> anyhow::Result<()> {
        let form = self.wait_for(form_css).await?;
        let inputs = form
            .find_all(Locator::Css(
                "input:not([type=hidden]):not([type=submit]):not([type=button])",
            ))
            .await?;
        ensure!(
            inputs.len() >= values.len(),
            "the form {form_css:?} has {} inputs, {} values to type",
            inputs.len(),
            values.len()
        );
        for (input, value) in inputs.iter().zip(values) {
            input.clear().await?;
            input.send_keys(value).await?;
        }
        Ok(())
    }

    /// The text of the page's `<h2>`.
    pub async fn heading(&self) -> anyhow::Result<String> {
        Ok(self
            .wait_for("main h2")
            .await?
            .text()
            .await?
            .trim()
            .to_owned())
    }

    /// The messages listed on the page, as (author, text), top to bottom.
    pub async fn messages(&self) -> anyhow::Result<Vec<(String, String)>> {
        let script = r"
            return Array.from(document.querySelectorAll('ul.messages > li')).flatMap(li => {
                const author = li.querySelector('p strong a');
                const text = li.querySelector('p .text');
                return author && text ? [[author.textContent, text.textContent]] : [];
            });";
        let answer = self.client().execute(script, vec![]).await?;
        let messages: Vec<(String, String)> = serde_json::from_value(answer)?;
        Ok(messages)
    }

    /// Waits until every image on the page has finished loading and returns
    /// the ones that did not load (source and natural width).
    pub async fn broken_images(&self) -> anyhow::Result<(usize, Vec<(String, u64)>)> {
        let script = r"
            const done = arguments[arguments.length - 1];
            const images = Array.from(document.images);
            Promise.all(images.map(img => img.complete ? null : new Promise(settle => {
                img.addEventListener('load', settle);
                img.addEventListener('error', settle);
            }))).then(() => done(images.map(img => [img.currentSrc || img.src, img.naturalWidth])));";
        let answer = self.client().execute_async(script, vec![]).await?;
        let images: Vec<(String, u64)> = serde_json::from_value(answer)?;
        let total = images.len();
        let broken = images
            .into_iter()
            .filter(|(_, width)| *width == 0)
            .collect();
        Ok((total, broken))
    }

    /// How far the page is wider than the window, in CSS pixels (0: it
    /// fits), and the widest elements that stick out.
    pub async fn horizontal_overflow(&self) -> anyhow::Result<(i64, Vec<String>)> {
        let script = r"
            const width = document.documentElement.clientWidth;
            const over = Math.max(0, document.documentElement.scrollWidth - width);
            const culprits = Array.from(document.body.querySelectorAll('*'))
                .filter(el => el.getBoundingClientRect().right > width + 1)
                .slice(0, 5)
                .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : '')
                    + ' right=' + Math.round(el.getBoundingClientRect().right));
            return [over, culprits];";
        let answer = self.client().execute(script, vec![]).await?;
        let (over, culprits): (i64, Vec<String>) = serde_json::from_value(answer)?;
        Ok((over, culprits))
    }

    /// Scrolls to the end of the page (to show what is below the fold in
    /// the next screenshot).
    pub async fn scroll_to_bottom(&self) -> anyhow::Result<()> {
        self.client()
            .execute(
                "window.scrollTo(0, document.documentElement.scrollHeight);",
                vec![],
            )
            .await?;
        Ok(())
    }

    /// Saves a PNG of the window as `NN-name.png` and returns its path.
    pub async fn screenshot(&mut self, name: &str) -> anyhow::Result<PathBuf> {
        self.shots += 1;
        let path = self.artifacts.join(format!("{:02}-{name}.png", self.shots));
        let png = self.client().screenshot().await?;
        ensure!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "the screenshot is not a PNG"
        );
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Where the browser is and what it shows, for error messages.
    pub async fn describe(&self) -> String {
        let Some(client) = self.client.as_ref() else {
            return "a closed browser".to_owned();
        };
        let url = match client.current_url().await {
            Ok(url) => url.to_string(),
            Err(err) => format!("(no URL: {err})"),
        };
        let text = match client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let text: String = text.chars().take(1_500).collect();
        format!("page {url}, showing:\n{text}")
    }
}

/// Where screenshots of the browser test go: `$CARGO_TARGET_DIR` (or the
/// workspace's `target`), then `test-artifacts/browser`.
pub fn artifacts_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                manifest.join(dir)
            }
        })
        .unwrap_or_else(|| manifest.join("target"));
    target.join("test-artifacts").join("browser")
}
