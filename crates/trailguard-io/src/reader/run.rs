//! [`FileRun`]: what one worker accumulates while reading one input.

use trailguard_core::json::RawNode;
use trailguard_core::{CloudTrailRecord, Event};

use super::error::{Location, ReadError, ReadErrorKind};
use super::scan::deeper_than;
use super::SkipReason;

/// Deepest nesting accepted inside a record's raw (object-valued) fields. serde_json
/// skips raw values without a depth limit, and later navigation of them recurses once
/// per level, so deeper values are refused here, once, for everyone downstream.
pub(crate) const MAX_DEPTH: usize = 256;

pub(crate) type OnEvent<'f> = &'f (dyn Fn(&Event<'_>) + Sync);

pub(crate) struct FileRun<'f> {
    pub path: String,
    /// Given on the command line (as opposed to found by walking a directory).
    pub explicit: bool,
    on_event: OnEvent<'f>,
    max_errors: usize,
    /// Added to byte offsets (a skipped byte order mark).
    pub base: u64,
    pub events: u64,
    pub records_skipped: u64,
    pub bytes: u64,
    pub errors: Vec<ReadError>,
    pub errors_total: u64,
    pub skipped: Option<SkipReason>,
}

impl<'f> FileRun<'f> {
    pub fn new(path: String, explicit: bool, on_event: OnEvent<'f>, max_errors: usize) -> Self {
        FileRun {
            path,
            explicit,
            on_event,
            max_errors,
            base: 0,
            events: 0,
            records_skipped: 0,
            bytes: 0,
            errors: Vec::new(),
            errors_total: 0,
            skipped: None,
        }
    }

    /// Hands the event on, unless one of its raw values nests too deep: the record is
    /// then skipped with an error located by `at` (given the address of that value).
    pub fn emit(&mut self, event: &Event<'_>, at: impl FnOnce(usize) -> Location) {
        if let Some(deep) = too_deep(event) {
            let location = at(deep.as_ptr() as usize);
            return self.bad_record(location, ReadErrorKind::TooDeep { limit: MAX_DEPTH });
        }
        self.events += 1;
        (self.on_event)(event);
    }

    /// An error about the file (or a part of it that is not one record).
    pub fn fail(&mut self, location: Option<Location>, kind: ReadErrorKind) {
        self.errors_total += 1;
        if self.errors.len() < self.max_errors {
            self.errors
                .push(ReadError::new(self.path.clone(), location, kind));
        }
    }

    /// A record or line that could not be read; the others go on.
    pub fn bad_record(&mut self, location: Location, kind: ReadErrorKind) {
        self.records_skipped += 1;
        self.fail(Some(location), kind);
    }

    pub fn record_at(&self, index: u64, byte: usize) -> Location {
        Location::Record {
            index,
            byte: self.base + byte as u64,
        }
    }

    pub fn byte_at(&self, byte: usize) -> Location {
        Location::Byte(self.base + byte as u64)
    }

    pub fn skip(&mut self, reason: SkipReason) {
        self.skipped = Some(reason);
    }

    /// Valid JSON without CloudTrail in it: an error when named on the command line,
    /// a counted skip when found by walking a directory.
    pub fn not_cloudtrail(&mut self) {
        if self.explicit {
            self.fail(None, ReadErrorKind::NotCloudTrail);
        } else {
            self.skip(SkipReason::NotCloudTrail);
        }
    }

    /// Not JSON at all: same policy as [`FileRun::not_cloudtrail`].
    pub fn not_json(&mut self) {
        if self.explicit {
            self.fail(None, ReadErrorKind::NotJson);
        } else {
            self.skip(SkipReason::NotJson);
        }
    }

    /// A file counts as read unless it failed without yielding anything.
    pub fn was_read(&self) -> bool {
        self.skipped.is_none() && (self.events > 0 || self.errors_total == 0)
    }
}

/// Whether a parsed record carries any field that only CloudTrail records have: the
/// first item of a file decides whether the file is CloudTrail at all.
pub(crate) fn record_like(r: &CloudTrailRecord<'_>) -> bool {
    r.event_version.is_some()
        || r.event_name.is_some()
        || r.event_source.is_some()
        || r.event_time.is_some()
        || r.event_id.is_some()
        || r.event_type.is_some()
        || r.user_identity.is_some()
        || r.source_ip_address.is_some()
}

pub(crate) fn event_like(e: &Event<'_>) -> bool {
    e.envelope.is_some() || record_like(&e.record)
}

/// The first raw value of the event nested deeper than [`MAX_DEPTH`].
fn too_deep<'e>(e: &'e Event<'_>) -> Option<&'e str> {
    let r = &e.record;
    let env = e.envelope.as_ref();
    // `userIdentity` was split while the record was read: its members are one level in.
    let identity: Vec<&str> = match &r.user_identity {
        Some(RawNode::Object(members)) => members.iter().map(|(_, v)| v.get()).collect(),
        Some(RawNode::Array(items)) => items.iter().map(|v| v.get()).collect(),
        _ => Vec::new(),
    };
    if let Some(deep) = identity
        .into_iter()
        .find(|s| deeper_than(s.as_bytes(), MAX_DEPTH - 1))
    {
        return Some(deep);
    }
    [
        r.request_parameters,
        r.response_elements,
        r.additional_event_data,
        r.resources,
        r.service_event_details,
        r.addendum,
        r.edge_device_details,
        r.tls_details,
        r.insight_details,
        r.management_event,
        r.read_only,
        r.session_credential_from_console,
        env.and_then(|e| e.detail),
        env.and_then(|e| e.resources),
    ]
    .into_iter()
    .flatten()
    .map(|raw| raw.get())
    .find(|s| deeper_than(s.as_bytes(), MAX_DEPTH))
}
