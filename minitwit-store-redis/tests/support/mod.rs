//! Test glue: fresh stores in unique namespaces on the shared test server of
//! [`minitwit_store_redis::test_server`] (a `redis-server` started for this
//! test binary, or `MINITWIT_TEST_REDIS_URL`).

#![allow(clippy::expect_used, dead_code)]

use std::sync::Arc;
use std::time::Duration;

use minitwit_core::Store;
use minitwit_store_redis::test_server::{shared_url, unique_namespace};
use minitwit_store_redis::{RedisConfig, RedisStore};

/// The configuration of a test store: the shared server, a fresh namespace,
/// and a response deadline generous enough for a loaded test machine.
pub fn test_config() -> RedisConfig {
    let mut config = RedisConfig::new(shared_url()).with_namespace(unique_namespace("store"));
    config.response_timeout = Duration::from_secs(5);
    config.connect_timeout = Duration::from_secs(2);
    config
}

/// Connects a store with `config`.
pub async fn connect(config: RedisConfig) -> RedisStore {
    RedisStore::connect(config)
        .await
        .expect("connect to the test redis-server")
}

/// A fresh, empty store on the shared server.
pub async fn fresh_redis_store() -> RedisStore {
    connect(test_config()).await
}

/// A fresh, empty store on the shared server, as the conformance suite takes
/// it.
pub async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(fresh_redis_store().await)
}
