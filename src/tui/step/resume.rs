//! An interrupted ceremony: finish or abort it (each only chosen here; nothing happens before
//! `y` at the confirmation).

use super::form::Step;
use crate::core::ceremony::ResumeChoice;
use crate::tui::model::{Model, Msg};

pub const STEP: Step = Step {
    what: |_| "an interrupted ceremony".into(),
    next_action,
    footer: |_| "f: finish · a: abort · F1/?: help · Esc/Ctrl-C: leave",
    handle,
};

fn next_action(m: &Model) -> String {
    match m
        .info
        .interrupted
        .as_ref()
        .and_then(|i| i.cannot_finish.as_ref())
    {
        Some(_) => "a to abort the interrupted ceremony (it cannot be finished now)".into(),
        None => "f to finish the interrupted ceremony, or a to abort it".into(),
    }
}

/// `f` finishes it, `a` aborts it.
fn handle(mut m: Model, msg: Msg) -> Model {
    let cannot_finish = m
        .info
        .interrupted
        .as_ref()
        .and_then(|i| i.cannot_finish.clone());
    match msg {
        Msg::Char('f' | 'F') => match cannot_finish {
            Some(why) => m.refuse(format!("it cannot be finished now: {why}; a aborts it")),
            None => {
                m.resume = Some(ResumeChoice::Finish);
                let next = m.next_question();
                m.go(next)
            }
        },
        Msg::Char('a' | 'A') => {
            m.resume = Some(ResumeChoice::Abort);
            let next = m.next_question();
            m.go(next)
        }
        _ => m.refuse("f finishes the interrupted ceremony, a aborts it; Esc leaves"),
    }
}
