//! With a roster: each custodian's name, then (shamir) their share, checked on Enter.

use super::form::{Step, form};
use crate::core::script::{CustodianAnswer, TypedShare};
use crate::core::terminal::one_line;
use crate::tui::model::{Focus, Model, Msg};

pub const STEP: Step = Step {
    what: |m| {
        format!(
            "custodians ({} of {})",
            m.custodians.len(),
            m.info.quorum().unwrap_or(0)
        )
    },
    next_action,
    footer: |_| "Enter: check / next · Tab: other field · Shift-Tab: back · Esc/Ctrl-C: leave",
    handle: |m, msg: Msg| form(m, msg, enter),
};

fn next_action(m: &Model) -> String {
    match m.focus {
        Focus::First if m.custodians.len() >= usize::from(m.info.quorum().unwrap_or(0)) => {
            "another custodian may type their name; Enter on an empty name goes on".into()
        }
        Focus::First => "the next custodian types their name, then Enter".into(),
        Focus::Second => format!(
            "{} types their share (shown as dots), then Enter",
            one_line(m.custodian_name.trim())
        ),
    }
}

fn enter(mut m: Model) -> Model {
    let name = m.custodian_name.trim().to_string();
    let position = m.custodians.len() + 1;
    let Some(roster) = &m.info.roster else {
        return m;
    };
    if m.focus == Focus::First {
        if name.is_empty() {
            let need = m.custodians_needed();
            if m.custodians.len() < need {
                let more = need - m.custodians.len();
                let who = if more == 1 { "custodian" } else { "custodians" };
                return m.refuse(format!("{more} more {who} needed"));
            }
            let next = m.next_question();
            return m.go(next);
        }
        let earlier: Vec<&str> = m.custodians.iter().map(|c| c.name.as_str()).collect();
        let enrolled = match roster.check_name(&name, &earlier, position) {
            Ok(entry) => entry.name.clone(),
            Err(e) => {
                let why = e.to_string();
                return m.refuse(why);
            }
        };
        // The name as enrolled, however it was typed.
        m.custodian_name = enrolled.clone();
        let name = enrolled;
        if !m.info.shares() {
            m.custodians.push(CustodianAnswer { name, share: None });
            m.custodian_name.clear();
            return m;
        }
        m.set_focus(Focus::Second);
        return m;
    }
    if let Err(e) = roster.check_share(&name, m.share.trim(), position) {
        // The error names the mistyped group or the wrong owner; it never holds the share. The
        // entry stays as typed, to be corrected.
        let why = e.to_string().lines().next().unwrap_or_default().to_string();
        return m.refuse(why);
    }
    let share = TypedShare::from_str_zeroizing(m.share.trim());
    m.clear_share();
    m.custodians.push(CustodianAnswer {
        name,
        share: Some(share),
    });
    m.custodian_name.clear();
    m.set_focus(Focus::First);
    m
}
