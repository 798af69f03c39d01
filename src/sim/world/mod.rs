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

mod cases;
mod discussions;
mod partners;
#[cfg(test)]
mod tests;

use cases::*;
use discussions::*;
use partners::*;

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

/// One change to a case, as its history records it (seeded, or written by the
/// Core Case simulator).
pub(crate) struct Change<'a> {
    pub(crate) case_id: &'a str,
    pub(crate) at: DateTime<Utc>,
    pub(crate) actor: cc::UserRef,
    pub(crate) action: &'a str,
    pub(crate) from: Option<cc::CaseStatus>,
    pub(crate) to: Option<cc::CaseStatus>,
    pub(crate) detail: Option<String>,
}

impl Change<'_> {
    /// The history entry numbered `n` (`HIS-0000001` is the first).
    pub(crate) fn entry(self, n: usize) -> cc::HistoryEntry {
        cc::HistoryEntry {
            id: format!("HIS-{n:07}"),
            case_id: self.case_id.into(),
            at: self.at,
            actor: self.actor,
            action: self.action.into(),
            from_status: self.from,
            to_status: self.to,
            detail: self.detail,
        }
    }
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
}
