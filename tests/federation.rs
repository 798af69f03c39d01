//! The subgraph SDL that `gridcase print-schema --federation` prints composes with
//! Apollo's composition library (`tests/federation/compose.test.mjs`, Node's test
//! runner; needs `npm ci`).

#[test]
fn the_printed_subgraph_composes_with_another_subgraph_that_extends_case() {
    let root = env!("CARGO_MANIFEST_DIR");
    assert!(
        std::path::Path::new(root)
            .join("node_modules/@apollo/composition")
            .exists(),
        "run `npm ci` first — see README"
    );
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_gridcase"))
        .args(["print-schema", "--federation"])
        .output()
        .expect("the gridcase binary runs");
    assert!(printed.status.success());
    let sdl =
        std::env::temp_dir().join(format!("gridcase-subgraph-{}.graphql", std::process::id()));
    std::fs::write(&sdl, &printed.stdout).unwrap();
    let out = std::process::Command::new("node")
        .args(["--test", "tests/federation/compose.test.mjs"])
        .current_dir(root)
        .env("GRIDCASE_SUBGRAPH_SDL", &sdl)
        .output()
        .expect("node is installed");
    let _ = std::fs::remove_file(&sdl);
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "composition failed (output above)");
}
