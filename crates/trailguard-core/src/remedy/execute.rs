//! Carrying a [`Plan`] out: one step at a time, each checked before (already done?),
//! guarded (protected, our own identity, the last key of a break-glass user),
//! confirmed, made, checked again, and written to the audit log. A failed step stops
//! only the steps that depend on it.
//!
//! The account is behind the [`Account`] trait so that this logic is tested without
//! AWS; `trailguard-aws` implements it with the AWS SDK.

use serde::Serialize;

use super::{Action, Plan, Principal, Step};

/// The inline policy that revokes sessions issued before it was put.
pub const REVOKE_SESSIONS_POLICY: &str = "TrailguardRevokeOlderSessions";
/// The inline deny-all policy of a disabled user or quarantined role.
pub const QUARANTINE_POLICY: &str = "TrailguardQuarantine";

/// The policy document that denies everything to sessions issued before
/// `issued_before` (RFC 3339): AWS's documented way to revoke temporary credentials.
pub fn revoke_sessions_policy(issued_before: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "TrailguardRevokeOlderSessions",
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": issued_before}}
        }]
    })
    .to_string()
}

/// The policy document that denies everything.
pub fn deny_all_policy() -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Sid": "TrailguardQuarantine", "Effect": "Deny", "Action": "*", "Resource": "*"}]
    })
    .to_string()
}

/// Who trailguard runs as (`sts:GetCallerIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caller {
    pub arn: String,
    pub account: String,
    pub user_id: String,
    /// The access key id of the credentials in use, when known.
    pub access_key_id: Option<String>,
}

impl Caller {
    /// The IAM user or role behind the caller's ARN (an assumed-role session is its
    /// role).
    pub fn principal(&self) -> Option<Principal> {
        let resource = self.arn.splitn(6, ':').nth(5)?;
        let (kind, rest) = resource.split_once('/')?;
        match kind {
            "user" => Some(Principal::User(rest.rsplit('/').next()?.to_string())),
            "assumed-role" => Some(Principal::Role(rest.split('/').next()?.to_string())),
            "role" => Some(Principal::Role(rest.rsplit('/').next()?.to_string())),
            _ => None,
        }
    }
}

/// Why an account call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("{0}")]
    Failed(String),
}

/// Whether a step's effect is in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepState {
    /// Nothing to do.
    Done,
    /// Not yet; the text says what will change.
    ToDo(String),
    /// The target no longer exists (deleted meanwhile): nothing to do.
    Gone(String),
}

/// The account a plan is carried out against.
pub trait Account {
    fn caller(&mut self) -> Result<Caller, AccountError>;
    /// Reads whether `action`'s effect is in place. Changes nothing.
    fn check(&mut self, action: &Action) -> Result<StepState, AccountError>;
    /// Makes the change. `now` (RFC 3339) is when sessions are revoked from.
    fn apply(&mut self, action: &Action, now: &str) -> Result<(), AccountError>;
    /// Reads the effect back after [`Account::apply`]; an account with eventually
    /// consistent reads may retry here.
    fn verify(&mut self, action: &Action) -> Result<StepState, AccountError> {
        self.check(action)
    }
    /// The user's access keys that are active.
    fn active_keys(&mut self, user: &str) -> Result<Vec<String>, AccountError>;
}

/// The answer to "carry out this step?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Yes,
    No,
    /// This step and every later one.
    All,
    /// Stop here; nothing more is changed.
    Quit,
}

/// What is never touched.
#[derive(Debug, Clone, Default)]
pub struct Guards {
    /// ARNs (`arn:aws:iam::ACCOUNT:user/NAME`), names, key ids or resource ids.
    pub protected: Vec<String>,
    /// Users (ARNs or names) whose last active key is kept unless `force`.
    pub break_glass: Vec<String>,
    pub force: bool,
}

impl Guards {
    fn entry_names(entry: &str, account: &str) -> Option<(Option<&'static str>, String)> {
        if let Some(rest) = entry.strip_prefix("arn:") {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            let (acct, resource) = (parts.get(3)?, parts.get(4)?);
            if !acct.is_empty() && !account.is_empty() && *acct != account {
                return None;
            }
            let (kind, path) = resource.split_once('/')?;
            let kind = match kind {
                "user" => "user",
                "role" => "role",
                "group" => "group",
                _ => return None,
            };
            Some((Some(kind), path.rsplit('/').next()?.to_string()))
        } else {
            Some((None, entry.to_string()))
        }
    }

    fn lists(list: &[String], p: &Principal, account: &str) -> bool {
        list.iter().any(|e| match Self::entry_names(e, account) {
            Some((Some(kind), name)) => kind == p.kind() && name == p.name(),
            Some((None, name)) => name == p.name(),
            None => false,
        })
    }

    /// Why `action` must not be carried out, if it must not.
    fn protected_reason(&self, action: &Action, account: &str) -> Option<String> {
        for p in action.principals() {
            if Self::lists(&self.protected, &p, account) {
                return Some(format!("{p} is protected"));
            }
        }
        for id in action.resource_ids() {
            if self.protected.iter().any(|e| e == id) {
                return Some(format!("{id} is protected"));
            }
        }
        None
    }

    fn is_break_glass(&self, user: &str, account: &str) -> bool {
        Self::lists(
            &self.break_glass,
            &Principal::User(user.to_string()),
            account,
        ) || {
            let lower = user.to_ascii_lowercase();
            lower.contains("break-glass")
                || lower.contains("breakglass")
                || lower.contains("break_glass")
        }
    }
}

/// How to carry a plan out.
#[derive(Debug, Clone, Default)]
pub struct ExecuteOptions {
    pub guards: Guards,
    /// RFC 3339: sessions issued before this are revoked.
    pub now: String,
}

/// What became of a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", content = "detail", rename_all = "kebab-case")]
pub enum Outcome {
    /// Made and read back.
    Done,
    /// Already in place: nothing changed.
    AlreadyDone,
    /// The target no longer exists.
    Gone(String),
    /// The person said no (or quit before it).
    Declined,
    /// A guard kept it from being made.
    Refused(String),
    /// A step it depends on did not succeed.
    Skipped(String),
    Failed(String),
    /// Made, but reading it back did not show the effect.
    NotVerified(String),
    /// A follow-up for a person.
    Manual,
}

impl Outcome {
    fn succeeded(&self) -> bool {
        matches!(
            self,
            Outcome::Done | Outcome::AlreadyDone | Outcome::Gone(_)
        )
    }

    /// Whether the step is left undone against the plan's intent (failures, guards,
    /// dependencies); a person's "no" is not.
    pub fn is_problem(&self) -> bool {
        matches!(
            self,
            Outcome::Refused(_)
                | Outcome::Skipped(_)
                | Outcome::Failed(_)
                | Outcome::NotVerified(_)
        )
    }

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::AlreadyDone => "already done",
            Outcome::Gone(_) => "gone",
            Outcome::Declined => "declined",
            Outcome::Refused(_) => "refused",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "FAILED",
            Outcome::NotVerified(_) => "NOT VERIFIED",
            Outcome::Manual => "for a person",
        }
    }

    pub fn detail(&self) -> Option<&str> {
        match self {
            Outcome::Gone(d)
            | Outcome::Refused(d)
            | Outcome::Skipped(d)
            | Outcome::Failed(d)
            | Outcome::NotVerified(d) => Some(d),
            _ => None,
        }
    }
}

/// One step's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    pub n: usize,
    pub title: String,
    pub outcome: Outcome,
}

/// One line of the audit log (JSON Lines).
#[derive(Debug, Clone, Serialize)]
pub struct AuditRecord<'a> {
    pub time: String,
    pub plan_subject: &'a str,
    pub step: usize,
    pub title: &'a str,
    /// The API calls the step makes (`iam:UpdateAccessKey`, ...).
    pub api: &'static str,
    #[serde(flatten)]
    pub action: &'a Action,
    #[serde(flatten)]
    pub outcome: &'a Outcome,
    pub caller: &'a Caller,
}

/// The API calls behind an action, for the audit log.
pub fn api_of(a: &Action) -> &'static str {
    match a {
        Action::Tag { resource, .. } => match resource {
            super::Resource::User { .. } => "iam:TagUser",
            super::Resource::Role { .. } => "iam:TagRole",
            super::Resource::Instances { .. } => "ec2:CreateTags",
        },
        Action::DeactivateAccessKey { .. } => "iam:UpdateAccessKey",
        Action::RevokeSessions { principal } => match principal {
            Principal::Role(_) => "iam:PutRolePolicy",
            _ => "iam:PutUserPolicy",
        },
        Action::DeleteLoginProfile { .. } => "iam:DeleteLoginProfile",
        Action::DetachPolicy { principal, .. } => match principal {
            Principal::User(_) => "iam:DetachUserPolicy",
            Principal::Role(_) => "iam:DetachRolePolicy",
            Principal::Group(_) => "iam:DetachGroupPolicy",
        },
        Action::DeleteInlinePolicy { principal, .. } => match principal {
            Principal::User(_) => "iam:DeleteUserPolicy",
            Principal::Role(_) => "iam:DeleteRolePolicy",
            Principal::Group(_) => "iam:DeleteGroupPolicy",
        },
        Action::DeactivateMfaDevice { .. } => "iam:DeactivateMFADevice",
        Action::StopInstances { .. } => "ec2:StopInstances",
        Action::TerminateInstances { .. } => "ec2:TerminateInstances",
        Action::RevokeSecurityGroupRule { direction, .. } => match direction {
            super::Direction::Ingress => "ec2:RevokeSecurityGroupIngress",
            super::Direction::Egress => "ec2:RevokeSecurityGroupEgress",
        },
        Action::UnshareSnapshot { .. } => "ec2:ModifySnapshotAttribute",
        Action::UnshareImage { .. } => "ec2:ModifyImageAttribute",
        Action::DisableUser { .. } => {
            "iam:UpdateAccessKey,iam:DeleteLoginProfile,iam:PutUserPolicy"
        }
        Action::DeleteUser { .. } => "iam:DeleteUser",
        Action::QuarantineRole { .. } => "iam:PutRolePolicy",
        Action::DeleteRole { .. } => "iam:DeleteRole",
        Action::Manual => "none",
    }
}

/// Counts of outcomes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub caller: Option<Caller>,
    pub steps: Vec<StepReport>,
}

impl Summary {
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.steps.iter().filter(|s| f(&s.outcome)).count()
    }

    /// Whether anything was left undone against the plan's intent.
    pub fn has_problems(&self) -> bool {
        self.count(Outcome::is_problem) > 0
    }

    /// Whether the run found everything already in place (steps refused by a guard
    /// aside: they are not work left to do here).
    pub fn nothing_to_do(&self) -> bool {
        self.count(|o| {
            matches!(
                o,
                Outcome::Done
                    | Outcome::Declined
                    | Outcome::Failed(_)
                    | Outcome::NotVerified(_)
                    | Outcome::Skipped(_)
            )
        }) == 0
    }
}

/// The own-identity guard: steps that would lock trailguard out mid-run, or change
/// the identity it runs as, are refused.
fn own_identity(action: &Action, caller: &Caller) -> Option<String> {
    if let Some(me) = caller.principal() {
        if action.principals().contains(&me) {
            return Some(format!(
                "{me} is the identity trailguard runs as ({})",
                caller.arn
            ));
        }
    }
    if let (Action::DeactivateAccessKey { access_key_id, .. }, Some(mine)) =
        (action, &caller.access_key_id)
    {
        if access_key_id == mine {
            return Some(format!(
                "{access_key_id} is the access key trailguard runs with"
            ));
        }
    }
    None
}

/// The break-glass guard: the last active key of a break-glass user is kept.
fn break_glass(
    account: &mut dyn Account,
    action: &Action,
    guards: &Guards,
    acct: &str,
) -> Result<Option<String>, AccountError> {
    if guards.force {
        return Ok(None);
    }
    let (user, key) = match action {
        Action::DeactivateAccessKey {
            user: Some(u),
            access_key_id,
        } => (u, Some(access_key_id)),
        Action::DisableUser { user } | Action::DeleteUser { user } => (user, None),
        _ => return Ok(None),
    };
    if !guards.is_break_glass(user, acct) {
        return Ok(None);
    }
    let active = account.active_keys(user)?;
    // Deactivating one key changes something only if it is active; disabling the
    // user deactivates them all.
    let changes = key.map_or(!active.is_empty(), |k| active.contains(k));
    let left = match key {
        Some(key) => active.iter().filter(|k| *k != key).count(),
        None => 0,
    };
    Ok((changes && left == 0).then(|| {
        format!("{user} is a break-glass user and this would leave it no active key (--force to do it anyway)")
    }))
}

/// Carries `plan` out. `confirm` is asked before each change (not for steps already
/// in place); `audit` gets one record per step; `on_step` each result as it comes.
/// Fails only when the caller's identity cannot be read (nothing is changed then).
pub fn execute(
    plan: &Plan,
    account: &mut dyn Account,
    options: &ExecuteOptions,
    confirm: &mut dyn FnMut(&Step, &str) -> Decision,
    audit: &mut dyn FnMut(&AuditRecord<'_>),
    on_step: &mut dyn FnMut(&Step, &Outcome),
) -> Result<Summary, AccountError> {
    let caller = account.caller()?;
    let mut summary = Summary {
        caller: Some(caller.clone()),
        steps: Vec::with_capacity(plan.steps.len()),
    };
    let mut all = false;
    let mut quit = false;
    for step in &plan.steps {
        let outcome = if quit {
            Outcome::Declined
        } else {
            one_step(
                plan, step, account, options, &caller, &summary, &mut all, &mut quit, confirm,
            )
        };
        on_step(step, &outcome);
        audit(&AuditRecord {
            time: options.now.clone(),
            plan_subject: &plan.subject,
            step: step.n,
            title: &step.title,
            api: api_of(&step.action),
            action: &step.action,
            outcome: &outcome,
            caller: &caller,
        });
        summary.steps.push(StepReport {
            n: step.n,
            title: step.title.clone(),
            outcome,
        });
    }
    Ok(summary)
}

#[allow(clippy::too_many_arguments)]
fn one_step(
    plan: &Plan,
    step: &Step,
    account: &mut dyn Account,
    options: &ExecuteOptions,
    caller: &Caller,
    done: &Summary,
    all: &mut bool,
    quit: &mut bool,
    confirm: &mut dyn FnMut(&Step, &str) -> Decision,
) -> Outcome {
    if step.action.is_manual() {
        return Outcome::Manual;
    }
    for dep in &step.depends_on {
        if let Some(r) = done.steps.iter().find(|r| r.n == *dep) {
            if !r.outcome.succeeded() {
                return Outcome::Skipped(format!("step {dep} did not succeed"));
            }
        }
    }
    let acct = plan.account.as_deref().unwrap_or(&caller.account);
    if let Some(why) = options.guards.protected_reason(&step.action, acct) {
        return Outcome::Refused(why);
    }
    if let Some(why) = own_identity(&step.action, caller) {
        return Outcome::Refused(why);
    }
    let what = match account.check(&step.action) {
        Ok(StepState::Done) => return Outcome::AlreadyDone,
        Ok(StepState::Gone(why)) => return Outcome::Gone(why),
        Ok(StepState::ToDo(what)) => what,
        Err(e) => return Outcome::Failed(format!("cannot read the current state: {e}")),
    };
    match break_glass(account, &step.action, &options.guards, acct) {
        Ok(Some(why)) => return Outcome::Refused(why),
        Ok(None) => {}
        Err(e) => return Outcome::Failed(format!("cannot list the user's keys: {e}")),
    }
    if !*all {
        match confirm(step, &what) {
            Decision::Yes => {}
            Decision::All => *all = true,
            Decision::No => return Outcome::Declined,
            Decision::Quit => {
                *quit = true;
                return Outcome::Declined;
            }
        }
    }
    if let Err(e) = account.apply(&step.action, &options.now) {
        return Outcome::Failed(e.to_string());
    }
    match account.verify(&step.action) {
        Ok(StepState::Done) => Outcome::Done,
        Ok(StepState::ToDo(left)) => Outcome::NotVerified(left),
        Ok(StepState::Gone(why)) => Outcome::Gone(why),
        Err(e) => Outcome::NotVerified(format!("cannot read it back: {e}")),
    }
}

#[cfg(test)]
mod tests;
