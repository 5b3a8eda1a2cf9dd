//! Issue 7: 10 000 gifts with random retries while the home relay is killed (SIGKILL) and
//! restarted, on SQLite and on PostgreSQL.
//!
//! One standalone relay (no control plane: it is the home of every room), one room, 20 senders
//! with one WebSocket each and up to [`WINDOW`] gifts in flight. Every gift has its own
//! idempotency key and is sent 1–3 times: extra copies go right behind the first (before its
//! ack can arrive) or a little after its ack. Once about a third of the gifts are acknowledged
//! the relay is killed with SIGKILL and restarted on the same database and port; the clients
//! reconnect and re-send every gift not yet acknowledged, with the same key, until it is.
//!
//! Then, exactly (`docs/chat-protocol.md` §6.1, §7.2): every key was acknowledged; every ack of
//! a key carries the first result (same seq, same balance); no two keys share a seq, in acks,
//! in broadcast events or in the chat log; the ledger holds one row per key and nothing else;
//! each sender's wallet is its top-up minus its gifts, and the room's account holds their sum.
//!
//! The RNG is seeded (`LIVECDN_TEST_SEED` overrides it; the seed is printed). Timing is
//! printed, never asserted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chat_proto::token::{ChatClaims, ChatRole};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use support::{Process, free_port, get_when_up};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const SECRET: &str = "gift-ledger-secret";
const ROOM: &str = "gala";
/// The wallet the relay credits a room's gifts to (`chat-relay/src/gifts.rs`: `room:<room>`).
const HOST_ACCOUNT: &str = "room:gala";
const SENDERS: usize = 20;
const GIFTS: usize = 10_000;
/// Gift frames a client keeps unanswered. The relay reads 16 ahead per connection; the rest
/// wait in the socket buffers, so the relay always has the next frame at hand.
const WINDOW: usize = 24;
/// Longest wait for one thing: an answer while gifts are in flight, the relay coming up, a
/// reconnection.
const WAIT: Duration = Duration::from_secs(20);
/// Longest the gift phase may take.
const RUN_LIMIT: Duration = Duration::from_secs(150);
/// `(id, price)`: the catalogue the relay loads at start.
const CATALOG: [(&str, i64); 3] = [("rose", 1), ("heart", 7), ("rocket", 100)];
/// Token expiry far ahead (2100-01-01), so the test reads no wall clock.
const TOKEN_EXP: i64 = 4_102_444_800;
/// Fallback seed when `LIVECDN_TEST_SEED` is unset.
const DEFAULT_SEED: u64 = 0x6119_7ed6_e25e_ed01;
/// Examples shown per kind of problem when the test fails.
const SHOWN_PER_KIND: usize = 6;

/// The two databases run one after the other, so each run's printed rate is its own.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gifts_survive_a_killed_relay_on_sqlite() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/chat.db", dir.path().display());
    gifts_through_a_crash("sqlite", &url, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gifts_survive_a_killed_relay_on_postgresql() {
    let _serial = SERIAL.lock().await;
    let Some(pg) = support::postgres().await else {
        return;
    };
    let url = pg.create_database("gift_ledger_crash").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    gifts_through_a_crash("postgresql", &url, dir.path()).await;
}

async fn gifts_through_a_crash(db: &str, url: &str, dir: &Path) {
    let seed = std::env::var("LIVECDN_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    println!("{db}: LIVECDN_TEST_SEED={seed}");
    let mut rng = Rng::new(seed);
    let mut relay = Relay::start(dir, url).await;
    let plans: Vec<Arc<Plan>> = (0..SENDERS)
        .map(|i| Arc::new(Plan::new(i, &mut rng, relay.port)))
        .collect();
    for plan in &plans {
        relay.top_up(plan).await;
    }

    let acked = Arc::new(AtomicUsize::new(0));
    let started = now();
    let senders: Vec<_> = plans
        .iter()
        .map(|plan| {
            let rng = Rng::new(rng.next());
            tokio::spawn(send_gifts(plan.clone(), rng, acked.clone()))
        })
        .collect();

    // About a third in, the relay dies mid-stream and comes back on the same database.
    let kill_after = GIFTS / 3 + usize::try_from(rng.below(GIFTS as u64 / 10)).unwrap();
    // (A sender that ended already, done or panicked, stops the wait.)
    while acked.load(Ordering::Relaxed) < kill_after
        && !senders.iter().any(tokio::task::JoinHandle::is_finished)
    {
        assert!(
            now() - started < RUN_LIMIT,
            "only {} gifts acknowledged within {RUN_LIMIT:?}",
            acked.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let acked_at_kill = acked.load(Ordering::Relaxed);
    let killed = now();
    relay.kill_and_restart().await;
    let downtime = now() - killed;

    let mut outcomes = Vec::new();
    for sender in senders {
        let left = RUN_LIMIT.saturating_sub(now() - started);
        let outcome = tokio::time::timeout(left, sender)
            .await
            .unwrap_or_else(|_| panic!("the gifts did not all settle within {RUN_LIMIT:?}"))
            .expect("a sender failed");
        outcomes.push(outcome);
    }
    let elapsed = now() - started;

    let committed_since_restart = relay.gifts_committed().await;
    relay.stop();

    report(
        db,
        &outcomes,
        elapsed,
        acked_at_kill,
        downtime,
        committed_since_restart,
    );
    assert!(
        committed_since_restart <= GIFTS as u64,
        "the restarted relay counts {committed_since_restart} new commits of {GIFTS} gifts"
    );

    let store = store::Store::connect(url, 2).await.unwrap();
    let problems = audit(&store, &plans, &outcomes).await;
    store.close().await;
    assert!(
        problems.is_empty(),
        "{db}, LIVECDN_TEST_SEED={seed}: {problems}"
    );
}

/// Prints the run's numbers (never asserted) and what the restarted relay restored.
fn report(
    db: &str,
    outcomes: &[Outcome],
    elapsed: Duration,
    acked_at_kill: usize,
    downtime: Duration,
    committed_since_restart: u64,
) {
    let frames: usize = outcomes.iter().map(|o| o.frames_sent).sum();
    let connections: usize = outcomes.iter().map(|o| o.connections).sum();
    let mut retryable = BTreeMap::new();
    for (code, n) in outcomes.iter().flat_map(|o| &o.retryable_errors) {
        *retryable.entry(code.clone()).or_insert(0) += n;
    }
    println!(
        "{db}: {GIFTS} gifts as {frames} frames from {SENDERS} senders in {:.2}s: {:.0} gifts/s, \
         {:.0} frames/s; killed after {acked_at_kill} acks, relay back in {} ms; \
         {connections} connections; retryable errors {retryable:?}; \
         livecdn_chat_gifts_committed_total after restart: {committed_since_restart}",
        elapsed.as_secs_f64(),
        GIFTS as f64 / elapsed.as_secs_f64(),
        frames as f64 / elapsed.as_secs_f64(),
        downtime.as_millis(),
    );
    // What the restarted relay restored, against what was acknowledged before the kill.
    let acked_before_kill = outcomes
        .iter()
        .filter_map(|o| o.seqs_by_connection.first())
        .map(|(_, acked)| *acked)
        .max();
    let restored = outcomes
        .iter()
        .filter_map(|o| o.seqs_by_connection.get(1))
        .map(|(welcome, _)| *welcome)
        .min();
    println!(
        "{db}: highest seq acked before the kill {acked_before_kill:?}; the restarted relay's \
         first welcome said last_seq {restored:?}"
    );
}

/// A user id and an idempotency key: a gift's identity.
type GiftId = (String, String);

/// Records a problem of a kind: `problem!(problems, "kind", "format", args…)`.
macro_rules! problem {
    ($problems:expr, $kind:literal, $($message:tt)+) => {
        $problems.add($kind, format!($($message)+))
    };
}

/// Everything the clients saw against the database; every disagreement, in words.
async fn audit(store: &store::Store, plans: &[Arc<Plan>], outcomes: &[Outcome]) -> Problems {
    let mut problems = Problems::default();
    let first_acks = audit_acks(store, plans, outcomes, &mut problems).await;
    audit_broadcast(outcomes, &first_acks, &mut problems);
    audit_ledger(store, plans, &mut problems).await;
    audit_chat_log(store, &first_acks, &mut problems).await;
    problems
}

/// Acks against each other and the wallets; returns each gift's first ack.
async fn audit_acks(
    store: &store::Store,
    plans: &[Arc<Plan>],
    outcomes: &[Outcome],
    problems: &mut Problems,
) -> HashMap<GiftId, Ack> {
    let mut first_acks = HashMap::new();
    let mut key_of_seq: HashMap<u64, GiftId> = HashMap::new();
    for (plan, outcome) in plans.iter().zip(outcomes) {
        for refusal in &outcome.refused {
            problems.add("refused", refusal.clone());
        }
        let mut balances = BTreeSet::new();
        for (gift, acks) in plan.gifts.iter().zip(&outcome.acks) {
            let id = (plan.user.clone(), gift.key.clone());
            let Some(first) = acks.first() else {
                problem!(problems, "never acknowledged", "{id:?}");
                continue;
            };
            if let Some(other) = acks.iter().find(|a| *a != first) {
                let n = acks.len();
                problem!(
                    problems,
                    "retry got another result",
                    "{id:?}: {first:?}, later {other:?} ({n} acks)"
                );
            }
            match first.seq {
                None => problem!(problems, "ack without seq", "{id:?}: {first:?}"),
                Some(seq) => {
                    if let Some(prev) = key_of_seq.insert(seq, id.clone()) {
                        problem!(
                            problems,
                            "seq acked for two gifts",
                            "seq {seq}: {prev:?} and {id:?}"
                        );
                    }
                }
            }
            if !balances.insert(first.balance) {
                problem!(
                    problems,
                    "balance repeated",
                    "{id:?}: {:?} after two gifts",
                    first.balance
                );
            }
            first_acks.insert(id, *first);
        }
        let wallet = store.balance(&plan.user).await.unwrap();
        let expected = plan.topup - plan.spent();
        if wallet != expected {
            problem!(
                problems,
                "wallet",
                "{}: {wallet}, expected {expected}",
                plan.user
            );
        }
        let lowest = balances.first().copied().flatten();
        if lowest != Some(wallet) {
            problem!(
                problems,
                "lowest acked balance",
                "{}: {lowest:?}, wallet {wallet}",
                plan.user
            );
        }
    }
    first_acks
}

/// Gift events (live, or in a welcome's history): one gift per seq, at the seq its acks gave.
/// Every client sees each event, so each disagreement is counted once.
fn audit_broadcast(
    outcomes: &[Outcome],
    first_acks: &HashMap<GiftId, Ack>,
    problems: &mut Problems,
) {
    let mut broadcast: BTreeMap<u64, BTreeSet<GiftId>> = BTreeMap::new();
    for (seq, user, key) in outcomes.iter().flat_map(|o| &o.events) {
        let id = (user.clone(), key.clone());
        broadcast.entry(*seq).or_default().insert(id);
    }
    for (seq, ids) in &broadcast {
        if ids.len() > 1 {
            problem!(
                problems,
                "seq broadcast for two gifts",
                "seq {seq}: {ids:?}"
            );
        }
        for id in ids {
            let acked = first_acks.get(id).and_then(|a| a.seq);
            if acked.is_some_and(|acked| acked != *seq) {
                problem!(
                    problems,
                    "broadcast seq differs",
                    "{id:?} at {seq}, acked at {acked:?}"
                );
            }
        }
    }
}

/// The ledger: exactly one row per planned gift, at its price, and nothing else; the room's
/// account holds the sum.
async fn audit_ledger(store: &store::Store, plans: &[Arc<Plan>], problems: &mut Problems) {
    let mut planned: HashMap<GiftId, (&str, i64, i64)> = HashMap::new();
    for plan in plans {
        for gift in &plan.gifts {
            let id = (plan.user.clone(), gift.key.clone());
            planned.insert(id, (gift.gift_id, i64::from(gift.count), gift.value));
        }
    }
    let mut seen = HashSet::new();
    let records = ledger(store).await;
    for record in &records {
        let id = (record.sender_id.clone(), record.idempotency_key.clone());
        if !seen.insert(id.clone()) {
            problem!(problems, "ledger row twice", "{id:?}");
        }
        let row = (record.gift_id.as_str(), record.count, record.value);
        match planned.get(&id) {
            None => problem!(problems, "ledger row unplanned", "{record:?}"),
            Some(plan) if *plan != row || record.room != ROOM || record.host_id != HOST_ACCOUNT => {
                problem!(
                    problems,
                    "ledger row differs",
                    "{record:?}, planned {plan:?}"
                );
            }
            Some(_) => {}
        }
    }
    let (rows, keys) = (records.len(), seen.len());
    if rows != GIFTS || keys != GIFTS {
        problem!(
            problems,
            "ledger rows",
            "{rows} rows for {keys} keys, expected {GIFTS}"
        );
    }
    let total: i64 = plans.iter().map(|p| p.spent()).sum();
    let host = store.balance(HOST_ACCOUNT).await.unwrap();
    let summed = store.gift_totals(ROOM).await.unwrap();
    println!(
        "ledger: {rows} rows, {keys} keys; the room's account {host}, the ledger's sum {summed}, \
         the planned gifts' cost {total}"
    );
    if host != total || summed != total {
        problem!(
            problems,
            "money totals",
            "account {host}, ledger {summed}, gifts {total}"
        );
    }
}

/// The chat log (flushed by the clean stop): every acknowledged gift once, at its acked seq.
async fn audit_chat_log(
    store: &store::Store,
    first_acks: &HashMap<GiftId, Ack>,
    problems: &mut Problems,
) {
    let mut logged = HashMap::new();
    for row in chat_log_gifts(store).await {
        let id = (row.user_id, row.client_msg_id.unwrap_or_default());
        if let Some(prev) = logged.insert(id.clone(), row.seq) {
            problem!(
                problems,
                "chat log row twice",
                "{id:?} at {prev} and {}",
                row.seq
            );
        }
        let acked = first_acks.get(&id).and_then(|a| a.seq);
        if acked != u64::try_from(row.seq).ok() {
            problem!(
                problems,
                "chat log seq differs",
                "{id:?} at {}, acked at {acked:?}",
                row.seq
            );
        }
    }
    for id in first_acks.keys() {
        if !logged.contains_key(id) {
            problem!(problems, "acked gift missing from chat log", "{id:?}");
        }
    }
}

/// Disagreements found by [`audit`], by kind.
#[derive(Debug, Default)]
struct Problems(BTreeMap<&'static str, Vec<String>>);

impl Problems {
    fn add(&mut self, kind: &'static str, problem: String) {
        self.0.entry(kind).or_default().push(problem);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Problems {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.len()))
            .collect();
        writeln!(f, "problems by kind: {}", counts.join(", "))?;
        for (kind, problems) in &self.0 {
            for problem in problems.iter().take(SHOWN_PER_KIND) {
                writeln!(f, "  [{kind}] {problem}")?;
            }
        }
        Ok(())
    }
}

/// Every ledger row, page by page.
async fn ledger(store: &store::Store) -> Vec<store::GiftRecord> {
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let query = store::GiftQuery {
            cursor,
            limit: store::MAX_PAGE_LIMIT,
            ..store::GiftQuery::default()
        };
        let page = store.query_gifts(&query).await.unwrap();
        rows.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return rows,
        }
    }
}

/// Every `gift` row of the room's chat log, page by page.
async fn chat_log_gifts(store: &store::Store) -> Vec<store::ChatRecord> {
    let mut rows = Vec::new();
    let mut cursor = None;
    loop {
        let query = store::ChatQuery {
            room: Some(ROOM.to_owned()),
            kind: Some("gift".to_owned()),
            cursor,
            limit: store::MAX_PAGE_LIMIT,
            ..store::ChatQuery::default()
        };
        let page = store.query_chat(&query).await.unwrap();
        rows.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return rows,
        }
    }
}

/// One sender's gifts, decided before the run.
#[derive(Debug)]
struct Plan {
    user: String,
    url: String,
    token: String,
    topup: i64,
    gifts: Vec<Gift>,
}

#[derive(Debug)]
struct Gift {
    key: String,
    gift_id: &'static str,
    count: u32,
    value: i64,
    /// Extra copies sent right behind the first, before its ack can arrive.
    early: u8,
    /// Extra copies sent shortly after the first ack.
    late: u8,
}

impl Plan {
    fn new(index: usize, rng: &mut Rng, port: u16) -> Self {
        let user = format!("sender-{index:02}");
        let claims = ChatClaims {
            user_id: user.clone(),
            name: format!("Sender {index}"),
            role: ChatRole::Viewer,
            room: Some(ROOM.to_owned()),
            exp: TOKEN_EXP,
        };
        let token = chat_proto::token::sign(&claims, SECRET.as_bytes());
        let gifts: Vec<Gift> = (0..GIFTS / SENDERS)
            .map(|n| {
                let (gift_id, price) = CATALOG[usize::try_from(rng.below(3)).unwrap()];
                let count = 1 + u32::try_from(rng.below(3)).unwrap();
                let extra = rng.below(3);
                let early = u8::try_from(rng.below(extra + 1)).unwrap();
                Gift {
                    key: format!("{user}-gift-{n:04}"),
                    gift_id,
                    count,
                    value: price * i64::from(count),
                    early,
                    late: u8::try_from(extra).unwrap() - early,
                }
            })
            .collect();
        let spent: i64 = gifts.iter().map(|g| g.value).sum();
        Self {
            url: format!("ws://127.0.0.1:{port}/ws?room={ROOM}&token={token}"),
            token,
            // Some money left over, so a double charge cannot hide behind a zero balance.
            topup: spent + 1_000 + i64::try_from(rng.below(1_000)).unwrap(),
            user,
            gifts,
        }
    }

    fn spent(&self) -> i64 {
        self.gifts.iter().map(|g| g.value).sum()
    }
}

/// What one sender saw.
#[derive(Debug, Default)]
struct Outcome {
    /// Per planned gift, every ack it got.
    acks: Vec<Vec<Ack>>,
    /// Error frames no retry can fix.
    refused: Vec<String>,
    /// Error frames the protocol says to retry (`unavailable`, `internal`, `rate_limited`).
    retryable_errors: BTreeMap<String, usize>,
    /// `(seq, user, key)` of every gift event received, live or in a welcome.
    events: Vec<(u64, String, String)>,
    frames_sent: usize,
    connections: usize,
    /// Per connection: `last_seq` of its first welcome, and the highest seq acked on it.
    seqs_by_connection: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ack {
    seq: Option<u64>,
    balance: Option<i64>,
}

/// Sends a plan's gifts, reconnecting when the relay goes away, until every gift is
/// acknowledged or refused for good.
async fn send_gifts(plan: Arc<Plan>, mut rng: Rng, acked: Arc<AtomicUsize>) -> Outcome {
    let index: HashMap<&str, usize> = plan
        .gifts
        .iter()
        .enumerate()
        .map(|(i, g)| (g.key.as_str(), i))
        .collect();
    let mut out = Outcome {
        acks: vec![Vec::new(); plan.gifts.len()],
        ..Outcome::default()
    };
    let mut unacked: BTreeSet<usize> = (0..plan.gifts.len()).collect();
    let mut queue: VecDeque<usize> = (0..plan.gifts.len()).collect();
    let mut sent = vec![false; plan.gifts.len()];
    while !unacked.is_empty() || !queue.is_empty() {
        let mut ws = connect(&plan.url).await;
        out.connections += 1;
        out.seqs_by_connection.push((0, 0));
        // A new connection first re-sends everything not acknowledged, with the same keys.
        for &i in unacked.iter().rev() {
            if !queue.contains(&i) {
                queue.push_front(i);
            }
        }
        let mut in_flight = 0;
        let mut answer_by = now() + WAIT;
        loop {
            let mut fed = false;
            while in_flight < WINDOW
                && let Some(i) = queue.pop_front()
            {
                let gift = &plan.gifts[i];
                if !std::mem::replace(&mut sent[i], true) {
                    (0..gift.early).for_each(|_| queue.push_front(i));
                }
                let frame = json!({
                    "type": "gift",
                    "gift_id": gift.gift_id,
                    "count": gift.count,
                    "idempotency_key": gift.key,
                });
                if ws.feed(Message::text(frame.to_string())).await.is_err() {
                    break;
                }
                if in_flight == 0 {
                    answer_by = now() + WAIT;
                }
                in_flight += 1;
                out.frames_sent += 1;
                fed = true;
            }
            if fed && ws.flush().await.is_err() {
                break;
            }
            if in_flight == 0 && queue.is_empty() {
                if unacked.is_empty() {
                    let _ = ws.close(None).await;
                    return out;
                }
                // Nothing in flight yet something unacknowledged: send it again.
                queue.extend(unacked.iter().copied());
                continue;
            }
            let wait = answer_by.saturating_duration_since(now());
            let message = match tokio::time::timeout(wait, ws.next()).await {
                Err(_) => panic!(
                    "{}: no answer within {WAIT:?} with {in_flight} gifts in flight",
                    plan.user
                ),
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(Message::Close(_))) | Some(Err(_)) | None) => break,
                Ok(Some(Ok(_))) => continue,
            };
            let frame: Value = serde_json::from_str(message.as_str()).unwrap();
            let key = frame["idempotency_key"].as_str().unwrap_or_default();
            match frame["type"].as_str().unwrap_or_default() {
                "ack" => {
                    let i = index[key];
                    in_flight -= 1;
                    answer_by = now() + WAIT;
                    let seq = frame["seq"].as_u64();
                    out.acks[i].push(Ack {
                        seq,
                        balance: frame["balance"].as_i64(),
                    });
                    if let Some(seqs) = out.seqs_by_connection.last_mut() {
                        seqs.1 = seqs.1.max(seq.unwrap_or_default());
                    }
                    if unacked.remove(&i) {
                        acked.fetch_add(1, Ordering::Relaxed);
                        for _ in 0..plan.gifts[i].late {
                            let at = usize::try_from(rng.below(64)).unwrap().min(queue.len());
                            queue.insert(at, i);
                        }
                    }
                }
                "error" => {
                    let i = index[key];
                    in_flight -= 1;
                    answer_by = now() + WAIT;
                    let code = frame["code"].as_str().unwrap_or_default();
                    if matches!(code, "unavailable" | "internal" | "rate_limited") {
                        *out.retryable_errors.entry(code.to_owned()).or_default() += 1;
                        if unacked.contains(&i) && !queue.contains(&i) {
                            queue.push_back(i);
                        }
                    } else if unacked.remove(&i) {
                        out.refused
                            .push(format!("{} {key}: refused: {frame}", plan.user));
                    }
                }
                "gift" => out.events.push(gift_event(&frame)),
                "welcome" => {
                    if let Some(seqs) = out.seqs_by_connection.last_mut()
                        && seqs.0 == 0
                    {
                        seqs.0 = frame["last_seq"].as_u64().unwrap_or_default();
                    }
                    let history = frame["history"].as_array().cloned().unwrap_or_default();
                    out.events.extend(
                        history
                            .iter()
                            .filter(|e| e["type"] == "gift")
                            .map(gift_event),
                    );
                }
                _ => {}
            }
        }
    }
    out
}

fn gift_event(event: &Value) -> (u64, String, String) {
    let field = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
    (
        event["seq"].as_u64().unwrap_or_default(),
        field("user_id"),
        field("idempotency_key"),
    )
}

/// Connects, retrying while the relay is down; panics after [`WAIT`].
async fn connect(url: &str) -> Socket {
    let give_up = now() + WAIT;
    while now() < give_up {
        let attempt = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url)).await;
        if let Ok(Ok((ws, _))) = attempt {
            return ws;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("could not reconnect within {WAIT:?}");
}

/// The relay under test: one process at a time, on one port and one database.
struct Relay {
    process: Process,
    port: u16,
    config: PathBuf,
}

impl Relay {
    async fn start(dir: &Path, database: &str) -> Self {
        let port = free_port();
        let config = dir.join("relay.toml");
        let catalog: String = CATALOG
            .iter()
            .map(|(id, price)| {
                format!("[[gifts.catalog]]\nid = \"{id}\"\nname = \"{id}\"\nprice = {price}\n")
            })
            .collect();
        // Rate limits out of the way; a fan-out buffer deep enough that no client lags.
        std::fs::write(
            &config,
            format!(
                "[node]\nid = \"relay-gifts\"\n\
                 [http]\nlisten = \"127.0.0.1:{port}\"\n\
                 [chat]\ntoken_secret = \"{SECRET}\"\nfanout_buffer = 20000\n\
                 user_rate = 100000\nuser_burst = 100000\n\
                 connection_rate = 100000\nconnection_burst = 100000\n\
                 [database]\nurl = \"{database}\"\n\
                 [gifts]\ndemo_topup = true\n{catalog}\
                 [shutdown]\ndrain_deadline = \"5s\"\n"
            ),
        )
        .unwrap();
        let relay = Self {
            process: Self::spawn(&config),
            port,
            config,
        };
        relay.wait_ready().await;
        relay
    }

    fn spawn(config: &Path) -> Process {
        Process::start(&["chat-relay", "--config", config.to_str().unwrap()], &[])
    }

    async fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.port);
        let (status, body) = get_when_up(&reqwest::Client::new(), &url).await;
        assert_eq!(status, 200, "{body}\n{}", self.process.stderr());
    }

    /// `POST /v1/wallet/topup` with the sender's own token.
    async fn top_up(&self, plan: &Plan) {
        let response = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/v1/wallet/topup", self.port))
            .bearer_auth(&plan.token)
            .json(&json!({"amount": plan.topup}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["balance"], plan.topup, "{body}");
    }

    /// SIGKILL by PID, then the same config again; returns once the new process is ready.
    async fn kill_and_restart(&mut self) {
        self.process.signal(nix::sys::signal::Signal::SIGKILL);
        assert!(
            self.process.wait_timeout(WAIT).is_some(),
            "the relay outlived SIGKILL"
        );
        self.process = Self::spawn(&self.config);
        self.wait_ready().await;
    }

    /// `livecdn_chat_gifts_committed_total` (counted since the process started).
    async fn gifts_committed(&self) -> u64 {
        let url = format!("http://127.0.0.1:{}/metrics", self.port);
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("livecdn_chat_gifts_committed_total "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
            .unwrap_or_else(|| panic!("no livecdn_chat_gifts_committed_total in\n{text}"))
    }

    /// SIGTERM, so the chat log is flushed before the database is read.
    fn stop(&mut self) {
        self.process.signal(nix::sys::signal::Signal::SIGTERM);
        let status = self.process.wait_timeout(WAIT).expect("the relay drained");
        assert!(status.success(), "{status}\n{}", self.process.stderr());
        support::assert_no_panic(&self.process.stderr());
    }
}

/// xorshift64*: deterministic noise for a seed, no crate needed.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` for small `n`.
    fn below(&mut self, n: u64) -> u64 {
        (self.next() >> 11) % n
    }
}

#[expect(clippy::disallowed_methods, reason = "the test measures real time")]
fn now() -> Instant {
    Instant::now()
}
