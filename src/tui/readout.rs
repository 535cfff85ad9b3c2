//! The rehearsal's stand-in for the connected side: the bundle fingerprint on a screen of its
//! own, for one person to read out and the operators to write down, before the ceremony's app
//! opens (where it is never shown before it is typed).

use ratatui::crossterm::event::{self, KeyCode};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};
use ratatui::{DefaultTerminal, Frame};

use super::{Key, key, terminal_error};
use crate::app::error::{Error, Result};
use crate::core::digest::{grouped, word_lines};

/// The read-out screen's lines.
pub fn lines(fingerprint: &str) -> Vec<Line<'static>> {
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let mut l = vec![
        Line::styled("Connected side: read this out", bold),
        Line::from(""),
        Line::from(
            "In a ceremony, someone at the connected side reads out the bundle fingerprint that \
             `keyrite kms prepare` printed. Here, one of you reads it out now; the operators \
             write it down, and type it at step 3 of the ceremony, which never shows it first.",
        ),
        Line::from(""),
    ];
    let groups = grouped(fingerprint);
    let groups: Vec<&str> = groups.split(' ').collect();
    for half in groups.chunks(8) {
        l.push(Line::styled(format!("  {}", half.join(" ")), bold));
    }
    l.push(Line::from(""));
    l.push(Line::from("The same, as words to read back:"));
    for w in word_lines(fingerprint) {
        l.push(Line::from(format!("  {w}")));
    }
    l
}

pub fn draw(frame: &mut Frame, fingerprint: &str) {
    let [body, footer] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(frame.area());
    frame.render_widget(
        Paragraph::new(lines(fingerprint))
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .title(" keyrite rehearsal · the read-out "),
            )
            .wrap(Wrap { trim: false }),
        body,
    );
    frame.render_widget(
        Paragraph::new("Enter: written down, open the ceremony · Esc or Ctrl-C: leave")
            .style(Style::default().add_modifier(Modifier::DIM)),
        footer,
    );
}

fn wait(terminal: &mut DefaultTerminal, fingerprint: &str) -> Result<()> {
    loop {
        terminal
            .draw(|f| draw(f, fingerprint))
            .map_err(terminal_error)?;
        match key(&event::read().map_err(terminal_error)?) {
            Some(Key::Pressed(KeyCode::Enter)) => return Ok(()),
            Some(Key::Interrupt | Key::Pressed(KeyCode::Esc)) => {
                return Err(Error::LeftBeforeConfirmed);
            }
            _ => {}
        }
    }
}

/// Shows the read-out until Enter (Esc or Ctrl-C leave), then restores the terminal.
pub fn show(fingerprint: &str) -> Result<()> {
    let mut terminal = ratatui::try_init().map_err(terminal_error)?;
    let result = wait(&mut terminal, fingerprint);
    let _ = terminal.clear();
    ratatui::restore();
    result
}
