//! The EventBridge `wildcard` operator: `*` matches any run of characters (none
//! included), `\*` is a literal star and `\\` a literal backslash. Matching is
//! case-sensitive and byte-exact on UTF-8.
//!
//! Validation follows aws/event-ruler, which EventBridge runs on. Its rule compiler
//! parses the UTF-8 bytes of the operand wrapped in quotes (`"` + text + `"`), so the
//! `pos N` in an error is the 1-based UTF-8 byte offset of the offending byte in the
//! operand as written (0-based in the quoted copy): the first star of a `**`, or the
//! backslash of a bad escape. `abc**def` gives pos 4 (event-ruler's own compiler
//! test), `Create**Key` pos 7. For ASCII operands it is the 1-based character index.

// Nothing outside this module calls it yet; the pattern compiler will.

use std::collections::VecDeque;

/// Highest complexity accepted (see [`complexity_of`]).
const MAX_COMPLEXITY: usize = 10;

/// A parsed wildcard pattern. `segments` holds the literal text between stars, so it
/// always has one more element than the pattern has stars.
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    segments: Vec<String>,
    /// A searcher for each middle segment, built once: patterns are matched against
    /// many events.
    finders: Vec<memchr::memmem::Finder<'static>>,
}

impl PartialEq for Wildcard {
    fn eq(&self, other: &Self) -> bool {
        self.segments == other.segments
    }
}

impl Eq for Wildcard {}

/// Why a wildcard operand is rejected. `Display` is AWS's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WildcardError {
    #[error("Invalid escape character at pos {0}")]
    InvalidEscape(usize),
    #[error("Consecutive wildcard characters at pos {0}")]
    ConsecutiveWildcards(usize),
    #[error(
        "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character"
    )]
    TooComplex,
}

impl Wildcard {
    /// Parses an operand, rejecting bad escapes, `**` and patterns above AWS's
    /// complexity limit.
    pub(crate) fn parse(pattern: &str) -> Result<Wildcard, WildcardError> {
        let wildcard = Self::parse_syntax(pattern)?;
        if wildcard.complexity() > MAX_COMPLEXITY {
            return Err(WildcardError::TooComplex);
        }
        Ok(wildcard)
    }

    /// Escapes and stars only, no complexity limit.
    fn parse_syntax(pattern: &str) -> Result<Wildcard, WildcardError> {
        let mut segments = Vec::new();
        let mut current = String::new();
        let mut chars = pattern.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let pos = i + 1; // offset in event-ruler's quoted copy
            match c {
                '*' => {
                    if matches!(chars.peek(), Some((_, '*'))) {
                        return Err(WildcardError::ConsecutiveWildcards(pos));
                    }
                    segments.push(std::mem::take(&mut current));
                }
                // A trailing backslash would escape event-ruler's closing quote.
                '\\' => match chars.next() {
                    Some((_, e @ ('*' | '\\'))) => current.push(e),
                    _ => return Err(WildcardError::InvalidEscape(pos)),
                },
                _ => current.push(c),
            }
        }
        segments.push(current);
        let finders = match segments.len() {
            0..=2 => Vec::new(),
            n => segments[1..n - 1]
                .iter()
                .map(|m| memchr::memmem::Finder::new(m.as_bytes()).into_owned())
                .collect(),
        };
        Ok(Wildcard { segments, finders })
    }

    /// Whether `s` matches, in linear time without recursion: the first and last
    /// segments are anchored and each middle one is taken at its leftmost occurrence
    /// (`memmem`), which is always safe as a later one only leaves less room. This is
    /// the greedy glob with backtracking to the last star, done a segment at a time.
    pub(crate) fn matches(&self, s: &str) -> bool {
        let s = s.as_bytes();
        let (first, rest) = match self.segments.split_first() {
            Some((first, rest)) if !rest.is_empty() => (first.as_bytes(), rest),
            _ => return s == self.segments[0].as_bytes(),
        };
        let Some(last) = rest.last() else {
            return false;
        };
        let last = last.as_bytes();
        if s.len() < first.len() + last.len()
            || (!first.is_empty() && !s.starts_with(first))
            || (!last.is_empty() && !s.ends_with(last))
        {
            return false;
        }
        let mut hay = &s[first.len()..s.len() - last.len()];
        for finder in &self.finders {
            match finder.find(hay) {
                Some(at) => hay = &hay[at + finder.needle().len()..],
                None => return false,
            }
        }
        true
    }

    /// The literal text when the pattern has no star (so callers can index it as an
    /// exact string).
    pub(crate) fn as_exact(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [only] => Some(only),
            _ => None,
        }
    }

    /// event-ruler's complexity of this pattern alone, on its quoted form.
    fn complexity(&self) -> usize {
        let mut quoted: Vec<Vec<u8>> = self
            .segments
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        quoted[0].insert(0, b'"');
        quoted.last_mut().expect("at least one segment").push(b'"');
        let runs: Vec<&[u8]> = quoted.iter().map(Vec::as_slice).collect();
        complexity_of(&runs)
    }
}

/// event-ruler's complexity (`MachineComplexityEvaluator`) of a byte machine holding
/// one wildcard pattern whose literal runs between stars are `runs`: the most
/// wildcard-rule prefixes one worst-case input matches at once, i.e. the most NFA
/// states a traversal can occupy. A prefix ends after any literal byte or star, and a
/// star matching nothing counts. event-ruler walks the subset construction; for one
/// pattern there is a closed form. Write it `A0 * A1 * .. * Am`. One input can keep
/// all `m` star prefixes live (it embeds `A0 .. Am-1` first); a prefix ending `t`
/// bytes into `Aj` (j >= 1) is then live iff `Aj[..t]` is a suffix of the input.
/// Before the first star at most 2 prefixes are live. So the complexity is
/// `m + max_x S(x)` (at least 2 if `A0` is non-empty), `S(x)` counting the pairs
/// (j >= 1, t >= 1) with `Aj[..t]` a suffix of `x`: the heaviest suffix-link chain in
/// an Aho-Corasick trie of `A1 .. Am`, each node weighing how many runs start with
/// it. O(length x distinct bytes), so cheap. The tests check it against every single-pattern
/// value in event-ruler's `MachineComplexityEvaluatorTest` and against a brute-force
/// count over all short inputs.
///
/// The limit is not in event-ruler (the caller passes it). AWS rejects
/// `*:*:*:*:*:user/*` (11) and accepts `logs/*/a/a/a/x.gz` (5), so it lies in 5..=10.
/// 10 is what a third-party EventBridge emulator states for native AWS, and the least
/// strict value the known rejection allows; so 10 or more stars are always too
/// complex. AWS measures a field's whole machine, so several wildcard values on one
/// field add up; one pattern's complexity is a lower bound on that.
fn complexity_of(runs: &[&[u8]]) -> usize {
    let stars = runs.len() - 1;
    if stars == 0 {
        return usize::from(!runs[0].is_empty());
    }
    #[derive(Default)]
    struct Node {
        children: Vec<(u8, usize)>,
        link: usize,
        weight: usize,
    }
    fn child(node: &Node, byte: u8) -> Option<usize> {
        node.children
            .iter()
            .find(|&&(b, _)| b == byte)
            .map(|&(_, c)| c)
    }
    let mut nodes = vec![Node::default()];
    for run in &runs[1..] {
        let mut at = 0;
        for &byte in *run {
            at = match child(&nodes[at], byte) {
                Some(next) => next,
                None => {
                    nodes.push(Node::default());
                    let next = nodes.len() - 1;
                    nodes[at].children.push((byte, next));
                    next
                }
            };
            nodes[at].weight += 1;
        }
    }
    // Breadth-first: suffix links, then each node's chain weight from its link's.
    let mut chain = vec![0; nodes.len()];
    let mut best = 0;
    let mut queue = VecDeque::from([0]);
    while let Some(parent) = queue.pop_front() {
        for (byte, node) in nodes[parent].children.clone() {
            let mut link = 0;
            if parent != 0 {
                let mut fallback = nodes[parent].link;
                link = loop {
                    if let Some(next) = child(&nodes[fallback], byte) {
                        break next;
                    }
                    if fallback == 0 {
                        break 0;
                    }
                    fallback = nodes[fallback].link;
                };
            }
            nodes[node].link = link;
            chain[node] = nodes[node].weight + chain[link];
            best = best.max(chain[node]);
            queue.push_back(node);
        }
    }
    (stars + best).max(if runs[0].is_empty() { 1 } else { 2 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wc(pattern: &str) -> Wildcard {
        Wildcard::parse(pattern).unwrap_or_else(|e| panic!("{pattern:?}: {e}"))
    }

    #[test]
    fn matching() {
        // Every wildcard and anything-but/wildcard case of conformance.jsonl, as the
        // bare wildcard verdict (anything-but negates it), then escapes and edges.
        let ua = "aws-cli/2.15.0 Python/3.11";
        #[rustfmt::skip]
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("*console.amazonaws.com*", &[], &[ua]),
            ("aws-cli/*", &[ua], &[]),
            ("*Boto3*", &[], &[ua]),
            ("", &[""], &["CreateAccessKey"]),
            ("*", &["", "x"], &[]),
            ("*.amazonaws.com", &["iam.amazonaws.com"], &[]),
            ("Create*Key", &["CreateAccessKey"], &[]),
            ("*cli/*Python*", &[ua], &[]),
            ("Delete*", &[], &["CreateAccessKey"]),
            ("create*", &[], &["CreateAccessKey"]),
            ("CreateAccessKey*", &["CreateAccessKey"], &[]),
            ("CreateAccessKey", &["CreateAccessKey"], &["CreateAccessKeys"]),
            ("arn:aws:iam::*:user/alice", &["arn:aws:iam::111122223333:user/alice"], &[]),
            ("logs/*/a/a/a/x.gz", &["logs/2024/a/a/a/a/a/x.gz"], &["logs/2024/a/a/b/x.gz"]),
            (r"hel\*o", &["hel*o"], &["hello"]),
            (r"he\\llo", &[r"he\llo"], &[]),
            (r"he\**o", &["he*llo"], &["hello"]),
            ("*Admin*", &["arn:aws:iam::aws:policy/AdministratorAccess", "OrgAdminRole"],
                &["arn:aws:iam::aws:policy/ReadOnlyAccess", "ReadOnlyRole"]),
            ("prod-*-logs", &["prod-web-logs"], &["dev-web-logs"]),
            ("*UnauthorizedOperation", &["Client.UnauthorizedOperation"], &["AccessDenied"]),
            (r"\\*", &[r"\anything"], &["anything"]),
            (r"*\*", &["a*"], &["ab"]),
            ("a*a", &["aa", "aba"], &["a"]),
            ("ab*ba", &["aba*ba", "abba"], &["aba"]),
            ("x*", &["x"], &[""]),
        ];
        for (pattern, yes, no) in cases {
            let expected = yes
                .iter()
                .map(|v| (v, true))
                .chain(no.iter().map(|v| (v, false)));
            for (value, want) in expected {
                assert_eq!(wc(pattern).matches(value), want, "{pattern:?} vs {value:?}");
            }
        }
        assert_eq!(wc("CreateAccessKey").as_exact(), Some("CreateAccessKey"));
        assert_eq!(wc(r"he\*o\\").as_exact(), Some(r"he*o\"));
        assert_eq!(wc("").as_exact(), Some(""));
        assert_eq!(wc("a*").as_exact(), None);
    }

    #[test]
    fn errors_and_positions() {
        use WildcardError::*;
        for (pattern, error) in [
            ("Create**Key", ConsecutiveWildcards(7)),
            ("abc**def", ConsecutiveWildcards(4)), // event-ruler JsonRuleCompilerTest
            ("**", ConsecutiveWildcards(1)),
            (r"a\***", ConsecutiveWildcards(4)),
            ("é**", ConsecutiveWildcards(3)), // UTF-8 bytes, like event-ruler
            (r"Create\Key", InvalidEscape(7)),
            (r"abc\", InvalidEscape(4)),
            (r"\x", InvalidEscape(1)),
            ("日\\本", InvalidEscape(4)),
            (r"a\x**", InvalidEscape(2)), // the first fault wins
            ("*:*:*:*:*:user/*", TooComplex),
        ] {
            assert_eq!(Wildcard::parse(pattern), Err(error), "{pattern:?}");
        }
        let shown = [ConsecutiveWildcards(7), InvalidEscape(7), TooComplex].map(|e| e.to_string());
        assert_eq!(shown[0], "Consecutive wildcard characters at pos 7");
        assert_eq!(shown[1], "Invalid escape character at pos 7");
        assert!(shown[2].starts_with("Rule is too complex - try using fewer wildcard"));
    }

    #[test]
    fn complexity_matches_aws_and_event_ruler() {
        use WildcardError::TooComplex;
        // AWS's known verdicts, then the limit itself (10) and just past it.
        #[rustfmt::skip]
        let accepted = ["*cli/*Python*", "*Admin*", "arn:aws:iam::*:user/alice", "logs/*/a/a/a/x.gz",
            "*.amazonaws.com", "Create*Key", r"he\**o", "*a*a*a*a*a", "a*b*c*d*e*f*g*h*i*j"];
        for p in accepted {
            assert!(Wildcard::parse(p).is_ok(), "{p:?}");
        }
        for p in ["*:*:*:*:*:user/*", "*a*a*a*a*a*", "a*b*c*d*e*f*g*h*i*j*k"] {
            assert_eq!(Wildcard::parse(p), Err(TooComplex), "{p:?}");
        }
        // Values on the quoted form, then every single-pattern expectation in
        // event-ruler's MachineComplexityEvaluatorTest (bare patterns, no quotes).
        let quoted = "*:*:*:*:*:user/* 11|logs/*/a/a/a/x.gz 5|* 2| 1|*a*a*a*a*a 10|x*x*x 4";
        let bare = "* 1|abc 1|*ab 2|*aa 3|a*b 2|aa* 2|a*bc 2|a*bb 3|a*bcb 3|a*bbb 4|*ab*ad 4|\
            *ab*d 3|*aba* 4|a*b*bb 5|a*b*cb 4|a*b*cd 3|a*b*b 4|a*bb* 4|ab*b* 3|*ab*b*b* 7|\
            *a*a*a*a*a*a*a*a* 17";
        for (table, is_quoted) in [(quoted, true), (bare, false)] {
            for (p, expected) in table.split('|').map(|e| e.rsplit_once(' ').unwrap()) {
                let w = Wildcard::parse_syntax(p).unwrap();
                let runs: Vec<&[u8]> = w.segments.iter().map(|s| s.as_bytes()).collect();
                let got = if is_quoted {
                    w.complexity()
                } else {
                    complexity_of(&runs)
                };
                assert_eq!(got.to_string(), expected, "{p:?}");
            }
        }
    }

    #[test]
    fn hostile_inputs() {
        let long = "a".repeat(100_000);
        assert!(wc("*a*a").matches(&long));
        assert!(!wc("*a*b").matches(&long));
        assert!(!wc("a*ab*a").matches(&long));
        // 1000 stars pass the syntax check (AWS rejects them as too complex); the
        // matcher still runs in linear time on them.
        let stars = format!("{}b", "a*".repeat(1000));
        assert_eq!(Wildcard::parse(&stars), Err(WildcardError::TooComplex));
        let many = Wildcard::parse_syntax(&stars).unwrap();
        assert!(!many.matches(&long));
        assert!(many.matches(&format!("{long}b")));
        assert!(!many.matches(&format!("{}b", "a".repeat(999))));
        // Long operands: the complexity check is linear too.
        assert!(Wildcard::parse(&long).is_ok());
        let overlap = format!("*{}*", "ab".repeat(50_000));
        assert_eq!(Wildcard::parse(&overlap), Err(WildcardError::TooComplex));
        // Non-ASCII: byte-exact, no normalisation, no case folding.
        assert!(wc("*é*").matches("café crème"));
        assert!(wc("日本*語").matches("日本の語") && wc("日本*語").matches("日本語"));
        assert!(!wc("caf*é").matches("cafe\u{301}"));
        assert!(!wc("É*").matches("école"));
        assert!(wc("*🦀").matches("rust 🦀") && !wc("*🦀").matches("🦀 rust"));
    }

    /// Pattern text to tokens (`None` is a star), assuming valid escapes.
    fn tokens(pattern: &str) -> Vec<Option<u8>> {
        let mut bytes = pattern.bytes();
        std::iter::from_fn(|| match bytes.next()? {
            b'*' => Some(None),
            b'\\' => Some(bytes.next()),
            b => Some(Some(b)),
        })
        .collect()
    }

    /// Naive recursive glob, the reference.
    fn reference(p: &[Option<u8>], s: &[u8]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some((None, rest)) => (0..=s.len()).any(|i| reference(rest, &s[i..])),
            Some((Some(c), rest)) => s.first() == Some(c) && reference(rest, &s[1..]),
        }
    }

    struct XorShift(u64);
    impl XorShift {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
        fn text(&mut self, pieces: &[&str], max: usize) -> String {
            (0..self.below(max + 1))
                .map(|_| pieces[self.below(pieces.len())])
                .collect()
        }
    }

    #[test]
    fn randomized_against_reference() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut checked = 0;
        while checked < 3000 {
            let pattern = rng.text(&["a", "b", "*", r"\*", r"\\"], 8);
            let Ok(w) = Wildcard::parse_syntax(&pattern) else {
                continue;
            };
            for _ in 0..10 {
                let s = rng.text(&["a", "b", "*", r"\"], 10);
                let want = reference(&tokens(&pattern), s.as_bytes());
                assert_eq!(w.matches(&s), want, "{pattern:?} vs {s:?}");
            }
            checked += 1;
        }
    }

    /// The closed form against event-ruler's definition, counted directly: the most
    /// prefixes of the quoted pattern that one input matches, over all short inputs.
    #[test]
    fn randomized_complexity_against_brute_force() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        let (mut inputs, mut frontier) = (Vec::new(), vec![Vec::new()]);
        for _ in 0..7 {
            frontier = frontier
                .iter()
                .flat_map(|w: &Vec<u8>| b"ab\"x".map(|c| [w.as_slice(), &[c]].concat()))
                .collect();
            inputs.extend(frontier.iter().cloned());
        }
        for _ in 0..100 {
            let pattern = rng.text(&["a", "b", "*"], 5);
            let Ok(w) = Wildcard::parse_syntax(&pattern) else {
                continue;
            };
            let quoted = [vec![Some(b'"')], tokens(&pattern), vec![Some(b'"')]].concat();
            let brute = inputs
                .iter()
                .map(|input| {
                    (1..=quoted.len())
                        .filter(|&k| reference(&quoted[..k], input))
                        .count()
                })
                .max()
                .unwrap();
            assert_eq!(w.complexity(), brute, "{pattern:?}");
        }
    }
}
