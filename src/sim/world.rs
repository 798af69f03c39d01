//! The seeded world both simulators serve: partners, discussions, documents and
//! transactions (Trading Grid) plus cases and their children (Core Case).
//!
//! Both simulators call [`World::generate`] with the same seed and scale and keep their
//! half, so cross-platform references (partner ids, transaction ids, discussion <-> case
//! links, linked evidence hashes) agree without the two servers talking to each other.
//! Every timestamp is an offset from [`origin`]; nothing here reads the clock.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::rng::Rng;
use crate::upstream::core_case::wire as cc;
use crate::upstream::trading_grid::wire as tg;

/// 2026-01-05T00:00:00Z: the fixed point every seeded timestamp hangs off.
pub(crate) fn origin() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(1_767_571_200, 0).unwrap_or_default()
}

fn at(secs: i64) -> DateTime<Utc> {
    origin() + Duration::seconds(secs)
}

const DAY: i64 = 86_400;
/// Seeded activity spans this many days after the origin.
const WINDOW_DAYS: i64 = 300;

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Everything both platforms hold at start-up. Vectors are in id order.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct World {
    pub(crate) communities: Vec<tg::Community>,
    pub(crate) partners: Vec<tg::Partner>,
    pub(crate) discussions: Vec<tg::Discussion>,
    pub(crate) messages: Vec<tg::Message>,
    pub(crate) documents: Vec<tg::Document>,
    pub(crate) document_bytes: BTreeMap<String, Vec<u8>>,
    pub(crate) transactions: Vec<tg::Transaction>,
    pub(crate) cases: Vec<cc::Case>,
    pub(crate) tasks: Vec<cc::Task>,
    pub(crate) case_documents: Vec<cc::CaseDocument>,
    pub(crate) case_document_bytes: BTreeMap<String, Vec<u8>>,
    pub(crate) notes: Vec<cc::Note>,
    pub(crate) history: Vec<cc::HistoryEntry>,
    pub(crate) resolutions: Vec<cc::Resolution>,
}

// ---------------------------------------------------------------------------
// Static vocabulary

const COMMUNITIES: [(&str, &str); 3] = [
    (
        "Retail Supply Network",
        "Suppliers, carriers and distributors serving the retail distribution centers.",
    ),
    (
        "Automotive Parts Exchange",
        "Tier-1 and tier-2 automotive component suppliers and their logistics providers.",
    ),
    (
        "Healthcare Distribution",
        "Medical device, pharma and lab supply partners, including cold-chain carriers.",
    ),
];

/// (name, country, is_carrier). Partner `i` goes to community `i % 3`, so the table is
/// interleaved: retail, automotive, healthcare, retail, ...
const PARTNERS: [(&str, &str, bool); 36] = [
    ("Acme Home Goods Supply", "US", false),
    ("Brenner Autoteile GmbH", "DE", false),
    ("Meridian Medical Supply", "US", false),
    ("Northwind Freight Lines", "US", true),
    ("Torino Componenti S.p.A.", "IT", false),
    ("ClearPath Diagnostics", "US", false),
    ("Bluewater Apparel Co.", "US", false),
    ("Great Lakes Axle & Drive", "US", false),
    ("Nordic Sterile Solutions AB", "SE", false),
    ("Harbor Point Distribution", "US", false),
    ("Kanto Precision Parts", "JP", false),
    ("Apex Pharma Logistics", "US", true),
    ("Keystone Packaging Corp.", "US", false),
    ("Monterrey Forja S.A. de C.V.", "MX", false),
    ("Vitalis Surgical BV", "NL", false),
    ("Summit Consumer Brands", "CA", false),
    ("Stahlwerk Nord Logistik", "DE", true),
    ("Sunrise Home Health Distributors", "US", false),
    ("Lakeside Grocers Wholesale", "US", false),
    ("Delta Fastener Supply", "US", false),
    ("Helvetia Lab Instruments AG", "CH", false),
    ("Pacific Rim Logistics", "US", true),
    ("Lyon Transmissions SA", "FR", false),
    ("ColdChain Express", "US", true),
    ("Evergreen Paper Products", "CA", false),
    ("Silesia Cast Components", "PL", false),
    ("Pinnacle Orthopedics", "US", false),
    ("Metro Retail Distributors", "US", false),
    ("Ohio Valley Brake Systems", "US", false),
    ("BioNova Reagents", "IE", false),
    ("Castle & Finch Housewares", "GB", false),
    ("TransAlp Spedition AG", "AT", true),
    ("Cedar Valley Medical Wholesale", "CA", false),
    ("Redline Parcel Express", "US", true),
    ("Baltic Rubber & Seals", "LT", false),
    ("Sante Distribution SAS", "FR", false),
];

const FIRST_NAMES: [&str; 16] = [
    "Laura", "Kevin", "Sofia", "Daniel", "Mei", "Jonas", "Aisha", "Carlos", "Emma", "Lukas",
    "Nadia", "Oliver", "Yuki", "Pedro", "Claire", "Tariq",
];
const LAST_NAMES: [&str; 16] = [
    "Alvarez",
    "Becker",
    "Nakamura",
    "Russo",
    "Dubois",
    "Kowalczyk",
    "Murphy",
    "Jensen",
    "Patel",
    "Schmidt",
    "Moreau",
    "Hughes",
    "Silva",
    "Novak",
    "Brennan",
    "Lindqvist",
];

/// Hub operations staff posting in the community.
const OPERATORS: [(&str, &str); 6] = [
    ("op-dwhitfield", "Dana Whitfield"),
    ("op-mchen", "Marcus Chen"),
    ("op-praman", "Priya Raman"),
    ("op-hkowalski", "Hannah Kowalski"),
    ("op-sokafor", "Samuel Okafor"),
    ("op-tortega", "Tomas Ortega"),
];

const SYSTEM_AUTHOR: (&str, &str) = ("sys-tg-monitor", "Trading Grid Monitor");

/// Core Case users per team.
fn team_users(team: cc::Team) -> &'static [(&'static str, &'static str)] {
    match team {
        cc::Team::Legal => &[("u-legal-1", "Rachel Stein"), ("u-legal-2", "Omar Haddad")],
        cc::Team::Compliance => &[("u-comp-1", "Grace Liu"), ("u-comp-2", "Henrik Larsen")],
        cc::Team::Finance => &[("u-fin-1", "Priya Raman"), ("u-fin-2", "Elliot Brooks")],
        cc::Team::CustomerService => &[("u-cs-1", "Hannah Kowalski"), ("u-cs-2", "Samuel Okafor")],
        _ => &[
            ("u-ops-1", "Dana Whitfield"),
            ("u-ops-2", "Marcus Chen"),
            ("u-ops-3", "Tomas Ortega"),
        ],
    }
}

/// The person of `team` who acts on a case nobody is assigned to yet.
pub(crate) fn team_lead(team: cc::Team) -> cc::UserRef {
    user(team_users(team)[0])
}

/// Realistic errors for a transaction moved to `status` after seeding; deterministic
/// per transaction so a repeated scenario reports the same error.
pub(crate) fn errors_for(
    tx: &tg::Transaction,
    status: tg::TransactionStatus,
) -> Vec<tg::TransactionError> {
    let mut rng = Rng::derive(0, &tx.id);
    let edifact = tx.standard == tg::EdiStandard::Edifact;
    tx_errors(&mut rng, status, &tx.document_type, edifact)
}

pub(crate) fn system_user() -> cc::UserRef {
    cc::UserRef {
        id: "u-system".into(),
        name: "Core Case Automation".into(),
    }
}

fn user(u: (&str, &str)) -> cc::UserRef {
    cc::UserRef {
        id: u.0.into(),
        name: u.1.into(),
    }
}

const ITEMS: [&[(&str, &str)]; 3] = [
    &[
        ("SKU-48213", "Stainless steel saucepan 2qt"),
        ("SKU-51007", "Cotton bath towel set, grey"),
        ("SKU-33920", "LED desk lamp, matte black"),
        ("SKU-72118", "Glass food storage set 10pc"),
        ("SKU-60441", "Kids rain jacket, size 6"),
        ("SKU-19876", "Ceramic dinner plate 10in"),
    ],
    &[
        ("PN-7731-A", "Front brake caliper assembly"),
        ("PN-2208-C", "Drive shaft CV joint"),
        ("PN-5514-B", "Hex flange bolt M10x1.25"),
        ("PN-9042-D", "Radiator hose, upper"),
        ("PN-3316-E", "Transmission mount bracket"),
        ("PN-8870-A", "Cylinder head gasket"),
    ],
    &[
        ("MD-10422", "Nitrile exam gloves, M, box 100"),
        ("MD-20817", "Sterile gauze pad 4x4, 200ct"),
        ("MD-31190", "Disposable syringe 5ml luer lock"),
        ("MD-44506", "PCR reagent kit, 96 tests"),
        ("MD-57321", "Orthopedic bone screw 3.5mm"),
        ("MD-66098", "IV administration set"),
    ],
];

const KINDS: [tg::DiscussionKind; 5] = [
    tg::DiscussionKind::ShipmentDiscrepancy,
    tg::DiscussionKind::InvoiceDiscrepancy,
    tg::DiscussionKind::OrderDiscrepancy,
    tg::DiscussionKind::ComplianceQuestion,
    tg::DiscussionKind::Support,
];

const TAGS: [&str; 10] = [
    "urgent",
    "edi",
    "q3-audit",
    "carrier",
    "pricing",
    "recurring",
    "peak-season",
    "asn",
    "credit-memo",
    "portal",
];

// ---------------------------------------------------------------------------
// Generation

/// Business references a discussion talks about, taken from its transactions when it has some.
#[derive(Debug, Clone, Default)]
struct Refs {
    po: String,
    invoice: String,
    asn: String,
    lot: String,
}

struct CaseSpec {
    opened_at: DateTime<Utc>,
    status: cc::CaseStatus,
    source: CaseSource,
}

enum CaseSource {
    Discussion(usize),
    Transaction(usize),
}

impl World {
    /// Build the world for `(seed, scale)`. Same inputs, same world, byte for byte.
    pub(crate) fn generate(seed: u64, scale: u32) -> World {
        let scale = scale.max(1) as usize;
        let mut w = World {
            communities: Vec::new(),
            partners: Vec::new(),
            discussions: Vec::new(),
            messages: Vec::new(),
            documents: Vec::new(),
            document_bytes: BTreeMap::new(),
            transactions: Vec::new(),
            cases: Vec::new(),
            tasks: Vec::new(),
            case_documents: Vec::new(),
            case_document_bytes: BTreeMap::new(),
            notes: Vec::new(),
            history: Vec::new(),
            resolutions: Vec::new(),
        };
        w.gen_partners(seed, scale);
        w.gen_transactions(seed, scale);
        let specs = w.gen_discussions(seed, scale);
        w.gen_cases(seed, scale, specs);
        w
    }

    fn gen_partners(&mut self, seed: u64, scale: usize) {
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

    fn partner_index(&self, id: &str) -> usize {
        id.strip_prefix("TP-")
            .and_then(|n| n.parse::<usize>().ok())
            .map(|n| n.saturating_sub(1))
            .unwrap_or(0)
    }

    fn gen_transactions(&mut self, seed: u64, scale: usize) {
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

    fn gen_discussions(&mut self, seed: u64, scale: usize) -> Vec<CaseSpec> {
        let mut rng = Rng::derive(seed, "discussions");
        let np = self.partners.len();
        let total = 300 * scale;
        // Every partner gets several threads, TP-0001 a dozen and more; the rest is random.
        let mut owners: Vec<usize> = vec![0; 14 * scale];
        for p in 1..np {
            owners.extend(std::iter::repeat_n(p, 4));
        }
        while owners.len() < total {
            owners.push(1 + rng.below(np as u64 - 1) as usize);
        }
        let mut slots: Vec<(i64, usize)> = owners
            .into_iter()
            .map(|p| (rng.below((WINDOW_DAYS * DAY) as u64) as i64, p))
            .collect();
        slots.sort();

        let mut tx_by_partner: Vec<Vec<usize>> = vec![Vec::new(); np];
        for (i, t) in self.transactions.iter().enumerate() {
            tx_by_partner[self.partner_index(&t.partner_id)].push(i);
        }
        let mut seen_per_partner = vec![0usize; np];
        // Documents each partner has shared so far: (document index, discussion index).
        let mut docs_per_partner: Vec<Vec<(usize, usize)>> = vec![Vec::new(); np];
        let mut specs = Vec::new();

        for (di, (secs, p)) in slots.into_iter().enumerate() {
            let j = seen_per_partner[p];
            seen_per_partner[p] += 1;
            let partner = self.partners[p].clone();
            let community = self.partner_index(&partner.id) % COMMUNITIES.len();
            let kind = if p == 0 {
                KINDS[j % KINDS.len()]
            } else {
                KINDS[rng.weighted(&[25, 25, 15, 15, 20])]
            };
            let created_at = at(secs);

            // Transactions of this partner, preferably of the family the thread is about.
            let wanted: &[&str] = match kind {
                tg::DiscussionKind::ShipmentDiscrepancy => &["856", "DESADV"],
                tg::DiscussionKind::InvoiceDiscrepancy => &["810", "INVOIC"],
                tg::DiscussionKind::OrderDiscrepancy => &["850", "ORDERS"],
                _ => &[
                    "997", "CONTRL", "850", "ORDERS", "810", "INVOIC", "856", "DESADV",
                ],
            };
            let ntx = match kind {
                tg::DiscussionKind::ComplianceQuestion => rng.weighted(&[60, 40]),
                tg::DiscussionKind::Support => rng.weighted(&[40, 40, 20]),
                _ => 1 + rng.weighted(&[55, 30, 15]),
            };
            let pool: Vec<usize> = tx_by_partner[p]
                .iter()
                .copied()
                .filter(|&t| {
                    wanted.contains(&self.transactions[t].document_type.as_str())
                        && self.transactions[t].created_at <= created_at
                })
                .collect();
            let pool = if pool.is_empty() {
                tx_by_partner[p].clone()
            } else {
                pool
            };
            let mut tx_idx: Vec<usize> = Vec::new();
            // Prefer the latest transactions before the thread opened: that is what people ask about.
            for _ in 0..ntx {
                if pool.is_empty() {
                    break;
                }
                let l = pool.len();
                let cand = pool[l - 1 - rng.below(l.min(20) as u64) as usize];
                if !tx_idx.contains(&cand) {
                    tx_idx.push(cand);
                }
            }
            tx_idx.sort();
            let transaction_ids: Vec<String> = tx_idx
                .iter()
                .map(|&t| self.transactions[t].id.clone())
                .collect();
            let mut refs = Refs {
                po: format!("45{:08}", rng.below(100_000_000)),
                invoice: format!("INV-26{:06}", rng.below(1_000_000)),
                asn: format!("{}", rng.range(4_400_000, 4_499_999)),
                lot: format!(
                    "LOT-{}{:04}",
                    ["A", "B", "C", "K"][rng.below(4) as usize],
                    rng.below(10_000)
                ),
            };
            for &t in &tx_idx {
                let br = &self.transactions[t].business_refs;
                if let Some(v) = &br.po_number {
                    refs.po = v.clone();
                }
                if let Some(v) = &br.invoice_number {
                    refs.invoice = v.clone();
                }
                if let Some(v) = &br.shipment_id {
                    refs.asn = v.clone();
                }
            }
            let title = discussion_title(&mut rng, kind, &refs, community);

            // Escalation and the case status it implies.
            let escalate = if p == 0 {
                j % 14 < 10
            } else {
                rng.chance(0.55)
            };
            let case_status = if p == 0 {
                [
                    cc::CaseStatus::InProgress,
                    cc::CaseStatus::Resolved,
                    cc::CaseStatus::WaitingOnPartner,
                    cc::CaseStatus::Closed,
                    cc::CaseStatus::New,
                    cc::CaseStatus::Triage,
                    cc::CaseStatus::OnHold,
                    cc::CaseStatus::Resolved,
                    cc::CaseStatus::InProgress,
                    cc::CaseStatus::Closed,
                ][(j % 14).min(9)]
            } else {
                random_case_status(&mut rng)
            };
            let status = if escalate {
                match case_status {
                    cc::CaseStatus::Resolved => tg::DiscussionStatus::Resolved,
                    cc::CaseStatus::Closed => tg::DiscussionStatus::Closed,
                    _ => tg::DiscussionStatus::Escalated,
                }
            } else {
                [
                    tg::DiscussionStatus::Open,
                    tg::DiscussionStatus::Resolved,
                    tg::DiscussionStatus::Closed,
                ][rng.weighted(&[55, 30, 15])]
            };
            let mut tags: Vec<String> = Vec::new();
            for _ in 0..rng.weighted(&[25, 40, 25, 10]) {
                let t = (*rng.pick(&TAGS)).to_string();
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            if escalate {
                tags.push("escalate".into());
            }

            // Authors.
            let contacts: Vec<tg::Author> = (0..2)
                .map(|c| tg::Author {
                    id: format!("pc-{:04}-{}", p + 1, c + 1),
                    name: format!(
                        "{} {}",
                        FIRST_NAMES[(p * 7 + c * 3) % FIRST_NAMES.len()],
                        LAST_NAMES[(p * 5 + c * 11) % LAST_NAMES.len()]
                    ),
                    role: tg::AuthorRole::Partner,
                })
                .collect();
            let operator = {
                let o = OPERATORS[rng.below(OPERATORS.len() as u64) as usize];
                tg::Author {
                    id: o.0.into(),
                    name: o.1.into(),
                    role: tg::AuthorRole::Operator,
                }
            };
            let opened_by_partner = rng.chance(0.85);
            let created_by = if opened_by_partner {
                contacts[0].clone()
            } else {
                operator.clone()
            };

            // Messages: alternate between the two sides, starting with the opener.
            let did = format!("DSC-{:06}", di + 1);
            let nmsg = rng.range(2, 6) as usize;
            let mut t = created_at;
            let mut msgs: Vec<tg::Message> = Vec::new();
            for m in 0..nmsg {
                if m > 0 {
                    t += Duration::minutes(rng.range(20, 30 * 60) as i64);
                }
                let partner_turn = (m % 2 == 0) == opened_by_partner;
                let system_turn = m > 0 && !transaction_ids.is_empty() && rng.chance(0.08);
                let author = if system_turn {
                    tg::Author {
                        id: SYSTEM_AUTHOR.0.into(),
                        name: SYSTEM_AUTHOR.1.into(),
                        role: tg::AuthorRole::System,
                    }
                } else if partner_turn {
                    contacts[usize::from(m >= 3 && rng.chance(0.5))].clone()
                } else {
                    operator.clone()
                };
                let body = if m == 0 {
                    opening_body(&mut rng, kind, &refs, &partner.name)
                } else if system_turn {
                    format!(
                        "Automated notice: transaction {} is linked to this thread; current status is {}.",
                        transaction_ids[0],
                        tx_status_word(self.transactions[tx_idx[0]].status)
                    )
                } else if partner_turn {
                    rng.pick(&PARTNER_REPLIES).to_string()
                } else {
                    rng.pick(&OPERATOR_REPLIES).to_string()
                };
                msgs.push(tg::Message {
                    id: format!("MSG-{:07}", self.messages.len() + msgs.len() + 1),
                    discussion_id: did.clone(),
                    author,
                    body,
                    document_ids: Vec::new(),
                    created_at: t,
                });
            }

            // Documents, attached to partner-side messages where possible.
            let ndocs = rng.range(1, 2) as usize;
            let mut doc_indices = Vec::new();
            for k in 0..ndocs {
                let candidates: Vec<usize> = (0..msgs.len())
                    .filter(|&m| msgs[m].author.role != tg::AuthorRole::System)
                    .collect();
                let mi = candidates
                    .get(k.min(candidates.len().saturating_sub(1)))
                    .copied()
                    .unwrap_or(0);
                let prior: Vec<(usize, usize)> = docs_per_partner[p]
                    .iter()
                    .copied()
                    .filter(|&(_, d)| d != di)
                    .collect();
                // Duplicate uploads: the same file shared again in another thread.
                let force_dup = p == 0 && j == 1 && k == 0;
                let dup_of = if !prior.is_empty() && (force_dup || rng.chance(0.08)) {
                    Some(if force_dup {
                        prior[0].0
                    } else {
                        rng.pick(&prior).0
                    })
                } else {
                    None
                };
                let (name, dkind, content_type, bytes) = match dup_of {
                    Some(src) => {
                        let d = &self.documents[src];
                        (
                            d.name.clone(),
                            d.kind,
                            d.content_type.clone(),
                            self.document_bytes.get(&d.id).cloned().unwrap_or_default(),
                        )
                    }
                    None => make_document(
                        &mut rng,
                        kind,
                        k,
                        &refs,
                        &partner,
                        community,
                        msgs[mi].created_at,
                    ),
                };
                let id = format!("DOC-{:06}", self.documents.len() + 1);
                let msg = &mut msgs[mi];
                msg.document_ids.push(id.clone());
                if !msg.body.contains("attached") {
                    msg.body.push_str(&format!(" Attached: {name}."));
                }
                self.documents.push(tg::Document {
                    id: id.clone(),
                    partner_id: partner.id.clone(),
                    discussion_id: Some(did.clone()),
                    name,
                    kind: dkind,
                    content_type,
                    size_bytes: bytes.len() as u64,
                    sha256: sha256_hex(&bytes),
                    uploaded_by: msg.author.clone(),
                    created_at: msg.created_at,
                });
                self.document_bytes.insert(id, bytes);
                docs_per_partner[p].push((self.documents.len() - 1, di));
                doc_indices.push(self.documents.len() - 1);
            }

            let updated_at = msgs.last().map(|m| m.created_at).unwrap_or(created_at);
            let case_opened = msgs[1.min(msgs.len() - 1)].created_at + Duration::hours(2);
            self.discussions.push(tg::Discussion {
                id: did,
                community_id: partner.community_id.clone(),
                partner_id: partner.id.clone(),
                title,
                kind,
                status,
                tags,
                transaction_ids,
                linked_case_id: None,
                message_count: msgs.len() as u32,
                created_by,
                created_at,
                updated_at,
            });
            self.messages.extend(msgs);
            if escalate {
                specs.push(CaseSpec {
                    opened_at: case_opened,
                    status: case_status,
                    source: CaseSource::Discussion(di),
                });
            }
        }

        // Transaction exceptions: failed, rejected or overdue interchanges escalated on their own.
        let mut cand: Vec<usize> = (0..self.transactions.len())
            .filter(|&i| {
                matches!(
                    self.transactions[i].status,
                    tg::TransactionStatus::Failed
                        | tg::TransactionStatus::Rejected
                        | tg::TransactionStatus::AckOverdue
                )
            })
            .collect();
        rng.shuffle(&mut cand);
        let (mut mine, others): (Vec<usize>, Vec<usize>) = cand
            .into_iter()
            .partition(|&i| self.transactions[i].partner_id == "TP-0001");
        mine.truncate(2 * scale);
        let mut picked: Vec<usize> = mine;
        picked.extend(others);
        picked.truncate(40 * scale);
        for (n, i) in picked.into_iter().enumerate() {
            let status = if n == 0 {
                cc::CaseStatus::InProgress
            } else if n == 1 {
                cc::CaseStatus::Resolved
            } else {
                random_case_status(&mut rng)
            };
            specs.push(CaseSpec {
                opened_at: self.transactions[i].updated_at + Duration::hours(1),
                status,
                source: CaseSource::Transaction(i),
            });
        }
        specs
    }

    fn gen_cases(&mut self, seed: u64, _scale: usize, mut specs: Vec<CaseSpec>) {
        let mut rng = Rng::derive(seed, "cases");
        specs.sort_by(|a, b| {
            a.opened_at.cmp(&b.opened_at).then_with(|| {
                let key = |s: &CaseSpec| match s.source {
                    CaseSource::Discussion(i) => (0, i),
                    CaseSource::Transaction(i) => (1, i),
                };
                key(a).cmp(&key(b))
            })
        });
        for (ci, spec) in specs.into_iter().enumerate() {
            let id = format!("CASE-{:06}", ci + 1);
            let number = format!("CC-2026-{:06}", ci + 1);
            let opened = spec.opened_at;
            let (
                case_type,
                team,
                title,
                description,
                partner_id,
                external_ref,
                transaction_ids,
                urgent,
                disc,
            ) = match spec.source {
                CaseSource::Discussion(di) => {
                    let d = &mut self.discussions[di];
                    d.linked_case_id = Some(id.clone());
                    let (ct, team) = match d.kind {
                        tg::DiscussionKind::InvoiceDiscrepancy => {
                            (cc::CaseType::Dispute, cc::Team::Finance)
                        }
                        tg::DiscussionKind::ComplianceQuestion => {
                            (cc::CaseType::ComplianceReview, cc::Team::Compliance)
                        }
                        tg::DiscussionKind::Support => {
                            (cc::CaseType::SupportEscalation, cc::Team::CustomerService)
                        }
                        _ => (cc::CaseType::Dispute, cc::Team::Operations),
                    };
                    let description = format!(
                            "Escalated from community discussion {} ({}). Internal assessment: {}. Estimated exposure ${}. Not for partner distribution.",
                            d.id,
                            d.partner_id,
                            rng.pick(&ASSESSMENTS),
                            rng.range(400, 48_000)
                        );
                    (
                        ct,
                        team,
                        d.title.clone(),
                        description,
                        d.partner_id.clone(),
                        cc::ExternalRef {
                            system: "trading-grid".into(),
                            kind: "discussion".into(),
                            id: d.id.clone(),
                        },
                        d.transaction_ids.clone(),
                        d.tags.iter().any(|t| t == "urgent"),
                        Some(di),
                    )
                }
                CaseSource::Transaction(ti) => {
                    let t = &self.transactions[ti];
                    let err = t
                        .errors
                        .first()
                        .map(|e| format!("{} ({})", e.message, e.code))
                        .unwrap_or_else(|| "delivery exception".into());
                    (
                            cc::CaseType::TransactionException,
                            cc::Team::Operations,
                            format!(
                                "{} {} {} {}: {}",
                                if t.standard == tg::EdiStandard::X12 { "X12" } else { "EDIFACT" },
                                t.document_type,
                                t.control_number,
                                tx_status_word(t.status),
                                t.errors.first().map(|e| e.code.as_str()).unwrap_or("exception")
                            ),
                            format!(
                                "Opened automatically from Trading Grid transaction {}: {}. Internal: map version {} in production since last release; check whether the partner changed their implementation guide.",
                                t.id,
                                err,
                                rng.range(12, 31)
                            ),
                            t.partner_id.clone(),
                            cc::ExternalRef {
                                system: "trading-grid".into(),
                                kind: "transaction".into(),
                                id: t.id.clone(),
                            },
                            vec![t.id.clone()],
                            false,
                            None,
                        )
                }
            };
            let priority = if urgent {
                [cc::Priority::High, cc::Priority::Critical][rng.weighted(&[70, 30])]
            } else {
                [
                    cc::Priority::Low,
                    cc::Priority::Medium,
                    cc::Priority::High,
                    cc::Priority::Critical,
                ][rng.weighted(&[15, 45, 30, 10])]
            };
            let status = spec.status;
            let assignee = if status == cc::CaseStatus::New && rng.chance(0.6) {
                None
            } else {
                Some(user(*rng.pick(team_users(team))))
            };
            let actor = assignee.clone().unwrap_or_else(system_user);

            // History: created, assigned, then the walk to the current status.
            let mut t = opened;
            self.push_history(
                &id,
                t,
                system_user(),
                "created",
                None,
                None,
                Some(format!("Case {number} created")),
            );
            if let Some(a) = &assignee {
                t += Duration::minutes(rng.range(5, 180) as i64);
                self.push_history(
                    &id,
                    t,
                    system_user(),
                    "assigned",
                    None,
                    None,
                    Some(format!("Assigned to {}", a.name)),
                );
            }
            let mut from = cc::CaseStatus::New;
            let mut resolved_at = None;
            for &to in status_path(status) {
                t += Duration::minutes(rng.range(30, 72 * 60) as i64);
                self.push_history(
                    &id,
                    t,
                    actor.clone(),
                    "status_changed",
                    Some(from),
                    Some(to),
                    None,
                );
                if to == cc::CaseStatus::Resolved {
                    resolved_at = Some(t);
                }
                from = to;
            }
            let updated_at = t;

            // Tasks.
            let task_teams: Vec<cc::Team> = if case_type == cc::CaseType::ComplianceReview {
                vec![cc::Team::Legal, cc::Team::Compliance, cc::Team::Operations]
            } else {
                let mut v = vec![team];
                for _ in 0..rng.weighted(&[40, 40, 20]) {
                    let extra = [
                        cc::Team::Operations,
                        cc::Team::Finance,
                        cc::Team::CustomerService,
                        cc::Team::Legal,
                    ][rng.below(4) as usize];
                    v.push(extra);
                }
                v
            };
            for (k, tt) in task_teams.into_iter().enumerate() {
                let state = match status {
                    cc::CaseStatus::Resolved | cc::CaseStatus::Closed => {
                        [cc::TaskState::Done, cc::TaskState::Cancelled][rng.weighted(&[85, 15])]
                    }
                    cc::CaseStatus::New => cc::TaskState::Open,
                    _ => [
                        cc::TaskState::Open,
                        cc::TaskState::InProgress,
                        cc::TaskState::Done,
                    ][rng.weighted(&[35, 40, 25])],
                };
                let created_at = opened + Duration::minutes(10 + 20 * k as i64);
                self.tasks.push(cc::Task {
                    id: format!("TSK-{:06}", self.tasks.len() + 1),
                    case_id: id.clone(),
                    title: rng.pick(task_titles(tt)).to_string(),
                    team: tt,
                    state,
                    assignee: (state != cc::TaskState::Open || rng.chance(0.5))
                        .then(|| user(*rng.pick(team_users(tt)))),
                    due_at: Some(created_at + Duration::days(rng.range(2, 10) as i64)),
                    created_at,
                });
            }

            // Evidence: linked Trading Grid documents, sometimes an uploaded file of our own.
            let linker = assignee.clone().unwrap_or_else(system_user);
            if let Some(di) = disc {
                let did = self.discussions[di].id.clone();
                let docs: Vec<tg::Document> = self
                    .documents
                    .iter()
                    .filter(|d| d.discussion_id.as_deref() == Some(did.as_str()))
                    .cloned()
                    .collect();
                let nlink = rng.range(1, 2) as usize;
                let mut seen_sha: Vec<String> = Vec::new();
                for d in docs.iter().take(nlink) {
                    if seen_sha.contains(&d.sha256) {
                        continue;
                    }
                    seen_sha.push(d.sha256.clone());
                    let linked_at =
                        opened.max(d.created_at) + Duration::minutes(rng.range(15, 600) as i64);
                    self.case_documents.push(cc::CaseDocument {
                        id: format!("EV-{:06}", self.case_documents.len() + 1),
                        case_id: id.clone(),
                        name: d.name.clone(),
                        content_type: d.content_type.clone(),
                        size_bytes: d.size_bytes,
                        sha256: d.sha256.clone(),
                        source: Some(cc::DocumentSource {
                            system: "trading-grid".into(),
                            document_id: d.id.clone(),
                        }),
                        linked_by: linker.clone(),
                        linked_at,
                    });
                }
            }
            let upload_p = if disc.is_some() { 0.3 } else { 0.5 };
            if rng.chance(upload_p) {
                let (name, content_type, bytes) =
                    internal_upload(&mut rng, &id, &partner_id, &transaction_ids);
                let evid = format!("EV-{:06}", self.case_documents.len() + 1);
                self.case_documents.push(cc::CaseDocument {
                    id: evid.clone(),
                    case_id: id.clone(),
                    name,
                    content_type,
                    size_bytes: bytes.len() as u64,
                    sha256: sha256_hex(&bytes),
                    source: None,
                    linked_by: linker.clone(),
                    linked_at: opened + Duration::minutes(rng.range(60, 1440) as i64),
                });
                self.case_document_bytes.insert(evid, bytes);
            }

            // Internal notes.
            for k in 0..rng.range(1, 2) {
                let body = rng
                    .pick(&NOTES)
                    .replace("{n}", &rng.range(2, 9).to_string());
                self.notes.push(cc::Note {
                    id: format!("NOTE-{:06}", self.notes.len() + 1),
                    case_id: id.clone(),
                    author: linker.clone(),
                    body,
                    created_at: opened + Duration::minutes(45 + 240 * k as i64),
                });
            }

            // Resolution for resolved and closed cases.
            if let Some(r_at) = resolved_at {
                let (summary, root, actions) = resolution_text(&mut rng, case_type, &title);
                self.resolutions.push(cc::Resolution {
                    id: format!("RES-{:06}", self.resolutions.len() + 1),
                    case_id: id.clone(),
                    summary,
                    root_cause: root,
                    corrective_actions: actions,
                    resolved_by: actor.clone(),
                    resolved_at: r_at,
                    shared_with_partner: rng.chance(0.8),
                });
            }
            if let Some(di) = disc {
                let d = &mut self.discussions[di];
                if let Some(r_at) = resolved_at {
                    d.updated_at = d.updated_at.max(r_at);
                }
            }

            let sla_hours = match priority {
                cc::Priority::Critical => 8,
                cc::Priority::High => 48,
                cc::Priority::Medium => 120,
                _ => 240,
            };
            self.cases.push(cc::Case {
                id,
                number,
                case_type,
                status,
                priority,
                title,
                description,
                assignee,
                team,
                sla_due_at: Some(opened + Duration::hours(sla_hours)),
                partner_id,
                external_ref: Some(external_ref),
                transaction_ids,
                opened_at: opened,
                updated_at,
                resolved_at,
                version: 1,
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_history(
        &mut self,
        case_id: &str,
        at: DateTime<Utc>,
        actor: cc::UserRef,
        action: &str,
        from: Option<cc::CaseStatus>,
        to: Option<cc::CaseStatus>,
        detail: Option<String>,
    ) {
        self.history.push(cc::HistoryEntry {
            id: format!("HIS-{:07}", self.history.len() + 1),
            case_id: case_id.into(),
            at,
            actor,
            action: action.into(),
            from_status: from,
            to_status: to,
            detail,
        });
    }
}

fn random_case_status(rng: &mut Rng) -> cc::CaseStatus {
    [
        cc::CaseStatus::New,
        cc::CaseStatus::Triage,
        cc::CaseStatus::InProgress,
        cc::CaseStatus::WaitingOnPartner,
        cc::CaseStatus::OnHold,
        cc::CaseStatus::Resolved,
        cc::CaseStatus::Closed,
    ][rng.weighted(&[10, 12, 25, 13, 7, 20, 13])]
}

/// The statuses a case walks through from `new` to reach `status`.
pub(crate) fn status_path(status: cc::CaseStatus) -> &'static [cc::CaseStatus] {
    use cc::CaseStatus::*;
    match status {
        Triage => &[Triage],
        InProgress => &[Triage, InProgress],
        WaitingOnPartner => &[Triage, InProgress, WaitingOnPartner],
        OnHold => &[Triage, InProgress, OnHold],
        Resolved => &[Triage, InProgress, Resolved],
        Closed => &[Triage, InProgress, Resolved, Closed],
        _ => &[],
    }
}

fn tx_status_word(s: tg::TransactionStatus) -> &'static str {
    match s {
        tg::TransactionStatus::Delivered => "delivered",
        tg::TransactionStatus::Failed => "failed",
        tg::TransactionStatus::Rejected => "rejected",
        tg::TransactionStatus::AwaitingAck => "awaiting_ack",
        tg::TransactionStatus::AckOverdue => "ack_overdue",
        tg::TransactionStatus::Unknown => "unknown",
    }
}

fn tx_errors(
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

fn discussion_title(rng: &mut Rng, kind: tg::DiscussionKind, r: &Refs, community: usize) -> String {
    let n = rng.range(2, 24);
    match kind {
        tg::DiscussionKind::ShipmentDiscrepancy => match rng.below(5) {
            0 => format!(
                "Short shipment on ASN {} \u{2014} {n} cartons missing",
                r.asn
            ),
            1 => format!("Damaged pallets received against ASN {}", r.asn),
            2 => format!("Wrong SKU delivered on shipment {}", r.asn),
            3 => format!(
                "Late delivery on PO {} \u{2014} missed appointment window",
                r.po
            ),
            _ => format!("ASN {} quantities do not match physical receipt", r.asn),
        },
        tg::DiscussionKind::InvoiceDiscrepancy => match rng.below(5) {
            0 => format!("Price mismatch on invoice {} vs PO {}", r.invoice, r.po),
            1 => format!("Duplicate invoice {} received", r.invoice),
            2 => format!("Invoice {} billed for {n} units not received", r.invoice),
            3 => format!("Freight surcharge on invoice {} not agreed", r.invoice),
            _ => format!("Tax calculation error on invoice {}", r.invoice),
        },
        tg::DiscussionKind::OrderDiscrepancy => match rng.below(4) {
            0 => format!("PO {} acknowledged with wrong quantities", r.po),
            1 => format!("Unit of measure mismatch on PO {}", r.po),
            2 => format!("PO {} change not reflected in order acknowledgment", r.po),
            _ => format!("Cancelled lines on PO {} still shipped", r.po),
        },
        tg::DiscussionKind::ComplianceQuestion => {
            let cert = ["ISO 9001", "IATF 16949", "ISO 13485"][community % 3];
            match rng.below(4) {
                0 => format!("Certificate of conformity expired for lot {}", r.lot),
                1 => format!("Request for updated {cert} certificate"),
                2 => format!("Country of origin declaration missing for PO {}", r.po),
                _ => "Q3 audit: supplier code of conduct attestation".to_string(),
            }
        }
        _ => match rng.below(5) {
            0 => "AS2 connection failing since certificate rollover".to_string(),
            1 => "Functional acknowledgments not received for outbound invoices".to_string(),
            2 => "Cannot map despatch advice into our WMS".to_string(),
            3 => format!(
                "Request to add new ship-to location DC-{:02}",
                rng.range(1, 40)
            ),
            _ => "Portal access for new accounts payable clerk".to_string(),
        },
    }
}

fn opening_body(rng: &mut Rng, kind: tg::DiscussionKind, r: &Refs, partner: &str) -> String {
    let n = rng.range(2, 24);
    match kind {
        tg::DiscussionKind::ShipmentDiscrepancy => format!(
            "Hello, this is {partner}. Your receiving team reported a discrepancy on ASN {} (PO {}): {n} cartons are shown as missing or damaged. Our warehouse records show the full quantity loaded. Can you check your dock receipt?",
            r.asn, r.po
        ),
        tg::DiscussionKind::InvoiceDiscrepancy => format!(
            "Invoice {} against PO {} was short-paid by ${}. Please explain the deduction or confirm when the balance will be released.",
            r.invoice,
            r.po,
            rng.range(120, 9_500)
        ),
        tg::DiscussionKind::OrderDiscrepancy => format!(
            "The order acknowledgment we received for PO {} does not match the quantities we ordered on {n} lines. Please confirm which version is correct before we ship.",
            r.po
        ),
        tg::DiscussionKind::ComplianceQuestion => format!(
            "Our compliance team needs the current certificate and test reports covering lot {} before the audit window closes. Where should we upload them?",
            r.lot
        ),
        _ => "Since this morning our outbound files are not being picked up. The AS2 endpoint returns an MDN error. Could your EDI team take a look?".to_string(),
    }
}

const PARTNER_REPLIES: [&str; 8] = [
    "We checked again on our side and the shipment left complete. See attached paperwork.",
    "Our carrier shows the delivery as complete and signed for at 14:22.",
    "Any update on this? Our AR team is holding the remittance until it is settled.",
    "We re-sent the file this morning with the corrected segment.",
    "Thanks, that works for us. Please confirm once the credit is processed.",
    "We cannot accept the deduction without a signed discrepancy report.",
    "Our quality team confirmed the certificate is being renewed; expect it by Friday.",
    "Could you share the receiving photos your DC took?",
];

const OPERATOR_REPLIES: [&str; 8] = [
    "Thanks for flagging this. We are checking the receiving records at the DC and will come back within one business day.",
    "Can you attach the signed proof of delivery and the packing list for this shipment?",
    "We have escalated this internally; our disputes team is reviewing it.",
    "Our EDI team confirmed the file was received; the totals in the summary segment do not match the line items.",
    "We have reprocessed the transaction and the acknowledgment should reach you within the hour.",
    "Following up: we are still waiting on the corrected document from your side.",
    "The review is complete. We will post the outcome in this thread.",
    "Please keep this thread updated if the issue recurs on the next shipment.",
];

const ASSESSMENTS: [&str; 8] = [
    "receiving logs at DC-04 show the full carton count; likely a mis-scan at the dock",
    "carrier reported trailer damage en route; claim against carrier is likely",
    "pricing table in ERP was not updated after the Q2 contract amendment",
    "duplicate invoice caused by partner retransmission after an MDN timeout",
    "partner certificate lapsed three weeks ago; shipments since then are technically non-compliant",
    "our own map change in release 26.3 dropped the unit of measure qualifier",
    "partner is chronically late on this lane; third occurrence this quarter",
    "buyer changed the PO by phone and never sent the 860",
];

const NOTES: [&str; 6] = [
    "[internal] Carrier blamed \u{2014} do not share with partner. Claim filed with the carrier separately.",
    "[internal] Margin impact is material; finance approved a goodwill credit ceiling. Do not disclose the ceiling.",
    "[internal] Partner has had {n} similar disputes this quarter; consider a scorecard review.",
    "[internal] Root cause is our own WMS mis-scan at dock 7 \u{2014} keep wording neutral in partner-facing updates.",
    "[internal] Legal advises not to admit liability before the audit closes.",
    "[internal] Account manager says the partner is at risk of losing preferred status; handle carefully.",
];

fn task_titles(team: cc::Team) -> &'static [&'static str] {
    match team {
        cc::Team::Legal => &[
            "Review contractual liability and penalty clauses",
            "Assess audit clause exposure",
        ],
        cc::Team::Compliance => &[
            "Verify certificate validity and scope",
            "Request updated declaration from partner",
        ],
        cc::Team::Finance => &[
            "Validate invoice pricing against contract",
            "Prepare credit memo",
            "Hold remittance pending review",
        ],
        cc::Team::CustomerService => &[
            "Send status update to partner",
            "Schedule call with partner EDI team",
        ],
        _ => &[
            "Reconcile receiving records against ASN",
            "Quarantine affected lot pending review",
            "Reprocess corrected EDI file",
        ],
    }
}

fn resolution_text(rng: &mut Rng, ct: cc::CaseType, title: &str) -> (String, String, Vec<String>) {
    let cm = format!("CM-{:06}", rng.below(1_000_000));
    match ct {
        cc::CaseType::Dispute => match rng.below(3) {
            0 => (
                format!("Discrepancy confirmed ({title}); credit memo {cm} issued."),
                "Carrier loaded a partial pallet; seal count was not verified at origin.".into(),
                vec![
                    format!("Credit memo {cm} issued for the missing quantity"),
                    "Carrier reminded of seal verification procedure".into(),
                    "ASN carton count validation enabled at receiving".into(),
                ],
            ),
            1 => (
                format!("Pricing corrected and invoice re-issued ({title})."),
                "Contract price update was not loaded into the ERP price list.".into(),
                vec![
                    "Price list synchronized with the current contract".into(),
                    "Monthly price audit added for strategic partners".into(),
                ],
            ),
            _ => (
                format!("Discrepancy not confirmed after review ({title}); no credit due."),
                "Receiving mis-scan at the dock; physical count matched the ASN.".into(),
                vec![
                    "Dock scanner firmware updated".into(),
                    "Receiving staff retrained on exception handling".into(),
                ],
            ),
        },
        cc::CaseType::ComplianceReview => (
            "Updated certificate received and verified; compliance file complete.".into(),
            "Certificate renewal was not tracked by the partner's quality system.".into(),
            vec![
                "Certificate expiry reminders set 60 days ahead".into(),
                "Affected lots released from quarantine".into(),
            ],
        ),
        cc::CaseType::SupportEscalation => (
            "Connectivity restored after certificate exchange.".into(),
            "Expired AS2 certificate on the partner endpoint.".into(),
            vec![
                "New certificate installed on both sides".into(),
                "Certificate expiry monitoring enabled".into(),
            ],
        ),
        _ => (
            "Transaction corrected and reprocessed; acknowledgment received.".into(),
            "Partner map produced an invalid segment after their release upgrade.".into(),
            vec![
                "Partner fixed their outbound map".into(),
                "Validation rule added to catch the error before routing".into(),
            ],
        ),
    }
}

/// A minimal but valid single-page PDF with the given text lines (ASCII only).
pub(crate) fn minimal_pdf(lines: &[String]) -> Vec<u8> {
    let mut content = String::from("BT /F1 11 Tf 72 740 Td 14 TL\n");
    for l in lines {
        let safe: String = l
            .chars()
            .map(|c| {
                if c.is_ascii() && !c.is_ascii_control() {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        content.push_str(&format!("({safe}) Tj T*\n"));
    }
    content.push_str("ET\n");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_string(),
        format!("<< /Length {} >>\nstream\n{}endstream", content.len(), content),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.push_str(&format!("{} 0 obj\n{}\nendobj\n", i + 1, o));
    }
    let xref = out.len();
    out.push_str(&format!(
        "xref\n0 {}\n0000000000 65535 f \n",
        objects.len() + 1
    ));
    for off in offsets {
        out.push_str(&format!("{off:010} 00000 n \n"));
    }
    out.push_str(&format!(
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    ));
    out.into_bytes()
}

/// Build one Trading Grid document's name, kind, content type and bytes.
fn make_document(
    rng: &mut Rng,
    kind: tg::DiscussionKind,
    k: usize,
    r: &Refs,
    partner: &tg::Partner,
    community: usize,
    when: DateTime<Utc>,
) -> (String, tg::DocumentKind, String, Vec<u8>) {
    let items = ITEMS[community % 3];
    let date = when.format("%Y-%m-%d").to_string();
    let dk = match (kind, k) {
        (tg::DiscussionKind::ShipmentDiscrepancy, 0) => tg::DocumentKind::PackingList,
        (tg::DiscussionKind::ShipmentDiscrepancy, _) => tg::DocumentKind::ProofOfDelivery,
        (tg::DiscussionKind::InvoiceDiscrepancy, 0) => tg::DocumentKind::Invoice,
        (tg::DiscussionKind::InvoiceDiscrepancy, _) => tg::DocumentKind::PurchaseOrder,
        (tg::DiscussionKind::OrderDiscrepancy, 0) => tg::DocumentKind::PurchaseOrder,
        (tg::DiscussionKind::ComplianceQuestion, 0) => tg::DocumentKind::ComplianceCertificate,
        _ => tg::DocumentKind::Other,
    };
    let lines_csv = |rng: &mut Rng, header: &str, with_price: bool| -> String {
        let mut s = format!("{header}\n");
        for line in 1..=rng.range(2, 6) {
            let (sku, desc) = *rng.pick(items);
            let qty = rng.range(1, 400);
            if with_price {
                let cents = rng.range(150, 25_000);
                s.push_str(&format!(
                    "{line},{sku},{desc},{qty},{}.{:02},{}.{:02}\n",
                    cents / 100,
                    cents % 100,
                    qty * cents / 100,
                    (qty * cents) % 100
                ));
            } else {
                s.push_str(&format!(
                    "{line},{sku},{desc},{qty},EA,CTN-{}-{:03}\n",
                    r.asn, line
                ));
            }
        }
        s
    };
    match dk {
        tg::DocumentKind::PackingList => (
            format!("packing_list_ASN{}.csv", r.asn),
            dk,
            "text/csv".into(),
            lines_csv(rng, "line,sku,description,qty_shipped,uom,carton_id", false).into_bytes(),
        ),
        tg::DocumentKind::ProofOfDelivery => (
            format!("POD_{}.pdf", r.asn),
            dk,
            "application/pdf".into(),
            minimal_pdf(&[
                "PROOF OF DELIVERY".into(),
                format!("Shipper: {}", partner.name),
                format!("Shipment: ASN {} / PO {}", r.asn, r.po),
                format!(
                    "Delivered: {date} {:02}:{:02} UTC",
                    rng.below(24),
                    rng.below(60)
                ),
                format!("Cartons received: {}", rng.range(10, 120)),
                format!(
                    "Received by: {}. {}",
                    FIRST_NAMES[rng.below(16) as usize]
                        .chars()
                        .next()
                        .unwrap_or('J'),
                    LAST_NAMES[rng.below(16) as usize]
                ),
                format!("Exceptions noted: {} cartons damaged", rng.below(4)),
            ]),
        ),
        tg::DocumentKind::Invoice => {
            if rng.chance(0.5) {
                (
                    format!("invoice_{}.csv", r.invoice),
                    dk,
                    "text/csv".into(),
                    format!(
                        "# invoice {} po {} date {date}\n{}",
                        r.invoice,
                        r.po,
                        lines_csv(rng, "line,sku,description,qty,unit_price,amount", true)
                    )
                    .into_bytes(),
                )
            } else {
                (
                    format!("invoice_{}.pdf", r.invoice),
                    dk,
                    "application/pdf".into(),
                    minimal_pdf(&[
                        format!("INVOICE {}", r.invoice),
                        format!("From: {}", partner.name),
                        format!("PO: {}   Date: {date}", r.po),
                        format!(
                            "Amount due: USD {}.{:02}",
                            rng.range(500, 90_000),
                            rng.below(100)
                        ),
                        "Terms: Net 45".into(),
                    ]),
                )
            }
        }
        tg::DocumentKind::PurchaseOrder => (
            format!("PO_{}.csv", r.po),
            dk,
            "text/csv".into(),
            format!(
                "# purchase order {} issued {date}\n{}",
                r.po,
                lines_csv(rng, "line,sku,description,qty,unit_price,amount", true)
            )
            .into_bytes(),
        ),
        tg::DocumentKind::ComplianceCertificate => (
            format!("certificate_of_conformity_{}.pdf", r.lot),
            dk,
            "application/pdf".into(),
            minimal_pdf(&[
                "CERTIFICATE OF CONFORMITY".into(),
                format!("Supplier: {}", partner.name),
                format!("Lot: {}", r.lot),
                format!(
                    "Standard: {}",
                    ["ISO 9001:2015", "IATF 16949:2016", "ISO 13485:2016"][community % 3]
                ),
                format!("Issued: {date}"),
                format!("Certificate no.: QC-{:07}", rng.below(10_000_000)),
            ]),
        ),
        _ => {
            let (name, body) = match kind {
                tg::DiscussionKind::Support => (
                    "as2_error_log.txt".to_string(),
                    format!(
                        "{date}T{:02}:{:02}:11Z ERROR AS2 send to {} failed: MDN signature verification failed\n{date}T{:02}:{:02}:45Z WARN retry 1/3 scheduled\n{date}T{:02}:{:02}:03Z ERROR retry exhausted; message id <{}@gridcase>\n",
                        rng.below(24), rng.below(60), partner.id, rng.below(24), rng.below(60), rng.below(24), rng.below(60), rng.next_u64() % 1_000_000_000
                    ),
                ),
                tg::DiscussionKind::ComplianceQuestion => (
                    format!("origin_declaration_{}.txt", r.po),
                    format!(
                        "Declaration of origin\nSupplier: {}\nPO: {}\nCountry of origin: {}\nSigned: {date}\nRef: DO-{:06}\n",
                        partner.name, r.po, partner.country, rng.below(1_000_000)
                    ),
                ),
                tg::DiscussionKind::ShipmentDiscrepancy => (
                    format!("carrier_exception_report_{}.txt", r.asn),
                    format!(
                        "Carrier exception report\nShipment: {}\nPallets: {}\nDamage noted at delivery: yes\nReport no.: CER-{:06}\n",
                        r.asn, rng.range(2, 30), rng.below(1_000_000)
                    ),
                ),
                _ => (
                    format!("order_confirmation_{}.txt", r.po),
                    format!(
                        "Order confirmation\nPO: {}\nConfirmed by: {}\nDate: {date}\nLines confirmed: {}\nRef: OC-{:06}\n",
                        r.po, partner.name, rng.range(1, 12), rng.below(1_000_000)
                    ),
                ),
            };
            (
                name,
                tg::DocumentKind::Other,
                "text/plain".into(),
                body.into_bytes(),
            )
        }
    }
}

/// A Core Case-only evidence file: written by the hub team, never on Trading Grid.
fn internal_upload(
    rng: &mut Rng,
    case_id: &str,
    partner_id: &str,
    tx_ids: &[String],
) -> (String, String, Vec<u8>) {
    match (rng.below(3), tx_ids.first()) {
        (0, Some(tx)) => (
            format!("edi_validation_report_{tx}.txt"),
            "text/plain".into(),
            format!(
                "EDI validation report\nTransaction: {tx}\nPartner: {partner_id}\nErrors: {}\nValidator build: 26.{}.{}\n",
                rng.range(1, 5),
                rng.range(1, 9),
                rng.below(20)
            )
            .into_bytes(),
        ),
        (1, _) => (
            format!("carrier_claim_{case_id}.txt"),
            "text/plain".into(),
            format!(
                "Carrier claim\nCase: {case_id}\nClaim no.: CLM-{:06}\nAmount claimed: USD {}\n",
                rng.below(1_000_000),
                rng.range(200, 20_000)
            )
            .into_bytes(),
        ),
        _ => (
            format!("internal_cost_analysis_{case_id}.csv"),
            "text/csv".into(),
            format!(
                "item,amount_usd\nproduct_loss,{}\nexpedite_freight,{}\nlabor,{}\n",
                rng.range(100, 9000),
                rng.range(0, 2500),
                rng.range(50, 800)
            )
            .into_bytes(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, HashSet};

    fn id_ok(id: &str) -> bool {
        !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    }

    /// The seeded data is part of the simulators' behaviour: tests and demos
    /// rely on its ids and contents. Changing generation on purpose changes
    /// this digest; changing it by accident (a refactor) must not.
    #[test]
    fn the_seeded_world_is_stable() {
        for (seed, scale, expected) in [(42, 1, "8e4b6a9e831f72310606f5f523aa251ce2267e15ba0852b1205b78b2deb1379c"), (7, 2, "62242e06d79f2667bfde5bf7170d8178faa23228890b9570ddcf4a9d8f12b9c2")] {
            let json = serde_json::to_vec(&World::generate(seed, scale)).unwrap();
            assert_eq!(sha256_hex(&json), expected, "seed {seed}, scale {scale}");
        }
    }

    #[test]
    fn origin_is_fixed() {
        assert_eq!(origin().to_rfc3339(), "2026-01-05T00:00:00+00:00");
    }

    #[test]
    fn same_seed_same_bytes() {
        let a = serde_json::to_string(&World::generate(42, 1)).unwrap_or_default();
        let b = serde_json::to_string(&World::generate(42, 1)).unwrap_or_default();
        assert!(!a.is_empty());
        assert_eq!(a, b);
        let c = serde_json::to_string(&World::generate(43, 1)).unwrap_or_default();
        assert_ne!(a, c);
    }

    #[test]
    fn counts_at_scale_one() {
        let w = World::generate(42, 1);
        assert_eq!(w.partners.len(), 36);
        assert_eq!(w.communities.len(), 3);
        assert_eq!(w.discussions.len(), 300);
        assert_eq!(w.transactions.len(), 3000);
        let delivered = w
            .transactions
            .iter()
            .filter(|t| t.status == tg::TransactionStatus::Delivered)
            .count();
        assert!((2550..=2850).contains(&delivered), "{delivered}");
        assert!(w.cases.len() > 150, "{}", w.cases.len());
        let tx_cases = w
            .cases
            .iter()
            .filter(|c| c.case_type == cc::CaseType::TransactionException)
            .count();
        assert_eq!(tx_cases, 40);
        let w2 = World::generate(42, 2);
        assert_eq!(w2.partners.len(), 72);
        assert_eq!(w2.discussions.len(), 600);
    }

    #[test]
    fn cross_references_hold() {
        let w = World::generate(7, 1);
        let partners: HashMap<&str, &tg::Partner> =
            w.partners.iter().map(|p| (p.id.as_str(), p)).collect();
        let txs: HashMap<&str, &tg::Transaction> =
            w.transactions.iter().map(|t| (t.id.as_str(), t)).collect();
        let docs: HashMap<&str, &tg::Document> =
            w.documents.iter().map(|d| (d.id.as_str(), d)).collect();
        let cases: HashMap<&str, &cc::Case> = w.cases.iter().map(|c| (c.id.as_str(), c)).collect();

        for c in &w.communities {
            for p in &c.partner_ids {
                assert_eq!(partners[p.as_str()].community_id, c.id);
            }
        }
        for p in &w.partners {
            assert!(
                w.discussions
                    .iter()
                    .filter(|d| d.partner_id == p.id)
                    .count()
                    >= 3
            );
        }
        for d in &w.discussions {
            assert!(id_ok(&d.id));
            assert_eq!(d.community_id, partners[d.partner_id.as_str()].community_id);
            for t in &d.transaction_ids {
                assert_eq!(txs[t.as_str()].partner_id, d.partner_id);
            }
            let msgs: Vec<_> = w
                .messages
                .iter()
                .filter(|m| m.discussion_id == d.id)
                .collect();
            assert_eq!(msgs.len() as u32, d.message_count);
            assert!((2..=6).contains(&msgs.len()));
            if let Some(cid) = &d.linked_case_id {
                let c = cases[cid.as_str()];
                assert_eq!(c.partner_id, d.partner_id);
                assert_eq!(c.transaction_ids, d.transaction_ids);
                let r = c
                    .external_ref
                    .as_ref()
                    .map(|r| (r.kind.as_str(), r.id.as_str()));
                assert_eq!(r, Some(("discussion", d.id.as_str())));
                assert!(d.tags.iter().any(|t| t == "escalate"));
                let expect = match c.status {
                    cc::CaseStatus::Resolved => tg::DiscussionStatus::Resolved,
                    cc::CaseStatus::Closed => tg::DiscussionStatus::Closed,
                    _ => tg::DiscussionStatus::Escalated,
                };
                assert_eq!(d.status, expect);
            }
        }
        for m in &w.messages {
            assert!(id_ok(&m.id));
            for did in &m.document_ids {
                assert_eq!(
                    docs[did.as_str()].discussion_id.as_deref(),
                    Some(m.discussion_id.as_str())
                );
            }
        }
        for d in &w.documents {
            let bytes = &w.document_bytes[&d.id];
            assert_eq!(bytes.len() as u64, d.size_bytes);
            assert_eq!(sha256_hex(bytes), d.sha256);
        }
        // Duplicate uploads exist, within one partner and across two discussions.
        let mut by_sha: HashMap<&str, Vec<&tg::Document>> = HashMap::new();
        for d in &w.documents {
            by_sha.entry(d.sha256.as_str()).or_default().push(d);
        }
        let dups: Vec<_> = by_sha.values().filter(|v| v.len() > 1).collect();
        assert!(!dups.is_empty());
        for v in dups {
            assert!(v.iter().all(|d| d.partner_id == v[0].partner_id));
            assert_ne!(v[0].discussion_id, v[1].discussion_id);
        }
        for c in &w.cases {
            assert!(id_ok(&c.id));
            assert!(partners.contains_key(c.partner_id.as_str()));
            for t in &c.transaction_ids {
                assert_eq!(txs[t.as_str()].partner_id, c.partner_id);
            }
            let has_res = w.resolutions.iter().any(|r| r.case_id == c.id);
            let done = matches!(c.status, cc::CaseStatus::Resolved | cc::CaseStatus::Closed);
            assert_eq!(has_res, done);
            assert_eq!(c.resolved_at.is_some(), done);
            let last = w
                .history
                .iter()
                .rfind(|h| h.case_id == c.id && h.action == "status_changed")
                .and_then(|h| h.to_status)
                .unwrap_or(cc::CaseStatus::New);
            assert_eq!(last, c.status);
            assert!(w
                .notes
                .iter()
                .any(|n| n.case_id == c.id && n.body.contains("[internal]")));
            assert!(w.tasks.iter().any(|t| t.case_id == c.id));
        }
        for e in &w.case_documents {
            match &e.source {
                Some(s) => {
                    let d = docs[s.document_id.as_str()];
                    assert_eq!(
                        (d.sha256.as_str(), d.size_bytes),
                        (e.sha256.as_str(), e.size_bytes)
                    );
                    let c = cases[e.case_id.as_str()];
                    assert_eq!(d.partner_id, c.partner_id);
                }
                None => {
                    let b = &w.case_document_bytes[&e.id];
                    assert_eq!(sha256_hex(b), e.sha256);
                }
            }
        }
        let ids: HashSet<&str> = w.history.iter().map(|h| h.id.as_str()).collect();
        assert_eq!(ids.len(), w.history.len());
    }

    #[test]
    fn demo_partner_has_everything() {
        let w = World::generate(42, 1);
        let ds: Vec<_> = w
            .discussions
            .iter()
            .filter(|d| d.partner_id == "TP-0001")
            .collect();
        assert!(ds.len() >= 12);
        let cases: Vec<_> = w
            .cases
            .iter()
            .filter(|c| c.partner_id == "TP-0001")
            .collect();
        let statuses: HashSet<_> = cases.iter().map(|c| c.status).collect();
        assert!(statuses.len() >= 6, "{statuses:?}");
        assert!(w
            .resolutions
            .iter()
            .any(|r| cases.iter().any(|c| c.id == r.case_id)));
        assert!(w
            .case_documents
            .iter()
            .any(|e| cases.iter().any(|c| c.id == e.case_id)));
        let mut shas: Vec<_> = w
            .documents
            .iter()
            .filter(|d| d.partner_id == "TP-0001")
            .map(|d| d.sha256.clone())
            .collect();
        let n = shas.len();
        shas.sort();
        shas.dedup();
        assert!(shas.len() < n, "TP-0001 should have a duplicate upload");
    }

    #[test]
    fn pdf_is_well_formed() {
        let pdf = minimal_pdf(&["Hello (world)".into()]);
        let s = String::from_utf8(pdf).unwrap_or_default();
        assert!(s.starts_with("%PDF-1.4"));
        assert!(s.ends_with("%%EOF\n"));
        let start: usize = s
            .lines()
            .rev()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        assert!(s[start..].starts_with("xref"));
    }
}
