//! The binary in a real terminal (tmux): the full-screen ceremony, line mode, replay, and the rehearsal.
//!
//! One test binary for the group (cargo's `tests/testsuite` shape): each file is a module.

#[path = "../common/mod.rs"]
mod common;

mod ceremony_plain;
mod ceremony_tui;
mod rehearse;
mod rehearse_tui;
mod replay;
mod share_in_name;
