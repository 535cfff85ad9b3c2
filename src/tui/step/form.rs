//! What every step file builds on: the [`Step`] it defines, and the keys of a step with fields.

use crate::core::custody::shares::looks_like_share;
use crate::core::person::LOOKED_LIKE_SHARE;
use crate::tui::edit::Cursor;
use crate::tui::model::{Focus, Model, Msg, SHARE_CAPACITY, Screen};

/// One step's screen: its title ("step N of M — what"), its next action, its footer, and its
/// handler of the keys the main loop does not handle for every step (help, Back, leave, scroll).
pub struct Step {
    pub what: fn(&Model) -> String,
    pub next_action: fn(&Model) -> String,
    pub footer: fn(&Model) -> &'static str,
    pub handle: fn(Model, Msg) -> Model,
}

/// The keys of a step with fields (who is present, the fingerprint, the custodians): typing and
/// editing at the cursor, Tab to the other field where there is one, and `enter` on Enter.
pub(super) fn form(mut m: Model, msg: Msg, enter: fn(Model) -> Model) -> Model {
    match msg {
        Msg::Char(c) => typed(m, c),
        Msg::Edit(key) => {
            let cursor = m.cursor;
            if let Some(f) = m.field() {
                m.cursor = cursor.edit(f, key);
            }
            if m.screen == Screen::Fingerprint {
                m.fingerprint_ok = false;
            }
            m
        }
        Msg::Tab if m.screen != Screen::Fingerprint => {
            let mut focus = match m.focus {
                Focus::First => Focus::Second,
                Focus::Second => Focus::First,
            };
            if m.screen == Screen::Custodians && !m.info.shares() {
                focus = Focus::First;
            }
            m.set_focus(focus);
            m
        }
        Msg::Enter => enter(m),
        _ => m,
    }
}

/// A character typed into the focused field, at its cursor.
fn typed(mut m: Model, c: char) -> Model {
    // The share buffer is sized once and never grows: a reallocation would leave a copy of the
    // typed share behind in freed memory.
    let is_share = (m.screen, m.focus) == (Screen::Custodians, Focus::Second);
    if is_share && m.share.len() + c.len_utf8() > SHARE_CAPACITY {
        return m.refuse(format!(
            "a share is at most {SHARE_CAPACITY} characters: check what was typed"
        ));
    }
    if m.screen == Screen::Fingerprint {
        m.fingerprint_ok = false;
    }
    let name_field = matches!(
        (m.screen, m.focus),
        (Screen::People, _) | (Screen::Custodians, Focus::First)
    );
    let cursor = m.cursor;
    if let Some(f) = m.field() {
        // At the cursor, in place: the share's buffer has the room (checked above).
        cursor.insert(f, c);
    }
    if name_field && m.field().is_some_and(|f| looks_like_share(f)) {
        // Refused unseen: the field is wiped and emptied before the next frame, and what follows
        // is dropped until Enter.
        if let Some(f) = m.field() {
            zeroize::Zeroize::zeroize(f);
        }
        m.cursor = Cursor::default();
        m.swallowing = true;
        return m.refuse(LOOKED_LIKE_SHARE);
    }
    m
}
