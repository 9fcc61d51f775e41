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
use crate::{backlog, backup, ops, preflight, stores};

/// Serves until Rocket's shutdown signals (`SIGTERM`, Ctrl-C).
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut figment = rocket::Config::figment();
    if let Some(address) = args.address {
        figment = figment.merge(("address", address));
    }
    if let Some(port) = args.port {
        figment = figment.merge(("port", port));
    }
    // Every setting is checked before anything is created or opened.
    let rocket_config = preflight::rocket_config(&figment)?;
    let mut settings = preflight::settings(&figment)?;
    if let Some(store) = args.store {
        settings.store = store;
    }
    let url = StoreUrl::parse(&settings.store)?;
    let schedule = settings.backup_schedule()?;
    let web = web_config(&settings)?;
    preflight::warn_about_default_credential(&settings, &rocket_config);
    preflight::check_listening(&rocket_config)?;
    if let Some(port) = settings.api_port {
        preflight::check_listening(&rocket::Config {
            port,
            ..rocket_config.clone()
        })?;
    }
    let opened = stores::open(&url, &settings).await?;
    let store = Arc::clone(&opened.store);
    report_store(&url, &opened).await;

    let backup_status = Arc::new(backup::schedule::BackupStatus::default());
    let metrics = ops::Metrics::install(
        opened.kind,
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
        .reserve_usernames(first_segment(&settings.api_prefix))
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

    let banner = Banner {
        store: format!("{url} ({})", opened.kind),
        api_prefix: settings.api_prefix.clone(),
        api_port: settings.api_port,
    };
    let mut site = rocket::custom(figment.clone())
        .attach(ops::stage(Arc::clone(&ops)))
        .attach(banner.fairing())
        .attach(minitwit_web::stage(service.clone(), web))
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
    site = backlog::deepen_accept_queue(site);
    if let Some(schedule) = schedule {
        backup::schedule::start(service.clone(), schedule, backup_status);
    }
    let served = match settings.api_port {
        None => launch(site, &rocket_config).await,
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
            let api_only = backlog::deepen_accept_queue(api_only);
            let api_config = rocket::Config {
                port,
                ..rocket_config.clone()
            };
            tokio::try_join!(launch(site, &rocket_config), launch(api_only, &api_config))
                .map(|_| ())
        }
    };
    // Whatever stopped the server, acknowledged writes must be on disk.
    let flushed = opened.store.flush().await.context("cannot flush the store");
    served?;
    flushed?;
    if opened.kind == "memory" {
        tracing::info!("stopped (the memory store keeps nothing)");
    } else {
        tracing::info!("stopped; every acknowledged write is durable");
    }
    Ok(())
}

/// The first segment of the API's prefix (`api` of `/api`), which no user
/// may take as a name.
fn first_segment(prefix: &str) -> Option<String> {
    prefix
        .trim_start_matches('/')
        .split('/')
        .next()
        .filter(|segment| !segment.is_empty())
        .map(str::to_owned)
}

/// What the start-up banner says.
struct Banner {
    store: String,
    api_prefix: String,
    api_port: Option<u16>,
}

impl Banner {
    /// A fairing that, once the server listens, says where, and lists the
    /// routes at debug level.
    fn fairing(self) -> rocket::fairing::AdHoc {
        rocket::fairing::AdHoc::on_liftoff("MiniTwit banner", move |rocket| {
            Box::pin(async move {
                let config = rocket.config();
                let base = format!("http://{}:{}", config.address, config.port);
                let prefix = self.api_prefix.trim_end_matches('/');
                let api = match self.api_port {
                    Some(port) => format!("{base}{prefix} and http://{}:{port}/", config.address),
                    None => format!("{base}{prefix}"),
                };
                tracing::info!(
                    "minitwit {}: the site at {base}/, the simulator API at {api}, \
                     health at {base}/health, metrics at {base}/metrics; store {}",
                    env!("CARGO_PKG_VERSION"),
                    self.store
                );
                for route in rocket.routes() {
                    tracing::debug!(method = %route.method, uri = %route.uri, "route");
                }
            })
        })
    }
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

async fn launch(
    rocket: rocket::Rocket<rocket::Build>,
    config: &rocket::Config,
) -> anyhow::Result<()> {
    match rocket.launch().await {
        Ok(_) => Ok(()),
        Err(err) => Err(preflight::launch_error(&err, config)),
    }
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
        rate_limits: settings.rate_limits(),
        trusted_proxies: settings.trusted_proxies()?,
        session_days: settings.session_days.max(1),
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
