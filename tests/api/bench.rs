//! `stagegate bench --small` through the library: every figure is produced
//! and the invariants hold. No timing is asserted (figures of a debug build
//! on a shared machine mean nothing); the README records a real run.

use std::path::PathBuf;

use stagegate_lab::bench::{BenchOptions, inbound};

#[tokio::test]
async fn the_small_bench_produces_a_complete_report() {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_stagegate"));
    let mut options = BenchOptions::small();
    // CI installs wrk (.ci/run) and must run the inbound part; elsewhere it
    // is skipped, loudly, without wrk.
    if let Err(why) = inbound::wrk_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the inbound benchmarks: {why}"
        );
        eprintln!("inbound benchmarks skipped: {why}");
        options.skip_inbound = true;
    }
    let report = stagegate_lab::bench::run(binary, options.clone())
        .await
        .expect("the small bench runs");

    assert_eq!(report.startup.ready_ms.len(), options.startup_runs);
    assert!(report.startup.ready_ms.iter().all(|ms| *ms > 0.0));
    assert!(report.startup.ready_median_ms > 0.0);
    assert!(report.startup.idle_rss_mb > 1.0, "RSS comes from /proc");

    if !options.skip_inbound {
        let endpoints: Vec<&str> = report.inbound.iter().map(|e| e.endpoint.as_str()).collect();
        assert_eq!(endpoints.len(), 3, "{endpoints:?}");
        for (endpoint, path) in report.inbound.iter().zip(["teams", "slack", "graph"]) {
            assert!(endpoint.endpoint.contains(path));
            let runs = std::iter::once(&endpoint.saturation).chain(endpoint.fixed.as_ref());
            for run in runs {
                assert!(
                    run.requests > 0,
                    "{}: no request completed",
                    endpoint.endpoint
                );
                assert_eq!(run.failed, 0, "{}: refused requests", endpoint.endpoint);
                assert!(run.p50_ms > 0.0 && run.p99_ms >= run.p50_ms);
            }
            assert!(endpoint.bot_peak_rss_mb >= endpoint.bot_rss_mb);
        }
        let slack = &report.inbound[1];
        assert!(
            slack.saturation.requests <= options.inbound.slack_pool as u64 + 8,
            "each pre-signed Slack request is sent at most once (plus one per \
             connection as a thread stops)"
        );
        assert!(report.inbound[1].fixed.is_some() && report.inbound[2].fixed.is_some());
    }

    assert_eq!(report.fanout.len(), 2, "Teams and Slack");
    for f in &report.fanout {
        assert!(f.complete(), "{:?}: {f:?}", f.platform);
        assert_eq!(f.delivered, f.requests);
        assert!(f.floor.posts > 0 && f.floor.updates > 0, "{:?}", f.floor);
        assert!(f.seconds > 0.0 && f.graph_calls_per_request > 0.0);
        assert!(f.bot_peak_rss_mb > 1.0);
        // One sample per request and per decided stage (two per request);
        // the values are timings and are not judged.
        let l = &f.latency;
        assert_eq!(l.requests, f.requests, "{:?}: {l:?}", f.platform);
        assert_eq!(l.request_to_first_card.samples, f.requests, "{l:?}");
        assert_eq!(l.decided_stages, 2 * f.requests, "{l:?}");
        for p in [
            &l.click_to_cards_updated,
            &l.click_to_graph,
            &l.graph_to_cards_updated,
        ] {
            assert_eq!(p.samples, l.decided_stages, "{:?}: {l:?}", f.platform);
        }
        for p in [
            &l.request_to_first_card,
            &l.click_to_cards_updated,
            &l.click_to_graph,
            &l.graph_to_cards_updated,
        ] {
            assert!(p.p50_ms.is_some() && p.p99_ms.is_some(), "{l:?}");
        }
        assert_eq!((l.requests_without_card, l.stages_unmatched), (0, 0));
    }

    for name in [
        "ready on a fresh database (median)",
        "idle RSS",
        "Teams JWT activities at saturation",
        "Slack commands + interactions p99 at 500 req/s",
        "Graph notifications p99 at 1000 req/s",
    ] {
        assert!(
            report.targets.iter().any(|t| t.name == name),
            "target `{name}` is missing"
        );
    }
    let json = serde_json::to_value(&report).unwrap();
    for key in [
        "machine", "options", "startup", "inbound", "fanout", "targets",
    ] {
        assert!(json.get(key).is_some(), "JSON lacks `{key}`");
    }
    for f in json["fanout"].as_array().unwrap() {
        for key in [
            "request_to_first_card",
            "click_to_cards_updated",
            "click_to_graph",
            "graph_to_cards_updated",
        ] {
            let p = &f["latency"][key];
            assert!(p["samples"].as_u64() > Some(0), "JSON latency `{key}`: {p}");
            assert!(p["p50_ms"].is_f64() && p["p99_ms"].is_f64(), "{p}");
        }
    }
    let table = report.table();
    assert!(table.contains("start-up") && table.contains("target"));
    assert!(table.contains("first approver card posted: p50"), "{table}");
    assert!(table.contains("click → decision in Graph: p50"), "{table}");
}
