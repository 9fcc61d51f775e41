//! minitwit-sim-api (being built).
