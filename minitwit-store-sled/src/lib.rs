//! minitwit-store-sled (being built).
