//! A pager's state, pure: text wrapped to the terminal's width, the page on screen, the keys that
//! move it, and the frame to draw (the page, then a status line that always says what was
//! verified). `audit replay` drives it in a terminal in raw mode; no I/O here.

/// A key, as a terminal in raw mode sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// Space, PgDn, `f`, Ctrl-F.
    PageDown,
    /// `b`, PgUp, Ctrl-B.
    PageUp,
    /// Enter, Down, `j`.
    LineDown,
    /// Up, `k`.
    LineUp,
    /// `g`, Home.
    Top,
    /// `G`, End.
    Bottom,
    /// `?`, F1, `h`.
    Help,
    /// `q`, `Q`, Ctrl-C, Ctrl-D.
    Quit,
    Other,
}

/// The keys in `bytes`, as read from a raw-mode terminal (escape sequences of the usual
/// terminals for the arrows, PgUp/PgDn, Home/End and F1).
pub fn keys(bytes: &[u8]) -> Vec<Key> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b {
            let rest = &bytes[i..];
            const SEQUENCES: &[(&[u8], Key)] = &[
                (b"\x1b[6~", Key::PageDown),
                (b"\x1b[5~", Key::PageUp),
                (b"\x1b[B", Key::LineDown),
                (b"\x1bOB", Key::LineDown),
                (b"\x1b[A", Key::LineUp),
                (b"\x1bOA", Key::LineUp),
                (b"\x1b[H", Key::Top),
                (b"\x1bOH", Key::Top),
                (b"\x1b[1~", Key::Top),
                (b"\x1b[7~", Key::Top),
                (b"\x1b[F", Key::Bottom),
                (b"\x1bOF", Key::Bottom),
                (b"\x1b[4~", Key::Bottom),
                (b"\x1b[8~", Key::Bottom),
                (b"\x1bOP", Key::Help),
                (b"\x1b[11~", Key::Help),
            ];
            match SEQUENCES.iter().find(|(s, _)| rest.starts_with(s)) {
                Some((s, k)) => {
                    out.push(*k);
                    i += s.len();
                }
                None => {
                    // An unknown sequence: skip it whole (ESC, '[' or 'O', parameters, final byte).
                    let mut j = i + 1;
                    if j < bytes.len() && (bytes[j] == b'[' || bytes[j] == b'O') {
                        j += 1;
                        while j < bytes.len() && !(0x40..=0x7e).contains(&bytes[j]) {
                            j += 1;
                        }
                        j += 1;
                    }
                    out.push(Key::Other);
                    i = j.min(bytes.len());
                }
            }
            continue;
        }
        out.push(match bytes[i] {
            b' ' | b'f' | 0x06 => Key::PageDown,
            b'b' | 0x02 => Key::PageUp,
            b'\r' | b'\n' | b'j' => Key::LineDown,
            b'k' => Key::LineUp,
            b'g' | b'<' => Key::Top,
            b'G' | b'>' => Key::Bottom,
            b'?' | b'h' => Key::Help,
            b'q' | b'Q' | 0x03 | 0x04 => Key::Quit,
            _ => Key::Other,
        });
        i += 1;
    }
    out
}

/// What the driver does after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Redraw,
    Quit,
}

/// The help screen.
pub const HELP: &[&str] = &[
    "keyrite audit replay: keys",
    "",
    "  Space, PgDn, f     next page",
    "  b, PgUp            previous page",
    "  Enter, Down, j     one line down",
    "  Up, k              one line up",
    "  g, Home            first page",
    "  G, End             last page",
    "  ?, h, F1           this help (any key closes it)",
    "  q, Ctrl-C          quit",
    "",
    "The status line at the bottom says whether the log was verified against a",
    "trusted log key (--trust) and where you are.",
];

/// `text` wrapped to `width` columns, a character a column; a long line is cut, never lost.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        if chars.is_empty() {
            out.push(String::new());
            continue;
        }
        let mut start = 0;
        while start < chars.len() {
            let mut end = (start + width).min(chars.len());
            // Break at the last space of the row when the row is full and the line goes on.
            if end < chars.len()
                && chars[end] != ' '
                && let Some(space) = chars[start..end].iter().rposition(|c| *c == ' ')
                && space > 0
            {
                end = start + space + 1;
            }
            out.push(
                chars[start..end]
                    .iter()
                    .collect::<String>()
                    .trim_end()
                    .to_string(),
            );
            start = end;
            // A row that ended at a space does not begin the next with it.
            if start < chars.len() && chars[start] == ' ' && chars[start - 1] != ' ' {
                start += 1;
            }
        }
    }
    out
}

/// The pager: the text, the terminal's size and the first line shown.
#[derive(Debug, Clone)]
pub struct Pager {
    text: String,
    lines: Vec<String>,
    width: usize,
    /// Rows for text: the terminal's rows less the status line.
    rows: usize,
    top: usize,
    help: bool,
}

impl Pager {
    pub fn new(text: String, cols: usize, rows: usize) -> Pager {
        let mut p = Pager {
            lines: Vec::new(),
            text,
            width: 0,
            rows: 0,
            top: 0,
            help: false,
        };
        p.resize(cols, rows);
        p
    }

    /// The terminal's size changed: wrap again, keeping the top line within the text.
    pub fn resize(&mut self, cols: usize, rows: usize) {
        let cols = cols.max(1);
        if cols != self.width {
            self.lines = wrap(&self.text, cols);
            self.width = cols;
        }
        self.rows = rows.saturating_sub(1).max(1);
        self.top = self.top.min(self.last_top());
    }

    fn last_top(&self) -> usize {
        self.lines.len().saturating_sub(self.rows)
    }

    pub fn top(&self) -> usize {
        self.top
    }

    pub fn showing_help(&self) -> bool {
        self.help
    }

    pub fn handle(&mut self, key: Key) -> Action {
        if self.help {
            self.help = false;
            return if key == Key::Quit {
                Action::Quit
            } else {
                Action::Redraw
            };
        }
        let last = self.last_top();
        self.top = match key {
            Key::PageDown => (self.top + self.rows).min(last),
            Key::PageUp => self.top.saturating_sub(self.rows),
            Key::LineDown => (self.top + 1).min(last),
            Key::LineUp => self.top.saturating_sub(1),
            Key::Top => 0,
            Key::Bottom => last,
            Key::Help => {
                self.help = true;
                self.top
            }
            Key::Quit => return Action::Quit,
            Key::Other => self.top,
        };
        Action::Redraw
    }

    /// The rows of text on screen (exactly the text rows: blank rows past the end), then the
    /// status line, each at most the terminal's width.
    pub fn frame(&self, verified: &str) -> (Vec<String>, String) {
        let rows: Vec<String> = if self.help {
            HELP.iter().map(|s| s.to_string()).collect()
        } else {
            self.lines
                .iter()
                .skip(self.top)
                .take(self.rows)
                .cloned()
                .collect()
        };
        let mut rows: Vec<String> = rows
            .into_iter()
            .map(|r| r.chars().take(self.width).collect())
            .collect();
        rows.resize(self.rows, String::new());
        let total = self.lines.len();
        let bottom = (self.top + self.rows).min(total);
        let place = if self.help {
            "help: any key to go back".to_string()
        } else if bottom >= total {
            format!("lines {}-{bottom} of {total} (end)", self.top + 1)
        } else {
            format!(
                "lines {}-{bottom} of {total} ({}%)",
                self.top + 1,
                bottom * 100 / total.max(1)
            )
        };
        let status = format!("{verified} | {place} | ? help  q quit");
        let status: String = status.chars().take(self.width).collect();
        (rows, status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> String {
        (1..=n).map(|i| format!("line {i}\n")).collect()
    }

    #[test]
    fn keys_of_a_raw_terminal_are_read_with_their_escape_sequences() {
        assert_eq!(
            keys(b" b\x1b[6~\x1b[5~gGq?\x03\x1b[A\x1b[B\r\x1b[99~x"),
            [
                Key::PageDown,
                Key::PageUp,
                Key::PageDown,
                Key::PageUp,
                Key::Top,
                Key::Bottom,
                Key::Quit,
                Key::Help,
                Key::Quit,
                Key::LineUp,
                Key::LineDown,
                Key::LineDown,
                Key::Other,
                Key::Other,
            ]
        );
    }

    #[test]
    fn long_lines_wrap_at_a_space_and_a_word_too_long_is_cut_not_lost() {
        assert_eq!(wrap("aaa bbb ccc", 7), ["aaa bbb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a\n\nb", 10), ["a", "", "b"]);
    }

    #[test]
    fn pages_move_forward_back_to_the_ends_and_never_past_them() {
        // 50 lines on a 24-row terminal: 23 rows of text and the status line.
        let mut p = Pager::new(numbered(50), 80, 24);
        let (rows, status) = p.frame("verified: 5 records");
        assert_eq!(rows.len(), 23);
        assert_eq!(rows[0], "line 1");
        assert!(
            status.starts_with("verified: 5 records | lines 1-23 of 50 (46%)"),
            "{status}"
        );
        p.handle(Key::PageDown);
        assert_eq!(p.frame("v").0[0], "line 24");
        p.handle(Key::PageDown);
        assert_eq!(p.top(), 27, "the last page is full");
        assert!(p.frame("v").1.contains("lines 28-50 of 50 (end)"));
        p.handle(Key::PageDown);
        assert_eq!(p.top(), 27);
        p.handle(Key::PageUp);
        assert_eq!(p.top(), 4);
        p.handle(Key::Top);
        assert_eq!(p.top(), 0);
        p.handle(Key::PageUp);
        assert_eq!(p.top(), 0);
        p.handle(Key::Bottom);
        assert_eq!(p.top(), 27);
        p.handle(Key::LineUp);
        assert_eq!(p.top(), 26);
    }

    #[test]
    fn help_shows_over_the_page_and_any_key_closes_it_and_q_quits() {
        let mut p = Pager::new(numbered(50), 80, 24);
        p.handle(Key::PageDown);
        assert_eq!(p.handle(Key::Help), Action::Redraw);
        let (rows, status) = p.frame("v");
        assert_eq!(rows[0], HELP[0]);
        assert!(status.contains("help: any key to go back"));
        p.handle(Key::PageDown);
        assert!(!p.showing_help());
        assert_eq!(p.top(), 23, "closing help does not move the page");
        assert_eq!(p.handle(Key::Quit), Action::Quit);
    }

    #[test]
    fn the_status_line_and_rows_fit_the_width() {
        let p = Pager::new("x".repeat(200), 20, 5);
        let (rows, status) = p.frame("verified: 5 records signed by the trusted log key");
        assert!(rows.iter().all(|r| r.chars().count() <= 20));
        assert_eq!(status.chars().count(), 20);
    }
}
