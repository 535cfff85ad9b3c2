//! The key review: every key shown before it can be approved.

use super::form::Step;
use crate::core::terminal::counted;
use crate::tui::model::{Model, Msg};

pub const STEP: Step = Step {
    what: |m| format!("check the {}", counted(m.info.keys.len(), "key")),
    next_action: |_| "the witness checks each key's account, region, alias; then Enter".into(),
    footer,
    handle,
};

fn footer(m: &Model) -> &'static str {
    if m.keys_seen < m.info.keys.len() {
        "Enter: next keys · ↑/↓: select · Shift-Tab: back · F1: help · Esc/Ctrl-C: leave"
    } else {
        "Enter: the keys are right · ↑/↓: select · Shift-Tab: back · Esc/Ctrl-C: leave"
    }
}

fn handle(mut m: Model, msg: Msg) -> Model {
    match msg {
        Msg::Enter if m.keys_seen < m.info.keys.len() => {
            // Not approved unseen: Enter shows the next keys first.
            let from = m.keys_seen;
            m.scroll = (from + m.keys_per_page() - 1).min(m.info.keys.len() - 1);
            m.mark_seen();
            let (to, total) = (m.keys_seen, m.info.keys.len());
            m.refuse(format!(
                "keys {}–{to} of {total} are shown now: check them too, then Enter",
                from + 1
            ))
        }
        Msg::Enter => {
            let next = m.next_question();
            m.go(next)
        }
        _ => m,
    }
}
