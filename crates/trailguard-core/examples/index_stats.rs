//! Prints how the built-in pack is laid out in the pattern index.
fn main() {
    let rules = trailguard_core::rule::builtin_rules().expect("built-in rules load");
    let engine = trailguard_core::Engine::new(rules);
    let stats = engine.index().stats();
    println!("{stats:#?}");
    for id in engine.index().unindexed_patterns() {
        println!("unindexed: {}", engine.rules()[engine.entry(id).0].id());
    }
}
