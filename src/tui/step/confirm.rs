//! The confirmation: only `y` confirms the action named in the box; `n` opens the leave box.

use super::form::Step;
use super::{fingerprint, people};
use crate::core::ceremony::ResumeChoice;
use crate::core::terminal::counted;
use crate::tui::model::{Model, Msg, Outcome, Screen};

pub const STEP: Step = Step {
    what: |_| "confirm".into(),
    next_action,
    footer: |m| match m.resume {
        Some(ResumeChoice::Abort) => {
            "y: abort now · Shift-Tab: back · F1/?: help · Esc/n/Ctrl-C: leave"
        }
        Some(ResumeChoice::Finish) => {
            "y: finish now · Shift-Tab: back · F1/?: help · Esc/n/Ctrl-C: leave"
        }
        None => "y: generate now · Shift-Tab: back · F1/?: help · Esc/n/Ctrl-C: leave",
    },
    handle,
};

fn next_action(m: &Model) -> String {
    match m.resume {
        Some(ResumeChoice::Abort) => format!(
            "press y to destroy {} and close the log",
            counted(to_destroy(m), "generated key")
        ),
        Some(ResumeChoice::Finish) => format!(
            "press y to generate and wrap the {} left and close the log",
            counted(to_finish(m), "key")
        ),
        None => format!(
            "press y to generate and wrap {} in the HSM",
            counted(m.info.keys.len(), "key")
        ),
    }
}

fn handle(mut m: Model, msg: Msg) -> Model {
    match msg {
        Msg::Char('y' | 'Y') => confirm(m),
        Msg::Char('n' | 'N') => {
            m.leaving = true;
            m
        }
        _ => {
            let what = match m.resume {
                Some(ResumeChoice::Abort) => "only y aborts",
                Some(ResumeChoice::Finish) => "only y finishes",
                None => "only y generates the keys",
            };
            m.refuse(format!("{what}; Shift-Tab goes back, Esc leaves"))
        }
    }
}

/// `y`: every check again (an entry may have been changed after Back), then the ceremony.
fn confirm(m: Model) -> Model {
    if let Some(why) = m.cannot_finish() {
        return m.refuse(why);
    }
    if let Some(problem) = people::problem(&m) {
        return m.go(Screen::People).refuse(problem);
    }
    if !m.fingerprint_ok || fingerprint::problem(&m).is_some() {
        return m
            .go(Screen::Fingerprint)
            .refuse("the fingerprint is not checked: type it again and press Enter");
    }
    if m.custodians.len() < m.custodians_needed() {
        return m
            .go(Screen::Custodians)
            .refuse("more custodians are needed");
    }
    let mut m = m.go(Screen::Running);
    m.outcome = Outcome::Run;
    m
}

/// Keys generated under the interrupted ceremony and never written: what an abort destroys.
pub fn to_destroy(m: &Model) -> usize {
    m.info
        .interrupted
        .as_ref()
        .map_or(0, |i| i.keys_generated.saturating_sub(i.keys_wrapped))
}

/// Keys not yet wrapped: what a finish generates (or wraps) and wraps.
pub fn to_finish(m: &Model) -> usize {
    let wrapped = m.info.interrupted.as_ref().map_or(0, |i| i.keys_wrapped);
    m.info.keys.len().saturating_sub(wrapped)
}
