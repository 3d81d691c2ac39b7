use std::time::{Duration, Instant};

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn nearest_rank_picks_the_ceiling_rank() {
    let hundred: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(nearest_rank(&hundred, 50), Some(50.0));
    assert_eq!(nearest_rank(&hundred, 99), Some(99.0));
    assert_eq!(nearest_rank(&hundred, 100), Some(100.0));
    let ten: Vec<f64> = (1..=10).map(f64::from).collect();
    assert_eq!(nearest_rank(&ten, 50), Some(5.0));
    assert_eq!(nearest_rank(&ten, 99), Some(10.0), "⌈9.9⌉ = 10");
    assert_eq!(nearest_rank(&[7.0], 50), Some(7.0));
    assert_eq!(nearest_rank(&[7.0], 99), Some(7.0));
    assert_eq!(nearest_rank(&[], 50), None);
    let three = [1.0, 2.0, 3.0];
    assert_eq!(nearest_rank(&three, 50), Some(2.0), "⌈1.5⌉ = 2");
    assert_eq!(nearest_rank(&three, 1), Some(1.0));
}

#[test]
fn percentiles_sort_their_samples() {
    let p = Percentiles::of(&[ms(30), ms(10), ms(20)]);
    assert_eq!(p.samples, 3);
    assert_eq!(p.p50_ms, Some(20.0));
    assert_eq!(p.p99_ms, Some(30.0));
    assert_eq!(p.show(), "p50 20.0 ms, p99 30.0 ms (n=3)");
    let none = Percentiles::of(&[]);
    assert_eq!((none.samples, none.p50_ms, none.p99_ms), (0, None, None));
    assert_eq!(none.show(), "no samples");
}

fn card(holder: &str, request: &str, stage: &str, posted: Instant) -> PostedCard {
    let mut moments = MessageMoments::posted_now();
    moments.posted = posted;
    PostedCard {
        holder: holder.into(),
        request: request.into(),
        stage: stage.into(),
        moments,
    }
}

/// Request r1: created at 0, stage s1 cards to a (at 40) and b (at 25),
/// a clicks at 100 (and at 400, after the decision), Graph records a's
/// decision at 130, the cards are updated at 150 and 190. Stage s2 is
/// undecided. Request r2 got no card.
#[test]
fn measures_both_intervals_and_the_parts() {
    let t0 = Instant::now();
    let at = |n: u64| t0 + ms(n);
    let mut a = card("a", "r1", "s1", at(40));
    a.moments.note_click("a", at(100));
    a.moments.note_click("a", at(400));
    a.moments.updated.push(at(150));
    let mut b = card("b", "r1", "s1", at(25));
    b.moments.note_click("a", at(120)); // not b's card: ignored
    b.moments.updated.push(at(190));
    let other = card("c", "r1", "s2", at(5));
    let requests = vec![
        RequestRecord {
            id: "r1".into(),
            created: t0,
            stages: vec![
                StageRecord {
                    id: "s1".into(),
                    decided: Some(("a".into(), at(130))),
                },
                StageRecord {
                    id: "s2".into(),
                    decided: None,
                },
            ],
        },
        RequestRecord {
            id: "r2".into(),
            created: at(10),
            stages: vec![StageRecord {
                id: "s9".into(),
                decided: None,
            }],
        },
    ];
    let f = measure(&requests, &[a, b, other]);
    assert_eq!(f.requests, 2);
    assert_eq!(f.requests_without_card, 1);
    assert_eq!(f.request_to_first_card.samples, 1);
    assert_eq!(
        f.request_to_first_card.p50_ms,
        Some(25.0),
        "b's card came first"
    );
    assert_eq!(f.decided_stages, 1);
    assert_eq!(f.stages_unmatched, 0);
    assert_eq!(f.click_to_graph.p50_ms, Some(30.0));
    assert_eq!(
        f.graph_to_cards_updated.p50_ms,
        Some(60.0),
        "the later card"
    );
    assert_eq!(f.click_to_cards_updated.p50_ms, Some(90.0));
    assert_eq!(f.click_to_cards_updated.samples, 1);
}

#[test]
fn a_stage_decided_outside_chat_or_never_updated_is_unmatched() {
    let t0 = Instant::now();
    let at = |n: u64| t0 + ms(n);
    let no_click = card("a", "r1", "s1", at(10));
    let mut not_updated = card("b", "r2", "s1", at(10));
    not_updated.moments.note_click("b", at(20));
    let stage = |by: &str| {
        vec![StageRecord {
            id: "s1".into(),
            decided: Some((by.into(), at(50))),
        }]
    };
    let requests = vec![
        RequestRecord {
            id: "r1".into(),
            created: t0,
            stages: stage("a"),
        },
        RequestRecord {
            id: "r2".into(),
            created: t0,
            stages: stage("b"),
        },
    ];
    let f = measure(&requests, &[no_click, not_updated]);
    assert_eq!(f.decided_stages, 2);
    assert_eq!(f.stages_unmatched, 2);
    assert_eq!(f.click_to_cards_updated.samples, 0);
    assert_eq!(f.request_to_first_card.samples, 2);
}
