//! Text helpers shared by the chat sinks (Discord, Slack): cleaning hostile characters
//! and cutting text to a character limit.
//!
//! Chat services count their limits in characters, not bytes, and an escape (`\*`,
//! `&lt;`) cut in half would show garbage or re-open the markup it was meant to close.
//! So each input character is first turned into an *atom* (the character itself, or
//! its escape), and text is cut only between atoms, with an ellipsis `…`.

pub(crate) const ELLIPSIS: char = '\u{2026}';
pub(crate) const ZWSP: char = '\u{200B}';
/// Replaces a backtick inside an inline code span, so the span cannot be closed early.
pub(crate) const BACKTICK_LOOKALIKE: char = '\u{02CB}';

/// The character as shown in a chat message: control characters become spaces (no line
/// breaks inside a field or code span), bidirectional controls become U+FFFD (they
/// would let attacker text reorder what is shown around it).
pub(crate) fn clean(c: char) -> char {
    if c.is_control() {
        ' '
    } else if is_bidi_control(c) {
        '\u{FFFD}'
    } else {
        c
    }
}

/// Unicode bidirectional embeddings, overrides and isolates (and the marks).
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `raw` escaped atom by atom (`escape` writes the atom of one character into an empty
/// buffer), between `open` and `close`, at most `max` characters in all. When it does
/// not fit, as many whole atoms as fit are kept and `…` goes before `close`.
pub(crate) fn render_atoms(
    raw: &str,
    max: usize,
    open: &str,
    close: &str,
    escape: impl Fn(char, &mut String),
) -> String {
    let wrap = open.chars().count() + close.chars().count();
    // Room for at least one character and the ellipsis.
    let budget = max.max(wrap + 2) - wrap;
    let mut atom = String::with_capacity(8);
    let mut atom_of = |c: char| -> usize {
        atom.clear();
        escape(c, &mut atom);
        atom.chars().count()
    };
    let full: usize = raw.chars().map(&mut atom_of).sum();
    let mut out = String::with_capacity(raw.len().min(budget * 4) + 8);
    out.push_str(open);
    let mut used = 0;
    let limit = if full <= budget { budget } else { budget - 1 };
    for c in raw.chars() {
        atom.clear();
        escape(c, &mut atom);
        let n = atom.chars().count();
        if used + n > limit {
            break;
        }
        out.push_str(&atom);
        used += n;
    }
    if full > budget {
        out.push(ELLIPSIS);
    }
    out.push_str(close);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(c: char, out: &mut String) {
        out.push(c);
        out.push(c);
    }

    #[test]
    fn fits_or_is_cut_between_atoms() {
        assert_eq!(render_atoms("abc", 10, "`", "`", double), "`aabbcc`");
        // 8 characters: 2 for the span, 1 for the ellipsis, 5 left: two whole atoms.
        assert_eq!(
            render_atoms("abcdef", 8, "`", "`", double),
            "`aabb\u{2026}`"
        );
        assert_eq!(render_atoms("abc", 8, "", "", double), "aabbcc");
        // Exactly at the limit: no ellipsis.
        assert_eq!(render_atoms("abcd", 8, "", "", double), "aabbccdd");
        // A tiny limit still shows the ellipsis inside the span.
        assert_eq!(
            render_atoms("abcdef", 1, "`", "`", |c, o| o.push(c)),
            "`a\u{2026}`"
        );
        assert_eq!(render_atoms("", 5, "`", "`", double), "``");
    }

    #[test]
    fn counts_characters_not_bytes() {
        let s = render_atoms(&"😀".repeat(10), 5, "", "", |c, o| o.push(c));
        assert_eq!(s, "😀😀😀😀\u{2026}");
        assert_eq!(s.chars().count(), 5);
    }

    #[test]
    fn clean_replaces_controls_and_bidi() {
        assert_eq!(clean('\n'), ' ');
        assert_eq!(clean('\u{202E}'), '\u{FFFD}');
        assert_eq!(clean('é'), 'é');
    }
}
