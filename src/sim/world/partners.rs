//! Partners and their EDI transactions (Trading Grid), with the errors a failed
//! transaction reports.

use super::*;

impl World {
    pub(super) fn gen_partners(&mut self, seed: u64, scale: usize) {
        let mut rng = Rng::derive(seed, "partners");
        for (i, (name, desc)) in COMMUNITIES.iter().enumerate() {
            self.communities.push(tg::Community {
                id: format!("COM-{:02}", i + 1),
                name: (*name).into(),
                description: (*desc).into(),
                partner_ids: Vec::new(),
                created_at: at(-2000 * DAY + i as i64 * 30 * DAY),
            });
        }
        let n = PARTNERS.len() * scale;
        for i in 0..n {
            let (base, country, carrier) = PARTNERS[i % PARTNERS.len()];
            let name = if i < PARTNERS.len() {
                base.to_string()
            } else {
                format!("{base} (Division {})", i / PARTNERS.len() + 1)
            };
            let tier = if i == 0 {
                tg::PartnerTier::Strategic
            } else {
                [
                    tg::PartnerTier::Strategic,
                    tg::PartnerTier::Preferred,
                    tg::PartnerTier::Standard,
                ][rng.weighted(&[2, 4, 6])]
            };
            let slug: String = base
                .split_whitespace()
                .take(2)
                .collect::<String>()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_lowercase();
            let tld = match country {
                "US" => "com",
                "GB" => "co.uk",
                other => {
                    // Country-code domains read more realistic for foreign partners.
                    if other == "CA" {
                        "ca"
                    } else {
                        "eu"
                    }
                }
            };
            let mailbox = if carrier { "dispatch" } else { "edi-support" };
            let id = format!("TP-{:04}", i + 1);
            let community = i % COMMUNITIES.len();
            self.communities[community].partner_ids.push(id.clone());
            self.partners.push(tg::Partner {
                id,
                name,
                tier,
                community_id: format!("COM-{:02}", community + 1),
                country: country.into(),
                contact_email: format!("{mailbox}@{slug}.{tld}"),
                created_at: at(-(rng.range(200, 1500) as i64) * DAY),
            });
        }
    }

    pub(super) fn partner_index(&self, id: &str) -> usize {
        id.strip_prefix("TP-")
            .and_then(|n| n.parse::<usize>().ok())
            .map(|n| n.saturating_sub(1))
            .unwrap_or(0)
    }

    pub(super) fn gen_transactions(&mut self, seed: u64, scale: usize) {
        let mut rng = Rng::derive(seed, "transactions");
        let np = self.partners.len() as u64;
        let n = 3000 * scale;
        let mut slots: Vec<(i64, usize)> = (0..n)
            .map(|_| {
                // TP-0001 is the demo partner: give it a healthy share of traffic.
                let p = if rng.chance(0.05) {
                    0
                } else {
                    rng.below(np) as usize
                };
                (rng.below((WINDOW_DAYS * DAY) as u64) as i64, p)
            })
            .collect();
        slots.sort();
        let mut pos: Vec<Vec<String>> = vec![Vec::new(); self.partners.len()];
        let mut ctrl: Vec<u64> = (0..self.partners.len())
            .map(|_| rng.range(1000, 90_000))
            .collect();
        for (i, (secs, p)) in slots.into_iter().enumerate() {
            let partner = &self.partners[p];
            let edifact = !matches!(partner.country.as_str(), "US" | "CA" | "MX" | "JP");
            let family = rng.weighted(&[30, 25, 25, 20]);
            let (doc_type, usual_dir) = match (edifact, family) {
                (false, 0) => ("850", tg::Direction::Outbound),
                (false, 1) => ("810", tg::Direction::Inbound),
                (false, 2) => ("856", tg::Direction::Inbound),
                (false, _) => ("997", tg::Direction::Outbound),
                (true, 0) => ("ORDERS", tg::Direction::Outbound),
                (true, 1) => ("INVOIC", tg::Direction::Inbound),
                (true, 2) => ("DESADV", tg::Direction::Inbound),
                (true, _) => ("CONTRL", tg::Direction::Outbound),
            };
            let direction = if rng.chance(0.12) {
                match usual_dir {
                    tg::Direction::Inbound => tg::Direction::Outbound,
                    _ => tg::Direction::Inbound,
                }
            } else {
                usual_dir
            };
            ctrl[p] += 1;
            let control_number = if edifact {
                format!("EI{:010}", ctrl[p])
            } else {
                format!("{:09}", ctrl[p])
            };
            let mut refs = tg::BusinessRefs::default();
            let existing_po = |rng: &mut Rng, pos: &mut Vec<Vec<String>>| -> String {
                if pos[p].is_empty() {
                    let po = format!("45{:08}", rng.below(100_000_000));
                    pos[p].push(po.clone());
                    po
                } else {
                    let l = pos[p].len();
                    // Recent orders get invoiced and shipped, not ancient ones.
                    let back = rng.below(l.min(8) as u64) as usize;
                    pos[p][l - 1 - back].clone()
                }
            };
            match family {
                0 => {
                    let po = format!("45{:08}", rng.below(100_000_000));
                    pos[p].push(po.clone());
                    refs.po_number = Some(po);
                }
                1 => {
                    refs.po_number = Some(existing_po(&mut rng, &mut pos));
                    refs.invoice_number = Some(format!("INV-26{:06}", rng.below(1_000_000)));
                }
                2 => {
                    refs.po_number = Some(existing_po(&mut rng, &mut pos));
                    refs.shipment_id = Some(format!("{}", rng.range(4_400_000, 4_499_999)));
                }
                _ => {}
            }
            let created_at = at(secs);
            let status = [
                tg::TransactionStatus::Delivered,
                tg::TransactionStatus::Failed,
                tg::TransactionStatus::Rejected,
                tg::TransactionStatus::AwaitingAck,
                tg::TransactionStatus::AckOverdue,
            ][rng.weighted(&[900, 25, 30, 20, 25])];
            let errors = tx_errors(&mut rng, status, doc_type, edifact);
            let acknowledged_at = (status == tg::TransactionStatus::Delivered)
                .then(|| created_at + Duration::minutes(rng.range(2, 240) as i64));
            let updated_at = match (status, acknowledged_at) {
                (_, Some(a)) => a,
                (tg::TransactionStatus::AckOverdue, _) => created_at + Duration::hours(24),
                (tg::TransactionStatus::AwaitingAck, _) => created_at,
                _ => created_at + Duration::minutes(rng.range(1, 30) as i64),
            };
            self.transactions.push(tg::Transaction {
                id: format!("TX-{:07}", i + 1),
                partner_id: partner.id.clone(),
                standard: if edifact {
                    tg::EdiStandard::Edifact
                } else {
                    tg::EdiStandard::X12
                },
                document_type: doc_type.into(),
                direction,
                control_number,
                status,
                errors,
                business_refs: refs,
                created_at,
                updated_at,
                acknowledged_at,
            });
        }
    }
}

pub(super) fn tx_status_word(s: tg::TransactionStatus) -> &'static str {
    match s {
        tg::TransactionStatus::Delivered => "delivered",
        tg::TransactionStatus::Failed => "failed",
        tg::TransactionStatus::Rejected => "rejected",
        tg::TransactionStatus::AwaitingAck => "awaiting_ack",
        tg::TransactionStatus::AckOverdue => "ack_overdue",
        tg::TransactionStatus::Unknown => "unknown",
    }
}

pub(super) fn tx_errors(
    rng: &mut Rng,
    status: tg::TransactionStatus,
    doc_type: &str,
    edifact: bool,
) -> Vec<tg::TransactionError> {
    let e = |code: &str, message: &str, segment: Option<&str>| tg::TransactionError {
        code: code.into(),
        message: message.into(),
        segment: segment.map(str::to_string),
    };
    match status {
        tg::TransactionStatus::Rejected => {
            let options: Vec<tg::TransactionError> = match doc_type {
                "810" => vec![
                    e(
                        "X12-810-BIG02",
                        "Invoice number missing or invalid",
                        Some("BIG*02"),
                    ),
                    e(
                        "X12-810-TDS01",
                        "Total invoice amount does not equal sum of line items",
                        Some("TDS*01"),
                    ),
                    e(
                        "X12-810-IT104",
                        "Unit price does not match purchase order price",
                        Some("IT1*04"),
                    ),
                ],
                "850" => vec![
                    e(
                        "X12-850-BEG03",
                        "Purchase order number missing",
                        Some("BEG*03"),
                    ),
                    e(
                        "X12-850-PO102",
                        "Quantity ordered must be greater than zero",
                        Some("PO1*02"),
                    ),
                ],
                "856" => vec![
                    e(
                        "X12-856-HL03",
                        "Hierarchical level code invalid for shipment structure",
                        Some("HL*03"),
                    ),
                    e(
                        "X12-856-SN102",
                        "Shipped quantity missing on item level",
                        Some("SN1*02"),
                    ),
                ],
                "997" => vec![e(
                    "X12-997-AK905",
                    "Functional group acknowledged as rejected",
                    Some("AK9*05"),
                )],
                "INVOIC" => vec![
                    e(
                        "EDIFACT-INVOIC-MOA77",
                        "Invoice total amount segment missing",
                        Some("MOA+77"),
                    ),
                    e(
                        "EDIFACT-INVOIC-BGM",
                        "Document message number missing",
                        Some("BGM+380"),
                    ),
                ],
                "ORDERS" => vec![e(
                    "EDIFACT-ORDERS-QTY21",
                    "Ordered quantity missing",
                    Some("QTY+21"),
                )],
                "DESADV" => vec![e(
                    "EDIFACT-DESADV-CPS",
                    "Packing hierarchy (CPS) inconsistent",
                    Some("CPS+1"),
                )],
                _ => vec![e(
                    "EDIFACT-CONTRL-UCI",
                    "Interchange rejected by receiver",
                    Some("UCI+4"),
                )],
            };
            let mut v = vec![rng.pick(&options).clone()];
            if options.len() > 1 && rng.chance(0.2) {
                let second = rng.pick(&options).clone();
                if second.code != v[0].code {
                    v.push(second);
                }
            }
            v
        }
        tg::TransactionStatus::Failed => {
            let isa = if edifact {
                e(
                    "EDIFACT-UNB-0020",
                    "Duplicate interchange control reference",
                    Some("UNB+0020"),
                )
            } else {
                e(
                    "X12-ISA-13",
                    "Duplicate interchange control number",
                    Some("ISA*13"),
                )
            };
            let options = [
                e(
                    "AS2-MDN-NEGATIVE",
                    "Receiver returned a negative MDN: decryption failed",
                    None,
                ),
                e(
                    "ROUTING-NO-AGREEMENT",
                    "No trading agreement found for receiver ID",
                    None,
                ),
                e(
                    "AS2-TIMEOUT",
                    "Connection to partner AS2 endpoint timed out after 3 retries",
                    None,
                ),
                isa,
            ];
            vec![rng.pick(&options).clone()]
        }
        tg::TransactionStatus::AckOverdue => {
            let ack = if edifact { "CONTRL" } else { "997" };
            vec![e(
                "ACK-OVERDUE",
                &format!("No {ack} functional acknowledgment received within 24 hours"),
                None,
            )]
        }
        _ => Vec::new(),
    }
}
