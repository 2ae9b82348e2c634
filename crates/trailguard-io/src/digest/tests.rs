use std::collections::HashMap;

use trailguard_core::time::format_millis;

use super::*;

const T0: i64 = 1_714_564_800_000; // 2024-05-01T12:00:00Z

fn policy(max: usize, within_s: i64) -> DigestPolicy {
    DigestPolicy {
        max,
        within_ms: within_s * 1000,
    }
}

/// Alert `i` of a RunInstances flood: ids `a0000`..., one second apart.
fn run_instances(i: usize) -> Alert {
    let mut a = Alert::example();
    a.id = format!("a{i:04}");
    a.rule.id = "aws-ec2-run-instances".into();
    a.rule.title = "EC2 instances launched".into();
    a.rule.severity = Severity::High;
    a.time = format_millis(T0 + i as i64 * 1000);
    a.last_time = a.time.clone();
    a.count = 1;
    a.region = Some(["us-east-1", "eu-west-1"][i % 2].into());
    a
}

/// `n` alerts pushed at once into a folder of `max` per 60 s, then flushed: the digest.
pub(super) fn burst(n: usize, max: usize) -> Option<Digest> {
    let mut f = DigestFolder::new([("s".to_owned(), policy(max, 60))]);
    for i in 0..n {
        f.push("s", run_instances(i), T0);
    }
    f.flush_all().into_iter().find_map(|o| match o {
        Outgoing::Digest(d) => Some(d),
        Outgoing::Single(_) => None,
    })
}

/// Every alert id in `out`, each once: from singles and from digests.
fn ids(out: &[Outgoing]) -> Vec<String> {
    let mut ids: Vec<String> = out
        .iter()
        .flat_map(|o| match o {
            Outgoing::Single(a) => vec![a.id.clone()],
            Outgoing::Digest(d) => d.alerts.clone(),
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn five_hundred_alerts_in_a_minute_make_a_handful_of_messages() {
    let mut f = DigestFolder::new([("oncall".to_owned(), policy(10, 60))]);
    let mut out = Vec::new();
    // 500 alerts over 50 seconds (ten a second).
    for i in 0..500 {
        out.extend(f.push("oncall", run_instances(i), T0 + i as i64 * 100));
    }
    assert_eq!(out.len(), 10, "the first 10 at once, the rest held");
    assert!(out.iter().all(|o| matches!(o, Outgoing::Single(_))));
    assert_eq!(f.held(), 490);
    assert_eq!(f.next_due(), Some(T0 + 60_000));
    assert!(
        f.flush_due(T0 + 59_999).is_empty(),
        "not before the window closes"
    );
    let digests = f.flush_due(T0 + 60_000);
    assert_eq!(digests.len(), 1);
    out.extend(digests);
    let Outgoing::Digest(d) = &out[10] else {
        panic!("a digest")
    };
    assert_eq!(d.count, 490);
    assert_eq!(d.events, 490);
    assert_eq!(d.sink, "oncall");
    assert_eq!(d.severities[&Severity::High], 490);
    assert_eq!(d.rules.len(), 1);
    assert_eq!(d.rules[0].count, 490);
    assert_eq!(d.lines.len(), 2, "one line per region");
    assert_eq!(d.lines.iter().map(|l| l.count).sum::<usize>(), 490);
    assert_eq!(d.time, format_millis(T0 + 10_000), "the 11th alert's time");
    assert_eq!(d.last_time, format_millis(T0 + 499_000));
    // Nothing lost, nothing twice.
    let expected: Vec<String> = (0..500).map(|i| format!("a{i:04}")).collect();
    assert_eq!(ids(&out), expected);
    assert_eq!(f.held(), 0);
    // The flood is over: the next window closes empty and the sink is back to normal.
    assert!(f.flush_due(T0 + 120_000).is_empty());
    assert_eq!(f.next_due(), None);
    let next = f.push("oncall", run_instances(900), T0 + 200_000);
    assert!(matches!(next[..], [Outgoing::Single(_)]));
}

#[test]
fn a_long_flood_is_one_digest_per_window() {
    let mut f = DigestFolder::new([("s".to_owned(), policy(5, 60))]);
    let mut out = Vec::new();
    // Ten minutes, one alert a second.
    for i in 0..600 {
        let now = T0 + i as i64 * 1000;
        out.extend(f.flush_due(now));
        out.extend(f.push("s", run_instances(i), now));
    }
    out.extend(f.flush_all());
    let singles = out
        .iter()
        .filter(|o| matches!(o, Outgoing::Single(_)))
        .count();
    let digests = out.len() - singles;
    assert_eq!(singles, 5, "only the start of the flood goes out alone");
    assert_eq!(digests, 10, "one digest a minute");
    assert_eq!(ids(&out).len(), 600);
    assert_eq!(ids(&out), {
        let mut v: Vec<String> = (0..600).map(|i| format!("a{i:04}")).collect();
        v.sort();
        v
    });
}

#[test]
fn below_the_threshold_nothing_is_held() {
    let mut f = DigestFolder::new([("s".to_owned(), policy(10, 60))]);
    for i in 0..10 {
        assert!(matches!(
            f.push("s", run_instances(i), T0 + i as i64)[..],
            [Outgoing::Single(_)]
        ));
    }
    assert!(f.flush_all().is_empty());
    // A push after the window closed opens a new one with a fresh allowance.
    let mut f = DigestFolder::new([("s".to_owned(), policy(2, 60))]);
    for i in 0..2 {
        f.push("s", run_instances(i), T0);
    }
    let out = f.push("s", run_instances(2), T0 + 60_000);
    assert!(matches!(out[..], [Outgoing::Single(_)]));
}

#[test]
fn a_late_push_first_returns_the_closed_windows_digest() {
    let mut f = DigestFolder::new([("s".to_owned(), policy(1, 60))]);
    f.push("s", run_instances(0), T0);
    f.push("s", run_instances(1), T0 + 1);
    f.push("s", run_instances(2), T0 + 2);
    // Long after: the digest of the first window, and then: the flood window that
    // followed closed empty, so this one goes out on its own.
    let out = f.push("s", run_instances(3), T0 + 600_000);
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(matches!(&out[0], Outgoing::Digest(d) if d.count == 2));
    assert!(matches!(&out[1], Outgoing::Single(a) if a.id == "a0003"));
}

#[test]
fn sinks_fold_separately_and_unconfigured_sinks_pass_through() {
    let mut f = DigestFolder::new([
        ("a".to_owned(), policy(1, 60)),
        ("b".to_owned(), policy(3, 60)),
    ]);
    let mut per: HashMap<&str, Vec<Outgoing>> = HashMap::new();
    for i in 0..5 {
        for s in ["a", "b", "plain"] {
            per.entry(s)
                .or_default()
                .extend(f.push(s, run_instances(i), T0));
        }
    }
    assert_eq!(per["plain"].len(), 5);
    assert_eq!(per["a"].len(), 1);
    assert_eq!(per["b"].len(), 3);
    let flushed = f.flush_due(T0 + 60_000);
    assert_eq!(flushed.len(), 2);
    for o in flushed {
        let Outgoing::Digest(d) = o else { panic!() };
        assert_eq!(d.count, if d.sink == "a" { 4 } else { 2 });
    }
}

#[test]
fn digest_counts_do_not_depend_on_arrival_order() {
    let alerts: Vec<Alert> = (0..40)
        .map(|i| {
            let mut a = run_instances(i);
            a.rule.severity = Severity::ALL[i % 5];
            a.rule.id = format!("rule-{}", i % 3);
            a.actor.arn = Some(format!("arn:aws:iam::1:user/u{}", i % 4));
            a.count = (i % 7) as u64 + 1;
            a
        })
        .collect();
    let fold = |order: Vec<Alert>| {
        let mut f = DigestFolder::new([("s".to_owned(), policy(1, 60))]);
        for a in order {
            f.push("s", a, T0);
        }
        match f.flush_all().pop() {
            Some(Outgoing::Digest(d)) => d,
            other => panic!("{other:?}"),
        }
    };
    // The first alert pushed goes out alone; keep it the same, shuffle the rest.
    let forward = fold(alerts.clone());
    let mut rest: Vec<Alert> = alerts[1..].to_vec();
    rest.reverse();
    rest.rotate_left(7);
    let mut shuffled = vec![alerts[0].clone()];
    shuffled.extend(rest);
    let other = fold(shuffled);
    assert_eq!(forward, other, "same digest, whatever the order");
    assert_eq!(forward.count, 39);
    assert_eq!(forward.severities.values().sum::<usize>(), 39);
    assert_eq!(forward.lines.len(), DIGEST_LINES);
    assert!(forward.more_lines > 0);
    // Lines: most severe first.
    assert_eq!(forward.lines[0].severity, Severity::Critical);
    assert!(forward
        .lines
        .windows(2)
        .all(|w| w[0].severity >= w[1].severity));
    let total_events: u64 = alerts[1..].iter().map(|a| a.count).sum();
    assert_eq!(forward.events, total_events);
}

#[test]
fn from_config_takes_the_digest_policies() {
    let c = crate::config::Config::parse(
        "[[sink]]\nname = \"a\"\nkind = \"jsonl\"\npath = \"x\"\ndigest = { max = 2, within = \"30s\" }\n\
         [[sink]]\nname = \"b\"\nkind = \"jsonl\"\npath = \"y\"\n",
        "t",
        std::path::Path::new("/"),
        &|_| None,
    )
    .unwrap();
    let mut f = DigestFolder::from_config(&c);
    for i in 0..3 {
        f.push("a", run_instances(i), T0);
        f.push("b", run_instances(i), T0);
    }
    assert_eq!(f.held(), 1);
    assert_eq!(f.next_due(), Some(T0 + 30_000));
}
