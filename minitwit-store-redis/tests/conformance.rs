//! The whole Store conformance suite of minitwit-core, on a real
//! `redis-server`: each store is a fresh namespace on the shared server.

mod support;

use support::fresh_store;

minitwit_core::store_conformance_tests!(fresh_store);

/// The suite again with a tiny home cache, so that every path of the cache
/// (trimming, pages deeper than an entry) runs, merged and filled one
/// followee per script (see `RedisConfig::merge_chunk`).
mod tiny_home_cache {
    use std::sync::Arc;

    use minitwit_core::Store;
    use minitwit_core::home::HomeCacheLimits;

    use super::support::{connect, test_config};

    async fn fresh_store() -> Arc<dyn Store> {
        let mut config = test_config();
        config.home_cache = HomeCacheLimits::TINY;
        config.merge_chunk = 1;
        Arc::new(connect(config).await)
    }

    minitwit_core::store_conformance_tests!(fresh_store);
}

/// The suite again with the default home cache, every reader who follows
/// anyone merged and filled in chunks of two sources.
mod chunked_merge {
    use std::sync::Arc;

    use minitwit_core::Store;

    use super::support::{connect, test_config};

    async fn fresh_store() -> Arc<dyn Store> {
        let mut config = test_config();
        config.merge_chunk = 2;
        Arc::new(connect(config).await)
    }

    minitwit_core::store_conformance_tests!(fresh_store);
}
