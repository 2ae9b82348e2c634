//! Prints how the built-in pack (and, given folders, Sigma rules) is laid out in the
//! pattern index: `cargo run -p trailguard-core --example index_stats [SIGMA_DIR...]`.
fn main() {
    let mut rules = trailguard_core::rule::builtin_rules().expect("built-in rules load");
    let mut texts = Vec::new();
    for dir in std::env::args().skip(1) {
        for entry in walk(std::path::Path::new(&dir)) {
            if let Ok(text) = std::fs::read_to_string(&entry) {
                texts.push((entry.display().to_string(), text));
            }
        }
    }
    let loaded = trailguard_core::sigma::load(texts.iter().map(|(o, t)| (o.clone(), t.as_str())));
    rules.extend(loaded.rules);
    let engine = trailguard_core::Engine::new(rules);
    let stats = engine.index().stats();
    println!("{stats:#?}");
    for id in engine.index().unindexed_patterns() {
        println!("unindexed: {}", engine.rules()[engine.entry(id).0].id());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
    out.sort();
    out
}
