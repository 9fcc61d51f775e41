//! Opening the store a `MINITWIT_STORE` URL names, with the settings that
//! apply to it, for the server and for the backup commands.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use minitwit_core::{MemoryStore, Store};
use minitwit_store_redis::{RedisConfig, RedisStore};
use minitwit_store_sled::{SledConfig, SledStore};

use crate::settings::Settings;
use crate::store_url::StoreUrl;

/// An open store, with what the server reports about it.
pub struct OpenedStore {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The sled store underneath, for its own figures (group commit).
    pub sled: Option<Arc<SledStore>>,
    /// `sled`, `redis` or `memory`.
    pub kind: &'static str,
    /// Whether opening it created it (a new directory, an empty namespace).
    pub created: bool,
}

/// Opens the store `url` names.
pub async fn open(url: &StoreUrl, settings: &Settings) -> anyhow::Result<OpenedStore> {
    Ok(match url {
        StoreUrl::Sled(path) => {
            let config = SledConfig::new(path)
                .cache_capacity(settings.sled_cache_mb.saturating_mul(1024 * 1024));
            // The error names the directory already.
            let store = Arc::new(SledStore::open(config)?);
            OpenedStore {
                created: store.was_created(),
                store: Arc::clone(&store) as Arc<dyn Store>,
                sled: Some(store),
                kind: "sled",
            }
        }
        StoreUrl::Redis(redis_url) => {
            let mut config =
                RedisConfig::new(redis_url.clone()).with_namespace(&settings.redis_namespace);
            config.connect_timeout = Duration::from_millis(settings.redis_connect_timeout_ms);
            config.response_timeout = Duration::from_millis(settings.redis_response_timeout_ms);
            let store = RedisStore::connect(config)
                .await
                .with_context(|| format!("cannot use the Redis store {url}"))?;
            OpenedStore {
                created: store.was_created(),
                store: Arc::new(store),
                sled: None,
                kind: "redis",
            }
        }
        StoreUrl::Memory => OpenedStore {
            store: Arc::new(MemoryStore::new()),
            sled: None,
            kind: "memory",
            created: true,
        },
    })
}
