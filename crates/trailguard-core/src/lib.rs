//! trailguard's core: the CloudTrail event model, EventBridge pattern matching, the
//! rule format and built-in pack, the detection engine and alerts. No I/O, no async.

pub mod alert;
pub mod correlate;
pub mod engine;
pub mod event;
pub mod fold;
pub mod json;
pub mod keyid;
pub mod pattern;
pub mod record;
pub mod remedy;
pub mod rule;
pub mod sigma;
pub mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod time;

/// Hash maps keyed by values from logs (access keys, addresses, rule ids): a fast,
/// per-process seeded hash instead of SipHash, which showed in profiles.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

pub use alert::{Actor, Alert, AlertRule, Severity};
pub use engine::{Detection, Engine};
pub use event::{Envelope, Event, EventError};
pub use json::{FieldSource, Leaf};
pub use record::{CloudTrailRecord, UserIdentity};
pub use rule::Rule;
