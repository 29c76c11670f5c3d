//! Text from outside the program — a process name, a helper's name, a
//! security context — made safe to print: one event stays one line and one
//! syslog message whatever the text holds.
//!
//! The rule (the README's, Security): a backslash becomes `\\`; every byte
//! of a control character (C0, DEL, C1), of a line or paragraph separator
//! (U+2028, U+2029), of a bidirectional control (U+061C, U+200E, U+200F,
//! U+202A..U+202E, U+2066..U+2069) and every byte that is not valid UTF-8
//! becomes `\xNN` (two lower-case hex digits), as systemd writes such
//! bytes. Everything else, other UTF-8 text and spaces among it, is kept.
//! The result is valid UTF-8 with no control character, and the bytes can
//! be read back from it.

/// `bytes` escaped by the rule above.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, &[][..]),
            Err(e) => {
                let (ok, after) = rest.split_at(e.valid_up_to());
                // valid_up_to() ends on a character boundary, so this holds.
                let s = std::str::from_utf8(ok).unwrap_or_default();
                // One bad byte at a time: the next may start a valid character.
                (s, &after[..e.error_len().unwrap_or(after.len()).min(1)])
            }
        };
        for ch in valid.chars() {
            match ch {
                '\\' => out.push_str("\\\\"),
                c if needs_escape(c) => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        hex(&mut out, b);
                    }
                }
                c => out.push(c),
            }
        }
        for &b in bad {
            hex(&mut out, b);
        }
        rest = &rest[valid.len() + bad.len()..];
    }
    out
}

/// The longest start of `escaped` (text [`escape`] made) of at most `max`
/// bytes that ends between two characters and between two escapes: a cut
/// never leaves half a `\xNN` or a lone backslash to be read otherwise.
pub fn cut(escaped: &str, max: usize) -> &str {
    if escaped.len() <= max {
        return escaped;
    }
    let b = escaped.as_bytes();
    let mut end = 0;
    while end < b.len() {
        let step = match b[end] {
            b'\\' if b.get(end + 1) == Some(&b'x') => 4,
            b'\\' => 2,
            _ => escaped[end..].chars().next().map_or(1, char::len_utf8),
        };
        if end + step > max {
            break;
        }
        end += step;
    }
    // Text that is not escape's: at least a character boundary.
    while !escaped.is_char_boundary(end) {
        end -= 1;
    }
    &escaped[..end]
}

/// Characters that break a line, or make it read other than it is.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

fn hex(out: &mut String, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    out.push(char::from(DIGITS[usize::from(b >> 4)]));
    out.push(char::from(DIGITS[usize::from(b & 15)]));
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn plain_names_are_kept() {
        assert_eq!(escape(b"conntrack"), "conntrack");
        assert_eq!(escape(b"my prog"), "my prog");
        assert_eq!(escape("système_ü".as_bytes()), "système_ü");
        assert_eq!(escape(b""), "");
    }

    #[test]
    fn a_newline_cannot_start_a_forged_line() {
        assert_eq!(escape(b"a\n[NEW] FORGED"), "a\\x0a[NEW] FORGED");
        assert_eq!(escape(b"\r\t\x00\x7f"), "\\x0d\\x09\\x00\\x7f");
    }

    #[test]
    fn invalid_utf8_is_escaped_byte_by_byte_and_kept_visible() {
        assert_eq!(escape(b"b\xff\xfe\r\x07z"), "b\\xff\\xfe\\x0d\\x07z");
        // A truncated character, then valid text.
        assert_eq!(escape(b"\xc3ok"), "\\xc3ok");
        assert_eq!(escape(b"x\xe2\x82"), "x\\xe2\\x82");
    }

    #[test]
    fn separators_c1_and_bidi_controls_are_escaped() {
        assert_eq!(escape("a\u{2028}b".as_bytes()), "a\\xe2\\x80\\xa8b");
        assert_eq!(escape("\u{0085}".as_bytes()), "\\xc2\\x85");
        assert_eq!(escape("x\u{202e}y".as_bytes()), "x\\xe2\\x80\\xaey");
    }

    #[test]
    fn a_cut_ends_between_escapes_and_characters() {
        use super::cut;
        let e = escape(b"a\xff\xfe\\z");
        assert_eq!(e, "a\\xff\\xfe\\\\z");
        assert_eq!(cut(&e, 100), e);
        assert_eq!(cut(&e, 5), "a\\xff");
        assert_eq!(cut(&e, 8), "a\\xff");
        assert_eq!(cut(&e, 10), "a\\xff\\xfe");
        assert_eq!(cut(&e, 11), "a\\xff\\xfe\\\\");
        assert_eq!(cut("éé", 3), "é");
    }

    #[test]
    fn a_backslash_is_doubled_so_the_escapes_read_back() {
        assert_eq!(escape(b"a\\x0a"), "a\\\\x0a");
        assert_ne!(escape(b"a\\x0a"), escape(b"a\n"));
    }
}
