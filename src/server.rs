//! `minitwit serve`: opens the store, builds the service and serves both
//! frontends until a shutdown signal, then makes every write durable.

use std::sync::Arc;

use anyhow::Context as _;
use minitwit_core::MiniTwit;
use minitwit_sim_api::ApiConfig;
use minitwit_web::{AvatarStyle, WebConfig};

use crate::cli::ServeArgs;
use crate::settings::Settings;
use crate::store_url::StoreUrl;
use crate::{backup, ops, stores};

/// Serves until Rocket's shutdown signals (`SIGTERM`, Ctrl-C).
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let figment = rocket::Config::figment();
    let mut settings = Settings::load(&figment).context("invalid MiniTwit settings")?;
    if let Some(store) = args.store {
        settings.store = store;
    }
    let url = StoreUrl::parse(&settings.store)?;
    let schedule = settings.backup_schedule()?;
    let opened = stores::open(&url, &settings).await?;
    let store = Arc::clone(&opened.store);
    report_store(&url, &opened).await;

    let backup_status = Arc::new(backup::schedule::BackupStatus::default());
    let metrics = ops::Metrics::install(
        opened.sled.clone(),
        schedule
            .as_ref()
            .map(|schedule| (Arc::clone(&backup_status), schedule.every)),
    )?;
    let hashes = settings
        .hash_concurrency
        .unwrap_or_else(|| default_hash_concurrency(&url));
    let timed: Arc<dyn minitwit_core::Store> = Arc::new(ops::instrumented::InstrumentedStore::new(
        store,
        opened.kind,
    ));
    let service = MiniTwit::builder(timed)
        .max_concurrent_hashes(hashes)
        .hash_observer(ops::Metrics::hash_observer())
        .build()
        .context("cannot set up password hashing")?;
    let ops = Arc::new(ops::Ops {
        service: service.clone(),
        store_kind: opened.kind,
        metrics,
        metrics_token: settings
            .metrics_token
            .clone()
            .filter(|token| !token.is_empty()),
    });

    let mut site = rocket::custom(figment.clone())
        .attach(ops::stage(Arc::clone(&ops)))
        .attach(minitwit_web::stage(service.clone(), web_config(&settings)?))
        .attach(minitwit_sim_api::stage(
            service.clone(),
            api_config(&settings, &settings.api_prefix),
        ));
    if let Some(token) = settings
        .admin_token
        .clone()
        .filter(|token| !token.is_empty())
    {
        site = site.attach(backup::endpoint::stage(service.clone(), token));
    }
    if let Some(schedule) = schedule {
        backup::schedule::start(service.clone(), schedule, backup_status);
    }
    let served = match settings.api_port {
        None => launch(site).await,
        Some(port) => {
            // The API uses no cookies, but Rocket (built with `secrets` for
            // the site) refuses to start a release build without a key.
            let mut key = [0u8; 64];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
            let api_only = figment
                .merge(("port", port))
                .merge(("secret_key", key.to_vec()));
            let api_only = rocket::custom(api_only)
                .attach(ops::stage(ops))
                .attach(minitwit_sim_api::stage(service, api_config(&settings, "/")));
            tokio::try_join!(launch(site), launch(api_only)).map(|_| ())
        }
    };
    // Whatever stopped the server, acknowledged writes must be on disk.
    let flushed = opened.store.flush().await.context("cannot flush the store");
    served?;
    flushed?;
    tracing::info!("stopped; every acknowledged write is durable");
    Ok(())
}

/// Says which store the server opened, whether it is new, and what it
/// holds: a store opened by mistake (an empty one where data was expected)
/// shows at once.
async fn report_store(url: &StoreUrl, opened: &stores::OpenedStore) {
    match opened.store.counts().await {
        Ok(_) if opened.created => tracing::info!(
            store = %url,
            "created a new, empty store (if you expected existing data, check MINITWIT_STORE)"
        ),
        Ok(counts) => tracing::info!(
            store = %url,
            users = counts.users,
            follows = counts.follows,
            messages = counts.messages,
            "opened the store"
        ),
        Err(err) => {
            tracing::warn!(store = %url, error = %err, "opened the store, which cannot count what it holds")
        }
    }
}

/// How many password hashes may run at once when not configured. A hash
/// keeps a core busy for ~20 ms; more hashes than cores only make each one
/// slower, and requests queued behind them miss the simulator's 0.3 s. One
/// instance on sled owns the machine's cores; instances on Redis usually
/// come several to a machine, so each takes half.
fn default_hash_concurrency(url: &StoreUrl) -> usize {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    match url {
        StoreUrl::Redis(_) => (cores / 2).max(1),
        StoreUrl::Sled(_) | StoreUrl::Memory => cores,
    }
}

async fn launch(rocket: rocket::Rocket<rocket::Build>) -> anyhow::Result<()> {
    rocket
        .launch()
        .await
        .map(|_| ())
        // Formatting a rocket::Error marks it handled (it panics if dropped
        // unhandled).
        .map_err(|err| anyhow::anyhow!("the server failed: {err}"))
}

fn web_config(settings: &Settings) -> anyhow::Result<WebConfig> {
    let avatars = match settings.avatars.as_str() {
        "identicon" => AvatarStyle::Identicon,
        "gravatar" => AvatarStyle::Gravatar,
        other => anyhow::bail!("MINITWIT_AVATARS must be identicon or gravatar, not {other:?}"),
    };
    Ok(WebConfig {
        secure_cookies: settings.secure_cookies,
        avatars,
    })
}

fn api_config(settings: &Settings, prefix: &str) -> ApiConfig {
    ApiConfig {
        max_no: settings.max_no,
        ..ApiConfig::default()
    }
    .with_prefix(prefix)
    .with_credential(&settings.api_user, &settings.api_password)
}
