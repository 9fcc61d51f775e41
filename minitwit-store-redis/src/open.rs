//! Connecting: the configuration checked, the connection made, the scripts
//! loaded, and the namespace brought to this version's layout.

use std::sync::Arc;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult};

use crate::RedisConfig;
use crate::connection::{Connection, Resend};
use crate::error::RedisStoreError;
use crate::layout::Layout;
use crate::scripts::Scripts;

/// A connected store's parts.
pub(crate) struct Connected {
    pub(crate) conn: Connection,
    pub(crate) layout: Layout,
    pub(crate) scripts: Arc<Scripts>,
    /// Whether the namespace held nothing before.
    pub(crate) created: bool,
}

/// Connects to Redis, loads the scripts and migrates the namespace.
pub(crate) async fn connect(config: &RedisConfig) -> Result<Connected, RedisStoreError> {
    config.validate()?;
    let url = config.redacted_url();
    let client =
        redis::Client::open(config.url.as_str()).map_err(|source| RedisStoreError::InvalidUrl {
            url: url.clone(),
            source,
        })?;
    let manager_config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.response_timeout))
        .set_number_of_retries(config.reconnect_retries)
        .set_min_delay(config.reconnect_delay)
        .set_max_delay(config.response_timeout);
    let connect_error = |source| RedisStoreError::Connect {
        url: url.clone(),
        source,
    };
    let mut manager = ConnectionManager::new_with_config(client, manager_config)
        .await
        .map_err(connect_error)?;

    let scripts = Scripts::new(config.home_cache, config.merge_chunk);
    let mut load = redis::pipe();
    for source in scripts.sources() {
        load.cmd("SCRIPT").arg("LOAD").arg(source);
    }
    let loaded: Result<RedisResult<Vec<String>>, _> =
        tokio::time::timeout(config.response_timeout, load.query_async(&mut manager)).await;
    match loaded {
        Ok(Ok(_)) => {}
        Ok(Err(source)) => return Err(connect_error(source)),
        Err(_) => {
            return Err(connect_error(RedisError::from(std::io::Error::from(
                std::io::ErrorKind::TimedOut,
            ))));
        }
    }
    let conn = Connection::new(manager, config.response_timeout);
    let layout = Layout::new(&config.namespace);
    let layout_error = |source| RedisStoreError::Layout {
        namespace: config.namespace.clone(),
        source,
    };
    let [next_user_id, next_message_id] = layout.id_counters();
    let mut exists = redis::cmd("EXISTS");
    exists
        .arg(next_user_id)
        .arg(next_message_id)
        .arg(layout.latest())
        .arg(layout.secrets());
    let existing: u64 = conn.query("connect", &exists).await.map_err(layout_error)?;
    let mut migrate = scripts.migrate.prepare_invoke();
    migrate.arg(layout.namespace());
    let found: Option<String> = conn
        .eval("migrate", &migrate, Resend::Safe)
        .await
        .map_err(layout_error)?;
    if found.is_none() && existing > 0 {
        tracing::info!(
            namespace = config.namespace,
            "counted the Redis namespace and brought it to the current layout"
        );
    }
    Ok(Connected {
        conn,
        layout,
        scripts: Arc::new(scripts),
        created: existing == 0,
    })
}
