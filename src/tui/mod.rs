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
pub mod preflight;
pub mod readout;
pub mod step;
pub mod view;

use std::io::IsTerminal;
use std::sync::mpsc;
use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use crate::app::ceremony::CeremonyReport;
use crate::app::ceremony::preflight::{Passed, Preflight, preflight_reporting};
use crate::app::ceremony::progress::{Progress, ProgressSink};
use crate::app::ceremony::start::{CeremonyInputs, perform};
use crate::app::error::{Error, Result};
use crate::core::script::Answers;
use edit::Edit;
pub use model::{Info, KeyInfo, KeyRow, Model, Msg, Outcome, ResultView};
pub use step::update;

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
                replica_regions: k.replicas.iter().map(|(r, _)| r.clone()).collect(),
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

/// What the screens show of the preflighted script, bundle, token and roster.
pub fn info(inputs: &CeremonyInputs, checked: &Preflight) -> Info {
    use crate::core::manifest::{self, Manifest};
    let manifest = checked.bundle.bundle.manifest();
    Info {
        script: inputs.script.clone(),
        keys: manifest
            .keys
            .iter()
            .map(|k| KeyInfo {
                name: k.name.clone(),
                alias: k.alias.clone(),
                arn: k.key_arn.clone(),
                account: k.account.clone(),
                region: k.region.clone(),
                wrapping_key_sha256: manifest
                    .files
                    .get(&Manifest::file_path(k, manifest::WRAPPING_PUBLIC_KEY))
                    .cloned()
                    .unwrap_or_default(),
                takes_over: k
                    .takes_over
                    .as_ref()
                    .map(|t| (t.alias.clone(), t.previous_key_arn.clone())),
                replicas: k
                    .replicas
                    .iter()
                    .map(|r| {
                        let file = Manifest::region_file_path(
                            k,
                            Some(&r.region),
                            manifest::WRAPPING_PUBLIC_KEY,
                        );
                        (
                            r.region.clone(),
                            r.key_arn.clone(),
                            manifest.files.get(&file).cloned().unwrap_or_default(),
                        )
                    })
                    .collect(),
            })
            .collect(),
        token: inputs.uri.token.clone(),
        bundle_dir: inputs.bundle.display().to_string(),
        bundle_fingerprint: checked.bundle.bundle.fingerprint().to_string(),
        parameters_expire: checked.bundle.parameters_valid_to,
        roster: checked.roster.as_ref().map(|r| r.file.clone()),
        interrupted: checked.interrupted.clone(),
    }
}

/// Why the preflighted ceremony may not finish in time (see [`Script::short_of_time`]).
///
/// [`Script::short_of_time`]: crate::core::script::Script::short_of_time
pub fn short_of_time(inputs: &CeremonyInputs, checked: &Preflight) -> Option<String> {
    let quorum = checked
        .roster
        .as_ref()
        .map_or(0, |r| usize::from(r.file.roster.threshold));
    let remaining = checked
        .bundle
        .parameters_valid_to
        .map(|_| checked.bundle.remaining);
    inputs.script.short_of_time(remaining, quorum)
}

/// Whether Esc or Ctrl-C is among the keys typed so far; every key typed so far is consumed.
fn asked_to_leave(input: &mut impl Input) -> bool {
    let mut leave = false;
    while let Ok(Some(msg)) = input.next(Duration::ZERO) {
        leave |= matches!(msg, Msg::Esc | Msg::Interrupt);
    }
    leave
}

/// The first screen: drawn at once, then the preflight's checks ticked off on it as they pass.
/// A failed check stays on screen until a key, then its error is returned; a warning until Enter
/// (go on) or Esc (leave). Esc or Ctrl-C during the checks leaves once they stop (they write
/// nothing).
pub fn preflight_on_screen<B: Backend, T>(
    terminal: &mut Terminal<B>,
    mut checks: preflight::Checks,
    input: &mut impl Input,
    run_checks: impl FnOnce(&mut dyn FnMut(Passed)) -> Result<T>,
    warning: impl FnOnce(&T) -> Option<String>,
) -> Result<T> {
    use preflight::{CheckMsg, update};
    terminal
        .draw(|f| preflight::draw(f, &checks))
        .map_err(terminal_error)?;
    let mut drawn = Ok(());
    let result = run_checks(&mut |passed| {
        checks = update(std::mem::take(&mut checks), CheckMsg::Passed(passed));
        if asked_to_leave(input) {
            checks = update(std::mem::take(&mut checks), CheckMsg::Leave);
        }
        if drawn.is_ok() {
            drawn = terminal
                .draw(|f| preflight::draw(f, &checks))
                .map(|_| ())
                .map_err(terminal_error);
        }
    });
    drawn?;
    let (checked, stage) = match result {
        Err(e) => {
            let shown = format!("{e}");
            (Err(e), CheckMsg::Failed(shown))
        }
        Ok(checked) => {
            // Keys typed while the checks ran are dropped, but Esc or Ctrl-C is obeyed.
            if checks.leaving || asked_to_leave(input) {
                return Err(Error::LeftBeforeConfirmed);
            }
            match warning(&checked) {
                None => return Ok(checked),
                Some(warning) => (Ok(checked), CheckMsg::Warned(warning)),
            }
        }
    };
    checks = update(checks, stage);
    input.drain()?;
    loop {
        terminal
            .draw(|f| preflight::draw(f, &checks))
            .map_err(terminal_error)?;
        let Some(msg) = input.next(Duration::from_secs(60))? else {
            continue;
        };
        match (checks.stage, msg) {
            (preflight::Stage::Failed, Msg::Enter | Msg::Esc | Msg::Interrupt | Msg::Char('q')) => {
                return checked;
            }
            (preflight::Stage::Warned, Msg::Enter) => {
                input.drain()?;
                return checked;
            }
            (preflight::Stage::Warned, Msg::Esc | Msg::Interrupt) => {
                return Err(Error::LeftBeforeConfirmed);
            }
            _ => {}
        }
    }
}

/// The ceremony at this terminal: the first frame at once, the preflight ticked off on it, then
/// the operators' steps. Refused (before anything is touched) without a terminal.
pub fn ceremony(inputs: &CeremonyInputs) -> Result<CeremonyReport> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(Error::NoTerminal);
    }
    // Also installs a panic hook that restores the terminal.
    let mut terminal = ratatui::try_init().map_err(terminal_error)?;
    let mut input = TerminalInput;
    let result = (|| {
        let checks = preflight::Checks::new(
            &inputs.script.ceremony.name,
            &inputs.bundle.display().to_string(),
            &inputs.uri.token,
        );
        let checked = preflight_on_screen(
            &mut terminal,
            checks,
            &mut input,
            |passed| preflight_reporting(inputs, passed),
            |checked| short_of_time(inputs, checked),
        )?;
        let model = Model::new(info(inputs, &checked), input.now());
        run_loop(&mut terminal, model, &mut input, |answers, progress| {
            perform(inputs, &checked, &answers, progress)
        })
    })();
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
