//! update() as a table of transitions, every screen drawn on a `TestBackend`, and the main loop
//! driven by scripted keys.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::model::{Focus, Info, KeyRow, Model, Msg, Outcome, ResultView, Screen, update};
use super::view::view;

const FP: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
const SHARE: &str = "KR1-7QXJ-SECRETSHARE-9F3K";

fn info(quorum: Option<u8>) -> Info {
    Info {
        script_name: "Rotate prod-s3".into(),
        keys: vec!["alias/prod-s3".into(), "alias/prod-ebs".into()],
        algorithm: "RSAES_OAEP_SHA_256".into(),
        key_spec: "RSA_4096".into(),
        token: "ceremony-hsm".into(),
        bundle_fingerprint: FP.into(),
        quorum,
    }
}

fn typed(mut m: Model, text: &str) -> Model {
    for c in text.chars() {
        m = update(m, Msg::Char(c));
    }
    m
}

fn keys(mut m: Model, msgs: &[Msg]) -> Model {
    for msg in msgs {
        m = update(m, msg.clone());
    }
    m
}

/// The model at a screen, with everything before it answered correctly.
fn at(screen: Screen, quorum: Option<u8>) -> Model {
    let mut m = Model::new(info(quorum));
    if screen == Screen::Ceremony {
        return m;
    }
    m = typed(m, "Alice Admin");
    m = update(m, Msg::Enter);
    m = typed(m, "Walter Witness");
    m = update(m, Msg::Enter);
    assert_eq!(m.screen, Screen::Fingerprint);
    if screen == Screen::Fingerprint {
        return m;
    }
    m = typed(m, &crate::core::digest::grouped(&FP.to_uppercase()));
    m = update(m, Msg::Enter);
    if screen == Screen::Custodians {
        assert_eq!(m.screen, Screen::Custodians);
        return m;
    }
    if quorum.is_some() {
        for name in ["Carol", "Dave"] {
            m = typed(m, name);
            m = update(m, Msg::Enter);
            m = typed(m, SHARE);
            m = update(m, Msg::Enter);
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
    update(m, Msg::Finished(result()))
}

fn result() -> ResultView {
    ResultView {
        probe: "on token \"ceremony-hsm\": passed".into(),
        wrap_with_trusted: "supported".into(),
        fingerprint: FP.into(),
        keys: vec![KeyRow {
            name: "prod-s3".into(),
            check_value: "1a2b3c".into(),
            label: "keyrite/prod-s3/2026-11-24/ba7816bf".into(),
            sha256: "00ff".repeat(16),
        }],
    }
}

fn render(m: &Model) -> String {
    let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
    t.draw(|f| view(m, f)).unwrap();
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
fn the_screens_come_in_order_and_collect_the_answers() {
    let mut m = at(Screen::Confirm, Some(2));
    let a = m.take_answers();
    assert_eq!(a.operator, "Alice Admin");
    assert_eq!(a.witness.as_deref(), Some("Walter Witness"));
    assert_eq!(
        a.bundle_fingerprint, FP,
        "typed grouped upper case, normalised"
    );
    let names: Vec<&str> = a.custodians.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["Carol", "Dave"]);
    for c in &a.custodians {
        assert_eq!(c.share.as_ref().map(|s| s.expose_to_gate()), Some(SHARE));
    }
    // Without a roster there is no custodian screen.
    let m = at(Screen::Confirm, None);
    assert!(m.custodians.is_empty());
}

#[test]
fn every_transition_legal_and_illegal() {
    use Msg::*;
    use Screen::*;
    // (start, quorum, messages, screen after, outcome after, notice contains)
    type Case = (
        Screen,
        Option<u8>,
        Vec<Msg>,
        Screen,
        Outcome,
        Option<&'static str>,
    );
    let cases: Vec<Case> = vec![
        // 1: the ceremony
        (
            Ceremony,
            None,
            vec![Enter],
            Ceremony,
            Outcome::Continue,
            Some("operator's name"),
        ),
        (
            Ceremony,
            None,
            vec![Char(' '), Enter],
            Ceremony,
            Outcome::Continue,
            Some("operator's name"),
        ),
        (
            Ceremony,
            None,
            vec![Char('A'), Enter, Enter],
            Ceremony,
            Outcome::Continue,
            Some("witness's name"),
        ),
        (
            Ceremony,
            None,
            vec![Char('A'), Enter, Char('A'), Enter],
            Ceremony,
            Outcome::Continue,
            Some("another person"),
        ),
        (
            Ceremony,
            None,
            vec![Char('A'), Tab, Char('W'), Enter],
            Fingerprint,
            Outcome::Continue,
            None,
        ),
        (
            Ceremony,
            None,
            vec![Char('A'), Backspace, Enter],
            Ceremony,
            Outcome::Continue,
            Some("operator's name"),
        ),
        (Ceremony, None, vec![Esc], Ceremony, Outcome::Quit, None),
        (
            Ceremony,
            None,
            vec![Char('A'), Interrupt],
            Ceremony,
            Outcome::Quit,
            None,
        ),
        (
            Ceremony,
            None,
            vec![Finished(result())],
            Ceremony,
            Outcome::Continue,
            None,
        ),
        // 2: the fingerprint
        (
            Fingerprint,
            None,
            vec![Enter],
            Fingerprint,
            Outcome::Continue,
            Some("read out"),
        ),
        (
            Fingerprint,
            None,
            vec![Char('b'), Char('a'), Enter],
            Fingerprint,
            Outcome::Continue,
            Some("MISMATCH"),
        ),
        (
            Fingerprint,
            None,
            vec![Esc],
            Fingerprint,
            Outcome::Quit,
            None,
        ),
        (
            Fingerprint,
            None,
            vec![Interrupt],
            Fingerprint,
            Outcome::Quit,
            None,
        ),
        // 3: custodians
        (
            Custodians,
            Some(2),
            vec![Enter],
            Custodians,
            Outcome::Continue,
            Some("2 more custodian(s)"),
        ),
        (
            Custodians,
            Some(2),
            vec![Char('C'), Enter, Enter, Enter],
            Custodians,
            Outcome::Continue,
            Some("1 more custodian(s)"),
        ),
        (
            Custodians,
            Some(2),
            vec![Char('C'), Enter, Enter, Char('C'), Enter, Enter],
            Custodians,
            Outcome::Continue,
            Some("already authorised"),
        ),
        (
            Custodians,
            Some(2),
            vec![Char('C'), Enter, Enter, Char('D'), Tab, Enter, Enter],
            Confirm,
            Outcome::Continue,
            None,
        ),
        (
            Custodians,
            Some(2),
            vec![Char('C'), Tab, Char('s'), Esc],
            Custodians,
            Outcome::Quit,
            None,
        ),
        // 4: confirmation (default no)
        (
            Confirm,
            None,
            vec![Char('x')],
            Confirm,
            Outcome::Continue,
            None,
        ),
        (Confirm, None, vec![Enter], Confirm, Outcome::Quit, None),
        (Confirm, None, vec![Char('n')], Confirm, Outcome::Quit, None),
        (Confirm, None, vec![Esc], Confirm, Outcome::Quit, None),
        (Confirm, None, vec![Interrupt], Confirm, Outcome::Quit, None),
        (Confirm, None, vec![Char('Y')], Running, Outcome::Run, None),
        // running: keys do nothing, not even Esc (the HSM is at work)
        (
            Running,
            None,
            vec![Esc, Interrupt, Char('q'), Enter],
            Running,
            Outcome::Run,
            None,
        ),
        (
            Running,
            None,
            vec![Finished(result())],
            Result,
            Outcome::Continue,
            None,
        ),
        // 5: the result, until a key
        (Result, None, vec![Char(' ')], Result, Outcome::Done, None),
        (Result, None, vec![Esc], Result, Outcome::Done, None),
    ];
    for (i, (start, quorum, msgs, screen, outcome, notice)) in cases.into_iter().enumerate() {
        let m = keys(at(start, quorum), &msgs);
        assert_eq!(m.screen, screen, "case {i}: {start:?} + {msgs:?}");
        assert_eq!(m.outcome, outcome, "case {i}: {start:?} + {msgs:?}");
        match notice {
            Some(want) => assert!(
                m.notice.as_deref().is_some_and(|n| n.contains(want)),
                "case {i}: want {want:?}, got {:?}",
                m.notice
            ),
            None => assert_eq!(m.notice, None, "case {i}"),
        }
    }
}

#[test]
fn confirmation_is_refused_without_a_matching_fingerprint_or_enough_custodians() {
    // Reaching the confirmation screen and then changing what it rests on (the model's fields
    // are public) must not let 'y' through.
    let mut m = at(Screen::Confirm, None);
    m.fingerprint.push('0');
    let m = update(m, Msg::Char('y'));
    assert_eq!(m.screen, Screen::Fingerprint);
    assert_eq!(m.outcome, Outcome::Continue);
    assert!(m.notice.as_deref().unwrap().contains("does not match"));

    let mut m = at(Screen::Confirm, Some(2));
    m.custodians.pop();
    let m = update(m, Msg::Char('y'));
    assert_eq!(m.screen, Screen::Custodians);
    assert_eq!(m.outcome, Outcome::Continue);
}

#[test]
fn each_screen_snapshot() {
    let s = render(&at(Screen::Ceremony, None));
    for want in [
        "keyrite ceremony · 1 the ceremony",
        "Script     Rotate prod-s3",
        "Wrapping   RSAES_OAEP_SHA_256 with a RSA_4096 KMS wrapping key",
        "Token      ceremony-hsm",
        "Keys       2",
        "alias/prod-ebs",
        "> Operator: ▏",
        "Witness:",
    ] {
        assert!(s.contains(want), "want {want:?} in\n{s}");
    }

    let m = at(Screen::Fingerprint, None);
    let s = render(&m);
    assert!(s.contains("2 the bundle fingerprint"), "{s}");
    assert!(s.contains(&crate::core::digest::grouped(FP)), "{s}");
    let s = render(&keys(typed(m, "ba78"), &[Msg::Enter]));
    assert!(s.contains("MISMATCH: this is not the bundle"), "{s}");

    let s = render(&typed(at(Screen::Custodians, Some(2)), "Carol"));
    assert!(s.contains("3 custodians (0 of 2)"), "{s}");
    assert!(s.contains("> Custodian: Carol▏"), "{s}");

    let s = render(&at(Screen::Confirm, Some(2)));
    for want in [
        "4 confirmation",
        "Operator   Alice Admin",
        "Witness    Walter Witness",
        "(matches)",
        "Custodians Carol, Dave",
        "Generate and wrap 2 keys now? (y/N)",
    ] {
        assert!(s.contains(want), "want {want:?} in\n{s}");
    }

    let s = render(&at(Screen::Running, None));
    assert!(s.contains("Generating, wrapping and verifying"), "{s}");

    let s = render(&at(Screen::Result, None));
    for want in [
        "5 ceremony complete",
        "Capability probe  on token \"ceremony-hsm\": passed",
        "check value  1a2b3c",
        "HSM label    keyrite/prod-s3/2026-11-24/ba7816bf",
        &format!("sha256       {}", "00ff".repeat(16)),
    ] {
        assert!(s.contains(want), "want {want:?} in\n{s}");
    }
}

#[test]
fn no_screen_ever_shows_a_typed_share() {
    let mut m = at(Screen::Custodians, Some(2));
    let mut shots = vec![render(&m)];
    for name in ["Carol", "Dave"] {
        m = typed(m, name);
        m = update(m, Msg::Enter);
        for c in SHARE.chars() {
            m = update(m, Msg::Char(c));
            shots.push(render(&m));
        }
        // A share typed into the wrong field and taken back again is not shown either.
        m = update(m, Msg::Tab);
        shots.push(render(&m));
        m = update(m, Msg::Tab);
        m = update(m, Msg::Enter);
        shots.push(render(&m));
    }
    assert_eq!(m.focus, Focus::First);
    m = update(m, Msg::Enter);
    shots.push(render(&m));
    m = update(m, Msg::Char('y'));
    shots.push(render(&m));
    m = update(m, Msg::Finished(result()));
    shots.push(render(&m));
    assert!(shots.len() > 2 * SHARE.len());
    for s in &shots {
        // Not the share, nor any 4 characters of it in a row.
        for w in SHARE.as_bytes().windows(4) {
            let w = std::str::from_utf8(w).unwrap();
            assert!(!s.contains(w), "{w:?} of the share on screen:\n{s}");
        }
    }
    assert!(shots[SHARE.len()].contains(&"•".repeat(SHARE.len() - 1)));
}

#[test]
fn the_main_loop_runs_the_ceremony_once_with_the_answers_and_quits_untouched_on_esc() {
    use crate::app::error::Error;
    let script = |m: Vec<Msg>| {
        let mut it = m.into_iter();
        move || Ok(it.next())
    };
    let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
    // Esc before the confirmation: perform is never called, exit 2.
    let r = super::run_loop(
        &mut t,
        at(Screen::Confirm, None),
        script(vec![Msg::Esc]),
        |_| -> crate::app::error::Result<crate::app::ceremony::CeremonyReport> {
            panic!("the ceremony must not run")
        },
    );
    match r {
        Err(e @ Error::LeftBeforeConfirmed) => {
            assert_eq!(e.exit_code() as i32, 2);
            assert!(e.to_string().contains("nothing was touched"), "{e}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("left without confirming, yet Ok"),
    }
    // 'y': perform gets the answers; its error ends the loop with that error.
    let mut seen = None;
    let r = super::run_loop(
        &mut t,
        at(Screen::Confirm, None),
        script(vec![Msg::Char('y')]),
        |a| {
            seen = Some((a.operator.clone(), a.bundle_fingerprint.clone()));
            Err(Error::SharesNotAPin)
        },
    );
    assert!(matches!(r, Err(Error::SharesNotAPin)));
    assert_eq!(seen, Some(("Alice Admin".to_string(), FP.to_string())));
}

#[test]
fn the_share_buffer_never_grows_and_an_overlong_share_is_refused() {
    let mut m = at(Screen::Custodians, Some(2));
    m = typed(m, "Carol");
    m = update(m, Msg::Enter);
    assert_eq!(m.focus, Focus::Second);
    let capacity = m.share.capacity();
    assert!(capacity >= super::model::SHARE_CAPACITY);
    let start = m.share.as_ptr();
    for _ in 0..super::model::SHARE_CAPACITY {
        m = update(m, Msg::Char('7'));
    }
    assert_eq!(m.share.len(), super::model::SHARE_CAPACITY);
    m = update(m, Msg::Char('7'));
    assert_eq!(m.share.len(), super::model::SHARE_CAPACITY, "not one more");
    assert!(
        m.notice.as_deref().unwrap_or("").contains("at most"),
        "{:?}",
        m.notice
    );
    assert_eq!(
        m.share.capacity(),
        capacity,
        "the buffer was never reallocated"
    );
    assert_eq!(m.share.as_ptr(), start, "the buffer never moved");
}
