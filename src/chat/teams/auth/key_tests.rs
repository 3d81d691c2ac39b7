//! The key refresh rules on tokio's paused clock, with a scripted source
//! that counts its fetches: daily refresh, unknown `kid`s, backoff, and no
//! request ever waiting behind a failing fetch.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::sleep;

use super::AuthError;
use super::keys::{CachedKey, FetchError, KeySet, KeySource, Keys, KeysUnavailable, RefreshRules};

const DAY: Duration = Duration::from_secs(24 * 3600);

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Serve,
    Fail,
    Hang,
}

/// A key server: publishes `kids`, or fails, or never answers.
struct Fake {
    kids: Mutex<Vec<&'static str>>,
    mode: Mutex<Mode>,
    fetches: AtomicUsize,
}

impl Fake {
    fn new(kids: &[&'static str], mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            kids: Mutex::new(kids.to_vec()),
            mode: Mutex::new(mode),
            fetches: AtomicUsize::new(0),
        })
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn publish(&self, kid: &'static str) {
        self.kids.lock().unwrap().push(kid);
    }
}

fn outage() -> FetchError {
    FetchError::Status {
        url: "https://login.botframework.com/v1/.well-known/openidconfiguration".into(),
        status: 503,
    }
}

#[async_trait::async_trait]
impl KeySource for Arc<Fake> {
    async fn fetch(&self) -> Result<Keys, FetchError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Serve => Ok(self
                .kids
                .lock()
                .unwrap()
                .iter()
                .map(|kid| {
                    let key = CachedKey {
                        decoding: jsonwebtoken::DecodingKey::from_secret(kid.as_bytes()),
                        endorsements: vec!["msteams".into()],
                    };
                    ((*kid).to_owned(), Arc::new(key))
                })
                .collect()),
            Mode::Fail => Err(outage()),
            Mode::Hang => std::future::pending().await,
        }
    }
}

fn key_set(fake: &Arc<Fake>) -> Arc<KeySet> {
    Arc::new(KeySet::new(
        Arc::clone(fake),
        RefreshRules {
            interval: DAY,
            unknown_kid_interval: Duration::from_secs(300),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            fetch_timeout: Duration::from_secs(10),
        },
    ))
}

#[tokio::test(start_paused = true)]
async fn keys_are_fetched_at_start_then_daily_and_requests_never_fetch() {
    let fake = Fake::new(&["a"], Mode::Serve);
    let keys = key_set(&fake);
    let _refresher = keys.start_refresh();
    assert!(keys.key("a").await.is_ok(), "waits for the first fetch");
    assert_eq!(fake.fetches(), 1);
    // Published ahead of use, as Microsoft does: the daily refresh finds it.
    fake.publish("b");
    sleep(DAY - Duration::from_secs(1)).await;
    assert!(keys.key("a").await.is_ok());
    assert_eq!(fake.fetches(), 1, "a day has not passed");
    sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.fetches(), 2, "the daily refresh");
    assert!(keys.key("b").await.is_ok());
    assert_eq!(fake.fetches(), 2, "b came with the daily refresh");
}

#[tokio::test(start_paused = true)]
async fn an_unknown_kid_fetches_once_per_interval_and_concurrent_requests_share_it() {
    let fake = Fake::new(&["a"], Mode::Serve);
    let keys = key_set(&fake);
    let _refresher = keys.start_refresh();
    assert!(keys.key("a").await.is_ok());
    fake.publish("b");
    let (one, two, three) = tokio::join!(keys.key("b"), keys.key("b"), keys.key("b"));
    assert!(one.is_ok() && two.is_ok() && three.is_ok());
    assert_eq!(fake.fetches(), 2, "one fetch for the three requests");
    assert_eq!(
        keys.key("forged").await.err(),
        Some(AuthError::UnknownKey("forged".into()))
    );
    assert_eq!(
        fake.fetches(),
        2,
        "at most one unknown-kid fetch per interval"
    );
    sleep(Duration::from_secs(301)).await;
    assert_eq!(
        keys.key("forged").await.err(),
        Some(AuthError::UnknownKey("forged".into()))
    );
    assert_eq!(fake.fetches(), 3, "the interval has passed");
}

#[tokio::test(start_paused = true)]
async fn after_a_failed_refresh_requests_are_answered_at_once_and_retries_back_off() {
    let fake = Fake::new(&["a"], Mode::Serve);
    let keys = key_set(&fake);
    let _refresher = keys.start_refresh();
    assert!(keys.key("a").await.is_ok());
    fake.set(Mode::Fail);
    sleep(DAY + Duration::from_millis(500)).await;
    assert_eq!(fake.fetches(), 2, "the daily refresh failed");
    // The retry is now in flight and never answers: nothing waits for it.
    fake.set(Mode::Hang);
    sleep(Duration::from_secs(2)).await;
    assert_eq!(fake.fetches(), 3, "first retry within [1 s, 2 s)");
    let before = tokio::time::Instant::now();
    assert!(
        keys.key("a").await.is_ok(),
        "the last good set still serves"
    );
    assert_eq!(
        keys.key("b").await.err(),
        Some(AuthError::UnknownKeyNotRefreshed("b".into(), outage())),
        "an unknown kid is refused at once, naming the failure"
    );
    assert_eq!(tokio::time::Instant::now(), before, "no request waited");
    assert_eq!(fake.fetches(), 3, "requests never fetch");
    // The hanging retry times out after 10 s; later retries back off
    // further (2 s, 4 s, … with jitter up to twice that).
    fake.set(Mode::Fail);
    sleep(Duration::from_secs(10) + Duration::from_secs(4)).await;
    assert_eq!(fake.fetches(), 4);
    fake.publish("b");
    fake.set(Mode::Serve);
    sleep(Duration::from_secs(8)).await;
    assert_eq!(fake.fetches(), 5, "the next retry succeeds");
    assert!(keys.key("b").await.is_ok());
    sleep(DAY - Duration::from_secs(60)).await;
    assert_eq!(fake.fetches(), 5, "back to the daily cadence");
}

#[tokio::test(start_paused = true)]
async fn without_any_key_set_a_failing_source_refuses_at_once_after_the_first_attempt() {
    let fake = Fake::new(&["a"], Mode::Fail);
    let keys = key_set(&fake);
    let _refresher = keys.start_refresh();
    let unavailable = Some(AuthError::KeysUnavailable(KeysUnavailable::Failing(
        outage(),
    )));
    assert_eq!(keys.key("a").await.err(), unavailable, "the first attempt");
    assert_eq!(fake.fetches(), 1);
    for _ in 0..3 {
        assert_eq!(keys.key("a").await.err(), unavailable);
    }
    assert_eq!(fake.fetches(), 1, "requests do not retry; the backoff does");
    fake.set(Mode::Serve);
    sleep(Duration::from_secs(2)).await;
    assert!(keys.key("a").await.is_ok(), "the first retry");
    assert_eq!(fake.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_request_waits_for_the_first_fetch_no_longer_than_its_timeout() {
    let fake = Fake::new(&["a"], Mode::Hang);
    let keys = key_set(&fake);
    let _refresher = keys.start_refresh();
    let before = tokio::time::Instant::now();
    let refused = keys.key("a").await.err();
    assert!(
        matches!(refused, Some(AuthError::KeysUnavailable(_))),
        "{refused:?}"
    );
    let waited = before.elapsed();
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_secs(11),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_refresher_stops_it_and_wakes_waiting_requests() {
    let fake = Fake::new(&["a"], Mode::Hang);
    let keys = key_set(&fake);
    let refresher = keys.start_refresh();
    let waiting = tokio::spawn({
        let keys = Arc::clone(&keys);
        async move { keys.key("a").await.err() }
    });
    tokio::task::yield_now().await;
    assert_eq!(fake.fetches(), 1, "the first fetch hangs");
    drop(refresher);
    assert_eq!(
        waiting.await.unwrap(),
        Some(AuthError::KeysUnavailable(KeysUnavailable::NotRunning))
    );
    fake.set(Mode::Serve);
    sleep(2 * DAY).await;
    assert_eq!(fake.fetches(), 1, "no fetch after the refresher stopped");
    assert_eq!(
        keys.key("a").await.err(),
        Some(AuthError::KeysUnavailable(KeysUnavailable::NotRunning))
    );
}

#[tokio::test(start_paused = true)]
async fn nothing_is_fetched_until_the_refresher_starts() {
    let fake = Fake::new(&["a"], Mode::Serve);
    let keys = key_set(&fake);
    assert_eq!(
        keys.key("a").await.err(),
        Some(AuthError::KeysUnavailable(KeysUnavailable::NotRunning))
    );
    assert_eq!(fake.fetches(), 0);
}
