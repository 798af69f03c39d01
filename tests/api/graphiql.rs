//! GraphiQL and the portal are served by the gateway itself: every script and
//! style they load comes from this origin, and no token is offered outside sandbox
//! mode.

use crate::helpers::*;

/// `src="…"` and `href="…"` values of a page.
fn references(html: &str) -> Vec<String> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| html.split(attr).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

async fn page(app: &TestApp, path: &str) -> String {
    let resp = app
        .http
        .get(format!("{}{path}", app.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    resp.text().await.unwrap()
}

#[tokio::test]
async fn graphiql_and_the_portal_load_everything_from_the_gateway() {
    let app = spawn_app_with(&[("GRIDCASE_GRAPHIQL", "true".into())]).await;
    for path in ["/graphql", "/portal"] {
        let html = page(&app, path).await;
        let refs = references(&html);
        assert!(refs.iter().any(|r| r.ends_with(".js")), "{path}: {refs:?}");
        for r in refs
            .iter()
            .filter(|r| !r.starts_with("data:") && !r.starts_with('#'))
        {
            assert!(r.starts_with('/'), "{path} loads {r} from elsewhere");
            let asset = app
                .http
                .get(format!("{}{r}", app.url))
                .send()
                .await
                .unwrap();
            assert_eq!(asset.status(), 200, "{r}");
            assert!(!asset.bytes().await.unwrap().is_empty(), "{r}");
        }
        assert!(
            !html.contains("Bearer "),
            "{path}: no token outside sandbox mode"
        );
    }
    let sample = app
        .http
        .get(format!("{}/portal/sandbox.json", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(sample.status(), 404, "no sample token outside sandbox mode");
}
