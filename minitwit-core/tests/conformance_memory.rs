//! The whole Store conformance suite, run on the reference model itself.

use std::sync::Arc;

use minitwit_core::{MemoryStore, Store};

/// A fresh, empty in-memory store for each test.
async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(MemoryStore::new())
}

minitwit_core::store_conformance_tests!(fresh_store);
