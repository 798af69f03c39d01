//! The policy table: the one place that decides who may see what. Resolvers ask
//! here for every object they return, nested ones included, so a partner can only
//! ever reach its own partner's records, and internal case fields only reach staff.
//!
//! | record                         | partner                     | agent | admin |
//! |--------------------------------|-----------------------------|-------|-------|
//! | trading partner, issue, message, community document, transaction | own partner only | all | all |
//! | case (partner-safe fields)     | own partner only            | all   | all   |
//! | case internal fields (status, priority, assignee, team, SLA, title, description, tasks, notes, history) | never | all | all |
//! | evidence uploaded to Core Case | never                       | all   | all   |
//! | resolution                     | own, once shared with partner | all | all |

use super::Principal;
use crate::domain::{Document, DocumentId, PartnerId, Resolution};

/// May this principal see a record belonging to `partner`?
pub fn can_see_partner(principal: &Principal, partner: &PartnerId) -> bool {
    match principal.partner() {
        Some(own) => own == partner,
        None => true,
    }
}

/// May this principal see internal case detail?
pub fn can_see_internal(principal: &Principal) -> bool {
    !matches!(principal, Principal::Partner { .. })
}

/// May this principal see this document (metadata and bytes)?
pub fn can_see_document(principal: &Principal, doc: &Document) -> bool {
    match doc.id {
        DocumentId::TradingGrid(_) => can_see_partner(principal, &doc.partner_id),
        // Uploaded case evidence is case-worker material.
        DocumentId::CoreCase(_) => can_see_internal(principal),
    }
}

/// May this principal see this resolution of a case it can already see?
pub fn can_see_resolution(principal: &Principal, resolution: &Resolution) -> bool {
    can_see_internal(principal) || resolution.shared_with_partner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner(p: &str) -> Principal {
        Principal::Partner {
            subject: "u".into(),
            partner: PartnerId::parse(p).unwrap(),
        }
    }

    #[test]
    fn partners_see_only_their_own_partner() {
        let own = PartnerId::parse("TP-0001").unwrap();
        let other = PartnerId::parse("TP-0002").unwrap();
        assert!(can_see_partner(&partner("TP-0001"), &own));
        assert!(!can_see_partner(&partner("TP-0001"), &other));
        let agent = Principal::Agent {
            subject: "a".into(),
        };
        assert!(can_see_partner(&agent, &other));
        assert!(!can_see_internal(&partner("TP-0001")));
        assert!(can_see_internal(&agent));
    }
}
