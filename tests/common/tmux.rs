//! A real terminal for whole-binary tests: tmux, driven with send-keys and read with capture-pane.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

use super::unique;

pub struct Tmux {
    socket: String,
    session: String,
    /// Whether captures include what scrolled off the screen.
    scrollback: bool,
    /// Keys pressed so far: one per named key, one per character of literal text.
    pressed: std::cell::Cell<usize>,
}

impl Tmux {
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }

    /// Starts `command` in a `cols`x40 terminal, kept on screen after it exits. With
    /// `scrollback`, captures include what scrolled off (and what a cleared screen pushed away).
    pub fn start(session: &str, command: &str, cols: u16, scrollback: bool) -> Tmux {
        Tmux::start_sized(session, command, cols, 40, scrollback)
    }

    /// As [`Tmux::start`], in a `cols`x`rows` terminal.
    pub fn start_sized(
        session: &str,
        command: &str,
        cols: u16,
        rows: u16,
        scrollback: bool,
    ) -> Tmux {
        let tmux = Tmux {
            socket: unique(&format!("keyrite-{session}")),
            session: session.to_string(),
            scrollback,
            pressed: std::cell::Cell::new(0),
        };
        let cols = cols.to_string();
        let rows = rows.to_string();
        let started = tmux
            .cmd()
            .args([
                "new-session",
                "-d",
                "-s",
                &tmux.session,
                "-x",
                &cols,
                "-y",
                &rows,
                command,
            ])
            .status()
            .unwrap();
        assert!(
            started.success(),
            "tmux could not start (is tmux installed? ./scripts/setup installs it)"
        );
        assert!(
            tmux.cmd()
                .args(["set-option", "-t", &tmux.session, "remain-on-exit", "on"])
                .status()
                .unwrap()
                .success()
        );
        tmux
    }

    /// The screen (wrapped lines joined), with what scrolled off it if `scrollback`.
    pub fn pane(&self) -> String {
        let mut cmd = self.cmd();
        cmd.args(["capture-pane", "-p", "-J", "-t", &self.session]);
        if self.scrollback {
            cmd.args(["-S", "-"]);
        }
        let out = cmd.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen satisfies `ok` (polling the real terminal), or fails with the
    /// screen. Every screen seen is kept in `seen`.
    pub fn wait_for(
        &self,
        seen: &mut Vec<String>,
        within: Duration,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let screen = self.pane();
            seen.push(screen.clone());
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn keys(&self, keys: &[&str]) {
        let pressed = match keys {
            ["-l", text] => text.chars().count(),
            _ => keys.len(),
        };
        self.pressed.set(self.pressed.get() + pressed);
        assert!(
            self.cmd()
                .args(["send-keys", "-t", &self.session])
                .args(keys)
                .status()
                .unwrap()
                .success()
        );
    }

    /// How many keys were pressed in this terminal so far (a named key counts one, literal
    /// text one per character).
    pub fn pressed(&self) -> usize {
        self.pressed.get()
    }

    /// Types `text` literally.
    pub fn text(&self, text: &str) {
        self.keys(&["-l", text]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// The share on a "your share" screen: its lines put together.
pub fn share_on(screen: &str) -> String {
    let lines: Vec<&str> = screen
        .lines()
        .map(|l| l.trim_matches(|c| c == '│' || c == ' '))
        .collect();
    let from = lines
        .iter()
        .position(|l| l.starts_with("KR1-"))
        .expect("the share is shown");
    lines[from..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect()
}

/// `s` quoted for the shell command a test starts in tmux.
pub fn quoted(s: impl AsRef<std::ffi::OsStr>) -> String {
    format!("'{}'", s.as_ref().to_string_lossy().replace('\'', "'\\''"))
}
