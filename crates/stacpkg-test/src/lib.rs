//! placeholder for dependency prefetch
