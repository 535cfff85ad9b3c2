use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = keyrite::cli::Cli::parse();
    match keyrite::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyrite: error: {e}");
            std::process::ExitCode::from(e.exit_code() as u8)
        }
    }
}
