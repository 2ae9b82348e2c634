use std::collections::{BTreeMap, HashSet};

use super::*;
use crate::remedy::{Phase, Resource};

/// An account in memory: an action's effect is "in place" once applied; some actions
/// are refused, some "apply" without effect, keys can be listed.
#[derive(Default)]
struct FakeAccount {
    applied: HashSet<String>,
    refuse: HashSet<String>,
    no_effect: HashSet<String>,
    active: BTreeMap<String, Vec<String>>,
    calls: Vec<String>,
    caller_arn: String,
    caller_key: Option<String>,
}

fn key(a: &Action) -> String {
    serde_json::to_string(a).unwrap()
}

impl Account for FakeAccount {
    fn caller(&mut self) -> Result<Caller, AccountError> {
        Ok(Caller {
            arn: self.caller_arn.clone(),
            account: "111122223333".into(),
            user_id: "AIDAEXAMPLE".into(),
            access_key_id: self.caller_key.clone(),
        })
    }
    fn check(&mut self, a: &Action) -> Result<StepState, AccountError> {
        self.calls.push(format!("check {}", api_of(a)));
        Ok(if self.applied.contains(&key(a)) {
            StepState::Done
        } else {
            StepState::ToDo("changes".into())
        })
    }
    fn apply(&mut self, a: &Action, now: &str) -> Result<(), AccountError> {
        assert_eq!(now, "2026-11-29T00:00:00Z");
        self.calls.push(format!("apply {}", api_of(a)));
        if self.refuse.contains(&key(a)) {
            return Err(AccountError::AccessDenied("not allowed".into()));
        }
        if !self.no_effect.contains(&key(a)) {
            self.applied.insert(key(a));
            if let Action::DeactivateAccessKey {
                user: Some(u),
                access_key_id,
            } = a
            {
                if let Some(keys) = self.active.get_mut(u) {
                    keys.retain(|k| k != access_key_id);
                }
            }
        }
        Ok(())
    }
    fn active_keys(&mut self, user: &str) -> Result<Vec<String>, AccountError> {
        Ok(self.active.get(user).cloned().unwrap_or_default())
    }
}

fn step(n: usize, action: Action, depends_on: Vec<usize>) -> Step {
    Step {
        n,
        phase: Phase::DeactivateLeakedKey,
        title: format!("step {n}"),
        action,
        because: vec!["ev-1".into()],
        reason: String::new(),
        risk: String::new(),
        destructive: false,
        depends_on,
        aws_cli: vec![],
    }
}

fn deactivate(user: &str, k: &str) -> Action {
    Action::DeactivateAccessKey {
        user: Some(user.into()),
        access_key_id: k.into(),
    }
}

fn plan(steps: Vec<Step>) -> Plan {
    Plan {
        subject: "AKIAEXAMPLE".into(),
        account: Some("111122223333".into()),
        owner: Some("app".into()),
        evidence_sources: vec![],
        destructive: false,
        steps,
    }
}

fn options() -> ExecuteOptions {
    ExecuteOptions {
        guards: Guards::default(),
        now: "2026-11-29T00:00:00Z".into(),
    }
}

fn account() -> FakeAccount {
    FakeAccount {
        caller_arn: "arn:aws:iam::111122223333:user/responder".into(),
        caller_key: Some("AKIARESPONDER".into()),
        ..FakeAccount::default()
    }
}

fn run(p: &Plan, a: &mut FakeAccount, o: &ExecuteOptions) -> (Summary, Vec<String>, usize) {
    let mut audit = Vec::new();
    let mut asked = 0;
    let s = execute(
        p,
        a,
        o,
        &mut |_, _| {
            asked += 1;
            Decision::Yes
        },
        &mut |r| audit.push(serde_json::to_string(r).unwrap()),
        &mut |_, _| {},
    )
    .unwrap();
    (s, audit, asked)
}

fn outcomes(s: &Summary) -> Vec<&'static str> {
    s.steps.iter().map(|r| r.outcome.label()).collect()
}

#[test]
fn a_plan_is_carried_out_then_a_second_run_finds_nothing_to_do() {
    let p = plan(vec![
        step(1, deactivate("app", "AKIA1"), vec![]),
        step(
            2,
            Action::DeleteLoginProfile {
                user: "evil".into(),
            },
            vec![],
        ),
        step(3, Action::Manual, vec![]),
    ]);
    let mut a = account();
    let (s, audit, asked) = run(&p, &mut a, &options());
    assert_eq!(outcomes(&s), ["done", "done", "for a person"]);
    assert_eq!(asked, 2);
    assert_eq!(audit.len(), 3);
    assert!(
        audit[0].contains(r#""api":"iam:UpdateAccessKey""#),
        "{}",
        audit[0]
    );
    assert!(audit[0].contains(r#""result":"done""#));
    assert!(audit[0].contains("arn:aws:iam::111122223333:user/responder"));
    assert!(!s.has_problems());

    let (again, _, asked) = run(&p, &mut a, &options());
    assert_eq!(
        outcomes(&again),
        ["already done", "already done", "for a person"]
    );
    assert!(again.nothing_to_do());
    assert_eq!(asked, 0, "nothing to confirm when nothing changes");
    assert_eq!(a.calls.iter().filter(|c| c.starts_with("apply")).count(), 2);
}

#[test]
fn a_failed_step_stops_only_what_depends_on_it() {
    let p = plan(vec![
        step(1, deactivate("app", "AKIA1"), vec![]),
        step(
            2,
            Action::DeleteUser {
                user: "evil".into(),
            },
            vec![1],
        ),
        step(
            3,
            Action::StopInstances {
                region: "us-east-1".into(),
                instance_ids: vec!["i-1".into()],
            },
            vec![],
        ),
    ]);
    let mut a = account();
    a.refuse.insert(key(&p.steps[0].action));
    let (s, audit, _) = run(&p, &mut a, &options());
    assert_eq!(outcomes(&s), ["FAILED", "skipped", "done"]);
    assert!(s.has_problems());
    assert!(audit[0].contains("access denied"), "{}", audit[0]);
    assert!(!a.calls.contains(&"apply iam:DeleteUser".to_string()));
}

#[test]
fn an_effect_that_does_not_read_back_is_not_verified() {
    let p = plan(vec![step(1, deactivate("app", "AKIA1"), vec![])]);
    let mut a = account();
    a.no_effect.insert(key(&p.steps[0].action));
    let (s, _, _) = run(&p, &mut a, &options());
    assert_eq!(outcomes(&s), ["NOT VERIFIED"]);
    assert!(s.has_problems());
}

#[test]
fn protected_identities_and_our_own_are_never_touched() {
    let p = plan(vec![
        step(1, deactivate("ops-admin", "AKIA1"), vec![]),
        step(
            2,
            Action::RevokeSessions {
                principal: Principal::Role("Deployer".into()),
            },
            vec![],
        ),
        step(3, deactivate("responder", "AKIA2"), vec![]),
        step(4, deactivate("someone", "AKIARESPONDER"), vec![]),
        step(
            5,
            Action::StopInstances {
                region: "us-east-1".into(),
                instance_ids: vec!["i-keep".into()],
            },
            vec![],
        ),
        step(6, deactivate("app", "AKIA3"), vec![]),
    ]);
    let mut a = account();
    let mut o = options();
    o.guards.protected = vec![
        "arn:aws:iam::111122223333:user/ops/ops-admin".into(),
        "Deployer".into(),
        "i-keep".into(),
        // Another account's user of the same name is not this one.
        "arn:aws:iam::999999999999:user/app".into(),
    ];
    let (s, _, _) = run(&p, &mut a, &o);
    assert_eq!(
        outcomes(&s),
        ["refused", "refused", "refused", "refused", "refused", "done"]
    );
    assert!(s.steps[2].outcome.detail().unwrap().contains("runs as"));
    assert!(s.steps[3].outcome.detail().unwrap().contains("runs with"));
    assert!(a.calls.iter().filter(|c| c.starts_with("apply")).count() == 1);
}

#[test]
fn the_last_key_of_a_break_glass_user_is_kept_unless_forced() {
    let p = plan(vec![step(1, deactivate("emergency", "AKIA1"), vec![])]);
    let mut a = account();
    a.active.insert("emergency".into(), vec!["AKIA1".into()]);
    let mut o = options();
    o.guards.break_glass = vec!["emergency".into()];
    let (s, _, _) = run(&p, &mut a, &o);
    assert_eq!(outcomes(&s), ["refused"]);
    assert!(s.steps[0].outcome.detail().unwrap().contains("--force"));

    // With a second active key, the first can go.
    a.active
        .insert("emergency".into(), vec!["AKIA1".into(), "AKIA9".into()]);
    let (s, _, _) = run(&p, &mut a, &o);
    assert_eq!(outcomes(&s), ["done"]);

    // Named like one: guarded without being listed; --force overrides.
    let p = plan(vec![step(
        1,
        Action::DisableUser {
            user: "BreakGlass-1".into(),
        },
        vec![],
    )]);
    a.active.insert("BreakGlass-1".into(), vec!["AKIA5".into()]);
    let (s, _, _) = run(&p, &mut a, &options());
    assert_eq!(outcomes(&s), ["refused"]);
    let mut forced = options();
    forced.guards.force = true;
    let (s, _, _) = run(&p, &mut a, &forced);
    assert_eq!(outcomes(&s), ["done"]);
}

#[test]
fn no_and_quit_are_honoured() {
    let p = plan(vec![
        step(1, deactivate("app", "AKIA1"), vec![]),
        step(2, deactivate("app", "AKIA2"), vec![]),
        step(3, deactivate("app", "AKIA3"), vec![]),
    ]);
    let mut a = account();
    let mut answers = vec![Decision::No, Decision::Quit].into_iter();
    let s = execute(
        &p,
        &mut a,
        &options(),
        &mut |_, _| answers.next().unwrap(),
        &mut |_| {},
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(outcomes(&s), ["declined", "declined", "declined"]);
    assert!(!s.has_problems());
    assert!(a.calls.iter().all(|c| !c.starts_with("apply")));

    // "All" answers for the rest.
    let mut asked = 0;
    let s = execute(
        &p,
        &mut a,
        &options(),
        &mut |_, _| {
            asked += 1;
            Decision::All
        },
        &mut |_| {},
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(outcomes(&s), ["done", "done", "done"]);
    assert_eq!(asked, 1);
}

#[test]
fn the_caller_is_read_from_its_arn() {
    let c = |arn: &str| Caller {
        arn: arn.into(),
        account: "1".into(),
        user_id: "x".into(),
        access_key_id: None,
    };
    assert_eq!(
        c("arn:aws:iam::1:user/path/to/bob").principal(),
        Some(Principal::User("bob".into()))
    );
    assert_eq!(
        c("arn:aws:sts::1:assumed-role/IR-Role/alice@example.com").principal(),
        Some(Principal::Role("IR-Role".into()))
    );
    assert_eq!(c("arn:aws:iam::1:root").principal(), None);
    assert_eq!(c("garbage").principal(), None);
}

#[test]
fn tags_are_for_evidence_and_touch_protected_resources_not() {
    let p = plan(vec![step(
        1,
        Action::Tag {
            resource: Resource::Instances {
                region: "us-east-1".into(),
                ids: vec!["i-keep".into()],
            },
            tags: BTreeMap::from([("trailguard:incident".into(), "AKIA1".into())]),
        },
        vec![],
    )]);
    let mut a = account();
    let mut o = options();
    o.guards.protected = vec!["i-keep".into()];
    let (s, _, _) = run(&p, &mut a, &o);
    assert_eq!(outcomes(&s), ["refused"]);
}

#[test]
fn policy_documents_are_valid_json_with_the_condition() {
    let v: serde_json::Value =
        serde_json::from_str(&revoke_sessions_policy("2026-11-29T00:00:00Z")).unwrap();
    assert_eq!(
        v["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"],
        "2026-11-29T00:00:00Z"
    );
    let v: serde_json::Value = serde_json::from_str(&deny_all_policy()).unwrap();
    assert_eq!(v["Statement"][0]["Effect"], "Deny");
}
