//! What the gateway means, independent of how either platform spells it: ids that
//! parse, the business enums, the status → milestone mapping and the records the
//! resolvers work with. No I/O here.

pub mod ids;
pub mod milestone;
pub mod partner_view;
pub mod records;
pub mod writes;

pub use ids::*;
pub use milestone::{CaseStatus, Milestone};
pub use records::*;
pub use writes::*;
