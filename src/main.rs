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

/// Debug builds only: `KEYRITE_DEBUG_PANIC` set makes the run panic, so that tests can see how a
/// panic ends. Release builds do not read it.
fn debug_panic_trigger() {
    #[cfg(debug_assertions)]
    if std::env::var_os("KEYRITE_DEBUG_PANIC").is_some() {
        panic!("KEYRITE_DEBUG_PANIC is set (this text must not be printed)");
    }
}

fn main() -> std::process::ExitCode {
    forbid_core_dumps();
    keyrite::cli::failure::install_panic_hook();
    let cli = keyrite::cli::Cli::parse();
    let json = cli.json();
    // A panic unwinds (dropping, and so wiping, every secret on the way) to here and exits 1.
    let result = std::panic::catch_unwind(move || {
        debug_panic_trigger();
        keyrite::cli::run(cli)
    });
    let code = match result {
        Ok(Ok(())) => keyrite::ExitCode::Ok,
        Ok(Err(e)) => keyrite::cli::failure::report(&e, json),
        Err(_) => keyrite::ExitCode::Internal,
    };
    std::process::ExitCode::from(code as u8)
}
