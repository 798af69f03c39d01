//! Finds GraphiQL's browser assets in `node_modules` (installed by `npm ci` from
//! package-lock.json) so the gateway can serve them itself instead of a public
//! CDN. Without them the build still succeeds and `/graphql` in a browser says
//! how to get them.

use std::path::Path;

/// Files the GraphiQL page loads, under `node_modules/`.
const ASSETS: [&str; 4] = [
    "react/umd/react.production.min.js",
    "react-dom/umd/react-dom.production.min.js",
    "graphiql/graphiql.min.js",
    "graphiql/graphiql.min.css",
];

fn main() {
    println!("cargo::rustc-check-cfg=cfg(graphiql_assets)");
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules");
    println!("cargo::rerun-if-changed=package-lock.json");
    for asset in ASSETS {
        println!("cargo::rerun-if-changed=node_modules/{asset}");
    }
    if ASSETS.iter().all(|a| modules.join(a).is_file()) {
        println!("cargo::rustc-cfg=graphiql_assets");
        println!(
            "cargo::rustc-env=GRIDCASE_NODE_MODULES={}",
            modules.display()
        );
    } else {
        println!(
            "cargo::warning=GraphiQL's assets are not in node_modules: run `npm ci` before building to serve GraphiQL"
        );
    }
}
