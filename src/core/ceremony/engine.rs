//! The live ceremony's engine: given the plan (the bundle's keys, in order, and whether a roster
//! opens the HSM), it says what comes next and takes each result as a typed record, refusing any
//! the order rules ([`Machine`]) or the plan do not allow. The driver (headless runner, terminal
//! app) performs the effects — HSM, files — and hands the engine what they produced; the log
//! writer writes what the engine accepted.

use super::machine::{Machine, Outcome};
use super::record::{Record, Refusal, ResumeChoice};

/// A key the ceremony is to generate and wrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedKey {
    /// The bundle's key name.
    pub name: String,
    pub key_arn: String,
    /// A multi-Region key's replicas' Regions, wrapped for in this order after the key's own.
    pub replica_regions: Vec<String>,
}

/// What the ceremony is to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub keys: Vec<PlannedKey>,
    /// A roster opens the HSM: the quorum is recorded before anything else happens.
    pub roster: bool,
}

/// What the driver does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Write the start record.
    Start,
    /// Record the quorum that opened the HSM.
    QuorumMet,
    /// Probe the token for the wrapping mechanism.
    Probe,
    /// Generate (or, in a re-wrap, find) the planned key with this index, and take its check value.
    Generate(usize),
    /// Wrap the planned key with this index for its next Region (the key's own, then each
    /// replica's, as the machine's pending key says), write and read back the material.
    Wrap(usize),
    /// Write the manifest and the end record.
    End,
    /// Destroy the keys never written and write the aborted record.
    Abort,
    /// The log is closed: the ceremony ended.
    Finished,
    /// The log is closed: the ceremony was aborted.
    Stopped,
}

#[derive(Debug, Clone)]
pub struct Engine {
    plan: Plan,
    machine: Machine,
}

impl Engine {
    pub fn new(plan: Plan) -> Engine {
        Engine {
            plan,
            machine: Machine::new(),
        }
    }

    /// An engine that has already taken `records` (an interrupted ceremony's log): each must be
    /// one the engine would have accepted. On a refusal: the index of the record and why.
    pub fn replay(plan: Plan, records: &[Record]) -> Result<Engine, (usize, Refusal)> {
        let mut e = Engine::new(plan);
        for (i, r) in records.iter().enumerate() {
            e.record(r.clone()).map_err(|why| (i, why))?;
        }
        Ok(e)
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// What comes next.
    pub fn next(&self) -> Next {
        let m = &self.machine;
        match m.outcome() {
            Some(Outcome::Ended(_)) => return Next::Finished,
            Some(Outcome::Aborted(_)) => return Next::Stopped,
            None => {}
        }
        if m.start().is_none() {
            return Next::Start;
        }
        if self.plan.roster && !m.quorum_met() {
            return Next::QuorumMet;
        }
        if m.resumed_to() == Some(ResumeChoice::Abort) {
            return Next::Abort;
        }
        if !m.probed() {
            return Next::Probe;
        }
        if let Some(p) = m.pending()
            && let Some(i) = self.plan.keys.iter().position(|k| k.name == p.key)
        {
            return Next::Wrap(i);
        }
        match self.plan.keys.iter().position(|k| !m.is_generated(&k.name)) {
            Some(i) => Next::Generate(i),
            None => Next::End,
        }
    }

    /// Whether the log is unfinished (started, neither ended nor aborted): a ceremony to resume.
    pub fn is_interrupted(&self) -> bool {
        self.machine.start().is_some() && self.machine.outcome().is_none()
    }

    /// Takes a record: it must fit the order rules and the plan. Returns it, for the log writer.
    pub fn record(&mut self, record: Record) -> Result<Record, Refusal> {
        match (&record, self.next()) {
            (Record::KeyGenerated(k), Next::Generate(i)) => {
                let planned =
                    self.plan.keys.get(i).ok_or_else(|| {
                        Refusal::Step(format!("key {:?} is not in the plan", k.key))
                    })?;
                if planned.name != k.key || planned.key_arn != k.key_arn {
                    return Err(Refusal::Step(format!(
                        "key {:?} ({}) is generated, but the plan's next key is {:?} ({})",
                        k.key, k.key_arn, planned.name, planned.key_arn
                    )));
                }
                if planned.replica_regions != k.replica_regions {
                    let list = |v: &[String]| {
                        if v.is_empty() {
                            "none".to_string()
                        } else {
                            v.join(", ")
                        }
                    };
                    return Err(Refusal::Step(format!(
                        "key {:?} is generated for the replica Regions {}, but the plan's are {}",
                        k.key,
                        list(&k.replica_regions),
                        list(&planned.replica_regions)
                    )));
                }
            }
            (Record::KeyGenerated(k), Next::End) => {
                return Err(Refusal::Step(format!(
                    "key {:?} is generated, but every key of the plan is",
                    k.key
                )));
            }
            (Record::QuorumMet(_), _) if !self.plan.roster => {
                return Err(Refusal::Step(
                    "a quorum is recorded, but no roster opens the HSM".into(),
                ));
            }
            (Record::End(_), Next::Generate(i)) => {
                let name = self
                    .plan
                    .keys
                    .get(i)
                    .map(|k| k.name.as_str())
                    .unwrap_or("?");
                return Err(Refusal::Step(format!(
                    "the ceremony ends, but key {name:?} of the plan was never generated"
                )));
            }
            _ => {}
        }
        self.machine.accept(&record)?;
        Ok(record)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::record::*;
    use super::*;

    fn h(c: char) -> String {
        c.to_string().repeat(64)
    }

    fn plan(roster: bool) -> Plan {
        Plan {
            keys: ["a", "b"]
                .iter()
                .map(|n| PlannedKey {
                    replica_regions: Vec::new(),
                    name: n.to_string(),
                    key_arn: format!("arn:{n}"),
                })
                .collect(),
            roster,
        }
    }

    /// A start record, binding a 2-of-3 roster or none.
    pub(crate) fn start(roster: bool) -> Record {
        Record::Start(Start {
            tool_version: "0.1.0".into(),
            tool_sha256: h('a'),
            tool_features: Some("airgap".into()),
            roles: None,
            script_sha256: h('b'),
            manifest_sha256: h('c'),
            token_label: "t".into(),
            log_key_sha256: h('d'),
            roster: roster.then(|| BoundRoster {
                roster_sha256: h('e'),
                mode: "shamir".into(),
                threshold: 2,
                custodians: 3,
            }),
            provenance: None,
            alias_moves: Vec::new(),
            provenance_waived: None,
        })
    }

    fn met(who: &[(&str, u8)]) -> Record {
        Record::QuorumMet(QuorumMet {
            mode: "shamir".into(),
            roster_sha256: h('e'),
            threshold: 2,
            authorised: who.iter().map(|(n, i)| (n.to_string(), *i)).collect(),
            login: None,
        })
    }

    fn probe() -> Record {
        Record::Probe(Probe {
            algorithm: "RSAES_OAEP_SHA_1".into(),
            mechanism: None,
            result: "ok".into(),
            wrap_with_trusted: None,
        })
    }

    fn generated(k: &str) -> Record {
        Record::KeyGenerated(KeyGenerated {
            key: k.into(),
            key_arn: format!("arn:{k}"),
            hsm_label: format!("keyrite/{k}"),
            check_value: "abcdef".into(),
            reimport: None,
            wrap_with_trusted: false,
            hsm_id: None,
            replica_regions: Vec::new(),
        })
    }

    fn wrapped(k: &str) -> Record {
        Record::KeyWrapped(KeyWrapped {
            key: k.into(),
            file: format!("{k}/EncryptedKeyMaterial.bin"),
            sha256: h('f'),
            algorithm: None,
            region: None,
        })
    }

    fn wrapped_in(k: &str, region: &str) -> Record {
        Record::KeyWrapped(KeyWrapped {
            key: k.into(),
            file: format!("{k}/{region}/EncryptedKeyMaterial.bin"),
            sha256: h('f'),
            algorithm: None,
            region: Some(region.into()),
        })
    }

    fn generated_for(k: &str, regions: &[&str]) -> Record {
        let Record::KeyGenerated(mut g) = generated(k) else {
            unreachable!()
        };
        g.replica_regions = regions.iter().map(|r| r.to_string()).collect();
        Record::KeyGenerated(g)
    }

    #[test]
    fn a_multi_region_key_is_generated_once_and_wrapped_for_each_region_in_order() {
        let mut p = plan(false);
        p.keys[0].replica_regions = vec!["us-west-2".into(), "eu-west-1".into()];
        let s = start(false);
        let mut e = Engine::new(p.clone());
        for r in [
            s.clone(),
            probe(),
            generated_for("a", &["us-west-2", "eu-west-1"]),
            wrapped("a"),
        ] {
            e.record(r).unwrap();
        }
        // Still key a's turn: its replicas are not wrapped yet.
        assert_eq!(e.next(), Next::Wrap(0));
        assert_eq!(
            e.machine().pending().unwrap().next_wrap_region(),
            Some(Some("us-west-2"))
        );
        for (before, next, says) in [
            (
                vec![],
                wrapped_in("a", "eu-west-1"),
                "wrapped for eu-west-1, but its next wrap is for us-west-2",
            ),
            (
                vec![],
                wrapped("a"),
                "wrapped for its own Region, but its next wrap is for us-west-2",
            ),
            (vec![], generated("b"), "before key \"a\" was wrapped"),
            (vec![], end(1), "never wrapped"),
            (
                vec![wrapped_in("a", "us-west-2"), wrapped_in("a", "eu-west-1")],
                wrapped_in("a", "eu-west-1"),
                "wrapped twice",
            ),
        ] {
            let mut e = e.clone();
            for r in before {
                e.record(r).unwrap();
            }
            let err = e.record(next).unwrap_err().to_string();
            assert!(err.contains(says), "{says:?} not in {err}");
        }
        e.record(wrapped_in("a", "us-west-2")).unwrap();
        e.record(wrapped_in("a", "eu-west-1")).unwrap();
        assert_eq!(e.next(), Next::Generate(1));
        assert!(e.machine().keys()[0].fully_wrapped());

        // The generated record must promise the plan's Regions, no more, no fewer.
        for regions in [&["us-west-2"][..], &[], &["eu-west-1", "us-west-2"]] {
            let mut e = Engine::replay(p.clone(), &[s.clone(), probe()]).unwrap();
            let err = e
                .record(generated_for("a", regions))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("but the plan's are us-west-2, eu-west-1"),
                "{err}"
            );
        }
    }

    fn end(n: usize) -> Record {
        Record::End(End {
            manifest_sha256: h('1'),
            keys: Some(n),
        })
    }

    fn resumed(choice: ResumeChoice) -> Record {
        Record::Resumed(Resumed {
            choice,
            tool_version: "0.1.0".into(),
            tool_sha256: h('2'),
        })
    }

    fn aborted() -> Record {
        Record::Aborted(Aborted {
            reason: "r".into(),
            destroyed: vec![],
        })
    }

    /// The answer to "what next" for a record, as the driver would act on it.
    fn answer(e: &Engine) -> Option<Record> {
        Some(match e.next() {
            Next::Start => start(e.plan().roster),
            Next::QuorumMet => met(&[("Alice", 1), ("Carol", 3)]),
            Next::Probe => probe(),
            Next::Generate(i) => generated(&e.plan().keys[i].name),
            Next::Wrap(i) => wrapped(&e.plan().keys[i].name),
            Next::End => end(e.machine().keys().len()),
            Next::Abort => aborted(),
            Next::Finished | Next::Stopped => return None,
        })
    }

    #[test]
    fn driven_by_next_a_ceremony_runs_in_the_one_order() {
        for roster in [false, true] {
            let mut e = Engine::new(plan(roster));
            let mut steps = Vec::new();
            while let Some(r) = answer(&e) {
                steps.push(r.step());
                e.record(r).unwrap();
            }
            let mut want = vec!["ceremony.start"];
            if roster {
                want.push("quorum.met");
            }
            want.extend([
                "hsm.probe",
                "key.generated",
                "key.wrapped",
                "key.generated",
                "key.wrapped",
                "ceremony.end",
            ]);
            assert_eq!(steps, want);
            assert_eq!(e.next(), Next::Finished);
        }
    }

    #[test]
    fn an_interrupted_ceremony_resumes_where_it_stopped_or_aborts() {
        let done = [
            start(true),
            met(&[("Alice", 1), ("Bob", 2)]),
            probe(),
            generated("a"),
        ];
        let mut e = Engine::replay(plan(true), &done).unwrap();
        assert!(e.is_interrupted());
        assert_eq!(e.next(), Next::Wrap(0));
        e.record(resumed(ResumeChoice::Finish)).unwrap();
        assert_eq!(e.next(), Next::QuorumMet);
        e.record(met(&[("Bob", 2), ("Carol", 3)])).unwrap();
        assert_eq!(e.next(), Next::Probe);
        e.record(probe()).unwrap();
        assert_eq!(e.next(), Next::Wrap(0));

        let mut a = Engine::replay(plan(true), &done).unwrap();
        a.record(resumed(ResumeChoice::Abort)).unwrap();
        a.record(met(&[("Alice", 1), ("Bob", 2)])).unwrap();
        assert_eq!(a.next(), Next::Abort);
        assert!(a.record(probe()).is_err());
        a.record(aborted()).unwrap();
        assert_eq!(a.next(), Next::Stopped);
        assert!(!a.is_interrupted());
    }

    /// Every illegal transition, with the refusal it gets.
    #[test]
    fn illegal_transitions_are_refused_and_leave_the_state_as_it_was() {
        let s = start(false);
        let r = start(true);
        let cases: Vec<(bool, Vec<Record>, Record, &str)> = vec![
            (
                false,
                vec![],
                probe(),
                "the first record, and only the first",
            ),
            (
                false,
                vec![s.clone()],
                s.clone(),
                "the first record, and only the first",
            ),
            (
                false,
                vec![s.clone()],
                generated("a"),
                "before the token passed the capability probe",
            ),
            (
                false,
                vec![s.clone(), probe()],
                probe(),
                "a second capability probe",
            ),
            (
                false,
                vec![s.clone(), probe()],
                wrapped("a"),
                "wrapped before it is generated",
            ),
            (
                false,
                vec![s.clone(), probe()],
                generated("b"),
                "the plan's next key is \"a\"",
            ),
            (
                false,
                vec![s.clone(), probe(), generated("a")],
                generated("b"),
                "before key \"a\" was wrapped",
            ),
            (
                false,
                vec![s.clone(), probe(), generated("a")],
                end(1),
                "never wrapped",
            ),
            (
                false,
                vec![s.clone(), probe(), generated("a")],
                probe(),
                "a second capability probe",
            ),
            (
                false,
                vec![s.clone(), probe(), generated("a"), wrapped("a")],
                wrapped("a"),
                "wrapped twice",
            ),
            (
                false,
                vec![s.clone(), probe(), generated("a"), wrapped("a")],
                end(1),
                "\"b\" of the plan was never generated",
            ),
            (
                false,
                vec![s.clone(), probe()],
                met(&[("Alice", 1), ("Bob", 2)]),
                "no roster",
            ),
            (
                true,
                vec![r.clone()],
                probe(),
                "no quorum.met record before it",
            ),
            (
                true,
                vec![r.clone()],
                met(&[("Alice", 1)]),
                "the roster needs 2",
            ),
            (
                true,
                vec![r.clone()],
                met(&[("Alice", 1), ("Alice", 1)]),
                "counted twice",
            ),
            (
                true,
                vec![r.clone()],
                met(&[("Alice", 1), ("Zed", 4)]),
                "custodians 1 to 3",
            ),
            (
                true,
                vec![r.clone(), met(&[("Alice", 1), ("Bob", 2)])],
                met(&[("Alice", 1), ("Bob", 2)]),
                "a second quorum.met",
            ),
            (
                false,
                vec![s.clone(), probe(), aborted()],
                probe(),
                "follows the ceremony.aborted record",
            ),
            (
                false,
                vec![s.clone(), resumed(ResumeChoice::Abort)],
                probe(),
                "resumed to abort",
            ),
            (
                true,
                vec![
                    r.clone(),
                    met(&[("Alice", 1), ("Bob", 2)]),
                    probe(),
                    resumed(ResumeChoice::Finish),
                ],
                probe(),
                "no quorum.met record before it",
            ),
        ];
        for (roster, before, next, want) in cases {
            let mut e = Engine::replay(plan(roster), &before).unwrap();
            let was = e.machine().clone();
            let err = e.record(next.clone()).unwrap_err().to_string();
            assert!(
                err.contains(want),
                "{:?} after {} records: {err}",
                next.step(),
                before.len()
            );
            assert_eq!(e.machine(), &was, "a refusal changes nothing");
        }
    }
}
