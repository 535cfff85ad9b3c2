//! The bundle fingerprint, typed as it is read out; checked on Enter, never shown first.

use super::form::{Step, form};
use crate::core::ceremony::questions;
use crate::tui::model::{Model, Msg};

pub const STEP: Step = Step {
    what: |_| "the bundle fingerprint".into(),
    next_action: |_| "type the fingerprint as it is read out, then Enter".into(),
    footer: |_| "Enter: check · Shift-Tab: back · F1: help · Esc/Ctrl-C: leave",
    handle: |m, msg: Msg| form(m, msg, enter),
};

/// What is wrong with the fingerprint typed (None: it is the bundle's).
pub fn problem(m: &Model) -> Option<String> {
    questions::fingerprint_problem(&m.info.bundle_fingerprint, &m.fingerprint)
}

fn enter(mut m: Model) -> Model {
    if let Some(problem) = problem(&m) {
        return m.refuse(problem);
    }
    m.fingerprint_ok = true;
    let next = m.next_question();
    m.go(next)
}
