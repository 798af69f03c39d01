//! Behaviour every [`Store`] backend must have; each backend's tests call these.

use std::time::Duration;

use chrono::Utc;

use super::*;

fn entry(id: &str, case: &str, at: chrono::DateTime<Utc>) -> OutboxEntry {
    OutboxEntry {
        id: id.to_owned(),
        case_id: case.to_owned(),
        step: serde_json::json!({ "kind": "post_message", "n": id }),
        actor: "agent:test".to_owned(),
        attempts: 0,
        next_at: at,
        last_error: None,
        workflow: format!("{case}/wf"),
        order: 0,
        state: StepState::Pending,
    }
}

/// `prefix` keeps runs apart when backends share a server.
pub(crate) async fn idempotency(store: &dyn Store, prefix: &str) {
    let key = format!("{prefix}:idem");
    let lease = Duration::from_secs(30);
    assert_eq!(
        store.idem_begin(&key, "fp1", lease).await.unwrap(),
        Claim::Claimed
    );
    assert_eq!(
        store.idem_begin(&key, "fp1", lease).await.unwrap(),
        Claim::InProgress
    );
    assert_eq!(
        store.idem_begin(&key, "fp2", lease).await.unwrap(),
        Claim::Conflict
    );
    store
        .idem_finish(&key, "fp1", "CASE-1", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.idem_begin(&key, "fp1", lease).await.unwrap(),
        Claim::Done("CASE-1".into())
    );
    assert_eq!(
        store.idem_begin(&key, "fp2", lease).await.unwrap(),
        Claim::Conflict
    );

    let released = format!("{prefix}:released");
    assert_eq!(
        store.idem_begin(&released, "a", lease).await.unwrap(),
        Claim::Claimed
    );
    store.idem_release(&released).await.unwrap();
    assert_eq!(
        store.idem_begin(&released, "b", lease).await.unwrap(),
        Claim::Claimed
    );

    // A claimer that died: its lease runs out and the key can be claimed again.
    let dead = format!("{prefix}:dead");
    let short = Duration::from_millis(50);
    assert_eq!(
        store.idem_begin(&dead, "a", short).await.unwrap(),
        Claim::Claimed
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        store.idem_begin(&dead, "a", lease).await.unwrap(),
        Claim::Claimed
    );
}

pub(crate) async fn concurrent_claims_have_one_winner(
    store: std::sync::Arc<dyn Store>,
    prefix: &str,
) {
    let key = format!("{prefix}:race");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (s, k) = (store.clone(), key.clone());
            tokio::spawn(async move { s.idem_begin(&k, "fp", Duration::from_secs(30)).await })
        })
        .collect();
    let mut claimed = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() == Claim::Claimed {
            claimed += 1;
        }
    }
    assert_eq!(claimed, 1);
}

pub(crate) async fn webhook_dedupe(store: &dyn Store, prefix: &str) {
    let id = format!("{prefix}:evt-1");
    assert!(store
        .first_delivery(&id, Duration::from_secs(60))
        .await
        .unwrap());
    assert!(!store
        .first_delivery(&id, Duration::from_secs(60))
        .await
        .unwrap());
}

pub(crate) async fn outbox(store: &dyn Store, prefix: &str) {
    let case = format!("{prefix}-CASE-1");
    let now = Utc::now();
    let later = now + chrono::Duration::seconds(3600);
    store
        .outbox_push(entry(&format!("{prefix}:a"), &case, now))
        .await
        .unwrap();
    store
        .outbox_push(entry(&format!("{prefix}:b"), &case, later))
        .await
        .unwrap();
    assert_eq!(store.outbox_pending(&case).await.unwrap().len(), 2);

    assert!(store.outbox_due(now).await.unwrap() >= 1, "the step is due");

    let lease = Duration::from_millis(200);
    let due = store.outbox_claim_due(now, 10, lease).await.unwrap();
    let mine: Vec<_> = due.iter().filter(|e| e.case_id == case).collect();
    assert_eq!(mine.len(), 1, "only the due step");
    assert_eq!(mine[0].id, format!("{prefix}:a"));
    assert_eq!(
        store.outbox_due(now).await.unwrap(),
        0,
        "a leased step is not due"
    );
    // Leased: not handed out again while the lease holds...
    let again = store.outbox_claim_due(now, 10, lease).await.unwrap();
    assert!(again.iter().all(|e| e.case_id != case));
    // ...but again once it runs out (the worker died).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = store.outbox_claim_due(Utc::now(), 10, lease).await.unwrap();
    assert!(again.iter().any(|e| e.id == format!("{prefix}:a")));

    // A retry is a push with a later time and the attempt counted.
    let mut retry = mine[0].clone();
    retry.attempts = 1;
    retry.next_at = later;
    retry.last_error = Some("503".into());
    store.outbox_push(retry).await.unwrap();
    let pending = store.outbox_pending(&case).await.unwrap();
    assert_eq!(pending.len(), 2);
    assert!(pending
        .iter()
        .any(|e| e.attempts == 1 && e.last_error.as_deref() == Some("503")));
    assert!(store
        .outbox_claim_due(Utc::now(), 10, lease)
        .await
        .unwrap()
        .iter()
        .all(|e| e.case_id != case));

    // An abandoned step is listed but never due again, whatever its time says.
    let mut given_up = entry(&format!("{prefix}:c"), &case, now);
    given_up.state = StepState::Abandoned {
        reason: "410 gone".into(),
    };
    store.outbox_push(given_up.clone()).await.unwrap();
    assert!(store
        .outbox_pending(&case)
        .await
        .unwrap()
        .contains(&given_up));
    assert!(store
        .outbox_claim_due(Utc::now() + chrono::Duration::days(400), 10, lease)
        .await
        .unwrap()
        .iter()
        .all(|e| e.id != given_up.id));

    store.outbox_complete(&format!("{prefix}:a")).await.unwrap();
    store.outbox_complete(&format!("{prefix}:b")).await.unwrap();
    store.outbox_complete(&given_up.id).await.unwrap();
    assert!(store.outbox_pending(&case).await.unwrap().is_empty());
}

pub(crate) async fn audit_and_cursors(store: &dyn Store, prefix: &str) {
    let case = format!("{prefix}-CASE-2");
    for action in ["case_created", "evidence_linked"] {
        store
            .audit_append(
                &case,
                AuditEntry {
                    at: Utc::now(),
                    actor: "agent:test".into(),
                    action: action.into(),
                    upstream_ids: vec![format!("core-case:{case}")],
                    detail: None,
                },
            )
            .await
            .unwrap();
    }
    let list = store.audit_list(&case).await.unwrap();
    let actions: Vec<_> = list.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["case_created", "evidence_linked"]);

    let name = format!("{prefix}:trading-grid");
    assert_eq!(store.cursor_get(&name).await.unwrap(), None);
    store.cursor_set(&name, 42).await.unwrap();
    assert_eq!(store.cursor_get(&name).await.unwrap(), Some(42));
}

/// Late versions refused, leases exclusive until released or expired, a running
/// step's lease extended.
pub(crate) async fn versions_and_leases(store: &dyn Store, prefix: &str) {
    let case = format!("{prefix}:CASE-V");
    assert_eq!(store.case_applied(&case).await.unwrap(), None);
    assert!(store.case_advance(&case, 5).await.unwrap());
    assert!(
        store.case_advance(&case, 5).await.unwrap(),
        "same version again"
    );
    assert!(
        !store.case_advance(&case, 4).await.unwrap(),
        "older version"
    );
    assert!(store.case_advance(&case, 7).await.unwrap());
    assert_eq!(store.case_applied(&case).await.unwrap(), Some(7));

    let ttl = Duration::from_secs(30);
    let (a, b, c) = (
        format!("{prefix}:tx-a"),
        format!("{prefix}:tx-b"),
        format!("{prefix}:tx-c"),
    );
    let ab = [a.clone(), b.clone()];
    assert!(store.lease_all(&ab, "one", ttl).await.unwrap().is_empty());
    assert!(
        store.lease_all(&ab, "one", ttl).await.unwrap().is_empty(),
        "renewal"
    );
    let bc = [b.clone(), c.clone()];
    assert_eq!(
        store.lease_all(&bc, "two", ttl).await.unwrap(),
        vec![b.clone()]
    );
    // All or nothing: c was not taken either.
    assert!(store
        .lease_all(std::slice::from_ref(&c), "three", ttl)
        .await
        .unwrap()
        .is_empty());
    store.lease_release(&ab, "two").await.unwrap();
    assert_eq!(
        store.lease_all(&ab, "two", ttl).await.unwrap().len(),
        2,
        "not two's to release"
    );
    store.lease_release(&ab, "one").await.unwrap();
    assert!(store.lease_all(&ab, "two", ttl).await.unwrap().is_empty());
    let short = format!("{prefix}:short");
    let s = std::slice::from_ref(&short);
    assert!(store
        .lease_all(s, "one", Duration::from_millis(30))
        .await
        .unwrap()
        .is_empty());
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert!(
        store.lease_all(s, "two", ttl).await.unwrap().is_empty(),
        "expired lease taken"
    );

    let now = Utc::now();
    let id = format!("{prefix}:running");
    store
        .outbox_push(entry(&id, &format!("{prefix}:C"), now))
        .await
        .unwrap();
    let lease = Duration::from_millis(50);
    assert_eq!(
        store
            .outbox_claim_due(now, 100, lease)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.id == id)
            .count(),
        1
    );
    store
        .outbox_extend(&id, Utc::now() + chrono::Duration::seconds(30))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(
        store
            .outbox_claim_due(Utc::now(), 100, lease)
            .await
            .unwrap()
            .iter()
            .all(|e| e.id != id),
        "an extended lease keeps the step from others"
    );
    store.outbox_complete(&id).await.unwrap();
}
