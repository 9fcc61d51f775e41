//! `minitwit backup` and `minitwit restore`.

use std::fs::File;
use std::io::{Seek as _, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures::StreamExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use minitwit_core::backup::BackupSummary;

use super::ENDPOINT;
use super::files::AtomicFile;
use super::stream::{import_backup, verify_backup, write_backup};
use crate::cli::Output;
use crate::progress::{records_bar, summary_line};
use crate::settings::Settings;
use crate::store_url::StoreUrl;
use crate::stores;

/// Flags of `minitwit backup`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["store", "server"])))]
pub struct BackupArgs {
    /// Back up the store at this URL directly: sled:PATH (a directory no
    /// running server holds), redis://HOST:PORT[/DB] (any Redis), memory:.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Ask the running server at this address (http://HOST:PORT) for a
    /// backup, taken while it keeps serving.
    #[arg(long, value_name = "URL", requires = "token")]
    server: Option<String>,
    /// The server's admin token (its MINITWIT_ADMIN_TOKEN).
    #[arg(long, env = "MINITWIT_ADMIN_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where to write the backup (`-` for standard output). A file appears
    /// only once the backup is complete.
    #[arg(long, value_name = "FILE")]
    out: Output,
}

/// Flags of `minitwit restore`.
#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The store to restore into: sled:PATH (created when missing),
    /// redis://HOST:PORT[/DB], memory:.
    #[arg(long, value_name = "URL")]
    store: String,
    /// The backup to restore (`-` for standard input).
    #[arg(long = "in", value_name = "FILE")]
    input: Output,
    /// Replace what the store holds: without it, a store that holds any
    /// user or message is refused.
    #[arg(long)]
    force: bool,
}

/// Settings for the commands: the server's, with a longer Redis deadline
/// (an import batch is one large script).
fn command_settings() -> anyhow::Result<Settings> {
    let mut settings =
        Settings::load(&rocket::Config::figment()).context("invalid MiniTwit settings")?;
    settings.redis_response_timeout_ms = settings.redis_response_timeout_ms.max(30_000);
    Ok(settings)
}

/// Runs `minitwit backup`.
pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let summary = match (&args.store, &args.server) {
        (Some(store), _) => backup_store(store, &args.out).await?,
        (None, Some(server)) => {
            let token = args.token.as_deref().unwrap_or_default();
            backup_server(server, token, &args.out).await?
        }
        (None, None) => bail!("say what to back up: --store URL or --server URL"),
    };
    eprintln!(
        "{}",
        summary_line(
            "backup",
            &summary,
            started.elapsed(),
            &describe_output(&args.out)
        )
    );
    Ok(())
}

fn describe_output(out: &Output) -> String {
    match &out.0 {
        Some(path) => format!("written to {}", path.display()),
        None => "written to standard output".to_owned(),
    }
}

async fn backup_store(raw_url: &str, out: &Output) -> anyhow::Result<BackupSummary> {
    let url = StoreUrl::parse(raw_url)?;
    if let StoreUrl::Sled(path) = &url
        && !path.join("db").is_file()
    {
        bail!(
            "there is no sled store at {}: give the directory a server was started with",
            path.display()
        );
    }
    let opened = stores::open(&url, &command_settings()?).await?;
    if opened.created {
        tracing::warn!(store = %url, "the store holds nothing: the backup is empty");
    }
    let counts = opened.store.counts().await?;
    let bar = records_bar("backup", counts.users + counts.follows + counts.messages);
    let records = opened.store.export();
    let summary = match &out.0 {
        Some(path) => {
            let file = AtomicFile::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let (file, summary) = write_backup(records, file, bar).await?;
            file.commit()
                .with_context(|| format!("cannot write {}", path.display()))?;
            summary
        }
        None => write_backup(records, std::io::stdout(), bar).await?.1,
    };
    opened.store.flush().await?;
    Ok(summary)
}

/// Downloads a backup from a running server into a temporary file, checks
/// it whole, then puts it in place (or copies it to standard output).
async fn backup_server(server: &str, token: &str, out: &Output) -> anyhow::Result<BackupSummary> {
    let url = format!("{}{ENDPOINT}", server.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let response = client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {server}"))?;
    match response.status().as_u16() {
        200 => {}
        401 | 403 => bail!("the server at {server} refused the admin token"),
        404 => bail!(
            "the server at {server} offers no backups: start it with MINITWIT_ADMIN_TOKEN set"
        ),
        status => {
            let body = response.text().await.unwrap_or_default();
            bail!(
                "the server at {server} answered {status}: {}",
                body.chars().take(200).collect::<String>()
            );
        }
    }
    let mut download = match &out.0 {
        Some(path) => Download::File(
            AtomicFile::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => Download::Temp(tempfile::tempfile().context("cannot create a temporary file")?),
    };
    let bar = bytes_spinner("download");
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.context("the download broke off")?;
        download.file().write_all(&chunk)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    let file = download.file().try_clone()?;
    let (_, summary) = checked(file, &PathBuf::from("the download")).await?;
    match download {
        Download::File(file) => file.commit().context("cannot write the backup")?,
        Download::Temp(mut file) => {
            file.seek(SeekFrom::Start(0))?;
            std::io::copy(&mut file, &mut std::io::stdout().lock())?;
        }
    }
    Ok(summary)
}

/// Where a download goes before it is checked.
enum Download {
    File(AtomicFile),
    Temp(File),
}

impl Download {
    fn file(&mut self) -> &mut File {
        match self {
            Self::File(file) => file.file(),
            Self::Temp(file) => file,
        }
    }
}

fn bytes_spinner(what: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{prefix:>9} {spinner} {binary_bytes} {binary_bytes_per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_prefix(what.to_owned());
    bar
}

/// Checks a whole backup file from its start; on success returns it
/// rewound.
async fn checked(mut file: File, name: &Path) -> anyhow::Result<(File, BackupSummary)> {
    file.seek(SeekFrom::Start(0))?;
    let length = file.metadata().map(|meta| meta.len()).unwrap_or(0);
    let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
    bar.set_prefix("check");
    let (mut file, summary) = verify_backup(file, bar)
        .await
        .with_context(|| format!("{} is not a usable backup", name.display()))?;
    file.seek(SeekFrom::Start(0))?;
    Ok((file, summary))
}

/// Runs `minitwit restore`: checks the whole backup before it writes
/// anything, refuses a store that holds users or messages unless forced,
/// imports, and checks the counts.
pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let url = StoreUrl::parse(&args.store)?;
    let (file, name) = match &args.input.0 {
        Some(path) => (
            File::open(path).with_context(|| format!("cannot open {}", path.display()))?,
            path.clone(),
        ),
        None => {
            // Standard input can be read once: keep it to check, then import.
            let mut spool = tempfile::tempfile().context("cannot create a temporary file")?;
            std::io::copy(&mut std::io::stdin().lock(), &mut spool)
                .context("cannot read the backup from standard input")?;
            (spool, PathBuf::from("the backup on standard input"))
        }
    };
    let (file, summary) = checked(file, &name).await?;

    let opened = stores::open(&url, &command_settings()?).await?;
    let store = &opened.store;
    let held = store.counts().await?;
    if held.users + held.messages > 0 {
        if !args.force {
            bail!(
                "the store {url} holds {} users and {} messages; restore refuses to write over \
                 them (use --force to replace everything it holds)",
                held.users,
                held.messages
            );
        }
        tracing::warn!(store = %url, users = held.users, messages = held.messages, "replacing what the store holds (--force)");
        store.clear().await?;
    } else if args.force {
        store.clear().await?;
    }
    let bar = records_bar("restore", summary.records);
    let imported = import_backup(store, file, bar).await.with_context(|| {
        format!(
            "the restore into {url} failed part way; the store holds part of the backup: \
             run the restore again with --force"
        )
    })?;
    store.flush().await?;
    let counts = store.counts().await?;
    if (counts.users, counts.follows, counts.messages)
        != (summary.users, summary.follows, summary.messages)
    {
        bail!(
            "after restoring {imported} records, the store {url} counts {counts:?}, not what the \
             backup holds ({summary:?})"
        );
    }
    eprintln!(
        "{}",
        summary_line(
            "restore",
            &summary,
            started.elapsed(),
            &format!("from {} into {url}", name.display())
        )
    );
    Ok(())
}
