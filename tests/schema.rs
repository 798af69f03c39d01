//! `schema.graphql` is the published schema: it must equal what the gateway serves.

#[test]
fn schema_graphql_matches_the_served_schema() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let served = gridcase::graphql::sdl();
    if committed != served {
        if std::env::var_os("GRIDCASE_UPDATE_SCHEMA").is_some() {
            std::fs::write(path, &served).unwrap();
            return;
        }
        panic!(
            "schema.graphql is out of date: run `cargo run -- print-schema > schema.graphql` \
             (or GRIDCASE_UPDATE_SCHEMA=1 cargo test --test schema)"
        );
    }
}
