//! The Redis [`super::Store`] (shared by replicas, survives gateway restarts).

/// Placeholder until the Redis backend lands.
pub struct RedisStore;
