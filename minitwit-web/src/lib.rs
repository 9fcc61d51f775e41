//! minitwit-web (being built).
