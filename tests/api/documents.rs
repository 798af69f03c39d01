//! `GET /documents/{id}/content`: bytes through the gateway, after the same authorization.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::helpers::*;

async fn own_and_foreign_documents(app: &TestApp) -> (serde_json::Value, serde_json::Value) {
    let q = r#"query($p: ID!) { partnerIssues(first: 50, filter: { partnerId: $p }) { edges { node { documents { id sha256 sizeBytes contentType downloadUrl } } } } }"#;
    let first_doc = |data: serde_json::Value| {
        nodes(&data["partnerIssues"])
            .into_iter()
            .find_map(|i| i["documents"].as_array().and_then(|d| d.first().cloned()))
            .expect("a document")
    };
    let own = first_doc(app.data(&agent(), q, json!({ "p": "TP-0001" })).await);
    let foreign = first_doc(app.data(&agent(), q, json!({ "p": "TP-0002" })).await);
    (own, foreign)
}

#[tokio::test]
async fn a_partner_downloads_its_own_document_and_the_bytes_match_the_hash() {
    let app = spawn_app().await;
    let (own, _) = own_and_foreign_documents(&app).await;
    let resp = app
        .http
        .get(format!(
            "{}{}",
            app.url,
            own["downloadUrl"].as_str().unwrap()
        ))
        .bearer_auth(partner("TP-0001"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        own["contentType"].as_str().unwrap()
    );
    let bytes = resp.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, own["sizeBytes"].as_u64().unwrap());
    assert_eq!(
        hex::encode(Sha256::digest(&bytes)),
        own["sha256"].as_str().unwrap()
    );
}

#[tokio::test]
async fn another_partners_document_is_not_found_and_anonymous_downloads_are_refused() {
    let app = spawn_app().await;
    let (_, foreign) = own_and_foreign_documents(&app).await;
    let url = format!("{}{}", app.url, foreign["downloadUrl"].as_str().unwrap());
    let resp = app
        .http
        .get(&url)
        .bearer_auth(partner("TP-0001"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = app.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let resp = app
        .http
        .get(format!("{}/documents/..%2F..%2Fetc/content", app.url))
        .bearer_auth(agent())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}
