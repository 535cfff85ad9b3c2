//! Text from files and from AWS, made safe to print on a terminal. A key ARN, a log field or a
//! manifest entry can carry control characters: an escape sequence that clears the screen and
//! prints a fake "verified", or a bidi override that reorders what people read. Every string
//! that reaches a terminal goes through [`for_terminal`] (or the `say!`/`say_out!` macros), which
//! shows such characters escaped instead of obeying them.

use std::borrow::Cow;

/// `s` with every control character shown escaped: C0 controls and DEL as `\x1b`, C1 controls
/// and bidi controls as `\u{202e}`. Newlines are kept (a message may span lines); tabs too.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// As [`for_terminal`], but a newline is escaped too: for a value that must stay on one line.
/// "1 key", "9 keys": a count with its noun in the singular or the plural (nouns whose plural
/// takes an s).
pub fn counted(n: usize, thing: &str) -> String {
    counted_u64(n as u64, thing)
}

/// [`counted`] for a count that is a `u64` (ledger sizes).
pub fn counted_u64(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// A duration as people read it: "3 d 04 h", "1 h 05 min", "12 min", "12 min 30 s" (its sign
/// dropped; days from two days on).
pub fn duration_text(d: jiff::SignedDuration) -> String {
    let s = d.as_secs().abs();
    let (h, min, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    if h >= 48 {
        format!("{} d {:02} h", h / 24, h % 24)
    } else if h > 0 {
        format!("{h} h {min:02} min")
    } else if sec == 0 {
        format!("{min} min")
    } else {
        format!("{min} min {sec:02} s")
    }
}

pub fn one_line(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// True when `c` would be obeyed by a terminal rather than shown: C0 and C1 controls, DEL, and
/// the Unicode bidirectional formatting characters.
pub fn is_terminal_control(c: char) -> bool {
    c.is_control() || is_bidi_control(c)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let keep = |c: char| (keep_newlines && c == '\n') || c == '\t';
    if !s.chars().any(|c| is_terminal_control(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if keep(c) || !is_terminal_control(c) {
            out.push(c);
        } else if (c as u32) < 0x80 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

/// `eprintln!` for people: the formatted text goes through [`for_terminal`].
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::core::terminal::for_terminal(&format!($($arg)*)))
    };
}

/// `eprintln!` of one line for people: the formatted text goes through [`one_line`], so a value
/// that holds a newline (a log field, an AWS string) cannot make a line of its own.
#[macro_export]
macro_rules! say_line {
    ($($arg:tt)*) => {
        eprintln!("{}", $crate::core::terminal::one_line(&format!($($arg)*)))
    };
}

/// `println!` for people (not for JSON): the formatted text goes through [`for_terminal`].
#[macro_export]
macro_rules! say_out {
    ($($arg:tt)*) => {
        println!("{}", $crate::core::terminal::for_terminal(&format!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_are_in_the_singular_or_the_plural() {
        assert_eq!(super::counted(0, "key"), "0 keys");
        assert_eq!(super::counted(1, "key"), "1 key");
        assert_eq!(super::counted(9, "key"), "9 keys");
        assert_eq!(super::counted_u64(1, "closing"), "1 closing");
        assert_eq!(super::counted_u64(10_000, "closing"), "10000 closings");
    }

    use super::*;

    #[test]
    fn durations_read_as_days_hours_minutes_or_seconds() {
        use jiff::SignedDuration as D;
        for (d, want) in [
            (D::from_hours(2400) - D::from_mins(1), "99 d 23 h"),
            (D::from_hours(48), "2 d 00 h"),
            (D::from_hours(24) - D::from_mins(1), "23 h 59 min"),
            (D::from_mins(65), "1 h 05 min"),
            (D::from_mins(12), "12 min"),
            (D::from_secs(750), "12 min 30 s"),
            (D::from_mins(-3), "3 min"),
        ] {
            assert_eq!(duration_text(d), want);
        }
    }

    #[test]
    fn controls_c1_and_bidi_are_shown_escaped_and_plain_text_is_untouched() {
        let cases = [
            (
                "arn:aws:kms:eu-west-1:1:key/k",
                "arn:aws:kms:eu-west-1:1:key/k",
            ),
            ("\u{1b}[2J\u{1b}[Hverified", "\\x1b[2J\\x1b[Hverified"),
            ("a\rb\u{7}c\u{7f}", "a\\x0db\\x07c\\x7f"),
            ("\u{9b}31m", "\\u{9b}31m"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
            ("\u{2066}x\u{2069}\u{200f}", "\\u{2066}x\\u{2069}\\u{200f}"),
            ("two\nlines\tand a tab", "two\nlines\tand a tab"),
            ("é ü 日本", "é ü 日本"),
        ];
        for (input, want) in cases {
            assert_eq!(for_terminal(input), want, "{input:?}");
        }
        assert_eq!(one_line("a\nb"), "a\\x0ab");
        assert!(matches!(for_terminal("plain"), Cow::Borrowed(_)));
    }
}
