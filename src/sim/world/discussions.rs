//! Community discussions with their messages and shared documents (Trading
//! Grid), and the document files themselves (minimal PDFs and EDI text).

use super::*;

impl World {
    pub(super) fn gen_discussions(&mut self, seed: u64, scale: usize) -> Vec<CaseSpec> {
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
}

pub(super) fn discussion_title(
    rng: &mut Rng,
    kind: tg::DiscussionKind,
    r: &Refs,
    community: usize,
) -> String {
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

pub(super) fn opening_body(
    rng: &mut Rng,
    kind: tg::DiscussionKind,
    r: &Refs,
    partner: &str,
) -> String {
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

pub(super) const PARTNER_REPLIES: [&str; 8] = [
    "We checked again on our side and the shipment left complete. See attached paperwork.",
    "Our carrier shows the delivery as complete and signed for at 14:22.",
    "Any update on this? Our AR team is holding the remittance until it is settled.",
    "We re-sent the file this morning with the corrected segment.",
    "Thanks, that works for us. Please confirm once the credit is processed.",
    "We cannot accept the deduction without a signed discrepancy report.",
    "Our quality team confirmed the certificate is being renewed; expect it by Friday.",
    "Could you share the receiving photos your DC took?",
];

pub(super) const OPERATOR_REPLIES: [&str; 8] = [
    "Thanks for flagging this. We are checking the receiving records at the DC and will come back within one business day.",
    "Can you attach the signed proof of delivery and the packing list for this shipment?",
    "We have escalated this internally; our disputes team is reviewing it.",
    "Our EDI team confirmed the file was received; the totals in the summary segment do not match the line items.",
    "We have reprocessed the transaction and the acknowledgment should reach you within the hour.",
    "Following up: we are still waiting on the corrected document from your side.",
    "The review is complete. We will post the outcome in this thread.",
    "Please keep this thread updated if the issue recurs on the next shipment.",
];

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
pub(super) fn make_document(
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
pub(super) fn internal_upload(
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
