//! The Redis [`Store`] (shared by replicas, survives gateway restarts).

use super::*;

/// Placeholder until the Redis backend lands.
pub struct RedisStore;
