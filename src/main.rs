use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = stagegate::cli::Cli::parse();
    match stagegate::cli::run(cli.command, cli.log_format).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("stagegate: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
