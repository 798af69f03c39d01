//! Redis Streams milestone bus (placeholder).

/// Placeholder until the Redis Streams bus lands.
pub struct RedisBus;
