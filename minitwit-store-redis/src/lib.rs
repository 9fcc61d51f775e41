//! minitwit-store-redis (being built).
