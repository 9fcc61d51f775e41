//! The core's Store conformance suite, run on `SledStore` in a fresh
//! temporary directory per test (and per property-test case).

#![allow(clippy::expect_used)]

use std::sync::Arc;

use minitwit_core::Store;
use minitwit_store_sled::{SledConfig, SledStore};

/// A fresh, empty store of its own, deleted when dropped.
async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(SledStore::open(SledConfig::temporary()).expect("open a temporary sled store"))
}

minitwit_core::store_conformance_tests!(fresh_store);

/// The suite again with a tiny home cache, so that every path of the cache
/// (eviction, trimming, pages deeper than it) runs.
mod tiny_home_cache {
    use super::*;
    use minitwit_core::home::HomeCacheLimits;

    async fn fresh_store() -> Arc<dyn Store> {
        let config = SledConfig::temporary().home_cache(HomeCacheLimits::TINY);
        Arc::new(SledStore::open(config).expect("open a temporary sled store"))
    }

    minitwit_core::store_conformance_tests!(fresh_store);
}
