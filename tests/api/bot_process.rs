//! The bot as its own process against in-process emulators: started, ready,
//! killed with SIGKILL and restarted on the same port and database.

use std::net::SocketAddr;
use std::path::PathBuf;

use stagegate_lab::bot_process::{BotProcess, BotProcessSpec};
use stagegate_sandbox::{Sandbox, SandboxOptions};

#[tokio::test]
async fn a_bot_process_restarts_on_the_same_port_and_database_after_sigkill() {
    let sandbox = Sandbox::build(SandboxOptions {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        tenant: None,
        callout_url: None,
        callout_secret: None,
        secrets: None,
    })
    .await
    .unwrap();
    let state = sandbox.state.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let sim = tokio::spawn(sandbox.run_until(async {
        let _ = stopped.await;
    }));
    let dir = tempfile::tempdir().unwrap();
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_stagegate"));
    let spec = BotProcessSpec::prepare(&state, binary, dir.path()).unwrap();

    let first = BotProcess::start(&spec, None).await.expect("first start");
    let usage = first.usage().unwrap();
    assert!(usage.rss_bytes > 0 && usage.peak_rss_bytes >= usage.rss_bytes);
    let pid = first.pid();
    first.kill().unwrap();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| s.contains(") Z"))
                .unwrap_or(true),
        "the killed process is gone"
    );

    let second = BotProcess::start(&spec, None).await.expect("restart");
    let ready = reqwest::get(format!("{}/readyz", spec.url)).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(dir.path().join("bot.db").exists());
    drop(second);
    let _ = stop.send(());
    sim.await.unwrap().unwrap();
}
