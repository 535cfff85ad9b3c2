//! The ceremony's terminal UI as a state machine: a `Model`, the `Msg`s a person's keys become,
//! and a pure `update`. Nothing here touches a terminal, a file or the HSM.

use zeroize::Zeroizing;

use crate::core::digest::normalise_fingerprint;
use crate::core::script::{Answers, CustodianAnswer, TypedShare};

/// What the screens show that the operators do not type: from the script, the bundle and the
/// command line, read before the UI starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub script_name: String,
    pub keys: Vec<String>,
    pub algorithm: String,
    pub key_spec: String,
    pub token: String,
    /// The SHA-256 of the bundle's manifest.json, as found on this side of the air gap.
    pub bundle_fingerprint: String,
    /// With --roster: how many custodians must authorise opening the HSM.
    pub quorum: Option<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Ceremony,
    Fingerprint,
    Custodians,
    Confirm,
    Running,
    Result,
}

/// Which field the typed characters go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    First,
    Second,
}

impl Focus {
    fn other(self) -> Focus {
        match self {
            Focus::First => Focus::Second,
            Focus::Second => Focus::First,
        }
    }
}

/// What the main loop is to do after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    /// Leave without touching anything (exit 2).
    Quit,
    /// Confirmed: hand the answers to the ceremony.
    Run,
    /// The result was seen: leave (exit 0).
    Done,
}

/// The ceremony's report as the result screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultView {
    pub probe: String,
    pub wrap_with_trusted: String,
    pub fingerprint: String,
    pub keys: Vec<KeyRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRow {
    pub name: String,
    pub check_value: String,
    pub label: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    Char(char),
    Backspace,
    Tab,
    Enter,
    Esc,
    /// Ctrl-C.
    Interrupt,
    /// The ceremony finished with this report.
    Finished(ResultView),
}

/// Everything the UI knows. Holds typed shares, so it is neither `Debug` nor `Clone`.
pub struct Model {
    pub info: Info,
    pub screen: Screen,
    pub outcome: Outcome,
    pub focus: Focus,
    pub operator: String,
    pub witness: String,
    pub fingerprint: String,
    /// What is wrong with the last Enter, shown until the next key.
    pub notice: Option<String>,
    pub custodians: Vec<CustodianAnswer>,
    pub custodian_name: String,
    pub share: Zeroizing<String>,
    pub result: Option<ResultView>,
}

impl Model {
    pub fn new(info: Info) -> Model {
        Model {
            info,
            screen: Screen::Ceremony,
            outcome: Outcome::Continue,
            focus: Focus::First,
            operator: String::new(),
            witness: String::new(),
            fingerprint: String::new(),
            notice: None,
            custodians: Vec::new(),
            custodian_name: String::new(),
            share: empty_share(),
            result: None,
        }
    }

    /// Whether the typed fingerprint is the bundle's.
    pub fn fingerprint_matches(&self) -> bool {
        normalise_fingerprint(&self.fingerprint) == self.info.bundle_fingerprint
    }

    fn custodians_needed(&self) -> usize {
        self.info.quorum.map(usize::from).unwrap_or(0)
    }

    /// The answers, exactly as a headless run reads them from its answers file. Moves the typed
    /// shares out of the model.
    pub fn take_answers(&mut self) -> Answers {
        Answers {
            operator: self.operator.trim().to_string(),
            witness: Some(self.witness.trim().to_string()),
            bundle_fingerprint: normalise_fingerprint(&self.fingerprint),
            custodians: std::mem::take(&mut self.custodians),
            resume: None,
        }
    }

    fn field(&mut self) -> Option<&mut String> {
        match (self.screen, self.focus) {
            (Screen::Ceremony, Focus::First) => Some(&mut self.operator),
            (Screen::Ceremony, Focus::Second) => Some(&mut self.witness),
            (Screen::Fingerprint, _) => Some(&mut self.fingerprint),
            (Screen::Custodians, Focus::First) => Some(&mut self.custodian_name),
            (Screen::Custodians, Focus::Second) => Some(&mut *self.share),
            _ => None,
        }
    }

    fn go(mut self, screen: Screen) -> Model {
        self.screen = screen;
        self.focus = Focus::First;
        self
    }

    fn refuse(mut self, notice: impl Into<String>) -> Model {
        self.notice = Some(notice.into());
        self
    }
}

/// The most a typed share may hold; its buffer is allocated at this size once.
pub const SHARE_CAPACITY: usize = 512;

/// Room for a typed share, so that typing never moves it (leaving a copy behind).
fn empty_share() -> Zeroizing<String> {
    Zeroizing::new(String::with_capacity(SHARE_CAPACITY))
}

/// The next state. Pure: the same model and message always give the same model.
pub fn update(mut m: Model, msg: Msg) -> Model {
    m.notice = None;
    let before_confirmation = matches!(
        m.screen,
        Screen::Ceremony | Screen::Fingerprint | Screen::Custodians | Screen::Confirm
    );
    match msg {
        Msg::Esc | Msg::Interrupt if before_confirmation => {
            m.outcome = Outcome::Quit;
            return m;
        }
        Msg::Finished(view) if m.screen == Screen::Running => {
            m.result = Some(view);
            m.outcome = Outcome::Continue;
            return m.go(Screen::Result);
        }
        _ => {}
    }
    match m.screen {
        Screen::Running => m,
        Screen::Result => {
            if !matches!(msg, Msg::Finished(_)) {
                m.outcome = Outcome::Done;
            }
            m
        }
        Screen::Confirm => match msg {
            Msg::Char('y' | 'Y') => {
                if !m.fingerprint_matches() {
                    return m
                        .go(Screen::Fingerprint)
                        .refuse("the fingerprint does not match: type it again");
                }
                if m.custodians.len() < m.custodians_needed() {
                    return m
                        .go(Screen::Custodians)
                        .refuse("more custodians are needed");
                }
                m.outcome = Outcome::Run;
                m.go(Screen::Running)
            }
            Msg::Char('n' | 'N') | Msg::Enter => {
                m.outcome = Outcome::Quit;
                m
            }
            _ => m,
        },
        Screen::Ceremony | Screen::Fingerprint | Screen::Custodians => match msg {
            Msg::Char(c) => {
                // The share buffer is sized once and never grows: a reallocation would leave a
                // copy of the typed share behind in freed memory.
                let is_share = (m.screen, m.focus) == (Screen::Custodians, Focus::Second);
                if is_share && m.share.len() + c.len_utf8() > SHARE_CAPACITY {
                    return m.refuse(format!(
                        "a share is at most {SHARE_CAPACITY} characters: check what was typed"
                    ));
                }
                if let Some(f) = m.field() {
                    f.push(c);
                }
                m
            }
            Msg::Backspace => {
                if let Some(f) = m.field() {
                    f.pop();
                }
                m
            }
            Msg::Tab if m.screen != Screen::Fingerprint => {
                m.focus = m.focus.other();
                m
            }
            Msg::Enter => enter(m),
            _ => m,
        },
    }
}

fn enter(mut m: Model) -> Model {
    match m.screen {
        Screen::Ceremony => {
            if m.operator.trim().is_empty() {
                m.focus = Focus::First;
                return m.refuse("type the operator's name");
            }
            if m.focus == Focus::First {
                m.focus = Focus::Second;
                return m;
            }
            if m.witness.trim().is_empty() {
                return m.refuse("type the witness's name");
            }
            if m.witness.trim() == m.operator.trim() {
                return m.refuse("the witness must be another person than the operator");
            }
            m.go(Screen::Fingerprint)
        }
        Screen::Fingerprint => {
            if normalise_fingerprint(&m.fingerprint).is_empty() {
                return m.refuse("type the fingerprint read out from the connected side");
            }
            if !m.fingerprint_matches() {
                return m.refuse(
                    "MISMATCH: this is not the bundle that was prepared. Check what was read out, or stop and fetch the right media",
                );
            }
            if m.info.quorum.is_some() {
                m.go(Screen::Custodians)
            } else {
                m.go(Screen::Confirm)
            }
        }
        Screen::Custodians => {
            let name = m.custodian_name.trim().to_string();
            if name.is_empty() {
                let need = m.custodians_needed();
                if m.custodians.len() < need {
                    let more = need - m.custodians.len();
                    return m.refuse(format!("{more} more custodian(s) needed"));
                }
                return m.go(Screen::Confirm);
            }
            if m.focus == Focus::First {
                m.focus = Focus::Second;
                return m;
            }
            if m.custodians.iter().any(|c| c.name == name) {
                return m.refuse(format!("{name} has already authorised"));
            }
            let share = std::mem::replace(&mut m.share, empty_share());
            let share = if share.trim().is_empty() {
                None
            } else {
                Some(TypedShare::from_str_zeroizing(share.trim()))
            };
            m.custodians.push(CustodianAnswer { name, share });
            m.custodian_name.clear();
            m.focus = Focus::First;
            m
        }
        _ => m,
    }
}
