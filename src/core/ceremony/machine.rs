//! The order rules of a ceremony, in one place: which record may follow which. The live ceremony
//! asks this machine before it writes a record ([`super::Engine`]), and `audit verify` replays a
//! log through it: a log the ceremony could not have written does not verify, and the other way
//! round.
//!
//! A ceremony log is one or more sessions. The first opens with the start record, each later one
//! with a resumed record (an interrupted ceremony taken up again). In every session: with a
//! roster, the quorum first; then the capability probe; then key by key, generated then wrapped;
//! the log closes with an end record once every generated key is wrapped, or with an aborted
//! record. Nothing follows either.

use serde::Serialize;

use super::record::{Aborted, BoundRoster, End, QuorumMet, Record, Refusal, ResumeChoice, Start};
use super::step;

/// One key as the log tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedKey {
    pub key: String,
    pub key_arn: String,
    pub hsm_label: String,
    pub check_value: String,
    /// The key's CKA_ID (hex) as the log recorded it; None in logs written before it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hsm_id: Option<String>,
    /// (bundle-relative file, SHA-256) of the wrapped material, once wrapped.
    pub wrapped: Option<(String, String)>,
    /// A re-wrap: the escrowed key it wrapped again, and the earlier bundle and log it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrap_of: Option<super::record::Reimport>,
    /// A multi-Region key: the replicas' Regions the generated record promised wraps for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replica_regions: Vec<String>,
    /// (Region, bundle-relative file, SHA-256) of each replica's wrap so far, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub replica_wraps: Vec<(String, String, String)>,
}

impl LoggedKey {
    /// Wrapped in its own Region and in every replica's Region the generated record named.
    pub fn fully_wrapped(&self) -> bool {
        self.wrapped.is_some() && self.replica_wraps.len() == self.replica_regions.len()
    }

    /// (bundle-relative file, SHA-256) of every wrap the log records for the key: its own
    /// Region's, then each replica's.
    pub fn recorded_files(&self) -> impl Iterator<Item = (&String, &String)> {
        self.wrapped
            .iter()
            .map(|(f, h)| (f, h))
            .chain(self.replica_wraps.iter().map(|(_, f, h)| (f, h)))
    }

    /// (Region, SHA-256) of each replica's wrap so far.
    pub fn replica_digests(&self) -> Vec<(String, String)> {
        self.replica_wraps
            .iter()
            .map(|(r, _, sha)| (r.clone(), sha.clone()))
            .collect()
    }

    /// The Region the next wrap is for: None (the key's own), a replica's, or nothing left.
    pub fn next_wrap_region(&self) -> Option<Option<&str>> {
        if self.wrapped.is_none() {
            return Some(None);
        }
        self.replica_regions
            .get(self.replica_wraps.len())
            .map(|r| Some(r.as_str()))
    }
}

/// The roster a log binds and who authorised, as the log tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedQuorum {
    pub roster_sha256: String,
    pub mode: String,
    pub threshold: u8,
    pub custodians: usize,
    /// (name, index) of each custodian who authorised (the last quorum, when the ceremony was
    /// resumed); empty until a quorum.met record.
    pub authorised: Vec<(String, u8)>,
    /// How the HSM was logged in behind the (last) quorum, when the log records it.
    pub login: Option<String>,
}

/// How a log closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Ended(End),
    Aborted(Aborted),
}

/// Where the current session stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Session {
    quorum_met: bool,
    probed: bool,
    keys_seen: bool,
    /// Set by a resumed record.
    resumed: Option<ResumeChoice>,
}

/// The state of a ceremony, as far as its records go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Machine {
    start: Option<Start>,
    quorum: Option<LoggedQuorum>,
    session: Session,
    keys: Vec<LoggedKey>,
    /// The key generated and not yet wrapped, by index into `keys`.
    pending: Option<usize>,
    outcome: Option<Outcome>,
    resumptions: usize,
}

impl Machine {
    pub fn new() -> Machine {
        Machine::default()
    }

    pub fn start(&self) -> Option<&Start> {
        self.start.as_ref()
    }

    pub fn quorum(&self) -> Option<&LoggedQuorum> {
        self.quorum.as_ref()
    }

    pub fn keys(&self) -> &[LoggedKey] {
        &self.keys
    }

    pub fn pending(&self) -> Option<&LoggedKey> {
        self.pending.and_then(|i| self.keys.get(i))
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    pub fn resumptions(&self) -> usize {
        self.resumptions
    }

    pub fn roster_bound(&self) -> bool {
        self.quorum.is_some()
    }

    pub fn quorum_met(&self) -> bool {
        self.session.quorum_met
    }

    pub fn probed(&self) -> bool {
        self.session.probed
    }

    pub fn resumed_to(&self) -> Option<ResumeChoice> {
        self.session.resumed
    }

    pub fn is_generated(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k.key == key)
    }

    /// Takes the next record, or says why it cannot come here. On a refusal the state is as it was.
    pub fn accept(&mut self, record: &Record) -> Result<(), Refusal> {
        let step_id = record.step();
        if let Some(o) = &self.outcome {
            let closing = match o {
                Outcome::Ended(_) => step::END,
                Outcome::Aborted(_) => step::ABORTED,
            };
            return Err(Refusal::Step(format!(
                "a {step_id} record follows the {closing} record"
            )));
        }
        let Some(start) = &self.start else {
            let Record::Start(s) = record else {
                return Err(first_only(step_id));
            };
            self.quorum = s.roster.as_ref().map(|r| LoggedQuorum {
                roster_sha256: r.roster_sha256.clone(),
                mode: r.mode.clone(),
                threshold: r.threshold,
                custodians: r.custodians,
                authorised: Vec::new(),
                login: None,
            });
            self.start = Some(s.clone());
            return Ok(());
        };
        if let Record::Start(_) = record {
            return Err(first_only(step_id));
        }
        if let Record::Resumed(r) = record {
            self.session = Session {
                resumed: Some(r.choice),
                ..Session::default()
            };
            self.resumptions += 1;
            return Ok(());
        }
        if let Record::QuorumMet(q) = record {
            let Some(roster) = &start.roster else {
                return Err(Refusal::Step(format!(
                    "a {} record, but the {} record binds no roster",
                    step::QUORUM_MET,
                    step::START
                )));
            };
            if self.session.quorum_met {
                return Err(Refusal::Step(format!(
                    "a second {} record",
                    step::QUORUM_MET
                )));
            }
            if self.session.probed {
                return Err(Refusal::Quorum(format!(
                    "the {} record comes after the capability probe",
                    step::QUORUM_MET
                )));
            }
            let who = check_quorum_met(q, roster)?;
            if let Some(lq) = self.quorum.as_mut() {
                lq.authorised = who;
                lq.login = q.login.clone();
            }
            self.session.quorum_met = true;
            return Ok(());
        }
        if self.quorum.is_some() && !self.session.quorum_met {
            return Err(Refusal::Quorum(format!(
                "{}, but the log binds a roster and has no {} record before it",
                what_happens(record),
                step::QUORUM_MET
            )));
        }
        if self.session.resumed == Some(ResumeChoice::Abort)
            && !matches!(record, Record::Aborted(_))
        {
            return Err(Refusal::Step(format!(
                "a {step_id} record, but the ceremony was resumed to abort it ({} must follow)",
                step::ABORTED
            )));
        }
        match record {
            Record::Probe(_) => {
                if self.session.probed {
                    return Err(Refusal::Step("a second capability probe".into()));
                }
                if self.session.keys_seen {
                    return Err(Refusal::Step(
                        "the capability probe comes after a key was generated".into(),
                    ));
                }
                self.session.probed = true;
            }
            Record::KeyGenerated(k) => {
                if !self.session.probed {
                    return Err(Refusal::Step(format!(
                        "a key is generated before the token passed the capability probe ({})",
                        step::PROBE
                    )));
                }
                if self.is_generated(&k.key) {
                    return Err(Refusal::Step(format!("key {:?} is generated twice", k.key)));
                }
                if let Some(p) = self.pending() {
                    return Err(Refusal::Step(format!(
                        "key {:?} is generated before key {:?} was wrapped",
                        k.key, p.key
                    )));
                }
                self.pending = Some(self.keys.len());
                self.keys.push(LoggedKey {
                    key: k.key.clone(),
                    key_arn: k.key_arn.clone(),
                    hsm_label: k.hsm_label.clone(),
                    check_value: k.check_value.clone(),
                    hsm_id: k.hsm_id.clone(),
                    wrapped: None,
                    rewrap_of: k.reimport.clone(),
                    replica_regions: k.replica_regions.clone(),
                    replica_wraps: Vec::new(),
                });
                self.session.keys_seen = true;
            }
            Record::KeyWrapped(w) => {
                let Some(i) = self.keys.iter().position(|k| k.key == w.key) else {
                    return Err(Refusal::Step(format!(
                        "key {:?} is wrapped before it is generated",
                        w.key
                    )));
                };
                if self.pending != Some(i) {
                    return Err(Refusal::Step(format!("key {:?} is wrapped twice", w.key)));
                }
                if !self.session.probed {
                    return Err(Refusal::Step(format!(
                        "key {:?} is wrapped before the token passed the capability probe ({})",
                        w.key,
                        step::PROBE
                    )));
                }
                let Some(k) = self.keys.get_mut(i) else {
                    return Err(Refusal::Step(format!("key {:?} is not logged", w.key)));
                };
                let expected = k.next_wrap_region().map(|r| r.map(str::to_string));
                if expected.as_ref() != Some(&w.region) {
                    let said = |r: &Option<String>| match r {
                        None => "its own Region".to_string(),
                        Some(r) => r.clone(),
                    };
                    return Err(Refusal::Step(match expected {
                        Some(e) => format!(
                            "key {:?} is wrapped for {}, but its next wrap is for {}",
                            w.key,
                            said(&w.region),
                            said(&e)
                        ),
                        None => format!("key {:?} is wrapped twice", w.key),
                    }));
                }
                match &w.region {
                    None => k.wrapped = Some((w.file.clone(), w.sha256.clone())),
                    Some(r) => k
                        .replica_wraps
                        .push((r.clone(), w.file.clone(), w.sha256.clone())),
                }
                if k.fully_wrapped() {
                    self.pending = None;
                }
                self.session.keys_seen = true;
            }
            Record::End(e) => {
                if let Some(p) = self.pending() {
                    return Err(Refusal::Step(match p.next_wrap_region() {
                        Some(Some(r)) => format!(
                            "the ceremony ends, but key {:?} was never wrapped for its replica in {r}",
                            p.key
                        ),
                        _ => format!("the ceremony ends, but key {:?} was never wrapped", p.key),
                    }));
                }
                if !self.session.probed {
                    return Err(Refusal::Step(format!(
                        "the ceremony ends before the token passed the capability probe ({})",
                        step::PROBE
                    )));
                }
                if let Some(n) = e.keys
                    && n != self.keys.len()
                {
                    return Err(Refusal::Step(format!(
                        "the end record counts {n} key(s), the log generated and wrapped {}",
                        self.keys.len()
                    )));
                }
                self.outcome = Some(Outcome::Ended(e.clone()));
            }
            Record::Aborted(a) => {
                self.outcome = Some(Outcome::Aborted(a.clone()));
            }
            Record::Start(_) | Record::Resumed(_) | Record::QuorumMet(_) => {}
        }
        Ok(())
    }
}

fn first_only(step_id: &str) -> Refusal {
    Refusal::Step(format!(
        "the first record, and only the first, must be {}; this one is {step_id}",
        step::START
    ))
}

fn what_happens(record: &Record) -> String {
    match record {
        Record::Probe(_) => "the token is probed".into(),
        Record::KeyGenerated(_) => "a key is generated".into(),
        Record::KeyWrapped(_) => "a key is wrapped".into(),
        Record::End(_) => "the ceremony ends".into(),
        Record::Aborted(_) => "the ceremony is aborted".into(),
        other => format!("a {} record comes", other.step()),
    }
}

/// A quorum.met record against the roster the start record bound: same roster, mode and
/// threshold, and at least `threshold` distinct custodians (names and indices) of the roster.
fn check_quorum_met(q: &QuorumMet, bound: &BoundRoster) -> Result<Vec<(String, u8)>, Refusal> {
    let bad = Refusal::Quorum;
    if q.roster_sha256 != bound.roster_sha256 {
        return Err(bad(format!(
            "it names roster {}, the start record bound {}",
            q.roster_sha256, bound.roster_sha256
        )));
    }
    if q.mode != bound.mode {
        return Err(bad(format!(
            "its mode is {:?}, the start record bound {:?}",
            q.mode, bound.mode
        )));
    }
    if q.threshold != bound.threshold {
        return Err(bad(format!(
            "its threshold differs from the roster's {}",
            bound.threshold
        )));
    }
    let mut who: Vec<(String, u8)> = Vec::new();
    for (name, index) in &q.authorised {
        if *index == 0 || usize::from(*index) > bound.custodians {
            return Err(bad(format!(
                "{name:?} has index {index}, the roster has custodians 1 to {}",
                bound.custodians
            )));
        }
        if who.iter().any(|(n, i)| n == name || i == index) {
            return Err(bad(format!(
                "custodian {name:?} (index {index}) is counted twice"
            )));
        }
        who.push((name.clone(), *index));
    }
    if who.len() < usize::from(bound.threshold) {
        return Err(bad(format!(
            "{} distinct custodian(s) authorised, the roster needs {}",
            who.len(),
            bound.threshold
        )));
    }
    Ok(who)
}
