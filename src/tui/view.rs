//! The screens: a pure function of the model. Every screen has a title ("step N of M — what"),
//! the countdown to the import parameters' expiry, the next action, and a footer of the keys
//! that work there (each step's, from its file in `step/`). A typed share is drawn only as one dot per character; the expected
//! fingerprint is never drawn before the operators typed it right.

use jiff::SignedDuration;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::model::{Focus, Model, Screen};
use super::step::confirm::{to_destroy, to_finish};
use crate::app::ceremony::progress::KeyStep;
use crate::app::ceremony::report::{REPORT_FILE, import_command};
use crate::core::ceremony::ResumeChoice;
use crate::core::digest::{grouped, normalise_fingerprint, word_lines};
use crate::core::terminal::one_line;

pub use crate::core::terminal::counted;

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

fn warn() -> Style {
    super::palette::fg(Color::Red).add_modifier(Modifier::BOLD)
}

pub fn view(m: &Model, frame: &mut Frame) {
    // The countdown and the next action take a second row where they need it (at most two:
    // model::frame_rows counts two each on a narrow terminal, so the key review never shows
    // fewer keys than the model counts as seen).
    let width = frame.area().width.max(1);
    let (count_text, count_style) = countdown(m);
    let next_text = format!("Next: {}", next_action(m));
    let row_count = |t: &str| -> u16 {
        if super::model::narrow(width) && t.chars().count() > usize::from(width) {
            2
        } else {
            1
        }
    };
    let [status, body, next, notice, help] = Layout::vertical([
        Constraint::Length(row_count(&count_text)),
        Constraint::Min(3),
        Constraint::Length(row_count(&next_text)),
        Constraint::Length(2),
        Constraint::Length(2),
    ])
    .areas(frame.area());
    frame.render_widget(
        Paragraph::new(count_text)
            .style(count_style)
            .wrap(Wrap { trim: false }),
        status,
    );
    let (n, total) = m.step();
    let block = Block::default().borders(Borders::ALL).title(format!(
        " keyrite ceremony · step {n} of {total} — {} ",
        (super::step::of(m.screen).what)(m)
    ));
    let inner = block.inner(body);
    frame.render_widget(block, body);
    if m.help {
        frame.render_widget(Clear, inner);
        frame.render_widget(
            Paragraph::new(help_lines(m)).wrap(Wrap { trim: false }),
            inner,
        );
    } else {
        draw_body(m, frame, inner);
    }
    if m.leaving {
        leave_box(m, frame, inner);
    }
    frame.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("Next: ", bold()),
            Span::raw(next_action(m)),
        ]))
        .wrap(Wrap { trim: false }),
        next,
    );
    if let Some(n) = m.notice.clone().filter(|_| !m.leaving) {
        // A message and its "what to do", each on its own line; nothing in them is obeyed.
        let lines: Vec<Line<'static>> = n
            .lines()
            .map(|l| Line::from(one_line(l.trim()).into_owned()))
            .collect();
        frame.render_widget(
            Paragraph::new(lines)
                .style(warn())
                .wrap(Wrap { trim: false }),
            notice,
        );
    }
    frame.render_widget(
        Paragraph::new(footer(m))
            .style(Style::default().add_modifier(Modifier::DIM))
            .wrap(Wrap { trim: false }),
        help,
    );
}

/// The leave box: its own box over the step (which it hides), its own key. `y` is no answer here.
fn leave_box(m: &Model, frame: &mut Frame, area: Rect) {
    let lines = vec![
        Line::from(""),
        Line::from(if m.screen == Screen::Confirm {
            "Nothing has been generated; the HSM and the bundle stay as they are."
        } else {
            "Nothing has been touched; the HSM and the bundle stay as they are."
        }),
        Line::from(if m.typed_anything() {
            "What was typed here is forgotten: the ceremony starts again from step 1."
        } else {
            "Nothing was typed yet."
        }),
        Line::from(""),
        Line::styled("L: leave now · any other key: stay in the ceremony", bold()),
    ];
    let height = (lines.len() as u16 + 2).min(area.height);
    let box_area = Rect {
        x: area.x,
        y: area.y + area.height.saturating_sub(height) / 2,
        width: area.width,
        height,
    };
    frame.render_widget(Clear, area);
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::default()
                    .borders(Borders::ALL)
                    .border_style(warn())
                    .title(" Leave the ceremony? "),
            )
            .wrap(Wrap { trim: false }),
        box_area,
    );
}

/// "1 h 05 min", "12 min 30 s".
fn duration(d: SignedDuration) -> String {
    crate::core::terminal::duration_text(d)
}

/// The countdown line and its colour.
pub(super) fn countdown(m: &Model) -> (String, Style) {
    let (Some(left), Some(at)) = (m.remaining(), m.info.parameters_expire) else {
        return (
            "import parameters: no expiry recorded in the bundle".into(),
            Style::default(),
        );
    };
    // The day too when it is not within the next day.
    let at = if left > SignedDuration::from_hours(24) {
        at.strftime("%Y-%m-%d %H:%M UTC").to_string()
    } else {
        at.strftime("%H:%M UTC").to_string()
    };
    let margin = duration(m.info.margin());
    if left.is_negative() || left.is_zero() {
        return (
            format!(
                "EXPIRED {} ago ({at}): KMS refuses them; prepare a new bundle",
                duration(left)
            ),
            warn(),
        );
    }
    if m.expiry_warning() {
        return (
            format!(
                "WARNING: parameters expire in {} ({at}), under the {margin} margin",
                duration(left)
            ),
            warn(),
        );
    }
    if m.short_of_time() {
        let budget = m
            .info
            .script
            .ceremony_budget(usize::from(m.info.quorum().unwrap_or(0)));
        return (
            format!(
                "HURRY: {} left (until {at}); needs {margin} margin + {} ceremony",
                duration(left),
                duration(budget)
            ),
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        );
    }
    (
        format!(
            "import parameters: {} left (until {at}; margin {margin})",
            duration(left)
        ),
        super::palette::fg(Color::Green),
    )
}

pub(super) fn next_action(m: &Model) -> String {
    if let Some(why) = m.cannot_finish().filter(|_| !m.leaving) {
        return why;
    }
    if m.leaving {
        return "L leaves the ceremony; any other key stays".into();
    }
    if m.help {
        return "any key closes the help".into();
    }
    (super::step::of(m.screen).next_action)(m)
}

pub(super) fn footer(m: &Model) -> &'static str {
    if m.leaving {
        return "L or Ctrl-C: leave · any other key: stay";
    }
    if m.help {
        return "any key: close the help";
    }
    (super::step::of(m.screen).footer)(m)
}

fn help_lines(m: &Model) -> Vec<Line<'static>> {
    let mut l = vec![
        Line::styled("Help", bold()),
        Line::from(
            "The ceremony goes step by step: who is present, the keys (checked by the witness), \
             the bundle fingerprint typed from the read-out, the custodians (with a roster), the \
             confirmation, then the HSM's work and the result.",
        ),
        Line::from(""),
        Line::from("Enter      check this entry and go on"),
        Line::from("Tab        the other field"),
        Line::from("←/→ Home End Delete Ctrl-U Ctrl-W  edit a field at its cursor"),
        Line::from("Shift-Tab  back to the previous step; what was typed is kept"),
        Line::from("↑/↓        scroll a list"),
        Line::from("Esc        asks whether to leave; only L leaves (Ctrl-C too: it asks once"),
        Line::from("           anything was typed, and leaves at once before)"),
        Line::from("y          at the confirmation only: generate and wrap the keys"),
        Line::from("F1 or ?    this help (? only where no field takes text)"),
        Line::from(""),
        Line::from(
            "Nothing touches the HSM before y at the confirmation. Keys typed ahead are dropped \
             at every step.",
        ),
    ];
    if m.info.interrupted.is_some() {
        l.push(Line::from(
            "f / a      on the first step: finish / abort the interrupted ceremony",
        ));
    }
    if m.info.shares() {
        l.push(Line::from(
            "A share is shown only as dots; a mistyped group is named, the entry stays to be corrected.",
        ));
    }
    l
}

/// A field: its label, its value, and where focused the cursor (`cursor`: its position in the
/// value, in characters).
fn field(label: &str, value: String, cursor: Option<usize>) -> Line<'static> {
    let marker = if cursor.is_some() { "> " } else { "  " };
    let mut spans = vec![Span::raw(marker), Span::styled(label.to_string(), bold())];
    match cursor {
        None => spans.push(Span::raw(one_line(&value).into_owned())),
        Some(at) => {
            let before: String = value.chars().take(at).collect();
            let after: String = value.chars().skip(at).collect();
            spans.push(Span::raw(one_line(&before).into_owned()));
            spans.push(Span::raw("▏"));
            spans.push(Span::raw(one_line(&after).into_owned()));
        }
    }
    Line::from(spans)
}

/// The cursor's position if the field `focus` is the focused one.
fn cursor_if(m: &Model, focus: Focus) -> Option<usize> {
    (m.focus == focus).then(|| m.cursor_at())
}

fn draw_body(m: &Model, frame: &mut Frame, area: Rect) {
    let lines = match m.screen {
        Screen::Resume => resume(m),
        Screen::People => people(m),
        Screen::Keys => keys(m, area),
        Screen::Fingerprint => fingerprint(m, area),
        Screen::Custodians => custodians(m, area),
        Screen::Confirm => confirm(m),
        Screen::Running => running(m, area.height),
        Screen::Result => result(m, area),
        Screen::Failed => failed(m),
    };
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), area);
}

fn resume(m: &Model) -> Vec<Line<'static>> {
    let Some(i) = &m.info.interrupted else {
        return Vec::new();
    };
    let mut l = vec![
        Line::styled("This bundle holds an interrupted ceremony.", bold()),
        Line::from(format!(
            "Its log has {}; {} of {} generated, {} wrapped and written.",
            counted(i.records, "record"),
            i.keys_generated,
            counted(m.info.keys.len(), "key"),
            i.keys_wrapped
        )),
        Line::from(""),
        Line::from(format!(
            "f  finish: generate and wrap the {} not yet wrapped, then close the log",
            counted(to_finish(m), "key")
        )),
        Line::from(format!(
            "a  abort:  destroy the {} never written, and close the log",
            counted(to_destroy(m), "generated key")
        )),
        Line::from(""),
        Line::from(
            "Either way the next steps are as for any ceremony (who is present, the keys, the \
             fingerprint, the custodians); nothing is done before y at the confirmation.",
        ),
    ];
    if let Some(why) = &i.cannot_finish {
        l.push(Line::from(""));
        l.push(Line::styled(
            format!("It cannot be finished now: {}", one_line(why)),
            warn(),
        ));
    }
    l
}

fn people(m: &Model) -> Vec<Line<'static>> {
    let s = &m.info.script;
    vec![
        Line::from(format!("Script    {}", one_line(&s.ceremony.name))),
        Line::from(format!(
            "Wrapping  {} with a {} KMS wrapping key",
            s.wrapping.algorithm, s.wrapping.key_spec
        )),
        Line::from(format!("Token     {}", one_line(&m.info.token))),
        Line::from(format!("Keys      {}", m.info.keys.len())),
        Line::from(""),
        field("Operator: ", m.operator.clone(), cursor_if(m, Focus::First)),
        field(
            if s.witness_required() {
                "Witness:  "
            } else {
                "Witness (optional): "
            },
            m.witness.clone(),
            cursor_if(m, Focus::Second),
        ),
    ]
}

/// How many rows `lines` take in a wrapped paragraph `width` columns wide.
fn rows(lines: &[Line<'_>], width: u16) -> usize {
    let width = usize::from(width.max(1));
    lines.iter().map(|l| l.width().div_ceil(width).max(1)).sum()
}

/// `head`, then as many of `blocks` from `from` on as fit in `area` (at least one); the head is
/// given the range shown.
fn scrolled(
    area: Rect,
    from: usize,
    blocks: Vec<Vec<Line<'static>>>,
    head: impl Fn(usize, usize, usize) -> Vec<Line<'static>>,
) -> Vec<Line<'static>> {
    let total = blocks.len();
    let from = from.min(total.saturating_sub(1));
    let used = rows(&head(from + 1, total, total), area.width);
    let mut room = usize::from(area.height).saturating_sub(used);
    let mut shown = Vec::new();
    for block in blocks.into_iter().skip(from) {
        let r = rows(&block, area.width);
        if r > room && !shown.is_empty() {
            break;
        }
        room = room.saturating_sub(r);
        shown.push(block);
    }
    let mut l = head(from + 1, from + shown.len(), total);
    l.extend(shown.into_iter().flatten());
    l
}

/// `text` cut to `width` characters, the cut marked with "…".
fn cut(text: &str, width: usize) -> String {
    let text = one_line(text);
    if text.chars().count() <= width {
        return format!("{text:<width$}");
    }
    let mut s: String = text.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// The key review: every key on one line (where it goes: alias, account, region), the selected
/// one's details under the table. Approved only once every row has been on screen.
fn keys(m: &Model, area: Rect) -> Vec<Line<'static>> {
    let keys = &m.info.keys;
    let total = keys.len();
    // The terminal's size: the body is all of it but the frame.
    let cols = area.width + 2;
    let rows = area.height + super::model::frame_rows(cols) as u16;
    let first = m.keys_first_shown((cols, rows));
    let last = (first + super::model::keys_per_page(cols, rows)).min(total);
    let name_w = keys
        .iter()
        .map(|k| k.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 18);
    // "> 12 " + name + "  " + alias + "  " + account (12) + "  " + region: one row a key, never
    // wrapped (the page counts rows); the name gives way first, then the alias.
    let region_w = keys
        .iter()
        .map(|k| k.region.chars().count())
        .max()
        .unwrap_or(14)
        .max(14);
    let fixed = 5 + 2 + 2 + 12 + 2 + region_w;
    let name_w = name_w.min(usize::from(area.width).saturating_sub(fixed + 8).max(4));
    let alias_w = usize::from(area.width)
        .saturating_sub(fixed + name_w)
        .max(4);
    let head = if super::model::narrow(cols) {
        format!(
            "Keys {}–{last} of {total}: right account and region?",
            first + 1
        )
    } else {
        format!(
            "Keys {}–{last} of {total}. Witness: is each the account and region you expect?",
            first + 1
        )
    };
    let mut l = vec![Line::styled(head, bold())];
    for (i, k) in keys.iter().enumerate().skip(first).take(last - first) {
        let selected = i == m.scroll;
        let row = format!(
            "{}{:>2} {}  {}  {:<12}  {}",
            if selected { "> " } else { "  " },
            i + 1,
            cut(&k.name, name_w),
            cut(
                &match (&k.alias, &k.takes_over) {
                    (_, Some((alias, _))) => format!("MOVES {alias}"),
                    (Some(a), None) => a.clone(),
                    (None, None) => "(no alias)".into(),
                },
                alias_w
            ),
            one_line(&k.account),
            if k.replicas.is_empty() {
                one_line(&k.region).into_owned()
            } else {
                format!("{} +{}", one_line(&k.region), k.replicas.len())
            },
        );
        l.push(if selected {
            Line::styled(row, bold())
        } else {
            Line::from(row)
        });
    }
    if let Some(k) = keys.get(m.scroll) {
        let narrow = super::model::narrow(cols);
        if !narrow {
            l.push(Line::from(""));
        }
        l.push(Line::styled(
            format!("Key {} of {total}: {}", m.scroll + 1, one_line(&k.name)),
            bold(),
        ));
        if narrow {
            // The table cuts the alias on a narrow terminal: whole here.
            l.push(Line::from(format!(
                "  {}",
                k.alias.as_deref().map_or("(no alias)".into(), one_line)
            )));
        }
        l.push(Line::from(format!("  {}", one_line(&k.arn))));
        l.push(Line::from("  SHA-256 of its KMS wrapping public key:"));
        l.push(Line::from(format!(
            "  {}",
            one_line(&k.wrapping_key_sha256)
        )));
        for (region, arn, sha) in &k.replicas {
            l.push(Line::styled(
                format!(
                    "  REPLICA in {}, wrapped for its own key:",
                    one_line(region)
                ),
                bold(),
            ));
            l.push(Line::from(format!("  {}", one_line(arn))));
            l.push(Line::from(format!("  {}", one_line(sha))));
        }
        if let Some((alias, previous)) = &k.takes_over {
            l.push(Line::styled(
                format!(
                    "  ALIAS MOVE: takes over {} from {}",
                    one_line(alias),
                    one_line(previous)
                ),
                bold(),
            ));
        }
    }
    l
}

/// `intro` then `rest` where both fit in `area`; else `rest` alone (the field and what it shows
/// matter more than the explanation on a small terminal).
fn fitted(
    mut intro: Vec<Line<'static>>,
    rest: Vec<Line<'static>>,
    area: Rect,
) -> Vec<Line<'static>> {
    intro.extend(rest.iter().cloned());
    if rows(&intro, area.width) <= usize::from(area.height) {
        intro
    } else {
        rest
    }
}

fn fingerprint(m: &Model, area: Rect) -> Vec<Line<'static>> {
    let intro = vec![
        Line::from("Someone on the connected side reads out the bundle's fingerprint (printed by"),
        Line::from("`keyrite kms prepare`). Type it as you hear it; spaces do not matter. It is"),
        Line::from("checked when you press Enter, and any wrong group is named."),
        Line::from(""),
    ];
    let mut l = vec![field(
        "Fingerprint: ",
        m.fingerprint.clone(),
        Some(m.cursor_at()),
    )];
    let typed = normalise_fingerprint(&m.fingerprint);
    // Which group the cursor is in, while typing or correcting (the words take its place once
    // the whole fingerprint is typed and the cursor is at its end).
    let editing = m.cursor_at() < m.fingerprint.chars().count();
    if !m.fingerprint.is_empty() && (typed.len() < 64 || editing) {
        let (group, groups) = m.fingerprint_group();
        l.push(Line::from(format!(
            "             the cursor is in group {group} of {groups}"
        )));
    }
    if typed.len() == 64 && !editing {
        let mut words = vec![Line::from(if super::model::narrow(area.width + 2) {
            "What you typed, as words to read back:"
        } else {
            "What you typed, as words to read back to the connected side:"
        })];
        for w in word_lines(&typed) {
            words.push(Line::from(format!("  {w}")));
        }
        // A blank line before the words where there is room for it.
        let mut spaced = l.clone();
        spaced.push(Line::from(""));
        spaced.extend(words.iter().cloned());
        l.extend(words);
        if rows(&spaced, area.width) <= usize::from(area.height) {
            l = spaced;
        }
    }
    fitted(intro, l, area)
}

fn custodians(m: &Model, area: Rect) -> Vec<Line<'static>> {
    let need = m.info.quorum().unwrap_or(0);
    let mut intro = Vec::new();
    let l = &mut intro;
    if let Some(r) = &m.info.roster {
        l.push(Line::from(format!(
            "The HSM is opened by {need} of the {} custodians of the roster: {}",
            r.roster.custodians.len(),
            one_line(&r.roster.names().join(", "))
        )));
    }
    if m.info.shares() {
        l.push(Line::from(
            "Each, in turn, types their name and their share; everyone else looks away.",
        ));
    } else {
        l.push(Line::from(
            "Each types their name (the HSM enforces the quorum).",
        ));
    }
    l.push(Line::from(""));
    let mut l = Vec::new();
    for c in &m.custodians {
        l.push(Line::styled(
            format!("  ✓ {}", one_line(&c.name)),
            super::palette::fg(Color::Green),
        ));
    }
    l.push(field(
        "Custodian: ",
        m.custodian_name.clone(),
        cursor_if(m, Focus::First),
    ));
    if m.info.shares() {
        l.push(field(
            "Share:     ",
            m.share_dots(),
            cursor_if(m, Focus::Second),
        ));
        if let Some(g) = m.share_group().filter(|_| m.focus == Focus::Second) {
            l.push(Line::from(format!(
                "             the cursor is in group {g}"
            )));
        }
    }
    fitted(intro, l, area)
}

fn confirm(m: &Model) -> Vec<Line<'static>> {
    let n = m.info.keys.len();
    let mut l = vec![
        Line::from(format!("Operator    {}", one_line(m.operator.trim()))),
        Line::from(format!("Witness     {}", one_line(m.witness.trim()))),
        Line::from(format!(
            "Bundle      {} (checked)",
            grouped(&m.info.bundle_fingerprint)
        )),
        Line::from(format!("Token       {}", one_line(&m.info.token))),
    ];
    if !m.custodians.is_empty() {
        let names: Vec<&str> = m.custodians.iter().map(|c| c.name.as_str()).collect();
        l.push(Line::from(format!(
            "Custodians  {}",
            one_line(&names.join(", "))
        )));
    }
    let keys: Vec<&str> = m.info.keys.iter().map(|k| k.name.as_str()).collect();
    l.push(Line::from(format!(
        "Keys        {}",
        one_line(&keys.join(", "))
    )));
    l.push(Line::from(""));
    let question = match m.resume {
        Some(ResumeChoice::Abort) => format!(
            "Abort: destroy {} and close the log? y: abort · n or Esc: leave",
            counted(to_destroy(m), "generated key")
        ),
        Some(ResumeChoice::Finish) => format!(
            "Finish: generate and wrap the {} left and close the log? y: finish · n or Esc: leave",
            counted(to_finish(m), "key")
        ),
        None => format!(
            "Generate and wrap {} now? y: generate · n or Esc: leave",
            counted(n, "key")
        ),
    };
    l.push(Line::styled(question, bold()));
    l
}

/// "3 of 9 keys": the keys verified so far, of the bundle's.
fn done_of(m: &Model) -> String {
    let done = m
        .progress
        .iter()
        .filter(|p| matches!(p.step, Some(KeyStep::Verified { .. })))
        .count();
    format!("{done} of {}", counted(m.info.keys.len(), "key"))
}

fn running(m: &Model, height: u16) -> Vec<Line<'static>> {
    let mut l = Vec::new();
    l.push(Line::from(
        "Generating, wrapping and verifying the keys inside the HSM…",
    ));
    l.push(Line::styled(format!("{} done", done_of(m)), bold()));
    l.extend(m.quorum_line.clone().map(Line::from));
    l.extend(m.probe_line.clone().map(Line::from));
    l.push(Line::from(""));
    let total = m.info.keys.len();
    let room = usize::from(height).saturating_sub(l.len() + 1).max(1);
    let from = m.scroll.min(total.saturating_sub(1));
    for (i, k) in m.info.keys.iter().enumerate().skip(from).take(room) {
        let (mark, what, style) = match m.progress.get(i).and_then(|p| p.step.as_ref()) {
            None => ("·", "waiting".to_string(), Style::default()),
            Some(KeyStep::Verified { .. }) => (
                "✓",
                "wrapped, written, read back, verified".to_string(),
                super::palette::fg(Color::Green),
            ),
            Some(s) => (
                "…",
                format!("{}/{} {}", s.position(), KeyStep::COUNT, s.describe()),
                bold(),
            ),
        };
        l.push(Line::styled(
            format!("{mark} {:>2} {:<20} {what}", i + 1, one_line(&k.name)),
            style,
        ));
    }
    l
}

fn result(m: &Model, area: Rect) -> Vec<Line<'static>> {
    let Some(r) = &m.result else {
        return Vec::new();
    };
    let dir = one_line(&m.info.bundle_dir).into_owned();
    if let Some(destroyed) = &r.aborted {
        let mut l = vec![
            Line::styled(
                format!(
                    "The interrupted ceremony is aborted: {} destroyed (generated, never written); the log is closed.",
                    counted(destroyed.len(), "key")
                ),
                bold(),
            ),
            Line::from(format!(
                "This bundle cannot be imported. Keep it for the audit: {dir}"
            )),
            Line::from(""),
        ];
        for label in destroyed {
            l.push(Line::from(format!("  destroyed {}", one_line(label))));
        }
        return l;
    }
    let head = vec![
        Line::styled(
            format!(
                "{} generated, wrapped and verified.",
                counted(r.keys.len(), "key")
            ),
            bold(),
        ),
        Line::from(format!("Carry back the bundle directory: {dir}")),
        Line::from(format!(
            "Then on the connected side: {}",
            import_command(&dir)
        )),
        Line::from(format!("Capability probe {}", one_line(&r.probe))),
        Line::from(format!(
            "CKA_WRAP_WITH_TRUSTED {}",
            one_line(&r.wrap_with_trusted)
        )),
    ];
    // One line a key; the HSM labels and the whole digests are in ceremony-report.txt.
    let name_w = r
        .keys
        .iter()
        .map(|k| k.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 24);
    let blocks = r
        .keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let sha = one_line(&k.sha256);
            let sha: String = sha.chars().take(16).collect();
            let mut block = vec![Line::from(format!(
                "{:>2} {}  check value {}  material SHA-256 {sha}…",
                i + 1,
                cut(&k.name, name_w),
                one_line(&k.check_value),
            ))];
            if !k.replica_regions.is_empty() {
                block.push(Line::from(format!(
                    "   and wrapped for its replicas in {}",
                    k.replica_regions
                        .iter()
                        .map(|r| one_line(r).into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            block
        })
        .collect();
    scrolled(area, m.scroll, blocks, |from, to, total| {
        let mut l = head.clone();
        l.push(Line::from(format!(
            "Keys {from}–{to} of {total} (whole values: {dir}/{REPORT_FILE}):"
        )));
        l
    })
}

fn failed(m: &Model) -> Vec<Line<'static>> {
    let mut l = vec![
        Line::styled("The ceremony stopped.", warn()),
        Line::from(""),
    ];
    if let Some(why) = &m.failure {
        for line in why.lines() {
            l.push(Line::from(one_line(line).into_owned()));
        }
    }
    l
}
