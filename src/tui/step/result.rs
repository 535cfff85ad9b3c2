//! The result (or the error that stopped the ceremony after the confirmation), until Enter or q.

use super::form::Step;
use crate::tui::model::{Model, Msg, Outcome};

pub const RESULT: Step = Step {
    what: |m| {
        if aborted(m) {
            "ceremony aborted".into()
        } else {
            "ceremony complete".into()
        }
    },
    next_action: |m| {
        if aborted(m) {
            "note the destroyed keys in the paper log, then Enter or q to leave".into()
        } else {
            "copy the report to the paper log, then run the import command above".into()
        }
    },
    footer: |_| "↑/↓: scroll · Enter or q: leave (the report is printed again) · F1/?: help",
    handle: leave,
};

pub const FAILED: Step = Step {
    what: |_| "the ceremony stopped".into(),
    next_action: |_| "read what to do, then Enter to leave".into(),
    footer: |_| "Enter or q: leave · F1/?: help",
    handle: leave,
};

fn aborted(m: &Model) -> bool {
    m.result.as_ref().is_some_and(|r| r.aborted.is_some())
}

fn leave(mut m: Model, msg: Msg) -> Model {
    if matches!(msg, Msg::Enter | Msg::Char('q' | 'Q')) {
        m.outcome = Outcome::Done;
    }
    m
}
