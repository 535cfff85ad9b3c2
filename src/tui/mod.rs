//! The ceremony's terminal UI: Model / Msg / update (model.rs), view (view.rs), and here the
//! main loop, generic over the terminal backend and over where the messages come from. The
//! answers it collects are handed to the same ceremony code a headless run uses.

pub mod enrol;
pub mod model;
pub mod plain;
pub mod view;

use std::io::IsTerminal;

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::app::ceremony::CeremonyReport;
use crate::app::error::{Error, Result};
use crate::core::script::Answers;
pub use model::{Info, KeyRow, Model, Msg, Outcome, ResultView, update};

/// The result screen's rows of a ceremony report.
pub fn result_view(r: &CeremonyReport) -> ResultView {
    ResultView {
        probe: r
            .probe
            .as_ref()
            .map(|p| format!("on token {:?}: {}", p.token, p.result))
            .unwrap_or_default(),
        wrap_with_trusted: r
            .probe
            .as_ref()
            .map(|p| p.wrap_with_trusted.to_string())
            .unwrap_or_default(),
        fingerprint: r.prepared_fingerprint.clone(),
        keys: r
            .keys
            .iter()
            .map(|k| KeyRow {
                name: k.name.clone(),
                check_value: k.check_value.to_string(),
                label: k.hsm_label.clone(),
                sha256: k.encrypted_key_material_sha256.clone(),
            })
            .collect(),
    }
}

/// A key as the screens see it: Ctrl-C, or a key pressed.
pub enum Key {
    Interrupt,
    Pressed(KeyCode),
}

/// The key of a key press; other events (resizes, releases, other Ctrl chords) are none.
pub fn key(ev: &Event) -> Option<Key> {
    let Event::Key(k) = ev else { return None };
    if k.kind != KeyEventKind::Press {
        return None;
    }
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(k.code, KeyCode::Char('c' | 'C')).then_some(Key::Interrupt);
    }
    Some(Key::Pressed(k.code))
}

/// A key press as a message; other events (resizes, releases) are none.
pub fn message(ev: &Event) -> Option<Msg> {
    Some(match key(ev)? {
        Key::Interrupt => Msg::Interrupt,
        Key::Pressed(KeyCode::Char(c)) => Msg::Char(c),
        Key::Pressed(KeyCode::Backspace) => Msg::Backspace,
        Key::Pressed(KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down) => Msg::Tab,
        Key::Pressed(KeyCode::Enter) => Msg::Enter,
        Key::Pressed(KeyCode::Esc) => Msg::Esc,
        Key::Pressed(_) => return None,
    })
}

fn terminal_error(e: impl std::fmt::Display) -> Error {
    Error::Terminal {
        detail: e.to_string(),
    }
}

/// Draws, reads a message, updates, until the operators leave. `perform` is called once, with
/// the answers, when they confirm; what it returns is shown until a key is pressed.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    mut model: Model,
    mut next: impl FnMut() -> Result<Option<Msg>>,
    perform: impl FnOnce(Answers) -> Result<CeremonyReport>,
) -> Result<CeremonyReport> {
    let mut perform = Some(perform);
    let mut report = None;
    loop {
        terminal
            .draw(|f| view::view(&model, f))
            .map_err(terminal_error)?;
        match model.outcome {
            Outcome::Quit => {
                return Err(Error::LeftBeforeConfirmed);
            }
            Outcome::Done => {
                if let Some(r) = report {
                    return Ok(r);
                }
            }
            Outcome::Run => {
                let answers = model.take_answers();
                if let Some(perform) = perform.take() {
                    let r = perform(answers)?;
                    model = update(model, Msg::Finished(result_view(&r)));
                    report = Some(r);
                }
                continue;
            }
            Outcome::Continue => {}
        }
        if let Some(msg) = next()? {
            model = update(model, msg);
        }
    }
}

/// The ceremony at this terminal. Refused (before anything is touched) without one.
pub fn run(
    info: Info,
    perform: impl FnOnce(Answers) -> Result<CeremonyReport>,
) -> Result<CeremonyReport> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Error::NoTerminal);
    }
    // Also installs a panic hook that restores the terminal.
    let mut terminal = ratatui::try_init().map_err(terminal_error)?;
    let result = run_loop(
        &mut terminal,
        Model::new(info),
        || {
            let ev = event::read().map_err(terminal_error)?;
            Ok(message(&ev))
        },
        perform,
    );
    ratatui::restore();
    result
}

#[cfg(test)]
mod tests;
