//! The Rathaus domain: configuration, store, services both fronts call, the policy engine,
//! the durable job queue and the metrics. This crate depends on none of matrix-sdk, axum
//! or activitypub_federation; CI checks that.

pub mod app;
pub mod apub;
pub mod clock;
pub mod config;
pub mod domain;
pub mod domains;
pub mod entities;
pub mod error;
pub mod keys;
pub mod markdown;
pub mod metrics;
pub mod policy;
pub mod services;
pub mod store;
#[cfg(feature = "test-support")]
pub mod testing;

pub use app::App;
pub use clock::Clock;
pub use config::Config;
pub use error::{Error, Result};
pub use store::Store;
