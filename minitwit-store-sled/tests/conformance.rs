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
