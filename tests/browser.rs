//! The partner portal and GraphiQL in a real browser, and the `graphql-sse` npm
//! client: starts both simulators and a gateway, then runs `tests/browser/*.test.mjs`
//! (Node's test runner; the browser tests drive headless Chromium through
//! playwright-core). Needs `node`, `npm ci` done, and Debian's
//! `chromium` (`.ci/run` installs them).

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_portal_and_graphiql_work_in_chromium_and_the_graphql_sse_client_streams() {
    // Short-lived streams: the page must reconnect and resume on its own.
    let app = spawn_app_with(&[
        ("GRIDCASE_STREAM_MAX_LIFETIME_MS", "1500".into()),
        ("GRIDCASE_GRAPHIQL", "true".into()),
    ])
    .await;
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(
        std::path::Path::new(root)
            .join("node_modules/playwright-core")
            .exists(),
        "run `npm ci` first (and install chromium) — see README"
    );
    let out = tokio::process::Command::new("node")
        .args([
            "--test",
            "tests/browser/portal.test.mjs",
            "tests/browser/graphiql.test.mjs",
            "tests/browser/sse-client.test.mjs",
        ])
        .current_dir(root)
        .env("GRIDCASE_URL", &app.url)
        .env("CORE_CASE_URL", app.cc.base_url())
        .env("PARTNER_TOKEN", partner("TP-0001"))
        .env("PARTNER_TOKEN_TP0002", partner("TP-0002"))
        .env("AGENT_TOKEN", agent())
        .kill_on_drop(true)
        .output()
        .await
        .expect("node is installed");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the browser test failed (output above)"
    );
}
