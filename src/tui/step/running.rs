//! The HSM at work: its progress as it comes; every key pressed is ignored.

use super::form::Step;

pub const STEP: Step = Step {
    what: |_| "the HSM at work".into(),
    next_action: |_| "wait: the HSM is working; keys are ignored".into(),
    footer: |_| "no key works while the HSM is working",
    handle: |m, _| m,
};
