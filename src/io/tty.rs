//! The terminal in raw mode, for `audit replay`'s pager: keys arrive one by one without Enter, no
//! echo; the alternate screen keeps the shell's screen (and the line printed before the pager)
//! as it was. [`RawTerminal`] restores everything when dropped, on every way out (an error, a
//! panic unwinding). Works in every build: only termios and ioctl, through libc.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;

/// The terminal, raw, on the alternate screen, until dropped.
pub struct RawTerminal {
    fd: i32,
    saved: libc::termios,
}

impl RawTerminal {
    /// Puts the terminal on stdin in raw mode (no echo, no line editing, no signals: Ctrl-C is a
    /// key) and switches stdout to the alternate screen with the cursor hidden.
    pub fn enter() -> io::Result<RawTerminal> {
        let fd = io::stdin().as_raw_fd();
        // SAFETY: a zeroed termios is a valid value to be filled by tcgetattr.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd is stdin; `saved` is a valid termios to write into.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut raw = saved;
        // SAFETY: `raw` is a valid termios.
        unsafe { libc::cfmakeraw(&mut raw) };
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: fd is stdin; `raw` is a valid termios.
        if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &raw) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let t = RawTerminal { fd, saved };
        let mut out = io::stdout().lock();
        out.write_all(b"\x1b[?1049h\x1b[?25l\x1b[2J")?;
        out.flush()?;
        Ok(t)
    }

    /// (columns, rows) of the terminal; 80x24 when it does not say.
    pub fn size(&self) -> (usize, usize) {
        // SAFETY: a zeroed winsize is valid; TIOCGWINSZ fills it.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: stdout's fd and a valid winsize pointer.
        let ok = unsafe { libc::ioctl(io::stdout().as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } == 0;
        if ok && ws.ws_col > 0 && ws.ws_row > 0 {
            (usize::from(ws.ws_col), usize::from(ws.ws_row))
        } else {
            (80, 24)
        }
    }

    /// The bytes of the next key press (a key's escape sequence arrives in one read).
    pub fn read_keys(&self) -> io::Result<Vec<u8>> {
        let mut buf = [0u8; 64];
        let n = io::stdin().lock().read(&mut buf)?;
        Ok(buf[..n].to_vec())
    }

    /// Draws `rows` from the top of the screen and `status` in reverse video on the last row.
    /// The rows must already be safe to print (escaped) and fit the width.
    pub fn draw(&self, rows: &[String], status: &str) -> io::Result<()> {
        let mut frame = String::from("\x1b[H");
        for r in rows {
            frame.push_str(r);
            frame.push_str("\x1b[K\r\n");
        }
        frame.push_str("\x1b[7m");
        frame.push_str(status);
        frame.push_str("\x1b[K\x1b[0m");
        let mut out = io::stdout().lock();
        out.write_all(frame.as_bytes())?;
        out.flush()
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(b"\x1b[0m\x1b[?25h\x1b[?1049l");
        let _ = out.flush();
        // SAFETY: the fd and the termios saved by `enter`.
        unsafe { libc::tcsetattr(self.fd, libc::TCSAFLUSH, &self.saved) };
    }
}
