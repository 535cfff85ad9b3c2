//! Enrolment at the terminal: each custodian is called to the screen alone, shown their share
//! once, and types it back from what they wrote down before the next one is called. "I am alone"
//! (A) and "written down" (D) are different keys, so a reflex key never shows a share to the wrong
//! person; keys typed ahead are discarded at every gate (the main loop drains them); Ctrl-C or a
//! confirmed Esc clears the screen and leaves with nothing written.
//!
//! The model, `update` and `view` are pure; [`run`] is the loop at a real terminal.

use std::io::IsTerminal;

use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{self, Event, KeyCode};

use super::Key;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::{Frame, crossterm};
use zeroize::Zeroizing;

use crate::app::error::{Error, Result};
use crate::core::custody::shares::CustodianShare;
use crate::core::terminal::one_line;

/// The longest text a share entry holds: a share is about 70 characters; the buffer is sized
/// once and never grows (a growing buffer would leave copies of the share behind).
const TYPED_CAPACITY: usize = 160;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The current custodian is called to the screen; nothing secret is shown.
    Call,
    /// The current custodian's share is on the screen.
    Show,
    /// The current custodian types the share back from what they wrote down.
    TypeBack,
    /// Every custodian has their share and typed it back.
    Finished,
}

/// What the main loop is to do after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    /// Leave: nothing is written.
    Quit,
    /// Every custodian confirmed: write the roster and the log key.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Char(char),
    Backspace,
    Enter,
    Esc,
    /// F2: show my share again (while typing it back).
    ShowAgain,
    /// Ctrl-C.
    Interrupt,
}

/// Everything the enrolment screens know. Holds the shares: neither `Debug` nor `Clone`.
pub struct EnrolModel<'s> {
    pub label: String,
    pub threshold: u8,
    pub names: Vec<String>,
    shares: &'s [CustodianShare],
    pub current: usize,
    pub stage: Stage,
    typed: Zeroizing<String>,
    pub notice: Option<String>,
    /// Esc was pressed: `y` leaves, any other key stays.
    pub leaving: bool,
    pub outcome: Outcome,
}

impl<'s> EnrolModel<'s> {
    pub fn new(
        label: &str,
        threshold: u8,
        names: &[String],
        shares: &'s [CustodianShare],
    ) -> EnrolModel<'s> {
        EnrolModel {
            label: label.to_string(),
            threshold,
            names: names.to_vec(),
            shares,
            current: 0,
            stage: Stage::Call,
            typed: Zeroizing::new(String::with_capacity(TYPED_CAPACITY)),
            notice: None,
            leaving: false,
            outcome: Outcome::Continue,
        }
    }

    /// How many characters are typed (the screen shows one dot each).
    pub fn typed_len(&self) -> usize {
        self.typed.chars().count()
    }

    /// Where the person is: the gate a drained type-ahead must not pass.
    pub fn gate(&self) -> (usize, Stage, bool) {
        (self.current, self.stage, self.leaving)
    }

    fn clear_typed(&mut self) {
        // Overwrite in place: the buffer keeps its one allocation.
        zeroize::Zeroize::zeroize(&mut *self.typed);
        self.typed.clear();
    }

    fn name(&self) -> &str {
        self.names.get(self.current).map_or("", String::as_str)
    }

    fn check_typed_back(&mut self) {
        let Some(shown) = self.shares.get(self.current) else {
            return;
        };
        match CustodianShare::decode(&self.typed, self.current + 1) {
            Err(e) => {
                // The message names the group; it never holds the share.
                self.notice = Some(first_line(&e.to_string()));
            }
            Ok(typed) if !typed.is_same(shown) => {
                self.notice = Some(
                    "that is a well-formed share, but not the one shown to you: compare what you wrote down with the share (F2 shows it again)".into(),
                );
            }
            Ok(_) => {
                self.clear_typed();
                self.current += 1;
                self.stage = if self.current == self.names.len() {
                    Stage::Finished
                } else {
                    Stage::Call
                };
            }
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// One step of the enrolment screens.
pub fn update(mut m: EnrolModel<'_>, msg: Msg) -> EnrolModel<'_> {
    m.notice = None;
    // Before any share is shown, Ctrl-C leaves at once; after, it asks like Esc.
    if msg == Msg::Interrupt && !m.leaving && m.current == 0 && m.stage == Stage::Call {
        m.clear_typed();
        m.outcome = Outcome::Quit;
        return m;
    }
    if m.leaving {
        // Its own key: L (or Ctrl-C again) leaves; any other key stays.
        m.leaving = false;
        if matches!(msg, Msg::Char('l' | 'L') | Msg::Interrupt) {
            m.clear_typed();
            m.outcome = Outcome::Quit;
        }
        return m;
    }
    if matches!(msg, Msg::Esc | Msg::Interrupt) {
        m.leaving = true;
        return m;
    }
    match (m.stage, msg) {
        (Stage::Call, Msg::Char('a' | 'A')) => m.stage = Stage::Show,
        (Stage::Call, _) => {
            m.notice = Some(format!(
                "{} presses A when alone at the screen; everyone else looks away",
                m.name()
            ));
        }
        (Stage::Show, Msg::Char('d' | 'D')) => m.stage = Stage::TypeBack,
        (Stage::Show, _) => {
            m.notice = Some("press D once the share is written down, exactly".into());
        }
        (Stage::TypeBack, Msg::Char(c)) => {
            if m.typed.len() + c.len_utf8() <= TYPED_CAPACITY {
                m.typed.push(c);
            } else {
                m.notice = Some("that is longer than any share: check what you typed".into());
            }
        }
        (Stage::TypeBack, Msg::Backspace) => {
            m.typed.pop();
        }
        (Stage::TypeBack, Msg::ShowAgain) => {
            m.clear_typed();
            m.stage = Stage::Show;
        }
        (Stage::TypeBack, Msg::Enter) => m.check_typed_back(),
        (Stage::TypeBack, _) => {}
        (Stage::Finished, Msg::Enter) => m.outcome = Outcome::Done,
        (Stage::Finished, _) => {
            m.notice = Some("press Enter to write the roster and the log public key".into());
        }
    }
    m
}

/// A share in lines of at most six dash-separated parts, each but the last ending in a dash, so it
/// fits an 80-column screen without breaking inside a group.
pub fn share_lines(encoded: &str) -> Vec<Zeroizing<String>> {
    let parts: Vec<&str> = encoded.split('-').collect();
    let chunks: Vec<&[&str]> = parts.chunks(6).collect();
    chunks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut line = Zeroizing::new(String::with_capacity(encoded.len() + 1));
            line.push_str(&c.join("-"));
            if i + 1 < chunks.len() {
                line.push('-');
            }
            line
        })
        .collect()
}

fn keys_help(m: &EnrolModel<'_>) -> &'static str {
    if m.leaving {
        return "L or Ctrl-C: leave, nothing is written · any other key: stay";
    }
    match m.stage {
        Stage::Call => "A: I am alone at the screen · Esc or Ctrl-C: leave",
        Stage::Show => "D: I have written it down (the screen is cleared) · Esc: leave",
        Stage::TypeBack => "type your share · Enter: check · F2: show my share again · Esc: leave",
        Stage::Finished => "Enter: write the roster and the log public key · Esc: leave",
    }
}

/// The enrolment screens: a pure function of the model. A share is drawn only on its
/// custodian's Show screen; what is typed back is drawn as dots.
pub fn view(m: &EnrolModel<'_>, frame: &mut Frame) {
    // The next action and the keys take a second row only where they need it.
    let width = usize::from(frame.area().width.max(1));
    let row_count = |t: &str| if t.chars().count() > width { 2 } else { 1 };
    let next_text = format!("Next: {}", next_action(m));
    let [body, next, notice, help] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(row_count(&next_text)),
        Constraint::Length(2),
        Constraint::Length(row_count(keys_help(m))),
    ])
    .areas(frame.area());
    let total = m.names.len();
    let step = (m.current + 1).min(total);
    let title = match m.stage {
        Stage::Finished => format!(
            " keyrite enrolment · token {:?} · all {total} custodians done ",
            m.label
        ),
        _ => format!(
            " keyrite enrolment · token {:?} · custodian {step} of {total} ",
            m.label
        ),
    };
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut lines: Vec<Line<'_>> = Vec::new();
    let name = m.name();
    // Who has written their share down and typed it back, except while a share is on screen.
    if m.stage != Stage::Show {
        for done in m.names.iter().take(m.current) {
            lines.push(Line::styled(
                format!("✓ {} confirmed", one_line(done)),
                super::palette::fg(Color::Green),
            ));
        }
        if m.current > 0 {
            lines.push(Line::from(""));
        }
    }
    match m.stage {
        Stage::Call => {
            lines.push(Line::styled(
                format!("Custodian {name}: come to the screen alone."),
                bold,
            ));
            lines.push(Line::from(""));
            lines.push(Line::from("Everyone else: step away and look away now."));
            lines.push(Line::from(format!(
                "{name}, press A when you are alone: your share is then shown, once."
            )));
            lines.push(Line::from(""));
            lines.push(Line::from(format!(
                "Any {} of the {total} shares open the HSM; nobody, the administrator included, holds the PIN.",
                m.threshold
            )));
        }
        Stage::Show => {
            lines.push(Line::styled(format!("Custodian {name}, your share:"), bold));
            lines.push(Line::from(""));
            if let Some(share) = m.shares.get(m.current) {
                for part in share_lines(&share.encode()) {
                    lines.push(Line::styled(format!("    {}", part.as_str()), bold));
                }
            }
            lines.push(Line::from(""));
            lines.push(Line::from(
                "Write it down exactly, dashes included, on your own medium.",
            ));
            lines.push(Line::from(
                "Press D when it is written down: the screen is cleared and you type it back.",
            ));
        }
        Stage::TypeBack => {
            lines.push(Line::styled(
                format!("Custodian {name}: type your share back from what you wrote down."),
                bold,
            ));
            lines.push(Line::from(
                "This proves it was written down right; it is shown as dots.",
            ));
            lines.push(Line::from(""));
            lines.push(Line::from(format!(
                "> Share  {}▏",
                "•".repeat(m.typed_len())
            )));
        }
        Stage::Finished => {
            lines.push(Line::styled(
                format!("All {total} custodians have their shares and typed them back."),
                bold,
            ));
            lines.push(Line::from(""));
            lines.push(Line::from(
                "Press Enter to write the roster and the log public key. Until then nothing is",
            ));
            lines.push(Line::from(
                "written, and an interrupted enrolment leaves nothing that verifies.",
            ));
        }
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(Block::default().borders(Borders::ALL).title(title))
            .wrap(Wrap { trim: false }),
        body,
    );
    let note = if m.leaving {
        Some(
            "Leave the enrolment? Nothing is written; initialise the token again.\n\
             Every share written down so far opens nothing: destroy the paper."
                .to_string(),
        )
    } else {
        m.notice.clone()
    };
    if let Some(n) = note {
        frame.render_widget(
            Paragraph::new(n)
                .style(super::palette::fg(Color::Red).add_modifier(Modifier::BOLD))
                .wrap(Wrap { trim: false }),
            notice,
        );
    }
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("Next: ", bold),
            Span::raw(next_text.trim_start_matches("Next: ").to_string()),
        ]))
        .wrap(Wrap { trim: false }),
        next,
    );
    frame.render_widget(
        Paragraph::new(keys_help(m))
            .style(Style::default().add_modifier(Modifier::DIM))
            .wrap(Wrap { trim: false }),
        help,
    );
}

/// What is to be done now, by whom.
fn next_action(m: &EnrolModel<'_>) -> String {
    let name = one_line(m.name()).into_owned();
    if m.leaving {
        return "L leaves (nothing is written); any other key stays".into();
    }
    match m.stage {
        Stage::Call => format!("{name} comes to the screen alone and presses A"),
        Stage::Show => format!("{name} writes the share down, then presses D"),
        Stage::TypeBack => format!("{name} types the share back from the paper, then Enter"),
        Stage::Finished => "press Enter to write the roster and the log public key".into(),
    }
}

/// A key press as a message; other events (resizes, releases) are none.
pub fn message(ev: &Event) -> Option<Msg> {
    Some(match super::key(ev)? {
        Key::Interrupt => Msg::Interrupt,
        Key::Pressed(KeyCode::Char(c)) => Msg::Char(c),
        Key::Pressed(KeyCode::Backspace) => Msg::Backspace,
        Key::Pressed(KeyCode::Enter) => Msg::Enter,
        Key::Pressed(KeyCode::Esc) => Msg::Esc,
        Key::Pressed(KeyCode::F(2)) => Msg::ShowAgain,
        Key::Ctrl(_) | Key::Pressed(_) => return None,
    })
}

fn terminal_error(e: impl std::fmt::Display) -> Error {
    Error::ShareTerminal {
        detail: e.to_string(),
    }
}

/// Refused before the token is touched when there is no terminal to show the shares on.
pub fn check_terminal() -> Result<()> {
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        return Ok(());
    }
    Err(Error::ShareTerminal {
        detail: "this is not a terminal; nothing was initialised".into(),
    })
}

/// Draws, reads a key, updates, until every custodian confirmed (Ok) or someone left (an error
/// saying nothing was written). `next` gives the next message; `drain` discards keys typed ahead
/// and is called whenever a gate is passed.
pub fn run_loop<B: Backend>(
    terminal: &mut Terminal<B>,
    mut model: EnrolModel<'_>,
    mut next: impl FnMut() -> Result<Option<Msg>>,
    mut drain: impl FnMut() -> Result<()>,
) -> Result<()> {
    loop {
        terminal.draw(|f| view(&model, f)).map_err(terminal_error)?;
        match model.outcome {
            Outcome::Continue => {}
            Outcome::Done => return Ok(()),
            Outcome::Quit => {
                terminal.clear().map_err(terminal_error)?;
                return Err(Error::EnrolmentLeft {
                    label: model.label.clone(),
                });
            }
        }
        let before = model.gate();
        if let Some(msg) = next()? {
            model = update(model, msg);
        }
        if model.gate() != before {
            drain()?;
        }
    }
}

/// The enrolment screens at this terminal.
pub fn run(label: &str, threshold: u8, names: &[String], shares: &[CustodianShare]) -> Result<()> {
    check_terminal()?;
    // Also installs a panic hook that restores the terminal.
    let mut terminal = ratatui::try_init().map_err(terminal_error)?;
    let result = run_loop(
        &mut terminal,
        EnrolModel::new(label, threshold, names, shares),
        || {
            let ev = event::read().map_err(terminal_error)?;
            Ok(message(&ev))
        },
        || {
            while event::poll(std::time::Duration::ZERO).map_err(terminal_error)? {
                event::read().map_err(terminal_error)?;
            }
            Ok(())
        },
    );
    // The alternate screen keeps nothing in the scrollback; clear it all the same.
    let _ = terminal.clear();
    ratatui::restore();
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::Clear(crossterm::terminal::ClearType::Purge)
    );
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::custody::shares::split;
    use ratatui::backend::TestBackend;

    fn fixture() -> (Vec<String>, Vec<CustodianShare>) {
        let names: Vec<String> = ["Alice", "Bob", "Carol"].map(String::from).to_vec();
        let (_, shares) = split(&[7u8; 32], 2, &names, "roster-id").unwrap();
        (names, shares)
    }

    fn send<'s>(mut m: EnrolModel<'s>, msgs: &[Msg]) -> EnrolModel<'s> {
        for msg in msgs {
            m = update(m, msg.clone());
        }
        m
    }

    fn typed<'s>(mut m: EnrolModel<'s>, text: &str) -> EnrolModel<'s> {
        for c in text.chars() {
            m = update(m, Msg::Char(c));
        }
        m
    }

    fn draw(m: &EnrolModel<'_>, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| view(m, f)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut s = String::new();
        for y in 0..h {
            for x in 0..w {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    /// A custodian's whole turn, the share typed back right.
    fn turn<'s>(m: EnrolModel<'s>, share: &CustodianShare) -> EnrolModel<'s> {
        let m = send(m, &[Msg::Char('a'), Msg::Char('d')]);
        let m = typed(m, &share.encode());
        update(m, Msg::Enter)
    }

    #[test]
    fn alone_and_done_are_different_keys_and_reflex_keys_show_nothing() {
        let (names, shares) = fixture();
        let m = EnrolModel::new("hsm", 2, &names, &shares);
        // Enter, D and a space at the call screen show no share.
        let m = send(m, &[Msg::Enter, Msg::Char('d'), Msg::Char(' ')]);
        assert_eq!(m.stage, Stage::Call);
        let shown = |m: &EnrolModel<'_>| {
            let screen = draw(m, 80, 24);
            share_lines(&shares[0].encode())
                .iter()
                .all(|l| screen.contains(l.as_str()))
        };
        assert!(!shown(&m));
        let m = update(m, Msg::Char('A'));
        assert_eq!(m.stage, Stage::Show);
        assert!(shown(&m));
        // The lines put together are the share.
        let joined: String = share_lines(&shares[0].encode())
            .iter()
            .map(|l| l.as_str())
            .collect();
        assert_eq!(joined, shares[0].encode().as_str());
        // A second A (or Enter) does not move on.
        let m = send(m, &[Msg::Char('a'), Msg::Enter]);
        assert_eq!(m.stage, Stage::Show);
        let m = update(m, Msg::Char('d'));
        assert_eq!(m.stage, Stage::TypeBack);
        assert!(!shown(&m));
    }

    #[test]
    fn the_next_custodian_is_called_only_after_the_share_is_typed_back() {
        let (names, shares) = fixture();
        let m = EnrolModel::new("hsm", 2, &names, &shares);
        let m = send(m, &[Msg::Char('a'), Msg::Char('d')]);
        // Enter with nothing typed, and with Bob's share, keeps Alice at her type-back.
        let m = update(m, Msg::Enter);
        assert_eq!((m.current, m.stage), (0, Stage::TypeBack));
        assert!(m.notice.is_some());
        let m = typed(m, &shares[1].encode());
        let m = update(m, Msg::Enter);
        assert_eq!((m.current, m.stage), (0, Stage::TypeBack));
        assert!(
            m.notice
                .as_deref()
                .unwrap()
                .contains("not the one shown to you")
        );
        let screen = draw(&m, 80, 24);
        assert!(!screen.contains(shares[1].encode().as_str()), "{screen}");
        let mut m = m;
        for _ in 0..200 {
            m = update(m, Msg::Backspace);
        }
        // One group mistyped: the group is named, the entry stays editable.
        let mut wrong = shares[0].encode().to_string();
        let pos = wrong.find('-').unwrap() + 5;
        let c = wrong.as_bytes()[pos];
        wrong.replace_range(pos..=pos, if c == b'A' { "B" } else { "A" });
        let m = typed(m, &wrong);
        let m = update(m, Msg::Enter);
        assert_eq!((m.current, m.stage), (0, Stage::TypeBack));
        let notice = m.notice.clone().unwrap();
        assert!(notice.contains("group"), "{notice}");
        assert!(!notice.contains(&wrong), "{notice}");
        // F2 shows it again; then typed right, Bob is called.
        let m = update(m, Msg::ShowAgain);
        assert_eq!(m.stage, Stage::Show);
        let m = update(m, Msg::Char('d'));
        let m = typed(m, &shares[0].encode());
        let m = update(m, Msg::Enter);
        assert_eq!((m.current, m.stage), (1, Stage::Call));
        assert_eq!(m.typed_len(), 0);
    }

    #[test]
    fn each_confirmed_custodian_is_listed_and_the_next_action_is_said() {
        let (names, shares) = fixture();
        let m = EnrolModel::new("hsm", 2, &names, &shares);
        let s = draw(&m, 80, 24);
        assert!(
            s.contains("Next: Alice comes to the screen alone and presses A"),
            "{s}"
        );
        assert!(!s.contains("confirmed"), "{s}");
        let m = turn(m, &shares[0]);
        let s = draw(&m, 80, 24);
        assert!(s.contains("✓ Alice confirmed"), "{s}");
        assert!(
            s.contains("Next: Bob comes to the screen alone and presses A"),
            "{s}"
        );
        let m = send(m, &[Msg::Char('a')]);
        let s = draw(&m, 80, 24);
        assert!(
            s.contains("Next: Bob writes the share down, then presses D"),
            "{s}"
        );
        let m = update(
            typed(update(m, Msg::Char('d')), &shares[1].encode()),
            Msg::Enter,
        );
        let m = turn(m, &shares[2]);
        assert_eq!(m.stage, Stage::Finished);
        let s = draw(&m, 80, 24);
        for n in ["Alice", "Bob", "Carol"] {
            assert!(s.contains(&format!("✓ {n} confirmed")), "{s}");
        }
        assert!(s.contains("Next: press Enter to write the roster"), "{s}");
    }

    #[test]
    fn everyone_confirms_then_enter_writes() {
        let (names, shares) = fixture();
        let mut m = EnrolModel::new("hsm", 2, &names, &shares);
        for s in &shares {
            m = turn(m, s);
        }
        assert_eq!(m.stage, Stage::Finished);
        assert_eq!(m.outcome, Outcome::Continue);
        let m = update(m, Msg::Char('x'));
        assert_eq!(m.outcome, Outcome::Continue);
        let m = update(m, Msg::Enter);
        assert_eq!(m.outcome, Outcome::Done);
    }

    #[test]
    fn esc_and_ctrl_c_ask_before_leaving_once_a_share_was_shown_and_only_l_leaves() {
        let (names, shares) = fixture();
        let m = EnrolModel::new("hsm", 2, &names, &shares);
        let m = send(m, &[Msg::Char('a'), Msg::Esc]);
        assert!(m.leaving);
        assert_eq!(m.outcome, Outcome::Continue);
        let m = update(m, Msg::Char('n'));
        assert!(!m.leaving);
        assert_eq!(m.stage, Stage::Show);
        // y is no answer to the leave box: only L leaves.
        let m = send(m, &[Msg::Esc, Msg::Char('y')]);
        assert_eq!(m.outcome, Outcome::Continue);
        let m = send(m, &[Msg::Esc, Msg::Char('l')]);
        assert_eq!(m.outcome, Outcome::Quit);
        // Ctrl-C before any share is shown leaves at once.
        let m = EnrolModel::new("hsm", 2, &names, &shares);
        let m = update(m, Msg::Interrupt);
        assert_eq!(m.outcome, Outcome::Quit);
        let m = EnrolModel::new("hsm", 2, &names, &shares);
        let m = send(
            m,
            &[
                Msg::Char('a'),
                Msg::Char('d'),
                Msg::Char('K'),
                Msg::Interrupt,
            ],
        );
        // After a share was shown, Ctrl-C asks; a second one leaves.
        assert!(m.leaving);
        assert_eq!(m.outcome, Outcome::Continue);
        let m = update(m, Msg::Interrupt);
        assert_eq!(m.outcome, Outcome::Quit);
        assert_eq!(m.typed_len(), 0);
    }

    #[test]
    fn the_loop_drains_type_ahead_at_every_gate_and_leaving_writes_nothing() {
        use std::cell::RefCell;
        use std::collections::VecDeque;
        let (names, shares) = fixture();
        let model = EnrolModel::new("hsm", 2, &names, &shares);
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        // Bursts of keys as typed: A then a reflex "dd" in one burst, then Esc, then L.
        let bursts: RefCell<VecDeque<VecDeque<Msg>>> = RefCell::new(
            [
                vec![Msg::Char('a'), Msg::Char('d'), Msg::Char('d')],
                vec![Msg::Esc],
                vec![Msg::Char('l')],
            ]
            .into_iter()
            .map(VecDeque::from)
            .collect(),
        );
        let discarded = RefCell::new(Vec::new());
        let result = run_loop(
            &mut t,
            model,
            || {
                let mut b = bursts.borrow_mut();
                while b.front().is_some_and(VecDeque::is_empty) {
                    b.pop_front();
                }
                Ok(b.front_mut().and_then(VecDeque::pop_front))
            },
            || {
                // What was typed ahead of the gate (the rest of this burst) is dropped.
                if let Some(burst) = bursts.borrow_mut().front_mut() {
                    discarded.borrow_mut().extend(burst.drain(..));
                }
                Ok(())
            },
        );
        let err = result.unwrap_err().to_string();
        assert!(err.contains("nothing was written"), "{err}");
        assert!(err.contains("initialise the token again"), "{err}");
        // The reflex "dd" after A never reached the Show screen's D.
        assert_eq!(*discarded.borrow(), vec![Msg::Char('d'), Msg::Char('d')]);
        // The screen after leaving holds no share.
        let screen = {
            let buf = t.backend().buffer().clone();
            let mut s = String::new();
            for y in 0..24 {
                for x in 0..80 {
                    s.push_str(buf[(x, y)].symbol());
                }
            }
            s
        };
        for s in &shares {
            assert!(!screen.contains(s.encode().as_str()));
        }
    }

    #[test]
    fn every_enrolment_screen_at_80x24_and_120x40() {
        let (names, shares) = fixture();
        let filters: Vec<(String, &str)> = shares
            .iter()
            .flat_map(|s| share_lines(&s.encode()))
            .map(|l| (regex_escape(&l), "[SHARE PART]"))
            .collect();
        let filters: Vec<(&str, &str)> = filters.iter().map(|(a, b)| (a.as_str(), *b)).collect();
        let call = EnrolModel::new("ceremony-hsm", 2, &names, &shares);
        let show = update(
            EnrolModel::new("ceremony-hsm", 2, &names, &shares),
            Msg::Char('a'),
        );
        let typing = typed(
            send(
                EnrolModel::new("ceremony-hsm", 2, &names, &shares),
                &[Msg::Char('a'), Msg::Char('d')],
            ),
            "KR1-01-AB",
        );
        let wrong = update(
            typed(
                send(
                    EnrolModel::new("ceremony-hsm", 2, &names, &shares),
                    &[Msg::Char('a'), Msg::Char('d')],
                ),
                "KR1-01-ZZZZZ-QQQQQ-1234",
            ),
            Msg::Enter,
        );
        let leaving = update(
            EnrolModel::new("ceremony-hsm", 2, &names, &shares),
            Msg::Esc,
        );
        let mut finished = EnrolModel::new("ceremony-hsm", 2, &names, &shares);
        for s in &shares {
            finished = turn(finished, s);
        }
        let second = turn(
            EnrolModel::new("ceremony-hsm", 2, &names, &shares),
            &shares[0],
        );
        insta::with_settings!({ filters => filters }, {
            for (w, h) in [(80u16, 24u16), (120, 40)] {
                for (name, m) in [
                    ("call", &call),
                    ("show", &show),
                    ("type_back", &typing),
                    ("type_back_wrong", &wrong),
                    ("next_custodian", &second),
                    ("leaving", &leaving),
                    ("finished", &finished),
                ] {
                    insta::assert_snapshot!(format!("enrol_{name}_{w}x{h}"), draw(m, w, h));
                }
            }
        });
        // At 60x20: the next action, the keys and (shown) every line of the share, whole.
        let flat = |t: &str| {
            t.replace(['│', '┌', '┐', '└', '┘', '─'], " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        for (name, m) in [
            ("call", &call),
            ("show", &show),
            ("type_back", &typing),
            ("type_back_wrong", &wrong),
            ("next_custodian", &second),
            ("leaving", &leaving),
            ("finished", &finished),
        ] {
            let screen = draw(m, 60, 20);
            let all = flat(&screen);
            let mut want = vec![
                format!("Next: {}", next_action(m)),
                keys_help(m).to_string(),
            ];
            if m.stage == Stage::Show {
                want.extend(
                    share_lines(&shares[0].encode())
                        .iter()
                        .map(|l| l.to_string()),
                );
            }
            for (i, w) in want.iter().enumerate() {
                // (Named by position: a share line is not printed.)
                assert!(all.contains(&flat(w)), "{name}: line {i} cut at 60x20");
            }
        }
    }

    fn regex_escape(s: &str) -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_string()
                } else {
                    format!("\\{c}")
                }
            })
            .collect()
    }
}
