//! The whole Store conformance suite of minitwit-core, on a real
//! `redis-server`: each store is a fresh namespace on the shared server.

mod support;

use support::fresh_store;

minitwit_core::store_conformance_tests!(fresh_store);
