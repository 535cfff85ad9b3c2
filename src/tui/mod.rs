//! The ceremony's terminal UI: Model / Msg / update (model.rs), view (view.rs), and here the
//! main loop, generic over the terminal backend, over where the keys come from and over the
//! clock. The answers it collects are handed to the same ceremony code a headless run uses; the
//! HSM work runs on a worker thread whose progress comes back through a channel, so nothing is
//! written to the terminal behind the UI.

pub mod edit;
pub mod enrol;
pub mod model;
pub mod palette;
pub mod plain;
pub mod readout;
pub mod view;

use std::io::IsTerminal;
use std::sync::mpsc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::app::ceremony::CeremonyReport;
use crate::app::ceremony::progress::{Progress, ProgressSink};
use crate::app::error::{Error, Result};
use crate::core::script::Answers;
use edit::Edit;
pub use model::{Info, KeyInfo, KeyRow, Model, Msg, Outcome, ResultView, update};

/// The result screen's rows of a ceremony report.
pub fn result_view(r: &CeremonyReport) -> ResultView {
    ResultView {
        aborted: r.aborted.clone(),
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

/// A key as the screens see it: Ctrl-C, an editing chord (Ctrl-U, Ctrl-W), or a key pressed.
pub enum Key {
    Interrupt,
    /// Ctrl and a letter that edits a field: `u` or `w`.
    Ctrl(char),
    Pressed(KeyCode),
}

/// The key of a key press; other events (resizes, releases, other Ctrl chords) are none.
pub fn key(ev: &Event) -> Option<Key> {
    let Event::Key(k) = ev else { return None };
    if k.kind != KeyEventKind::Press {
        return None;
    }
    if k.modifiers.contains(KeyModifiers::CONTROL) {
        return match k.code {
            KeyCode::Char('c' | 'C') => Some(Key::Interrupt),
            KeyCode::Char(c @ ('u' | 'w')) => Some(Key::Ctrl(c)),
            KeyCode::Char('U') => Some(Key::Ctrl('u')),
            KeyCode::Char('W') => Some(Key::Ctrl('w')),
            _ => None,
        };
    }
    Some(Key::Pressed(k.code))
}

/// A key press as a message; other events (resizes, releases) are none. Up and Down both
/// move between a form's fields and scroll a list: the model knows which the screen has.
pub fn message(ev: &Event) -> Option<Msg> {
    Some(match key(ev)? {
        Key::Interrupt => Msg::Interrupt,
        Key::Pressed(KeyCode::Char(c)) => Msg::Char(c),
        Key::Ctrl('u') => Msg::Edit(Edit::ClearToStart),
        Key::Ctrl(_) => Msg::Edit(Edit::DeleteGroup),
        Key::Pressed(KeyCode::Backspace) => Msg::Edit(Edit::Backspace),
        Key::Pressed(KeyCode::Delete) => Msg::Edit(Edit::Delete),
        Key::Pressed(KeyCode::Left) => Msg::Edit(Edit::Left),
        Key::Pressed(KeyCode::Right) => Msg::Edit(Edit::Right),
        Key::Pressed(KeyCode::Home) => Msg::Edit(Edit::Home),
        Key::Pressed(KeyCode::End) => Msg::Edit(Edit::End),
        Key::Pressed(KeyCode::Tab) => Msg::Tab,
        Key::Pressed(KeyCode::BackTab) => Msg::Back,
        Key::Pressed(KeyCode::Up | KeyCode::PageUp) => Msg::ScrollUp,
        Key::Pressed(KeyCode::Down | KeyCode::PageDown) => Msg::ScrollDown,
        Key::Pressed(KeyCode::Enter) => Msg::Enter,
        Key::Pressed(KeyCode::Esc) => Msg::Esc,
        Key::Pressed(KeyCode::F(1)) => Msg::Help,
        Key::Pressed(_) => return None,
    })
}

fn terminal_error(e: impl std::fmt::Display) -> Error {
    Error::Terminal {
        detail: e.to_string(),
    }
}

/// Where the UI's messages come from: the people's keys, and the clock.
pub trait Input {
    /// The next key, waiting at most `within` (None: nothing came, or not a key).
    fn next(&mut self, within: Duration) -> Result<Option<Msg>>;
    /// Discards every key typed ahead.
    fn drain(&mut self) -> Result<()>;
    /// The time now.
    fn now(&mut self) -> jiff::Timestamp;
}

/// What the worker thread sends back.
enum Work {
    Progress(Progress),
    Done(Box<Result<CeremonyReport>>),
}

/// Draws, reads a message, updates, until the operators leave. `perform` is called once, on a
/// worker thread, with the answers and a progress sink, when they confirm; its progress is shown
/// as it comes, and its report (or its error, with what to do) until Enter is pressed. Keys typed
/// ahead are discarded at every gate, and every key pressed while the HSM works.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    mut model: Model,
    input: &mut impl Input,
    perform: impl FnOnce(Answers, ProgressSink<'_>) -> Result<CeremonyReport> + Send,
) -> Result<CeremonyReport> {
    let (tx, rx) = mpsc::channel::<Work>();
    let mut perform = Some(perform);
    let mut outcome: Option<Result<CeremonyReport>> = None;
    std::thread::scope(|scope| {
        loop {
            model = update(model, Msg::Tick(input.now()));
            if let Ok(size) = terminal.size() {
                model = update(model, Msg::Size(size.width, size.height));
            }
            terminal
                .draw(|f| view::view(&model, f))
                .map_err(terminal_error)?;
            match model.outcome {
                Outcome::Quit => return Err(Error::LeftBeforeConfirmed),
                Outcome::Done => {
                    return outcome.take().unwrap_or(Err(Error::LeftBeforeConfirmed));
                }
                Outcome::Run => {
                    model.outcome = Outcome::Continue;
                    let answers = model.take_answers();
                    if let Some(perform) = perform.take() {
                        let tx = tx.clone();
                        scope.spawn(move || {
                            let send = |p: Progress| {
                                let _ = tx.send(Work::Progress(p));
                            };
                            let r = perform(answers, ProgressSink::to(&send));
                            let _ = tx.send(Work::Done(Box::new(r)));
                        });
                    }
                    input.drain()?;
                    continue;
                }
                Outcome::Continue => {}
            }
            let before = model.gate();
            if model.screen == model::Screen::Running {
                // The HSM is working: its messages, and every key pressed is dropped.
                match rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(Work::Progress(p)) => model = update(model, Msg::Progress(p)),
                    Ok(Work::Done(r)) => {
                        let msg = match &*r {
                            Ok(report) => Msg::Finished(result_view(report)),
                            Err(e) => Msg::Failed(e.to_string()),
                        };
                        outcome = Some(*r);
                        model = update(model, msg);
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        model = update(
                            model,
                            Msg::Failed("the ceremony's worker stopped without a result".into()),
                        );
                    }
                }
                input.drain()?;
                continue;
            }
            // Idle until a key, or until the countdown on screen changes.
            if let Some(msg) = input.next(model.next_change())? {
                model = update(model, msg);
            }
            if model.gate() != before {
                input.drain()?;
            }
        }
    })
}

/// The terminal's keys and the system clock.
struct TerminalInput;

impl Input for TerminalInput {
    fn next(&mut self, within: Duration) -> Result<Option<Msg>> {
        if !event::poll(within).map_err(terminal_error)? {
            return Ok(None);
        }
        let ev = event::read().map_err(terminal_error)?;
        Ok(message(&ev))
    }

    fn drain(&mut self) -> Result<()> {
        while event::poll(Duration::ZERO).map_err(terminal_error)? {
            event::read().map_err(terminal_error)?;
        }
        Ok(())
    }

    fn now(&mut self) -> jiff::Timestamp {
        jiff::Timestamp::now()
    }
}

/// The ceremony at this terminal. Refused (before anything is touched) without one.
pub fn run(
    info: Info,
    perform: impl FnOnce(Answers, ProgressSink<'_>) -> Result<CeremonyReport> + Send,
) -> Result<CeremonyReport> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Error::NoTerminal);
    }
    // Also installs a panic hook that restores the terminal.
    let mut terminal = ratatui::try_init().map_err(terminal_error)?;
    let mut input = TerminalInput;
    let model = Model::new(info, input.now());
    let result = run_loop(&mut terminal, model, &mut input, perform);
    // The alternate screen keeps nothing in the scrollback; clear it all the same.
    let _ = terminal.clear();
    ratatui::restore();
    let _ = ratatui::crossterm::execute!(
        std::io::stdout(),
        ratatui::crossterm::terminal::Clear(ratatui::crossterm::terminal::ClearType::Purge)
    );
    result
}

#[cfg(test)]
mod tests;
