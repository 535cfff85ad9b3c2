//! Each step of the ceremony's app in one place, as gitui's components are: its title, its next
//! action, the footer of the keys that work there, and what its keys do. The main loop, the help,
//! the leave box and the countdown (model.rs, view.rs) are around every step; the step's body is
//! drawn by view.rs. The order of the steps is the ceremony's questions'
//! ([`crate::core::ceremony::questions`]). [`update`] handles what is common to every step, then
//! hands the key to the step's own handler.

pub mod confirm;
mod custodians;
mod fingerprint;
mod form;
mod keys;
mod people;
mod result;
mod resume;
mod running;

pub use form::Step;

use crate::app::ceremony::progress::Progress;
use crate::core::person::LOOKED_LIKE_SHARE;
use crate::tui::model::{Model, Msg, Outcome, Screen};

/// The step of a screen.
pub fn of(screen: Screen) -> Step {
    match screen {
        Screen::Resume => resume::STEP,
        Screen::People => people::STEP,
        Screen::Keys => keys::STEP,
        Screen::Fingerprint => fingerprint::STEP,
        Screen::Custodians => custodians::STEP,
        Screen::Confirm => confirm::STEP,
        Screen::Running => running::STEP,
        Screen::Result => result::RESULT,
        Screen::Failed => result::FAILED,
    }
}

/// The next state. Pure: the same model and message always give the same model.
pub fn update(mut m: Model, msg: Msg) -> Model {
    // What the clock and the HSM report is not a key: it leaves the notice and the prompts alone.
    match msg {
        Msg::Tick(now) => {
            m.now = now;
            return m;
        }
        Msg::Size(w, h) => {
            m.size = (w, h);
            m.mark_seen();
            return m;
        }
        Msg::Progress(p) => return progress(m, p),
        Msg::Finished(view) => {
            if m.screen == Screen::Running {
                m.result = Some(view);
                m.outcome = Outcome::Continue;
                return m.go(Screen::Result);
            }
            return m;
        }
        Msg::Failed(why) => {
            if m.screen == Screen::Running {
                m.failure = Some(why);
                m.outcome = Outcome::Continue;
                return m.go(Screen::Failed);
            }
            return m;
        }
        _ => {}
    }
    m.notice = None;
    // Up and Down move between a form's fields, and scroll a list.
    let msg = match msg {
        Msg::ScrollUp | Msg::ScrollDown if m.text_focus() => Msg::Tab,
        other => other,
    };
    let before_confirmation = matches!(
        m.screen,
        Screen::Resume
            | Screen::People
            | Screen::Keys
            | Screen::Fingerprint
            | Screen::Custodians
            | Screen::Confirm
    );
    // While the HSM works, keys do nothing.
    if m.screen == Screen::Running {
        return m;
    }
    if m.help {
        m.help = false;
        return m;
    }
    if m.leaving {
        // Its own box, its own key: `l` (or Ctrl-C again) leaves; `y` is not an answer here.
        m.leaving = false;
        if matches!(msg, Msg::Char('l' | 'L') | Msg::Interrupt) {
            m.clear_share();
            m.outcome = Outcome::Quit;
        }
        return m;
    }
    if m.swallowing {
        // What follows a share typed into a name field is dropped unseen, until the person stops.
        match msg {
            Msg::Enter | Msg::Tab | Msg::Esc | Msg::Back => {
                m.swallowing = false;
                return m;
            }
            Msg::Interrupt => m.swallowing = false,
            _ => {
                m.notice = Some(LOOKED_LIKE_SHARE.into());
                return m;
            }
        }
    }
    match msg {
        // Nothing typed: nothing to lose, Ctrl-C leaves at once. Else it asks, like Esc.
        Msg::Interrupt if before_confirmation && !m.typed_anything() => {
            m.clear_share();
            m.outcome = Outcome::Quit;
            return m;
        }
        Msg::Interrupt | Msg::Esc if before_confirmation => {
            m.leaving = true;
            return m;
        }
        Msg::Help => {
            m.help = true;
            return m;
        }
        Msg::Char('?') if !m.text_focus() => {
            m.help = true;
            return m;
        }
        Msg::Back => {
            if let Some(prev) = m.previous() {
                return m.go(prev);
            }
            return m;
        }
        Msg::ScrollDown => {
            let last = m.list_len().saturating_sub(1);
            m.scroll = (m.scroll + 1).min(last);
            m.mark_seen();
            return m;
        }
        Msg::ScrollUp => {
            m.scroll = m.scroll.saturating_sub(1);
            return m;
        }
        _ => {}
    }
    (super::step::of(m.screen).handle)(m, msg)
}

fn progress(mut m: Model, p: Progress) -> Model {
    match p {
        Progress::QuorumMet {
            names,
            custodians_total,
            mode,
        } => {
            m.quorum_line = Some(format!(
                "quorum met: {} of {custodians_total} ({mode}); the HSM is open",
                names.join(", ")
            ));
        }
        Progress::Probed { result } => m.probe_line = Some(format!("capability probe: {result}")),
        Progress::Key { index, step, .. } => {
            if let Some(k) = m.progress.get_mut(index) {
                k.step = Some(step);
            }
            // Keep the key at work in view.
            m.scroll = index.saturating_sub(2);
        }
        Progress::Finished { .. } => {}
    }
    m
}
