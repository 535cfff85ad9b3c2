use clap::Parser;

/// No core dumps: a dump of this process could hold a PIN. (Key material never enters it.)
fn forbid_core_dumps() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on this process, with valid arguments.
    unsafe {
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

fn main() -> std::process::ExitCode {
    forbid_core_dumps();
    let cli = keyrite::cli::Cli::parse();
    match keyrite::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Error messages quote file content and AWS answers: shown escaped, never obeyed.
            keyrite::say!("keyrite: error: {e}");
            std::process::ExitCode::from(e.exit_code() as u8)
        }
    }
}
