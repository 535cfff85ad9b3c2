//! update() as a table of transitions and of every gate, every screen and state drawn on a
//! `TestBackend` (insta snapshots at 80x24 and 120x40), and the main loop driven by scripted
//! keys with a real worker thread.

use std::collections::VecDeque;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::edit::Edit;
use super::model::{Focus, Info, KeyInfo, KeyRow, Model, Msg, Outcome, ResultView, Screen};
use super::step::update;
use super::view::view;
use crate::app::ceremony::CeremonyReport;
use crate::app::ceremony::preflight::Interrupted;
use crate::app::ceremony::progress::{KeyStep, Progress};
use crate::app::error::{Error, Result};
use crate::core::ceremony::ResumeChoice;
use crate::core::custody::shares::{CustodianShare, split};
use crate::core::custody::{QuorumMode, RosterFile};
use crate::core::digest::grouped;
use crate::core::script::Script;

const FP: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const NAMES: [&str; 5] = ["Alice", "Bob", "Carol", "Dave", "Erin"];

fn now() -> Timestamp {
    "2026-11-28T20:00:00Z".parse().unwrap()
}

fn script(witness_required: bool) -> Script {
    let mut s = String::from("[ceremony]\nname = \"Rotate prod-s3\"\n");
    if !witness_required {
        s.push_str("witness_required = false\n");
    }
    s.push_str("\n[wrapping]\nalgorithm = \"RSAES_OAEP_SHA_256\"\nkey_spec = \"RSA_4096\"\n");
    s.push_str(
        "\n[[key]]\nkey = \"alias/prod-s3\"\naccount = \"111122223333\"\nregion = \"eu-west-1\"\n",
    );
    Script::parse("script.toml", &s).unwrap()
}

fn key_info(i: usize) -> KeyInfo {
    KeyInfo {
        replicas: Vec::new(),
        name: format!("prod-{i:02}"),
        alias: Some(format!("alias/prod-{i:02}")),
        arn: format!(
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890{i:02}"
        ),
        account: "111122223333".into(),
        region: "eu-west-1".into(),
        wrapping_key_sha256: format!("{i:02}").repeat(32),
        takes_over: None,
    }
}

/// A roster of five (threshold 3) and its shares.
fn roster() -> (RosterFile, Vec<CustodianShare>) {
    let names: Vec<String> = NAMES.map(String::from).to_vec();
    let (roster, shares) = split(&[7u8; 32], 3, &names, "roster-id").unwrap();
    (
        RosterFile::new(QuorumMode::Shamir, "ceremony-hsm", &"ab".repeat(32), roster),
        shares,
    )
}

fn info(keys: usize, roster: Option<RosterFile>) -> Info {
    Info {
        script: script(true),
        keys: (1..=keys).map(key_info).collect(),
        token: "ceremony-hsm".into(),
        bundle_dir: "/media/usb/bundle".into(),
        bundle_fingerprint: FP.into(),
        parameters_expire: Some(now() + SignedDuration::from_mins(95)),
        roster,
        interrupted: None,
    }
}

fn typed(mut m: Model, text: &str) -> Model {
    for c in text.chars() {
        m = update(m, Msg::Char(c));
    }
    m
}

fn send(mut m: Model, msgs: &[Msg]) -> Model {
    for msg in msgs {
        m = update(m, msg.clone());
    }
    m
}

fn erase(mut m: Model, n: usize) -> Model {
    for _ in 0..n {
        m = update(m, Msg::Edit(Edit::Backspace));
    }
    m
}

/// The model at a screen, with everything before it answered right (the first three
/// custodians with a roster).
fn at(screen: Screen, keys: usize, with_roster: bool) -> (Model, Vec<CustodianShare>) {
    let (r, shares) = roster();
    let m = Model::new(info(keys, with_roster.then_some(r)), now());
    (walk(m, screen, keys, with_roster, &shares), shares)
}

/// From the first question to `screen`, answering everything right.
fn walk(
    mut m: Model,
    screen: Screen,
    keys: usize,
    with_roster: bool,
    shares: &[CustodianShare],
) -> Model {
    if screen == Screen::People {
        return m;
    }
    m = typed(m, "Alice Admin");
    m = update(m, Msg::Enter);
    m = typed(m, "Walter Witness");
    m = update(m, Msg::Enter);
    assert_eq!(m.screen, Screen::Keys);
    if screen == Screen::Keys {
        return m;
    }
    // Enter shows the keys not yet seen, page by page, before it approves them.
    for _ in 0..=keys {
        if m.screen != Screen::Keys {
            break;
        }
        m = update(m, Msg::Enter);
    }
    assert_eq!(m.screen, Screen::Fingerprint);
    if screen == Screen::Fingerprint {
        return m;
    }
    m = typed(m, &grouped(&FP.to_uppercase()));
    m = update(m, Msg::Enter);
    if with_roster {
        assert_eq!(m.screen, Screen::Custodians, "{:?}", m.notice);
        if screen == Screen::Custodians {
            return m;
        }
        for i in [0, 2, 3] {
            m = typed(m, NAMES[i]);
            m = update(m, Msg::Enter);
            m = typed(m, &shares[i].encode());
            m = update(m, Msg::Enter);
            assert_eq!(m.notice, None);
        }
        m = update(m, Msg::Enter);
    }
    assert_eq!(m.screen, Screen::Confirm);
    if screen == Screen::Confirm {
        return m;
    }
    m = update(m, Msg::Char('y'));
    assert_eq!(m.outcome, Outcome::Run);
    if screen == Screen::Running {
        return m;
    }
    update(m, Msg::Finished(result(keys)))
}

/// A bundle holding an interrupted ceremony of `keys` keys: 2 generated, 1 wrapped.
fn interrupted(keys: usize, cannot_finish: Option<&str>) -> Model {
    let mut i = info(keys, None);
    i.interrupted = Some(Interrupted {
        records: 6,
        keys_generated: 2,
        keys_wrapped: 1,
        cannot_finish: cannot_finish.map(String::from),
    });
    Model::new(i, now())
}

/// An interrupted ceremony, `choice` pressed on its first screen, then on to `screen`.
fn resumed(choice: char, screen: Screen) -> Model {
    let m = update(interrupted(3, None), Msg::Char(choice));
    walk(m, screen, 3, false, &[])
}

fn result(keys: usize) -> ResultView {
    ResultView {
        aborted: None,
        probe: "passed".into(),
        wrap_with_trusted: "supported".into(),
        fingerprint: FP.into(),
        keys: (1..=keys)
            .map(|i| KeyRow {
                replica_regions: Vec::new(),
                name: format!("prod-{i:02}"),
                check_value: format!("1a2b{i:02}"),
                label: format!("keyrite/prod-{i:02}/20261128/ba7816bf"),
                sha256: format!("f{i:01x}").repeat(32),
            })
            .collect(),
    }
}

fn render(m: &Model, w: u16, h: u16) -> String {
    drawn(w, h, |f| view(m, f))
}

/// What `draw` puts on a `w`x`h` screen, row by row.
/// The screen's text as one line: the box's sides dropped, runs of spaces as one (so a text
/// wrapped over rows is found whole).
fn flat(text: &str) -> String {
    text.replace(['│', '┌', '┐', '└', '┘', '─'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// At 60x20 the countdown, the whole next action and the whole footer are on screen, and what
/// the step is for: the focused field, the PGP words, the confirmation's question.
fn usable_at_60x20(name: &str, m: &Model, screen: &str) {
    let all = flat(screen);
    let want = [
        super::view::countdown(m).0,
        format!("Next: {}", super::view::next_action(m)),
        super::view::footer(m).to_string(),
    ];
    for w in want {
        assert!(
            all.contains(&flat(&w)),
            "{name}: {w:?} not whole at 60x20:\n{screen}"
        );
    }
    let typed = crate::core::digest::normalise_fingerprint(&m.fingerprint);
    if m.screen == Screen::Fingerprint
        && typed.len() == 64
        && m.cursor_at() == m.fingerprint.chars().count()
    {
        for w in crate::core::digest::word_lines(&typed) {
            assert!(
                all.contains(&flat(&w)),
                "{name}: {w:?} cut at 60x20:\n{screen}"
            );
        }
    }
    if m.text_focus() && !m.leaving && !m.help && !m.swallowing {
        assert!(
            screen.contains("> "),
            "{name}: no focused field at 60x20:\n{screen}"
        );
    }
    if m.screen == Screen::Confirm && !m.leaving && !m.help {
        assert!(
            all.contains("n or Esc: leave"),
            "{name}: the question is cut:\n{screen}"
        );
    }
    if m.screen == Screen::Keys && !m.leaving && !m.help {
        assert!(
            all.contains(&format!("Key {} of", m.scroll + 1)),
            "{name}: the key's details are cut:\n{screen}"
        );
    }
}

fn drawn(w: u16, h: u16, draw: impl FnOnce(&mut ratatui::Frame)) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(draw).unwrap();
    screen_of(&t)
}

/// What a test terminal shows, a line a row.
fn screen_of(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

#[test]
fn the_steps_come_in_order_and_collect_the_answers() {
    let (mut m, shares) = at(Screen::Confirm, 2, true);
    assert_eq!(m.step(), (5, 7));
    let a = m.take_answers();
    assert_eq!(a.operator, "Alice Admin");
    assert_eq!(a.witness.as_deref(), Some("Walter Witness"));
    assert_eq!(
        a.bundle_fingerprint, FP,
        "typed grouped upper case, normalised"
    );
    let names: Vec<&str> = a.custodians.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Alice", "Carol", "Dave"]);
    for (c, i) in a.custodians.iter().zip([0, 2, 3]) {
        assert_eq!(
            c.share.as_ref().map(|s| s.expose_to_gate()),
            Some(shares[i].encode().as_str())
        );
    }
    // Without a roster there is no custodian step.
    let (m, _) = at(Screen::Confirm, 2, false);
    assert!(m.custodians.is_empty());
    assert_eq!(m.step(), (4, 6));
}

#[test]
fn esc_asks_in_its_own_box_where_only_l_leaves_and_y_is_no_answer() {
    for screen in [
        Screen::People,
        Screen::Keys,
        Screen::Fingerprint,
        Screen::Custodians,
        Screen::Confirm,
    ] {
        let (m, _) = at(screen, 2, true);
        let m = update(m, Msg::Esc);
        assert!(m.leaving, "{screen:?}");
        assert_eq!(m.outcome, Outcome::Continue, "Esc never quits at once");
        let s = render(&m, 80, 24);
        assert!(s.contains("Leave the ceremony?"), "{s}");
        assert!(s.contains("L: leave now"), "{s}");
        // The leave box hides the step: no "(y/N)" of the confirmation beside "leave".
        assert!(!s.contains("Generate and wrap"), "{s}");
        for stay in [
            Msg::Enter,
            Msg::Char('n'),
            Msg::Esc,
            Msg::Char('x'),
            Msg::Char('y'),
        ] {
            let m2 = update(at(screen, 2, true).0, Msg::Esc);
            let m2 = update(m2, stay.clone());
            assert!(!m2.leaving, "{screen:?} {stay:?}");
            assert_eq!(m2.outcome, Outcome::Continue, "{screen:?} {stay:?}");
            assert_eq!(m2.screen, screen);
        }
        let m = update(m, Msg::Char('l'));
        assert_eq!(m.outcome, Outcome::Quit, "{screen:?}");
    }
}

#[test]
fn ctrl_c_leaves_at_once_only_before_anything_is_typed_and_else_asks_like_esc() {
    let (m, _) = at(Screen::People, 2, false);
    assert_eq!(update(m, Msg::Interrupt).outcome, Outcome::Quit);
    let m = typed(at(Screen::People, 2, false).0, "A");
    let m = update(m, Msg::Interrupt);
    assert!(m.leaving);
    assert_eq!(m.outcome, Outcome::Continue);
    // Any other key stays, with what was typed.
    let m = update(m, Msg::Char('y'));
    assert_eq!((m.outcome, m.operator.as_str()), (Outcome::Continue, "A"));
    for screen in [Screen::Keys, Screen::Fingerprint, Screen::Confirm] {
        let m = update(at(screen, 2, false).0, Msg::Interrupt);
        assert!(m.leaving, "{screen:?}");
        assert_eq!(m.outcome, Outcome::Continue, "{screen:?}");
        // A second Ctrl-C leaves.
        assert_eq!(update(m, Msg::Interrupt).outcome, Outcome::Quit);
    }
    // The footers say so, and fit 80 columns (one row each).
    for screen in [
        Screen::People,
        Screen::Keys,
        Screen::Fingerprint,
        Screen::Confirm,
    ] {
        let s = render(&at(screen, 2, false).0, 80, 24);
        let footer = s.lines().nth(22).unwrap_or_default();
        assert!(footer.contains("Ctrl-C"), "{screen:?}\n{s}");
        assert_eq!(
            s.lines().nth(23).unwrap_or_default().trim(),
            "",
            "{screen:?}\n{s}"
        );
    }
}

#[test]
fn a_share_typed_into_a_name_field_is_wiped_unseen_and_what_follows_is_dropped() {
    let (r, shares) = roster();
    let share = shares[1].encode().to_string();
    let not_shown = |screen: &str, s: &str| {
        for i in 0..share.len().saturating_sub(5) {
            assert!(
                !s.contains(&share[i..i + 6]),
                "{screen}: share on screen\n{s}"
            );
        }
    };
    // The operator's and the witness's fields.
    for witness in [false, true] {
        let mut m = Model::new(info(1, None), now());
        if witness {
            m = update(typed(m, "Alice Admin"), Msg::Enter);
        }
        let m = typed(m, &format!("bob{share}"));
        assert_eq!(
            m.notice.as_deref(),
            Some(crate::core::person::LOOKED_LIKE_SHARE)
        );
        assert!(m.swallowing);
        let field = if witness { &m.witness } else { &m.operator };
        assert_eq!(field.as_str(), "", "wiped");
        not_shown("people", &render(&m, 80, 24));
        // Enter ends it and does nothing else; the field takes a name again.
        let m = update(m, Msg::Enter);
        assert!(!m.swallowing);
        assert_eq!(m.screen, Screen::People);
        let m = typed(m, "Walter");
        let field = if witness { &m.witness } else { &m.operator };
        assert_eq!(field.as_str(), "Walter");
    }
    // A custodian's name field, typed without the prefix too.
    let _ = r;
    for typed_share in [
        share.clone(),
        share[7..].to_string(),
        share.replace('-', " "),
    ] {
        let m = typed(at(Screen::Custodians, 1, true).0, &typed_share);
        assert_eq!(m.custodian_name, "");
        assert_eq!(
            m.notice.as_deref(),
            Some(crate::core::person::LOOKED_LIKE_SHARE)
        );
        not_shown("custodians", &render(&m, 80, 24));
        let m = update(m, Msg::Enter);
        assert_eq!((m.screen, m.custodians.len()), (Screen::Custodians, 0));
    }
}

#[test]
fn a_custodian_name_is_matched_ignoring_case_and_spacing_and_kept_as_enrolled() {
    let (m, shares) = at(Screen::Custodians, 1, true);
    let m = update(typed(m, " alice "), Msg::Enter);
    assert_eq!(m.notice, None);
    assert_eq!(m.focus, Focus::Second);
    let m = update(typed(m, &shares[0].encode()), Msg::Enter);
    assert_eq!(m.notice, None);
    assert_eq!(m.custodians[0].name, "Alice");
    // The same person again, however spelled, is refused.
    let m = update(typed(m, "ALICE"), Msg::Enter);
    assert!(
        m.notice.as_deref().unwrap_or("").contains("named twice"),
        "{:?}",
        m.notice
    );
}

#[test]
fn the_key_review_shows_the_alias_a_new_key_takes_over_on_its_line_and_under_the_table() {
    let mut info = info(2, None);
    info.keys[1].takes_over = Some((
        "alias/prod-s3".into(),
        "arn:aws:kms:eu-west-1:111122223333:key/old".into(),
    ));
    let m = Model::new(info, now());
    let m = walk(m, Screen::Keys, 2, false, &[]);
    let s = render(&m, 80, 24);
    assert!(s.contains("MOVES alias/prod-s3"), "{s}");
    // Its details when it is selected.
    let m = update(m, Msg::ScrollDown);
    let s = render(&m, 120, 40);
    assert!(
        s.contains(
            "ALIAS MOVE: takes over alias/prod-s3 from arn:aws:kms:eu-west-1:111122223333:key/old"
        ),
        "{s}"
    );
}

#[test]
fn the_key_review_shows_a_multi_region_keys_replicas_and_their_wrapping_keys() {
    let mut info = info(1, None);
    let region = info.keys[0].region.clone();
    info.keys[0].replicas = vec![(
        "us-west-2".into(),
        "arn:aws:kms:us-west-2:111122223333:key/mrk-1".into(),
        "ab".repeat(32),
    )];
    let m = Model::new(info, now());
    let m = walk(m, Screen::Keys, 1, false, &[]);
    for (cols, rows) in [(80, 24), (120, 40)] {
        let s = render(&m, cols, rows);
        assert!(s.contains(&format!("{region} +1")), "{s}");
        assert!(
            s.contains("REPLICA in us-west-2, wrapped for its own key:"),
            "{s}"
        );
        assert!(
            s.contains("arn:aws:kms:us-west-2:111122223333:key/mrk-1"),
            "{s}"
        );
        assert!(s.contains(&"ab".repeat(32)), "{s}");
    }
}

#[test]
fn the_key_review_is_approved_only_once_every_key_was_on_screen() {
    let (m, _) = at(Screen::Keys, 16, false);
    // At 80x24 the first ten keys are shown, one line each.
    let s = render(&m, 80, 24);
    assert!(s.contains("Keys 1–10 of 16"), "{s}");
    assert!(s.contains("Enter: next keys"), "{s}");
    let m = update(m, Msg::Enter);
    assert_eq!(m.screen, Screen::Keys, "not approved unseen");
    assert!(
        m.notice
            .as_deref()
            .unwrap_or("")
            .contains("keys 11–16 of 16 are shown now"),
        "{:?}",
        m.notice
    );
    let s = render(&m, 80, 24);
    assert!(s.contains("prod-16"), "{s}");
    assert!(s.contains("Enter: the keys are right"), "{s}");
    let m = update(m, Msg::Enter);
    assert_eq!(m.screen, Screen::Fingerprint);
    // Scrolling down to the last key counts as seeing it.
    let m = send(at(Screen::Keys, 16, false).0, &vec![Msg::ScrollDown; 15]);
    assert_eq!(update(m, Msg::Enter).screen, Screen::Fingerprint);
    // The nine keys of a ceremony fit at 80x24: one Enter.
    let m = update(at(Screen::Keys, 9, false).0, Msg::Enter);
    assert_eq!(m.screen, Screen::Fingerprint);
}

#[test]
fn the_rehearsal_read_out_shows_the_fingerprint_and_its_words_at_80x24() {
    let s = drawn(80, 24, |f| super::readout::draw(f, FP));
    let g = grouped(FP);
    assert!(s.contains(&g[..39]), "{s}");
    assert!(s.contains(&g[40..]), "{s}");
    insta::assert_snapshot!("rehearsal_read_out_80x24", s);
}

#[test]
fn crossing_the_margin_replaces_next_and_y_no_longer_confirms() {
    // 31 minutes left against a 30-minute margin: under a ceremony's budget, so a warning.
    let (m, _) = at(Screen::Confirm, 1, false);
    let m = update(m, Msg::Tick(now() + SignedDuration::from_mins(64)));
    assert!(m.short_of_time());
    let s = render(&m, 80, 24);
    assert!(s.contains("HURRY: 31 min left"), "{s}");
    let m = update(m, Msg::Tick(now() + SignedDuration::from_mins(66)));
    let s = render(&m, 80, 24);
    assert!(
        s.contains("Next: this ceremony can no longer finish"),
        "{s}"
    );
    assert!(!s.contains("press y"), "{s}");
    let m = update(m, Msg::Char('y'));
    assert_eq!((m.screen, m.outcome), (Screen::Confirm, Outcome::Continue));
    assert!(
        m.notice
            .as_deref()
            .unwrap_or("")
            .contains("can no longer finish")
    );
}

#[test]
fn only_y_confirms_and_enter_neither_confirms_nor_quits() {
    let (m, _) = at(Screen::Confirm, 3, false);
    for msg in [
        Msg::Enter,
        Msg::Char(' '),
        Msg::Char('j'),
        Msg::Tab,
        Msg::Edit(Edit::Backspace),
    ] {
        let m = update(at(Screen::Confirm, 3, false).0, msg.clone());
        assert_eq!(
            (m.screen, m.outcome),
            (Screen::Confirm, Outcome::Continue),
            "{msg:?}"
        );
        assert!(
            m.notice.as_deref().unwrap_or("").contains("only y"),
            "{msg:?}"
        );
    }
    // n asks to leave, as Esc does.
    let n = update(at(Screen::Confirm, 3, false).0, Msg::Char('n'));
    assert!(n.leaving);
    assert_eq!(n.outcome, Outcome::Continue);
    let m = update(m, Msg::Char('y'));
    assert_eq!((m.screen, m.outcome), (Screen::Running, Outcome::Run));
    // While the HSM works no key does anything, not even Esc or Ctrl-C.
    let m = send(
        m,
        &[
            Msg::Esc,
            Msg::Interrupt,
            Msg::Char('y'),
            Msg::Enter,
            Msg::Back,
        ],
    );
    assert_eq!((m.screen, m.leaving), (Screen::Running, false));
}

#[test]
fn back_keeps_every_entry_and_it_stays_editable() {
    let (m, _) = at(Screen::Confirm, 2, true);
    let m = update(m, Msg::Back);
    assert_eq!(m.screen, Screen::Custodians);
    assert_eq!(m.custodians.len(), 3);
    let m = update(m, Msg::Back);
    assert_eq!(m.screen, Screen::Fingerprint);
    assert_eq!(
        crate::core::digest::normalise_fingerprint(&m.fingerprint),
        FP
    );
    let m = send(m, &[Msg::Back, Msg::Back]);
    assert_eq!(m.screen, Screen::People);
    assert_eq!(
        (m.operator.as_str(), m.witness.as_str()),
        ("Alice Admin", "Walter Witness")
    );
    // No step before the first.
    let m = update(m, Msg::Back);
    assert_eq!(m.screen, Screen::People);
    // Edit the witness, then go forward again: the fingerprint is still there and checked.
    let m = update(m, Msg::Tab);
    let m = erase(m, "Witness".len());
    let m = typed(m, "Wu");
    let m = send(m, &[Msg::Enter, Msg::Enter]);
    assert_eq!(m.screen, Screen::Fingerprint);
    assert_eq!(m.witness, "Walter Wu");
    // Editing the fingerprint undoes its check: y is refused until it is checked again.
    let m = typed(m, "0");
    let m = erase(m, 1);
    let m = update(m, Msg::Enter);
    assert_eq!(m.screen, Screen::Custodians);
    let m = send(m, &[Msg::Enter]);
    assert_eq!(m.screen, Screen::Confirm);
    let m = update(m, Msg::Char('y'));
    assert_eq!(m.outcome, Outcome::Run);
}

#[test]
fn the_people_are_checked_against_the_script() {
    let (m, _) = at(Screen::People, 1, false);
    let m = update(m, Msg::Enter);
    assert!(m.notice.as_deref().unwrap().contains("operator's name"));
    let m = typed(m, "Alice");
    let m = send(m, &[Msg::Enter, Msg::Enter]);
    assert_eq!(m.screen, Screen::People);
    assert!(
        m.notice.as_deref().unwrap().contains("requires a witness"),
        "{:?}",
        m.notice
    );
    let m = typed(m, " alice ");
    let m = update(m, Msg::Enter);
    assert!(
        m.notice.as_deref().unwrap().contains("another person"),
        "{:?}",
        m.notice
    );
    // A script without the witness rule lets the operator alone through.
    let mut i = info(1, None);
    i.script = script(false);
    let m = typed(Model::new(i, now()), "Alice");
    let m = send(m, &[Msg::Enter, Msg::Enter]);
    assert_eq!(m.screen, Screen::Keys, "{:?}", m.notice);
}

#[test]
fn a_wrong_fingerprint_names_the_wrong_groups_and_nothing_is_shown_while_typing() {
    let (m, _) = at(Screen::Fingerprint, 1, false);
    let screen = render(&m, 120, 40);
    assert!(
        !screen.contains(&grouped(FP)[..9]),
        "the expected value is not on screen:\n{screen}"
    );
    let mut wrong = grouped(FP);
    // Groups 3 and 12 mistyped.
    wrong.replace_range(10..11, "0");
    wrong.replace_range(55..56, "9");
    let m = typed(m, &wrong);
    // Complete and wrong, but nothing says so before Enter.
    let s = render(&m, 120, 40);
    assert!(!s.contains("MISMATCH") && !s.contains("match"), "{s}");
    let m = update(m, Msg::Enter);
    assert_eq!(m.screen, Screen::Fingerprint);
    let notice = m.notice.clone().unwrap();
    assert!(notice.contains("MISMATCH in groups 3, 12:"), "{notice}");
    // Corrected in place.
    let m = erase(m, wrong.len());
    let m = typed(m, &grouped(FP));
    let m = update(m, Msg::Enter);
    assert_eq!(m.screen, Screen::Confirm);
    // Too short names what is missing.
    let (m, _) = at(Screen::Fingerprint, 1, false);
    let m = update(typed(m, "ba78 16bf"), Msg::Enter);
    assert!(m.notice.unwrap().contains("only 2 of 16 groups"));
}

#[test]
fn custodians_are_checked_against_the_roster_and_a_wrong_share_is_named_and_stays_editable() {
    let (m, shares) = at(Screen::Custodians, 1, true);
    // Not on the roster: the roster's names are given.
    let m = update(typed(m, "Mallory"), Msg::Enter);
    assert_eq!(m.focus, Focus::First);
    let n = m.notice.clone().unwrap();
    assert!(
        n.contains("not a custodian") && n.contains("Alice, Bob, Carol, Dave, Erin"),
        "{n}"
    );
    let m = erase(m, 7);
    let m = update(typed(m, "Bob"), Msg::Enter);
    assert_eq!(m.focus, Focus::Second);
    // Carol's share typed by Bob: whose it is is named.
    let m = update(typed(m, &shares[2].encode()), Msg::Enter);
    assert_eq!(m.focus, Focus::Second);
    assert!(
        m.notice.clone().unwrap().contains("Carol's"),
        "{:?}",
        m.notice
    );
    let m = erase(m, 500);
    // One group mistyped: the group is named, the share is not in the message.
    let mut wrong = shares[1].encode().to_string();
    let pos = wrong.find('-').unwrap() + 5;
    let c = wrong.as_bytes()[pos];
    wrong.replace_range(pos..=pos, if c == b'A' { "B" } else { "A" });
    let m = update(typed(m, &wrong), Msg::Enter);
    let n = m.notice.clone().unwrap();
    assert!(n.contains("group"), "{n}");
    assert!(!n.contains(&wrong[4..]), "{n}");
    assert_eq!(
        m.share_len(),
        wrong.len(),
        "the entry stays to be corrected"
    );
    assert!(m.custodians.is_empty());
    // Corrected in place: back over the last characters, typed right.
    let keep = wrong[..pos].len();
    let m = erase(m, wrong.len() - keep);
    let m = typed(m, &shares[1].encode()[keep..]);
    let m = update(m, Msg::Enter);
    assert_eq!(m.notice, None);
    assert_eq!(m.custodians.len(), 1);
    assert_eq!(m.share_len(), 0);
    // Bob again is refused by name.
    let m = update(typed(m, "Bob"), Msg::Enter);
    assert!(m.notice.clone().unwrap().contains("named twice"));
    // Too few: Enter on an empty name says how many more.
    let m = erase(m, 3);
    let m = update(m, Msg::Enter);
    assert!(m.notice.unwrap().contains("2 more custodians needed"));
}

/// A share with one character of group `group` (numbered as the errors name them) changed so
/// that its check catches it: (the mistyped share, the byte where that group starts).
fn share_mistyped_in(
    share: &str,
    group: usize,
    shares_roster: &RosterFile,
    name: &str,
) -> (String, usize) {
    let start = share.match_indices('-').nth(group).unwrap().0 + 1;
    let want = format!("group {group} looks mistyped");
    for sym in "0123456789ABCDEFGHJKMNPQRSTVWXYZ".chars() {
        let mut typo = share.to_string();
        typo.replace_range(start..start + 1, &sym.to_string());
        if typo == share {
            continue;
        }
        if let Err(e) = shares_roster.check_share(name, &typo, 1)
            && e.to_string().contains(&want)
        {
            return (typo, start);
        }
    }
    panic!("no single change of group {group} is caught by its check");
}

#[test]
fn a_mistyped_group_is_fixed_in_place_with_the_cursor_keys_and_ctrl_w() {
    let (m, shares) = at(Screen::Custodians, 1, true);
    let r = m.info.roster.clone().unwrap();
    let m = update(typed(m, "Bob"), Msg::Enter);
    assert_eq!(m.focus, Focus::Second);
    let (ptr, cap) = (m.share.as_ptr(), m.share.capacity());
    let share = shares[1].encode().to_string();
    let (wrong, start) = share_mistyped_in(&share, 3, &r, "Bob");
    let end = start + share[start..].find('-').unwrap();
    let m = update(typed(m, &wrong), Msg::Enter);
    let n = m.notice.clone().unwrap();
    assert!(n.contains("group 3 looks mistyped"), "{n}");
    // The dots are grouped as the share is: each group's dots between dashes.
    let dots = m.share_dots();
    assert_eq!(
        dots.len(),
        share.len() + 2 * share.chars().filter(|c| *c != '-').count()
    );
    assert_eq!(
        dots.split('-')
            .map(|g| g.chars().count())
            .collect::<Vec<_>>(),
        share.split('-').map(str::len).collect::<Vec<_>>()
    );
    // Home, then Right to the end of group 3: the cursor is in group 3; Ctrl-W deletes it.
    let mut m = update(m, Msg::Edit(Edit::Home));
    assert_eq!(m.share_group(), None, "the prefix is no group");
    for _ in 0..end {
        m = update(m, Msg::Edit(Edit::Right));
    }
    assert_eq!(m.share_group(), Some(3));
    let m = update(m, Msg::Edit(Edit::DeleteGroup));
    assert_eq!(m.share_len(), share.len() - (end - start));
    assert_eq!(
        m.share_group(),
        Some(3),
        "at the start of the emptied group"
    );
    let m = typed(m, &share[start..end]);
    assert_eq!((m.share.as_str(), m.cursor_at()), (share.as_str(), end));
    assert_eq!((m.share.as_ptr(), m.share.capacity()), (ptr, cap), "moved");
    // Left, Delete and a typed character at the cursor, then End: as typed.
    let m = send(m, &[Msg::Edit(Edit::Left), Msg::Edit(Edit::Delete)]);
    let last = share[..end].chars().last().unwrap();
    let m = send(m, &[Msg::Char(last), Msg::Edit(Edit::End)]);
    assert_eq!(m.share.as_str(), share.as_str());
    let m = update(m, Msg::Enter);
    assert_eq!(m.notice, None);
    assert_eq!(m.custodians.len(), 1);
    assert_eq!(m.share_len(), 0);
    assert_eq!(m.cursor_at(), 0);
}

#[test]
fn ctrl_u_clears_to_the_start_and_typing_goes_in_at_the_cursor_in_every_field() {
    let m = people_again();
    let m = typed(m, "Olga Oprator");
    let m = send(m, &vec![Msg::Edit(Edit::Left); 5]);
    let m = update(m, Msg::Char('e'));
    assert_eq!(m.operator, "Olga Operator");
    let m = send(m, &[Msg::Edit(Edit::ClearToStart)]);
    assert_eq!((m.operator.as_str(), m.cursor_at()), ("rator", 0));
    // A change of field puts the cursor at the end of the other one.
    let m = send(m, &[Msg::Tab, Msg::Char('W')]);
    assert_eq!(m.witness, "W");
    let m = send(m, &[Msg::Tab, Msg::Char('!')]);
    assert_eq!(m.operator, "rator!");

    // The fingerprint: the cursor's group is told, and a group is replaced in place.
    let (m, _) = at(Screen::Fingerprint, 1, true);
    let mut wrong = grouped(FP);
    wrong.replace_range(5..9, "0000");
    let m = typed(m, &wrong);
    assert_eq!(m.fingerprint_group(), (16, 16));
    let mut m = update(m, Msg::Edit(Edit::Home));
    assert_eq!(m.fingerprint_group(), (1, 16));
    for _ in 0..9 {
        m = update(m, Msg::Edit(Edit::Right));
    }
    assert_eq!(m.fingerprint_group(), (2, 16), "at the end of group 2");
    let m = update(m, Msg::Edit(Edit::Right));
    assert_eq!(m.fingerprint_group(), (3, 16), "past its space");
    let m = send(m, &[Msg::Edit(Edit::Left), Msg::Edit(Edit::DeleteGroup)]);
    let m = typed(m, &grouped(FP)[5..9]);
    assert_eq!(m.fingerprint, grouped(FP));
    let m = update(m, Msg::Enter);
    assert_eq!(m.notice, None);
    assert_eq!(m.screen, Screen::Custodians);
}

#[test]
fn an_interrupted_ceremony_is_finished_or_aborted_each_by_its_own_key_and_y_confirms_it() {
    let m = interrupted(3, None);
    assert_eq!(m.screen, Screen::Resume);
    assert_eq!(m.step(), (1, 7));
    // Nothing but f or a chooses; y and Enter are no answer here.
    for msg in [Msg::Char('y'), Msg::Enter, Msg::Char('n')] {
        let m = update(interrupted(3, None), msg);
        assert_eq!((m.screen, m.resume), (Screen::Resume, None));
        assert!(m.notice.unwrap().contains("f finishes"));
    }
    let m = update(m, Msg::Char('a'));
    assert_eq!(
        (m.screen, m.resume),
        (Screen::People, Some(ResumeChoice::Abort))
    );
    // Back to the choice, and the other one.
    let m = update(m, Msg::Back);
    assert_eq!(m.screen, Screen::Resume);
    let m = update(m, Msg::Char('f'));
    assert_eq!(
        (m.screen, m.resume),
        (Screen::People, Some(ResumeChoice::Finish))
    );

    let m = resumed('f', Screen::Confirm);
    let s = render(&m, 100, 30);
    assert!(
        s.contains("Finish: generate and wrap the 2 keys left and close the log? y: finish"),
        "{s}"
    );
    let m = update(m, Msg::Enter);
    assert!(m.notice.clone().unwrap().contains("only y finishes"));
    let mut m = update(m, Msg::Char('y'));
    assert_eq!(m.outcome, Outcome::Run);
    assert_eq!(m.take_answers().resume, Some(ResumeChoice::Finish));

    let m = resumed('a', Screen::Confirm);
    let s = render(&m, 100, 30);
    assert!(
        s.contains("Abort: destroy 1 generated key and close the log? y: abort"),
        "{s}"
    );
    let mut m = update(m, Msg::Char('y'));
    assert_eq!(m.outcome, Outcome::Run);
    assert_eq!(m.take_answers().resume, Some(ResumeChoice::Abort));
}

#[test]
fn an_interrupted_ceremony_that_cannot_finish_can_still_be_aborted() {
    let m = update(
        interrupted(3, Some("the parameters expire")),
        Msg::Char('f'),
    );
    assert_eq!((m.screen, m.resume), (Screen::Resume, None));
    assert!(m.notice.clone().unwrap().contains("cannot be finished now"));
    let m = update(m, Msg::Char('a'));
    let m = walk(m, Screen::Confirm, 3, false, &[]);
    // Under the margin an abort still goes on: it generates nothing.
    let m = update(m, Msg::Tick(now() + SignedDuration::from_mins(80)));
    assert!(m.expiry_warning());
    assert_eq!(m.cannot_finish(), None);
    let m = update(m, Msg::Char('y'));
    assert_eq!(m.outcome, Outcome::Run);
}

#[test]
fn a_fingerprint_with_groups_too_many_or_shifted_is_said_shortly() {
    let fp = grouped(FP);
    let notice = |typed: &str| {
        let (m, _) = at(Screen::Fingerprint, 1, false);
        update(self::typed(m, typed), Msg::Enter).notice.unwrap()
    };
    // A group typed twice: every group after it shifts; one line says so.
    let twice = format!("{} {}", &fp[..24], &fp[20..]);
    let n = notice(&twice);
    assert!(
        n.starts_with("MISMATCH: 1 group too many, the first wrong is group 6:"),
        "{n}"
    );
    assert!(!n.contains("7, 8"), "{n}");
    let n = notice(&format!("{fp} abcd abcd 12"));
    assert!(n.starts_with("MISMATCH: 3 groups too many:"), "{n}");
    // Many groups wrong: how many and the first, not the list.
    let mut shifted = fp.clone();
    shifted.replace_range(20..24, "");
    shifted.push_str(" 0000");
    let n = notice(&shifted);
    assert!(n.starts_with("MISMATCH in 12 groups from group 5:"), "{n}");
    // Fits the notice's two rows on a 60-column terminal.
    assert!(n.chars().count() <= 120, "{n}");
}

#[test]
fn the_progress_says_how_many_keys_are_done() {
    // Three keys verified, the fourth at work.
    let s = render(&progress_model(9), 60, 20);
    assert!(s.contains("3 of 9 keys done"), "{s}");
}

#[test]
fn the_share_buffer_never_grows_and_an_overlong_share_is_refused() {
    let (m, _) = at(Screen::Custodians, 1, true);
    let mut m = update(typed(m, "Carol"), Msg::Enter);
    assert_eq!(m.focus, Focus::Second);
    let capacity = m.share.capacity();
    assert!(capacity >= super::model::SHARE_CAPACITY);
    let start = m.share.as_ptr();
    for _ in 0..super::model::SHARE_CAPACITY {
        m = update(m, Msg::Char('7'));
    }
    m = update(m, Msg::Char('7'));
    assert_eq!(m.share_len(), super::model::SHARE_CAPACITY, "not one more");
    assert!(m.notice.as_deref().unwrap_or("").contains("at most"));
    assert_eq!(m.share.capacity(), capacity, "never reallocated");
    assert_eq!(m.share.as_ptr(), start, "never moved");
    assert!(m.share_locked, "the share's pages are locked against swap");
}

#[test]
fn the_countdown_warns_under_the_margin_and_the_time_comes_from_ticks() {
    let (m, _) = at(Screen::Keys, 1, false);
    assert!(!m.expiry_warning());
    let s = render(&m, 80, 24);
    assert!(s.contains("1 h 35 min left"), "{s}");
    let m = update(m, Msg::Tick(now() + SignedDuration::from_mins(70)));
    assert!(m.expiry_warning());
    let s = render(&m, 80, 24);
    assert!(s.contains("WARNING: parameters expire in 25 min"), "{s}");
    let m = update(m, Msg::Tick(now() + SignedDuration::from_mins(100)));
    assert!(render(&m, 80, 24).contains("EXPIRED 5 min"));
    // Asleep until the text on screen changes: a minute boundary above an hour, else a second.
    let left = |mins: i64, secs: i64| {
        let t = now() + SignedDuration::from_mins(95 - mins) - SignedDuration::from_secs(secs);
        update(at(Screen::Keys, 1, false).0, Msg::Tick(t)).next_change()
    };
    assert_eq!(left(70, 20), Duration::from_secs(20));
    assert_eq!(left(90, 0), Duration::from_secs(60));
    assert_eq!(left(59, 0), Duration::from_secs(1));
    assert_eq!(left(-5, 0), Duration::from_secs(1));
    // A margin above an hour: the loop wakes when it is crossed, not at the next minute, and
    // "Next" says at once that the ceremony can no longer finish.
    let mut info = info(1, None);
    info.script = Script::parse(
        "script.toml",
        "[ceremony]\nname = \"Rotate prod-s3\"\nexpiry_margin_minutes = 90\n\n[wrapping]\nalgorithm = \"RSAES_OAEP_SHA_256\"\nkey_spec = \"RSA_4096\"\n\n[[key]]\nkey = \"alias/prod-s3\"\naccount = \"111122223333\"\nregion = \"eu-west-1\"\n",
    )
    .unwrap();
    info.parameters_expire =
        Some(now() + SignedDuration::from_mins(90) + SignedDuration::from_millis(400));
    let wide = Model::new(info, now());
    assert_eq!(wide.next_change(), Duration::from_millis(401));
    assert_eq!(wide.cannot_finish(), None);
    let wide = update(wide, Msg::Tick(now() + SignedDuration::from_millis(401)));
    assert!(wide.cannot_finish().is_some());
    assert!(
        render(&wide, 80, 24).contains("Next: this ceremony can no longer finish"),
        "{}",
        render(&wide, 80, 24)
    );
    // A tick is not a key: a prompt stays.
    let m = update(m, Msg::Esc);
    let m = update(m, Msg::Tick(now()));
    assert!(m.leaving);
}

#[test]
fn sixteen_keys_are_all_reachable_at_80x24() {
    let (mut m, _) = at(Screen::Keys, 16, false);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let s = render(&m, 80, 24);
        for i in 1..=16 {
            if s.contains(&format!("prod-{i:02}  alias")) {
                seen.insert(i);
            }
        }
        m = update(m, Msg::ScrollDown);
    }
    assert_eq!(seen.len(), 16, "{seen:?}");
    let (mut m, _) = at(Screen::Result, 16, false);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let s = render(&m, 80, 24);
        for i in 1..=16 {
            if s.contains(&format!("prod-{i:02}  check value 1a2b{i:02}")) {
                seen.insert(i);
            }
        }
        m = update(m, Msg::ScrollDown);
    }
    assert_eq!(seen.len(), 16, "{seen:?}");
}

#[test]
fn help_opens_on_f1_and_on_question_mark_only_outside_a_field() {
    let (m, _) = at(Screen::Fingerprint, 1, false);
    let m = update(m, Msg::Char('?'));
    assert!(!m.help);
    assert!(m.fingerprint.ends_with('?'));
    let m = update(m, Msg::Help);
    assert!(m.help);
    assert!(render(&m, 80, 24).contains("Shift-Tab  back"));
    let m = update(m, Msg::Char('x'));
    assert!(!m.help);
    let (m, _) = at(Screen::Keys, 1, false);
    assert!(update(m, Msg::Char('?')).help);
}

fn progress_model(keys: usize) -> Model {
    let (mut m, _) = at(Screen::Running, keys, true);
    m = update(
        m,
        Msg::Progress(Progress::QuorumMet {
            names: vec!["Alice".into(), "Carol".into(), "Dave".into()],
            custodians_total: 5,
            mode: "shamir".into(),
        }),
    );
    m = update(
        m,
        Msg::Progress(Progress::Probed {
            result: "passed".into(),
        }),
    );
    for i in 0..keys.min(3) {
        for step in [
            KeyStep::Generated {
                hsm_label: format!("keyrite/prod-{:02}/20261128/ba7816bf", i + 1),
            },
            KeyStep::CheckValue {
                check_value: "1a2b3c".into(),
            },
            KeyStep::Wrapped,
            KeyStep::Written,
            KeyStep::ReadBack,
            KeyStep::Verified {
                sha256: "ee".repeat(32),
            },
        ] {
            m = update(
                m,
                Msg::Progress(Progress::Key {
                    index: i,
                    key: format!("prod-{:02}", i + 1),
                    step,
                }),
            );
        }
    }
    update(
        m,
        Msg::Progress(Progress::Key {
            index: 3,
            key: "prod-04".into(),
            step: KeyStep::Wrapped,
        }),
    )
}

#[test]
fn every_screen_and_state_at_80x24_and_120x40() {
    let (r, shares) = roster();
    let share_filters: Vec<(String, &str)> = shares
        .iter()
        .flat_map(|s| {
            let e = s.encode().to_string();
            e.split('-').skip(1).map(String::from).collect::<Vec<_>>()
        })
        .filter(|g| g.len() >= 4)
        .map(|g| (g, "[SHARE]"))
        .collect();
    let mut filters: Vec<(&str, &str)> = share_filters
        .iter()
        .map(|(a, b)| (a.as_str(), *b))
        .collect();
    filters.push((r"\b[0-9a-f]{64}\b", "[SHA-256]"));
    filters.push((r"\d{2}:\d{2} UTC", "[TIME]"));

    let people = at(Screen::People, 2, true).0;
    let people_typed = update(typed(people_again(), "Alice Admin"), Msg::Enter);
    let keys2 = at(Screen::Keys, 2, true).0;
    let keys16 = at(Screen::Keys, 16, false).0;
    let keys16_scrolled = send(at(Screen::Keys, 16, false).0, &vec![Msg::ScrollDown; 13]);
    let fp_empty = at(Screen::Fingerprint, 2, true).0;
    let fp_typed = typed(at(Screen::Fingerprint, 2, true).0, &grouped(FP));
    let mut wrong = grouped(FP);
    wrong.replace_range(10..11, "0");
    let fp_wrong = update(
        typed(at(Screen::Fingerprint, 2, true).0, &wrong),
        Msg::Enter,
    );
    let cust = at(Screen::Custodians, 2, true).0;
    let cust_share = typed(
        update(typed(at(Screen::Custodians, 2, true).0, "Bob"), Msg::Enter),
        "KR1-01-ABCD",
    );
    // The cursor back in the second group of a share being typed.
    let cust_share_cursor = send(
        typed(
            update(typed(at(Screen::Custodians, 2, true).0, "Bob"), Msg::Enter),
            "KR1-01-ABCDE-FGH",
        ),
        &vec![Msg::Edit(Edit::Left); 5],
    );
    let fp_cursor = send(
        typed(at(Screen::Fingerprint, 2, true).0, &grouped(FP)[..24]),
        &[
            Msg::Edit(Edit::Home),
            Msg::Edit(Edit::Right),
            Msg::Edit(Edit::Right),
        ],
    );
    let resume_screen = interrupted(3, None);
    let resume_cannot = update(
        interrupted(
            3,
            Some("the import parameters expire within the 30 min margin"),
        ),
        Msg::Char('f'),
    );
    let confirm_abort = resumed('a', Screen::Confirm);
    let confirm_finish = resumed('f', Screen::Confirm);
    let mut aborted_view = result(0);
    aborted_view.aborted = Some(vec!["keyrite/prod-02/2026-01-01/ab12cd34".into()]);
    let result_aborted = update(resumed('a', Screen::Running), Msg::Finished(aborted_view));
    let cust_wrong = update(
        typed(
            update(typed(at(Screen::Custodians, 2, true).0, "Bob"), Msg::Enter),
            &shares[2].encode(),
        ),
        Msg::Enter,
    );
    let cust_unknown = update(
        typed(at(Screen::Custodians, 2, true).0, "Mallory"),
        Msg::Enter,
    );
    let confirm = at(Screen::Confirm, 2, true).0;
    let confirm_enter = update(at(Screen::Confirm, 2, true).0, Msg::Enter);
    let leaving = update(at(Screen::Confirm, 2, true).0, Msg::Esc);
    let help = update(at(Screen::Keys, 2, true).0, Msg::Help);
    let share_in_name = typed(at(Screen::Custodians, 2, true).0, &shares[1].encode());
    let hurry = update(
        at(Screen::Custodians, 2, true).0,
        Msg::Tick(now() + SignedDuration::from_mins(64)),
    );
    let cannot_finish = update(
        at(Screen::Confirm, 2, true).0,
        Msg::Tick(now() + SignedDuration::from_mins(70)),
    );
    let keys16_next = update(at(Screen::Keys, 16, false).0, Msg::Enter);
    let warning = update(
        at(Screen::Keys, 2, true).0,
        Msg::Tick(now() + SignedDuration::from_mins(80)),
    );
    let expired = update(
        at(Screen::People, 2, true).0,
        Msg::Tick(now() + SignedDuration::from_mins(120)),
    );
    let running = progress_model(9);
    let running_start = at(Screen::Running, 9, true).0;
    let result9 = at(Screen::Result, 9, true).0;
    let result9_end = send(at(Screen::Result, 9, true).0, &vec![Msg::ScrollDown; 9]);
    let failed = update(
        at(Screen::Running, 2, true).0,
        Msg::Failed("C_WrapKey failed: CKR_KEY_FUNCTION_NOT_PERMITTED\n  what to do: check the token's policy".into()),
    );
    let _ = r;
    insta::with_settings!({ filters => filters }, {
        for (w, h) in [(60u16, 20u16), (80, 24), (120, 40)] {
            for (name, m) in [
                ("people", &people),
                ("people_witness", &people_typed),
                ("keys", &keys2),
                ("keys16", &keys16),
                ("keys16_scrolled", &keys16_scrolled),
                ("fingerprint", &fp_empty),
                ("fingerprint_typed", &fp_typed),
                ("fingerprint_wrong", &fp_wrong),
                ("custodians", &cust),
                ("custodians_share", &cust_share),
                ("custodians_share_cursor", &cust_share_cursor),
                ("resume", &resume_screen),
                ("resume_cannot_finish", &resume_cannot),
                ("confirm_abort", &confirm_abort),
                ("confirm_finish", &confirm_finish),
                ("result_aborted", &result_aborted),
                ("fingerprint_cursor", &fp_cursor),
                ("custodians_wrong_share", &cust_wrong),
                ("custodians_unknown", &cust_unknown),
                ("confirm", &confirm),
                ("confirm_enter", &confirm_enter),
                ("leaving", &leaving),
                ("share_in_name", &share_in_name),
                ("hurry", &hurry),
                ("cannot_finish", &cannot_finish),
                ("keys16_next", &keys16_next),
                ("help", &help),
                ("expiry_warning", &warning),
                ("expired", &expired),
                ("running_start", &running_start),
                ("running", &running),
                ("result", &result9),
                ("result_scrolled", &result9_end),
                ("failed", &failed),
            ] {
                let screen = render(m, w, h);
                for s in &shares {
                    for g in s.encode().split('-').skip(2) {
                        assert!(g.len() < 4 || !screen.contains(g), "{name}: a share group on screen\n{screen}");
                    }
                }
                if w == 60 {
                    usable_at_60x20(name, m, &screen);
                    continue;
                }
                insta::assert_snapshot!(format!("ceremony_{name}_{w}x{h}"), screen);
            }
        }
    });
}

fn people_again() -> Model {
    at(Screen::People, 2, true).0
}

/// Keys as they come in bursts; `drain` drops the rest of the burst being read.
struct Scripted {
    bursts: VecDeque<VecDeque<Msg>>,
    discarded: Vec<Msg>,
}

impl Scripted {
    fn new(bursts: Vec<Vec<Msg>>) -> Scripted {
        Scripted {
            bursts: bursts.into_iter().map(VecDeque::from).collect(),
            discarded: Vec::new(),
        }
    }
}

impl super::Input for Scripted {
    fn next(&mut self, _within: Duration) -> Result<Option<Msg>> {
        while self.bursts.front().is_some_and(VecDeque::is_empty) {
            self.bursts.pop_front();
        }
        match self.bursts.front_mut().and_then(VecDeque::pop_front) {
            Some(m) => Ok(Some(m)),
            None => Err(Error::Terminal {
                detail: "the scripted keys ran out".into(),
            }),
        }
    }

    fn drain(&mut self) -> Result<()> {
        if let Some(b) = self.bursts.front_mut() {
            self.discarded.extend(b.drain(..));
        }
        Ok(())
    }

    fn now(&mut self) -> Timestamp {
        now()
    }
}

fn report(keys: usize) -> CeremonyReport {
    CeremonyReport {
        prepared_fingerprint: FP.into(),
        probe: None,
        keys: (1..=keys)
            .map(|i| crate::app::ceremony::KeyResult {
                replicas: Vec::new(),
                name: format!("prod-{i:02}"),
                hsm_label: format!("keyrite/prod-{i:02}"),
                check_value: "1a2b3c".into(),
                encrypted_key_material_sha256: "cd".repeat(32),
            })
            .collect(),
        aborted: None,
    }
}

#[test]
fn type_ahead_is_discarded_at_every_gate_and_while_the_hsm_works() {
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let (m, _) = at(Screen::Keys, 2, false);
    // Enter on the keys, with "y y" typed ahead; then at the confirmation Enter with "y" ahead.
    let mut input = Scripted::new(vec![
        vec![Msg::Enter, Msg::Char('y'), Msg::Char(' '), Msg::Char('y')],
        typed_msgs(&grouped(FP)),
        vec![Msg::Enter, Msg::Char('y'), Msg::Enter],
        vec![Msg::Char('y'), Msg::Esc, Msg::Char('q')],
        vec![Msg::Enter],
    ]);
    let r = super::run_loop(&mut t, m, &mut input, |a, progress| {
        assert_eq!(a.bundle_fingerprint, FP);
        progress.emit(Progress::Probed {
            result: "passed".into(),
        });
        Ok(report(2))
    });
    let r = r.unwrap();
    assert_eq!(r.keys.len(), 2);
    assert_eq!(
        input.discarded,
        vec![
            Msg::Char('y'),
            Msg::Char(' '),
            Msg::Char('y'),
            Msg::Char('y'),
            Msg::Enter,
            Msg::Esc,
            Msg::Char('q'),
        ]
    );
}

fn typed_msgs(s: &str) -> Vec<Msg> {
    s.chars().map(Msg::Char).collect()
}

#[test]
fn esc_then_l_leaves_without_running_and_an_error_after_confirming_is_shown_then_returned() {
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    let (m, _) = at(Screen::Confirm, 1, false);
    let mut input = Scripted::new(vec![vec![Msg::Esc], vec![Msg::Char('l')]]);
    let r = super::run_loop(&mut t, m, &mut input, |_, _| -> Result<CeremonyReport> {
        panic!("the ceremony must not run")
    });
    match r {
        Err(e @ Error::LeftBeforeConfirmed) => assert_eq!(e.exit_code() as i32, 2),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("left, yet Ok"),
    }
    let (m, _) = at(Screen::Confirm, 1, false);
    let mut input = Scripted::new(vec![vec![Msg::Char('y')], vec![Msg::Enter]]);
    let r = super::run_loop(&mut t, m, &mut input, |_, _| Err(Error::SharesNotAPin));
    assert!(matches!(r, Err(Error::SharesNotAPin)));
    let screen = {
        let buf = t.backend().buffer();
        let mut s = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                s.push_str(buf[(x, y)].symbol());
            }
        }
        s
    };
    assert!(screen.contains("The ceremony stopped"), "{screen}");
}

mod preflight_screen {
    use super::*;
    use crate::app::ceremony::preflight::Passed;
    use crate::tui::preflight::{CheckMsg, Checks, Stage, draw, update as check};

    fn checks() -> Checks {
        Checks::new("Rotate prod-s3", "/media/usb/bundle", "ceremony-hsm")
    }

    fn all_passed() -> Vec<Passed> {
        vec![
            Passed::ScriptAgainstBundle { keys: 9 },
            Passed::Hashes { files: 19 },
            Passed::WrappingKeys {
                keys: 9,
                spec: "RSA_4096".into(),
            },
            Passed::Validity {
                remaining: Some(SignedDuration::from_mins(23 * 60 + 59)),
                margin: SignedDuration::from_mins(30),
            },
            Passed::Provenance { signers: Some(2) },
            Passed::Token {
                label: "ceremony-hsm".into(),
            },
            Passed::Roster {
                custodians: 5,
                threshold: 3,
            },
            Passed::Outputs,
        ]
    }

    fn ticked(n: usize) -> Checks {
        all_passed()
            .into_iter()
            .take(n)
            .fold(checks(), |c, p| check(c, CheckMsg::Passed(p)))
    }

    #[test]
    fn each_check_is_ticked_off_as_it_passes_one_line_each() {
        let before = drawn(80, 24, |f| draw(f, &checks()));
        assert!(
            before.contains("preflight — before anyone types"),
            "{before}"
        );
        assert!(before.contains("· checking…"), "{before}");
        assert!(!before.contains('✓'), "{before}");
        for n in 1..=all_passed().len() {
            let s = drawn(80, 24, |f| draw(f, &ticked(n)));
            assert_eq!(s.matches('✓').count(), n, "{s}");
            assert!(s.contains(&format!("preflight: {n} passed")), "{s}");
            assert!(s.contains("Esc/Ctrl-C: leave"), "{s}");
        }
        let s = drawn(80, 24, |f| draw(f, &ticked(3)));
        insta::assert_snapshot!("preflight_ticking_80x24", s);
        let s = drawn(60, 20, |f| draw(f, &ticked(5)));
        assert!(s.contains("✓ the bundle's 2 signatures verified"), "{s}");
        insta::assert_snapshot!("preflight_ticking_60x20", s);
    }

    #[test]
    fn a_failed_check_and_a_warning_stay_on_the_first_screen() {
        let failed = check(
            ticked(5),
            CheckMsg::Failed(
                "the token \"nosuch\" is not present\n  what to do: plug it in, or name it by its label"
                    .into(),
            ),
        );
        assert_eq!(failed.stage, Stage::Failed);
        let s = drawn(80, 24, |f| draw(f, &failed));
        assert!(s.contains("✗ the token \"nosuch\" is not present"), "{s}");
        assert!(s.contains("what to do: plug it in"), "{s}");
        assert!(s.contains("Enter leaves; nothing was touched"), "{s}");
        insta::assert_snapshot!("preflight_failed_80x24", s);
        let script = script(true);
        let warning = script
            .short_of_time(Some(SignedDuration::from_mins(31)), 3)
            .unwrap();
        let warned = check(ticked(8), CheckMsg::Warned(warning));
        let s = drawn(80, 24, |f| draw(f, &warned));
        assert!(
            s.contains("! only 1 min left above the 30 min margin"),
            "{s}"
        );
        assert!(s.contains("Enter: start the ceremony"), "{s}");
        insta::assert_snapshot!("preflight_warned_80x24", s);
    }

    /// Keys as the first screen sees them: `during` while the checks run (polled without
    /// waiting), then `after`, one a wait.
    struct Keys {
        during: VecDeque<Msg>,
        after: VecDeque<Msg>,
        drained: usize,
    }

    impl crate::tui::Input for Keys {
        fn next(&mut self, within: Duration) -> Result<Option<Msg>> {
            if within.is_zero() {
                return Ok(self.during.pop_front());
            }
            self.after.pop_front().map(Some).ok_or(Error::Terminal {
                detail: "the scripted keys ran out".into(),
            })
        }

        fn drain(&mut self) -> Result<()> {
            self.drained += 1;
            Ok(())
        }

        fn now(&mut self) -> Timestamp {
            now()
        }
    }

    fn keys(during: &[Msg], after: &[Msg]) -> Keys {
        Keys {
            during: during.iter().cloned().collect(),
            after: after.iter().cloned().collect(),
            drained: 0,
        }
    }

    #[test]
    fn the_checks_run_after_the_first_frame_and_a_failure_waits_for_a_key() {
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let mut input = keys(&[], &[Msg::Char('x'), Msg::Enter]);
        let got: Result<()> = crate::tui::preflight_on_screen(
            &mut t,
            checks(),
            &mut input,
            |passed| {
                for p in all_passed().into_iter().take(4) {
                    passed(p);
                }
                Err(Error::LeftBeforeConfirmed)
            },
            |_| None,
        );
        assert!(matches!(got, Err(Error::LeftBeforeConfirmed)));
        let s = screen_of(&t);
        assert_eq!(s.matches('✓').count(), 4, "{s}");
        assert!(s.contains("✗ "), "{s}");
        // `x` did nothing; Enter left.
        assert!(input.after.is_empty());
    }

    #[test]
    fn a_warning_goes_on_with_enter_and_esc_during_the_checks_leaves() {
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let run = |passed: &mut dyn FnMut(Passed)| -> Result<u8> {
            for p in all_passed() {
                passed(p);
            }
            Ok(7)
        };
        // No warning: straight on, no key needed.
        let mut input = keys(&[], &[]);
        let got = crate::tui::preflight_on_screen(&mut t, checks(), &mut input, run, |_| None);
        assert_eq!(got.unwrap(), 7);
        // A warning: `y` is no answer, Enter goes on.
        let mut input = keys(&[], &[Msg::Char('y'), Msg::Enter]);
        let got = crate::tui::preflight_on_screen(&mut t, checks(), &mut input, run, |_| {
            Some("only 1 min left above the 30 min margin".into())
        });
        assert_eq!(got.unwrap(), 7);
        assert!(input.after.is_empty());
        // Esc at the warning leaves.
        let mut input = keys(&[], &[Msg::Esc]);
        let got = crate::tui::preflight_on_screen(&mut t, checks(), &mut input, run, |_| {
            Some("only 1 min left".into())
        });
        assert!(matches!(got, Err(Error::LeftBeforeConfirmed)));
        // Esc while the checks run: they finish (they write nothing), then it leaves.
        let mut input = keys(&[Msg::Esc], &[]);
        let got = crate::tui::preflight_on_screen(&mut t, checks(), &mut input, run, |_| None);
        assert!(matches!(got, Err(Error::LeftBeforeConfirmed)));
    }
}
