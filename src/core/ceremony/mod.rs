//! The ceremony engine: the states of a ceremony, its typed records and the legal transitions
//! between them, with no I/O. The live ceremony drives an [`Engine`] (it asks what is next and
//! feeds it what the HSM and the files produced); `audit verify` replays a log through the same
//! [`Machine`]; `audit replay` renders the same [`Record`]s.

pub mod engine;
pub mod leftovers;
pub mod machine;
pub mod preflight;
pub mod questions;
pub mod record;
pub mod step;

pub use engine::{Engine, Next, Plan, PlannedKey};
pub use machine::{LoggedKey, LoggedQuorum, Machine, Outcome};
pub use record::{Record, Refusal, ResumeChoice};
