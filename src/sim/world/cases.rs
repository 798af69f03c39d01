//! Cases with their tasks, notes, history, evidence and resolutions (Core Case),
//! opened for the discussions and transactions that call for one.

use super::*;

/// What a seeded case is about, from the discussion or transaction it was
/// opened for.
struct CaseBasis {
    case_type: cc::CaseType,
    team: cc::Team,
    title: String,
    description: String,
    partner_id: String,
    external_ref: cc::ExternalRef,
    transaction_ids: Vec<String>,
    urgent: bool,
    /// The discussion's index, for a case opened from one.
    discussion: Option<usize>,
}

impl World {
    pub(super) fn gen_cases(&mut self, seed: u64, _scale: usize, mut specs: Vec<CaseSpec>) {
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
            let CaseBasis {
                case_type,
                team,
                title,
                description,
                partner_id,
                external_ref,
                transaction_ids,
                urgent,
                discussion: disc,
            } = match spec.source {
                CaseSource::Discussion(di) => self.discussion_case(di, &id, &mut rng),
                CaseSource::Transaction(ti) => self.transaction_case(ti, &mut rng),
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
            self.push_history(Change {
                case_id: &id,
                at: t,
                actor: system_user(),
                action: "created",
                from: None,
                to: None,
                detail: Some(format!("Case {number} created")),
            });
            if let Some(a) = &assignee {
                t += Duration::minutes(rng.range(5, 180) as i64);
                self.push_history(Change {
                    case_id: &id,
                    at: t,
                    actor: system_user(),
                    action: "assigned",
                    from: None,
                    to: None,
                    detail: Some(format!("Assigned to {}", a.name)),
                });
            }
            let mut from = cc::CaseStatus::New;
            let mut resolved_at = None;
            for &to in status_path(status) {
                t += Duration::minutes(rng.range(30, 72 * 60) as i64);
                self.push_history(Change {
                    case_id: &id,
                    at: t,
                    actor: actor.clone(),
                    action: "status_changed",
                    from: Some(from),
                    to: Some(to),
                    detail: None,
                });
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

    /// What a case opened for discussion `di` is about; links the discussion to it.
    fn discussion_case(&mut self, di: usize, id: &str, rng: &mut Rng) -> CaseBasis {
        let d = &mut self.discussions[di];
        d.linked_case_id = Some(id.to_owned());
        let (ct, team) = match d.kind {
            tg::DiscussionKind::InvoiceDiscrepancy => (cc::CaseType::Dispute, cc::Team::Finance),
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
        CaseBasis {
            case_type: ct,
            team,
            title: d.title.clone(),
            description,
            partner_id: d.partner_id.clone(),
            external_ref: cc::ExternalRef {
                system: "trading-grid".into(),
                kind: "discussion".into(),
                id: d.id.clone(),
            },
            transaction_ids: d.transaction_ids.clone(),
            urgent: d.tags.iter().any(|t| t == "urgent"),
            discussion: Some(di),
        }
    }

    /// What a case opened for failed transaction `ti` is about.
    fn transaction_case(&self, ti: usize, rng: &mut Rng) -> CaseBasis {
        let t = &self.transactions[ti];
        let err = t
            .errors
            .first()
            .map(|e| format!("{} ({})", e.message, e.code))
            .unwrap_or_else(|| "delivery exception".into());
        CaseBasis {
            case_type: cc::CaseType::TransactionException,
            team: cc::Team::Operations,
            title: format!(
                                "{} {} {} {}: {}",
                                if t.standard == tg::EdiStandard::X12 { "X12" } else { "EDIFACT" },
                                t.document_type,
                                t.control_number,
                                tx_status_word(t.status),
                                t.errors.first().map(|e| e.code.as_str()).unwrap_or("exception")
                            ),
            description: format!(
                                "Opened automatically from Trading Grid transaction {}: {}. Internal: map version {} in production since last release; check whether the partner changed their implementation guide.",
                                t.id,
                                err,
                                rng.range(12, 31)
                            ),
            partner_id: t.partner_id.clone(),
            external_ref: cc::ExternalRef {
                                system: "trading-grid".into(),
                                kind: "transaction".into(),
                                id: t.id.clone(),
                            },
            transaction_ids: vec![t.id.clone()],
            urgent: false,
            discussion: None,
        }
    }

    pub(super) fn push_history(&mut self, change: Change) {
        let entry = change.entry(self.history.len() + 1);
        self.history.push(entry);
    }
}

pub(super) fn random_case_status(rng: &mut Rng) -> cc::CaseStatus {
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

pub(super) const ASSESSMENTS: [&str; 8] = [
    "receiving logs at DC-04 show the full carton count; likely a mis-scan at the dock",
    "carrier reported trailer damage en route; claim against carrier is likely",
    "pricing table in ERP was not updated after the Q2 contract amendment",
    "duplicate invoice caused by partner retransmission after an MDN timeout",
    "partner certificate lapsed three weeks ago; shipments since then are technically non-compliant",
    "our own map change in release 26.3 dropped the unit of measure qualifier",
    "partner is chronically late on this lane; third occurrence this quarter",
    "buyer changed the PO by phone and never sent the 860",
];

pub(super) const NOTES: [&str; 6] = [
    "[internal] Carrier blamed \u{2014} do not share with partner. Claim filed with the carrier separately.",
    "[internal] Margin impact is material; finance approved a goodwill credit ceiling. Do not disclose the ceiling.",
    "[internal] Partner has had {n} similar disputes this quarter; consider a scorecard review.",
    "[internal] Root cause is our own WMS mis-scan at dock 7 \u{2014} keep wording neutral in partner-facing updates.",
    "[internal] Legal advises not to admit liability before the audit closes.",
    "[internal] Account manager says the partner is at risk of losing preferred status; handle carefully.",
];

pub(super) fn task_titles(team: cc::Team) -> &'static [&'static str] {
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

pub(super) fn resolution_text(
    rng: &mut Rng,
    ct: cc::CaseType,
    title: &str,
) -> (String, String, Vec<String>) {
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
