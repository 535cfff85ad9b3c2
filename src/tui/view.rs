//! The screens: a pure function of the model. A typed share is drawn only as one dot per
//! character.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::model::{Focus, Model, Screen};
use crate::core::digest::grouped;

pub fn view(m: &Model, frame: &mut Frame) {
    let [body, notice, help] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let (title, lines, keys) = screen(m);
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" keyrite ceremony · {title} "));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        body,
    );
    if let Some(n) = &m.notice {
        frame.render_widget(
            Paragraph::new(n.as_str())
                .style(Style::default().fg(Color::Red).add_modifier(Modifier::BOLD))
                .wrap(Wrap { trim: false }),
            notice,
        );
    }
    frame.render_widget(
        Paragraph::new(keys).style(Style::default().add_modifier(Modifier::DIM)),
        help,
    );
}

fn field<'a>(label: &'a str, value: String, focused: bool) -> Line<'a> {
    let cursor = if focused { "▏" } else { "" };
    let marker = if focused { "> " } else { "  " };
    Line::from(vec![
        Span::raw(marker),
        Span::styled(label, Style::default().add_modifier(Modifier::BOLD)),
        Span::raw(value),
        Span::raw(cursor),
    ])
}

fn screen(m: &Model) -> (String, Vec<Line<'_>>, &'static str) {
    match m.screen {
        Screen::Ceremony => {
            let mut lines = vec![
                Line::from(format!("Script     {}", m.info.script_name)),
                Line::from(format!(
                    "Wrapping   {} with a {} KMS wrapping key",
                    m.info.algorithm, m.info.key_spec
                )),
                Line::from(format!("Token      {}", m.info.token)),
                Line::from(format!("Keys       {}", m.info.keys.len())),
            ];
            lines.extend(m.info.keys.iter().map(|k| Line::from(format!("  {k}"))));
            lines.push(Line::from(""));
            lines.push(field(
                "Operator: ",
                m.operator.clone(),
                m.focus == Focus::First,
            ));
            lines.push(field(
                "Witness:  ",
                m.witness.clone(),
                m.focus == Focus::Second,
            ));
            (
                "1 the ceremony".into(),
                lines,
                "Enter: next · Tab: other field · Esc: quit, nothing is touched",
            )
        }
        Screen::Fingerprint => {
            let status = if m.fingerprint_matches() {
                Line::styled("  matches", Style::default().fg(Color::Green))
            } else {
                Line::from("")
            };
            (
                "2 the bundle fingerprint".into(),
                vec![
                    Line::from("The bundle on this side has the fingerprint"),
                    Line::styled(
                        format!("  {}", grouped(&m.info.bundle_fingerprint)),
                        Style::default().add_modifier(Modifier::BOLD),
                    ),
                    Line::from(""),
                    Line::from(
                        "Type the fingerprint read out from the connected side (spaces do not matter):",
                    ),
                    field("", m.fingerprint.clone(), true),
                    status,
                ],
                "Enter: check and go on · Esc: quit, nothing is touched",
            )
        }
        Screen::Custodians => {
            let need = m.info.quorum.unwrap_or(0);
            let mut lines = vec![Line::from(format!(
                "The HSM is opened by {need} custodians of the roster. Each types their name and share."
            ))];
            for c in &m.custodians {
                lines.push(Line::from(format!("  ✓ {}", c.name)));
            }
            lines.push(Line::from(""));
            lines.push(field(
                "Custodian: ",
                m.custodian_name.clone(),
                m.focus == Focus::First,
            ));
            lines.push(field(
                "Share:     ",
                "•".repeat(m.share.chars().count()),
                m.focus == Focus::Second,
            ));
            (
                format!("3 custodians ({} of {need})", m.custodians.len()),
                lines,
                "Enter: next / add · Enter on an empty name: done · Tab: other field · Esc: quit, nothing is touched",
            )
        }
        Screen::Confirm => {
            let n = m.info.keys.len();
            let mut lines = vec![
                Line::from(format!("Operator   {}", m.operator.trim())),
                Line::from(format!("Witness    {}", m.witness.trim())),
                Line::from(format!(
                    "Bundle     {} (matches)",
                    grouped(&m.info.bundle_fingerprint)
                )),
            ];
            if !m.custodians.is_empty() {
                let names: Vec<&str> = m.custodians.iter().map(|c| c.name.as_str()).collect();
                lines.push(Line::from(format!("Custodians {}", names.join(", "))));
            }
            lines.push(Line::from(""));
            lines.push(Line::styled(
                format!("Generate and wrap {n} keys now? (y/N)"),
                Style::default().add_modifier(Modifier::BOLD),
            ));
            (
                "4 confirmation".into(),
                lines,
                "y: generate now · n / Enter / Esc: quit, nothing is touched",
            )
        }
        Screen::Running => (
            "running".into(),
            vec![Line::from(
                "Generating, wrapping and verifying the keys inside the HSM…",
            )],
            "",
        ),
        Screen::Result => {
            let mut lines = Vec::new();
            if let Some(r) = &m.result {
                lines.push(Line::from(format!("Capability probe  {}", r.probe)));
                lines.push(Line::from(format!(
                    "CKA_WRAP_WITH_TRUSTED  {}",
                    r.wrap_with_trusted
                )));
                lines.push(Line::from(format!(
                    "Bundle fingerprint  {}",
                    grouped(&r.fingerprint)
                )));
                for k in &r.keys {
                    lines.push(Line::from(""));
                    lines.push(Line::styled(
                        k.name.clone(),
                        Style::default().add_modifier(Modifier::BOLD),
                    ));
                    lines.push(Line::from(format!("  check value  {}", k.check_value)));
                    lines.push(Line::from(format!("  HSM label    {}", k.label)));
                    lines.push(Line::from(format!("  sha256       {}", k.sha256)));
                }
            }
            (
                "5 ceremony complete".into(),
                lines,
                "any key: leave (the report is printed again on the terminal)",
            )
        }
    }
}
