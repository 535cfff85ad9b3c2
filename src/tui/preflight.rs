//! The ceremony's first screen: drawn before the preflight starts, it ticks each check off as it
//! passes (the checks run in the app layer and report here through messages; this screen never
//! touches the HSM or a file). A failed check stays on screen with what to do until a key; a
//! warning (too little time left) until Enter goes on or Esc leaves.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::app::ceremony::preflight::Passed;
use crate::core::terminal::one_line;

/// Where the preflight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Stage {
    /// The checks run.
    #[default]
    Checking,
    /// Every check passed, with a warning the people read before going on.
    Warned,
    /// A check failed: the ceremony cannot start.
    Failed,
}

/// The first screen's state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checks {
    /// The script's ceremony name, the bundle directory, the token label: as given.
    pub ceremony: String,
    pub bundle: String,
    pub token: String,
    /// The checks passed so far, in order.
    pub passed: Vec<Passed>,
    pub stage: Stage,
    /// The warning (Warned) or the error with what to do (Failed).
    pub message: Option<String>,
    /// Esc or Ctrl-C was pressed while the checks ran: leave once they are done.
    pub leaving: bool,
}

/// What the preflight and the people's keys tell the first screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckMsg {
    Passed(Passed),
    /// Every check passed, but this needs reading before anyone starts.
    Warned(String),
    Failed(String),
    /// Esc or Ctrl-C.
    Leave,
}

impl Checks {
    pub fn new(ceremony: &str, bundle: &str, token: &str) -> Checks {
        Checks {
            ceremony: ceremony.to_string(),
            bundle: bundle.to_string(),
            token: token.to_string(),
            passed: Vec::new(),
            stage: Stage::Checking,
            message: None,
            leaving: false,
        }
    }
}

/// The next state.
pub fn update(mut c: Checks, msg: CheckMsg) -> Checks {
    match msg {
        CheckMsg::Passed(p) => c.passed.push(p),
        CheckMsg::Warned(w) => {
            c.stage = Stage::Warned;
            c.message = Some(w);
        }
        CheckMsg::Failed(e) => {
            c.stage = Stage::Failed;
            c.message = Some(e);
        }
        CheckMsg::Leave => c.leaving = true,
    }
    c
}

fn next_action(c: &Checks) -> &'static str {
    match c.stage {
        Stage::Checking if c.leaving => "leaving once the checks stop; nothing is touched",
        Stage::Checking => "wait: the checks that need no one run first, each ticked off here",
        Stage::Warned => "read the warning: Enter starts the ceremony all the same, Esc leaves",
        Stage::Failed => "the ceremony cannot start: Enter leaves; nothing was touched",
    }
}

fn footer(c: &Checks) -> &'static str {
    match c.stage {
        Stage::Checking => "Esc/Ctrl-C: leave",
        Stage::Warned => "Enter: start the ceremony · Esc/Ctrl-C: leave",
        Stage::Failed => "Enter/Esc: leave",
    }
}

fn body(c: &Checks) -> Vec<Line<'static>> {
    let mut l = vec![
        Line::from(format!("Script    {}", one_line(&c.ceremony))),
        Line::from(format!("Bundle    {}", one_line(&c.bundle))),
        Line::from(format!("Token     {}", one_line(&c.token))),
        Line::from(""),
    ];
    let green = super::palette::fg(Color::Green);
    for p in &c.passed {
        l.push(Line::from(vec![
            Span::styled("✓ ", green),
            Span::raw(one_line(&p.to_string()).into_owned()),
        ]));
    }
    let warn = super::palette::fg(Color::Red).add_modifier(Modifier::BOLD);
    match (c.stage, &c.message) {
        (Stage::Failed, Some(e)) => {
            let mut lines = e.lines();
            l.push(Line::from(vec![
                Span::styled("✗ ", warn),
                Span::styled(
                    one_line(lines.next().unwrap_or_default()).into_owned(),
                    warn,
                ),
            ]));
            for rest in lines {
                l.push(Line::from(format!("  {}", one_line(rest.trim()))));
            }
        }
        (Stage::Warned, Some(w)) => {
            let yellow = super::palette::fg(Color::Yellow).add_modifier(Modifier::BOLD);
            l.push(Line::from(vec![
                Span::styled("! ", yellow),
                Span::styled(one_line(w).into_owned(), yellow),
            ]));
        }
        _ => l.push(Line::styled(
            "· checking…",
            Style::default().add_modifier(Modifier::DIM),
        )),
    }
    l
}

/// The first screen, in the frame every step has: a status line, the box, the next action and
/// the footer of the keys that work.
pub fn draw(frame: &mut Frame, c: &Checks) {
    let [status, body_area, next, footer_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(2),
        Constraint::Length(2),
    ])
    .areas(frame.area());
    let done = match c.stage {
        Stage::Checking => format!("preflight: {} passed", c.passed.len()),
        Stage::Warned => format!("preflight: all {} passed, one warning", c.passed.len()),
        Stage::Failed => format!("preflight: {} passed, one failed", c.passed.len()),
    };
    frame.render_widget(Paragraph::new(done), status);
    frame.render_widget(
        Paragraph::new(body(c))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" keyrite ceremony · preflight — before anyone types "),
            )
            .wrap(Wrap { trim: false }),
        body_area,
    );
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("Next: ", Style::default().add_modifier(Modifier::BOLD)),
            Span::raw(next_action(c)),
        ]))
        .wrap(Wrap { trim: false }),
        next,
    );
    frame.render_widget(
        Paragraph::new(footer(c))
            .style(Style::default().add_modifier(Modifier::DIM))
            .wrap(Wrap { trim: false }),
        footer_area,
    );
}
