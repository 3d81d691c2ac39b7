use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = stagegate_lab::cli::Cli::parse();
    match stagegate_lab::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("stagegate: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
