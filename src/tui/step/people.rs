//! Who is present: the operator, then the witness, checked against the script.

use super::form::{Step, form};
use crate::tui::model::{Focus, Model, Msg};

pub const STEP: Step = Step {
    what: |_| "who is present".into(),
    next_action: |m| match m.focus {
        Focus::First => "the operator types their name, then Enter".into(),
        Focus::Second => "the witness types their name, then Enter".into(),
    },
    footer: |_| "Enter: next · Tab: other field · Shift-Tab: back · F1: help · Esc/Ctrl-C: leave",
    handle: |m, msg: Msg| form(m, msg, enter),
};

/// What is wrong with the names typed (None: the script's rules are met).
pub fn problem(m: &Model) -> Option<String> {
    if m.operator.trim().is_empty() {
        return Some("type the operator's name".into());
    }
    m.info
        .script
        .check_people(m.operator.trim(), Some(m.witness.trim()))
        .err()
        .map(|e| e.to_string())
}

fn enter(mut m: Model) -> Model {
    if m.operator.trim().is_empty() {
        m.set_focus(Focus::First);
        return m.refuse("type the operator's name");
    }
    if m.focus == Focus::First {
        m.set_focus(Focus::Second);
        return m;
    }
    if let Some(problem) = problem(&m) {
        return m.refuse(problem);
    }
    let next = m.next_question();
    m.go(next)
}
