//! Editing a typed field at a cursor: the keys a custodian uses to correct a share or a
//! fingerprint in place (Left/Right, Home/End, Backspace and Delete at the cursor, Ctrl-U, Ctrl-W).
//!
//! The field's `String` is edited in place: an insertion shifts the bytes after the cursor within
//! the buffer's own allocation (the caller checks the room first; see [`Edit::fits`]), and a
//! deletion shifts them back and then overwrites the bytes it vacated at the end with zeros. A
//! share's buffer, allocated once at its full size, therefore never moves and never keeps a stale
//! copy of what was deleted in its spare room.

/// A key that edits a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Left,
    Right,
    Home,
    End,
    /// Backspace: the character before the cursor.
    Backspace,
    /// Delete: the character at the cursor.
    Delete,
    /// Ctrl-U: everything before the cursor.
    ClearToStart,
    /// Ctrl-W: the group (or word) before the cursor, with the separators just before the cursor.
    DeleteGroup,
}

/// Whether `c` separates the groups of a share (a dash or a space) or of a fingerprint (a
/// space, a dash or a colon), or the words of a name.
pub fn is_separator(c: char) -> bool {
    c == '-' || c == ':' || c.is_whitespace()
}

/// A cursor in a field, counted in characters from the field's end: 0 (the default) is after
/// the last character, so a field that is typed into, emptied or replaced keeps a valid cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    from_end: usize,
}

impl Cursor {
    /// The cursor's position from the field's start, in characters.
    pub fn at(self, field: &str) -> usize {
        field.chars().count().saturating_sub(self.from_end)
    }

    /// The byte offset of the cursor in `field`.
    fn byte(self, field: &str) -> usize {
        byte_of(field, self.at(field))
    }

    /// Puts `c` at the cursor (the cursor stays after it). The caller made sure it fits.
    pub fn insert(self, field: &mut String, c: char) {
        let at = self.byte(field);
        field.insert(at, c);
    }

    /// Applies an editing key to `field`; returns the cursor after it.
    pub fn edit(mut self, field: &mut String, key: Edit) -> Cursor {
        let len = field.chars().count();
        self.from_end = self.from_end.min(len);
        let at = len - self.from_end;
        match key {
            Edit::Left => self.from_end = (self.from_end + 1).min(len),
            Edit::Right => self.from_end = self.from_end.saturating_sub(1),
            Edit::Home => self.from_end = len,
            Edit::End => self.from_end = 0,
            Edit::Backspace if at > 0 => remove(field, at - 1, at),
            Edit::Delete if self.from_end > 0 => {
                remove(field, at, at + 1);
                self.from_end -= 1;
            }
            Edit::ClearToStart => remove(field, 0, at),
            Edit::DeleteGroup => {
                let before: Vec<char> = field.chars().take(at).collect();
                let mut from = at;
                while from > 0 && is_separator(before[from - 1]) {
                    from -= 1;
                }
                while from > 0 && !is_separator(before[from - 1]) {
                    from -= 1;
                }
                remove(field, from, at);
            }
            Edit::Backspace | Edit::Delete => {}
        }
        self
    }
}

/// The byte offset of character `n` of `s` (its length past the end).
fn byte_of(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

/// Removes characters `from..to` of `field` in place, and zeros the bytes this left behind past
/// the field's new end (still within its allocation): nothing deleted stays in memory.
fn remove(field: &mut String, from: usize, to: usize) {
    if from >= to {
        return;
    }
    let (a, b) = (byte_of(field, from), byte_of(field, to));
    let len = field.len() - (b - a);
    field.replace_range(a..b, "");
    // The bytes moved down leave their old last `b - a` positions holding a copy: overwrite them.
    // The room is there (the field was that long a moment ago), so this never reallocates.
    field.extend(std::iter::repeat_n('\0', b - a));
    field.truncate(len);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A field typed in full, then the keys, as the model applies them.
    fn edited(typed: &str, keys: &[Edit]) -> (String, usize) {
        let mut s = String::with_capacity(64);
        let mut c = Cursor::default();
        for ch in typed.chars() {
            c.insert(&mut s, ch);
        }
        for k in keys {
            c = c.edit(&mut s, *k);
        }
        let at = c.at(&s);
        (s, at)
    }

    #[test]
    fn each_key_table() {
        use Edit::*;
        let cases: &[(&str, &[Edit], &str, usize)] = &[
            ("abc", &[], "abc", 3),
            ("abc", &[Left], "abc", 2),
            ("abc", &[Left, Left, Left, Left], "abc", 0),
            ("abc", &[Home, Right], "abc", 1),
            ("abc", &[Home, End], "abc", 3),
            ("abc", &[Right], "abc", 3),
            ("abc", &[Backspace], "ab", 2),
            ("abc", &[Left, Backspace], "ac", 1),
            ("abc", &[Home, Backspace], "abc", 0),
            ("abc", &[Delete], "abc", 3),
            ("abc", &[Home, Delete], "bc", 0),
            ("abc", &[Left, Delete], "ab", 2),
            ("abcdef", &[Left, Left, ClearToStart], "ef", 0),
            ("abc", &[Home, ClearToStart], "abc", 0),
            ("KR1-01-AAAAA-BBBBB", &[DeleteGroup], "KR1-01-AAAAA-", 13),
            ("KR1-01-AAAAA-", &[DeleteGroup], "KR1-01-", 7),
            ("AAAAA BBBBB  ", &[DeleteGroup], "AAAAA ", 6),
            // In the middle: the group before the cursor goes, what follows stays.
            (
                "KR1-01-AAAAA-XXXXX-CCCCC",
                &[Left, Left, Left, Left, Left, Left, DeleteGroup],
                "KR1-01-AAAAA--CCCCC",
                13,
            ),
            ("ééé", &[Left, Backspace], "éé", 1),
            (
                "",
                &[Backspace, Delete, DeleteGroup, ClearToStart, Left],
                "",
                0,
            ),
        ];
        for (typed, keys, want, at) in cases {
            assert_eq!(
                edited(typed, keys),
                (want.to_string(), *at),
                "{typed:?} {keys:?}"
            );
        }
    }

    #[test]
    fn typing_in_the_middle_inserts_at_the_cursor() {
        let mut s = String::with_capacity(16);
        let mut c = Cursor::default();
        for ch in "ac".chars() {
            c.insert(&mut s, ch);
        }
        c = c.edit(&mut s, Edit::Left);
        c.insert(&mut s, 'b');
        assert_eq!((s.as_str(), c.at(&s)), ("abc", 2));
    }

    #[test]
    fn edits_never_move_the_buffer_and_deleted_bytes_are_zeroed_in_place() {
        let mut s = String::with_capacity(32);
        let (ptr, cap) = (s.as_ptr(), s.capacity());
        let mut c = Cursor::default();
        for ch in "KR1-01-AAAAA-XXXXX-CCCCC".chars() {
            c.insert(&mut s, ch);
        }
        let full = s.len();
        for k in [Edit::Left; 6] {
            c = c.edit(&mut s, k);
        }
        c = c.edit(&mut s, Edit::DeleteGroup);
        for ch in "BBBBB".chars() {
            c.insert(&mut s, ch);
        }
        c = c.edit(&mut s, Edit::Home);
        c = c.edit(&mut s, Edit::Delete);
        c = c.edit(&mut s, Edit::End);
        let _ = c.edit(&mut s, Edit::ClearToStart);
        assert_eq!(s, "");
        assert_eq!((s.as_ptr(), s.capacity()), (ptr, cap), "the buffer moved");
        // SAFETY: the first `full` bytes of the allocation were written (the field was that long)
        // and the allocation is live; reading them shows what the spare room still holds.
        let room = unsafe { std::slice::from_raw_parts(s.as_ptr(), full) };
        assert!(room.iter().all(|b| *b == 0), "left behind: {room:?}");
    }
}
