//! The control plane's `/v1` API against the real binary: nodes heartbeat (as JSON, the way
//! real nodes do), routing answers follow region, distance, load and health, admin endpoints
//! manage streams and keys, every refusal is a 4xx with a JSON error (never a 500), auth
//! failures are counted, and every answer matches `control-plane/openapi.json`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{Process, free_port, get_when_up};

const ADMIN: &str = "admin-secret";
const NODE: &str = "node-secret";

struct ControlPlane {
    _process: Process,
    base: String,
    dir: tempfile::TempDir,
    client: reqwest::Client,
    openapi: Value,
}

impl ControlPlane {
    async fn start(database_url: Option<String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let url =
            database_url.unwrap_or_else(|| format!("sqlite://{}/cp.db", dir.path().display()));
        let config = format!(
            "[http]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"{url}\"\n\
             [auth]\nadmin_tokens = [\"{ADMIN}\"]\nnode_tokens = [\"{NODE}\"]\n\
             [chat]\ntoken_secret = \"chat-secret\"\nguest_tokens = true\n\
             [[routing.distances]]\na = \"eu\"\nb = \"us\"\ndistance = 100\n\
             [[routing.distances]]\na = \"eu\"\nb = \"ap\"\ndistance = 200\n\
             [[routing.distances]]\na = \"us\"\nb = \"ap\"\ndistance = 150\n\
             [[routing.cidrs]]\ncidr = \"127.0.0.0/8\"\nregion = \"ap\"\n\
             [shutdown]\ndrain_deadline = \"1s\"\n"
        );
        let path = dir.path().join("cp.toml");
        std::fs::write(&path, config).unwrap();
        let process = Process::start(&["control-plane", "--config", path.to_str().unwrap()], &[]);
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        get_when_up(&client, &format!("{base}/readyz")).await;
        let openapi: Value =
            serde_json::from_str(include_str!("../control-plane/openapi.json")).unwrap();
        Self {
            _process: process,
            base,
            dir,
            client,
            openapi,
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request = request.header("accept", "application/json");
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path}: answer is not JSON ({e}): {text:?}"))
        };
        (status, value)
    }

    /// Asserts `value` matches `#/components/schemas/{schema}` of the OpenAPI document.
    fn conforms(&self, value: &Value, schema: &str) {
        let mut root = json!({ "$ref": format!("#/components/schemas/{schema}") });
        root["components"] = self.openapi["components"].clone();
        let validator = jsonschema::validator_for(&root).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(value)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{schema}: {errors:?}\n{value:#}");
    }

    async fn heartbeat(&self, report: Value) -> (StatusCode, Value) {
        self.call(
            reqwest::Method::POST,
            "/v1/nodes/heartbeat",
            Some(NODE),
            Some(report),
        )
        .await
    }

    async fn metric(&self, name: &str, label: (&str, &str)) -> f64 {
        support::metric(&self.base, name, Some(label)).await
    }
}

fn edge(id: &str, region: &str, connections: u64) -> Value {
    json!({
        "id": id, "role": "edge", "region": region, "tier": 1,
        "http_url": format!("http://{id}.example:8081"),
        "relay_addr": "127.0.0.1:9",
        "capacity": {"max_connections": 1000, "max_egress_bps": 1_000_000_000u64},
        "load": {"connections": connections, "egress_bps": 0, "cpu": 0.1},
        "streams": [], "rooms": [], "draining": false
    })
}

fn origin(id: &str, region: &str, streams: &[&str]) -> Value {
    json!({
        "id": id, "role": "origin", "region": region,
        "http_url": "http://origin.example:8080", "rtmp_url": "rtmp://origin.example:1935/live",
        "relay_addr": "127.0.0.1:8080",
        "streams": streams.iter().map(|s| json!({"name": s})).collect::<Vec<_>>()
    })
}

#[tokio::test]
#[expect(clippy::disallowed_methods, reason = "the test measures real time")]
async fn routing_follows_region_distance_load_and_health() {
    let cp = ControlPlane::start(None).await;
    use reqwest::Method as M;
    for report in [
        origin("origin-eu", "eu", &["show"]),
        edge("edge-eu-1", "eu", 900),
        edge("edge-eu-2", "eu", 100),
        edge("edge-us-1", "us", 0),
        json!({"id": "relay-eu", "role": "chat_relay", "region": "eu", "ws_url": "ws://relay-eu.example/ws"}),
    ] {
        let (status, body) = cp.heartbeat(report).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        cp.conforms(&body, "HeartbeatAnswer");
    }

    // Same region first, least loaded (edge-eu-1 is at 90 %: saturated).
    let (status, body) = cp.call(M::GET, "/v1/play/show?region=eu", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    cp.conforms(&body, "PlayAnswer");
    assert_eq!(body["chosen"]["id"], "edge-eu-2");
    assert_eq!(
        body["url"],
        "http://edge-eu-2.example:8081/live/show/index.m3u8"
    );
    // Without Accept: JSON, a 302 to the same URL.
    let response = cp
        .client
        .get(format!("{}/v1/play/show?region=us", cp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        response.headers()["location"],
        "http://edge-us-1.example:8081/live/show/index.m3u8"
    );
    // Region from the header.
    let response = cp
        .client
        .get(format!("{}/v1/play/show", cp.base))
        .header("x-livecdn-region", "us")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["location"],
        "http://edge-us-1.example:8081/live/show/index.m3u8"
    );
    // ap is nearer us (150) than eu (200).
    let (_, body) = cp.call(M::GET, "/v1/play/show?region=ap", None, None).await;
    assert_eq!(body["chosen"]["id"], "edge-us-1");
    // No region named: the client's address (127.0.0.1) is in the CIDR map's ap range.
    let (_, body) = cp.call(M::GET, "/v1/play/show", None, None).await;
    assert_eq!(body["region"], "ap");
    assert_eq!(body["chosen"]["id"], "edge-us-1");

    // A player that just failed on edge-us-1 is sent elsewhere, even before the control plane
    // noticed anything; junk in `avoid` is refused.
    let (status, body) = cp
        .call(
            M::GET,
            "/v1/play/show?region=us&avoid=edge-us-1",
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["chosen"]["id"], "edge-eu-2");
    for bad in ["avoid=a%20b", "avoid=a,b,c,d,e,f,g,h,i", "avoid=x&bogus=1"] {
        let (status, body) = cp
            .call(M::GET, &format!("/v1/play/show?{bad}"), None, None)
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        cp.conforms(&body, "Error");
    }

    // Not live → 404; no edge in a draining world → never a draining node.
    let (status, body) = cp.call(M::GET, "/v1/play/nope?region=eu", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    cp.conforms(&body, "Error");
    let mut draining = edge("edge-eu-2", "eu", 100);
    draining["draining"] = json!(true);
    cp.heartbeat(draining).await;
    for _ in 0..20 {
        let (_, body) = cp.call(M::GET, "/v1/play/show?region=eu", None, None).await;
        assert_ne!(
            body["chosen"]["id"], "edge-eu-2",
            "a draining edge got a viewer"
        );
    }
    // Deregistered (graceful stop): gone at once.
    let (status, _) = cp
        .call(M::DELETE, "/v1/nodes/edge-us-1", Some(NODE), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, body) = cp.call(M::GET, "/v1/play/show?region=us", None, None).await;
    assert_eq!(body["chosen"]["id"], "edge-eu-1");

    // Ingest and chat routing; the directory for edges.
    let (status, body) = cp
        .call(M::GET, "/v1/ingest/show?region=eu", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    cp.conforms(&body, "IngestAnswer");
    assert_eq!(body["rtmp_url"], "rtmp://origin.example:1935/live");
    let (status, body) = cp
        .call(M::GET, "/v1/chat/show?region=us&name=Ann", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    cp.conforms(&body, "ChatAnswer");
    assert_eq!(body["ws_url"], "ws://relay-eu.example/ws");
    assert_eq!(body["role"], "viewer");
    let (status, _) = cp
        .call(M::GET, "/v1/chat/show?role=moderator", None, None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "guests cannot make themselves moderators"
    );
    let (status, body) = cp
        .call(
            M::GET,
            "/v1/directory/show?edge=edge-eu-1",
            Some(NODE),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    cp.conforms(&body, "DirectoryAnswer");
    assert_eq!(body["node_id"], "origin-eu");
    let (_, body) = cp.call(M::GET, "/v1/live", None, None).await;
    assert_eq!(body[0]["stream"], "show");

    // A room's home relay is near the host (the origin is in eu), the same for every asking
    // relay, and sticky.
    cp.heartbeat(json!({"id": "relay-us", "role": "chat_relay", "region": "us", "ws_url": "ws://relay-us.example/ws"}))
        .await;
    for asking in ["relay-us", "relay-eu", "relay-us"] {
        let (status, body) = cp
            .call(
                M::GET,
                &format!("/v1/rooms/show/home?relay={asking}"),
                Some(NODE),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        cp.conforms(&body, "RoomHome");
        assert_eq!(body["relay_id"], "relay-eu");
    }
    // A room whose stream is not live gets a home in the asking relay's region.
    let (_, body) = cp
        .call(
            M::GET,
            "/v1/rooms/lobby/home?relay=relay-us",
            Some(NODE),
            None,
        )
        .await;
    assert_eq!(body["relay_id"], "relay-us");
    let (status, _) = cp
        .call(
            M::GET,
            "/v1/rooms/lobby/home?relay=edge-eu-1",
            Some(NODE),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "only relays ask for homes");

    // A node that stops beating leaves routing within 3 s of its last beat (detector
    // defaults: suspect 1.5 s, dead 2.5 s); the others keep beating meanwhile.
    let started = std::time::Instant::now();
    let mut moved = None;
    while started.elapsed() < Duration::from_secs(6) {
        cp.heartbeat(origin("origin-eu", "eu", &["show"])).await;
        cp.heartbeat(edge("edge-eu-2", "eu", 100)).await; // no longer draining
        let (_, body) = cp.call(M::GET, "/v1/play/show?region=eu", None, None).await;
        if body["chosen"]["id"] == "edge-eu-2" && moved.is_none() {
            moved = Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, nodes) = cp.call(M::GET, "/v1/nodes", Some(ADMIN), None).await;
    let nodes = nodes.as_array().unwrap();
    for node in nodes {
        cp.conforms(node, "NodeEntry");
    }
    let state_of = |id: &str| {
        nodes
            .iter()
            .find(|n| n["id"] == id)
            .map(|n| n["state"].as_str().unwrap().to_owned())
    };
    assert_eq!(state_of("edge-eu-1").as_deref(), Some("dead"));
    assert_eq!(state_of("edge-eu-2").as_deref(), Some("alive"));
    let (_, body) = cp.call(M::GET, "/v1/play/show?region=eu", None, None).await;
    assert_eq!(body["chosen"]["id"], "edge-eu-2");
    assert!(
        body["alternatives"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != "edge-eu-1"),
        "a dead edge is listed as an alternative: {body}"
    );
    eprintln!("edge-eu-2 chosen again after {moved:?}");
    assert!(
        cp.metric("livecdn_cp_routing_decisions_total", ("outcome", "routed"))
            .await
            > 20.0
    );
    assert!(cp.metric("livecdn_cp_nodes", ("state", "dead")).await >= 1.0);
}

#[tokio::test]
async fn streams_and_keys_are_managed_and_stored_hashed() {
    let cp = ControlPlane::start(None).await;
    stream_and_key_suite(&cp).await;
}

#[tokio::test]
async fn streams_and_keys_on_postgresql() {
    let Some(pg) = support::postgres().await else {
        return;
    };
    let cp = ControlPlane::start(Some(pg.url().to_owned())).await;
    stream_and_key_suite(&cp).await;
}

async fn stream_and_key_suite(cp: &ControlPlane) {
    use reqwest::Method as M;
    let (status, created) = cp
        .call(
            M::POST,
            "/v1/streams",
            Some(ADMIN),
            Some(json!({"name": "show"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    cp.conforms(&created, "StreamView");
    let key = created["key"]["key"].as_str().unwrap().to_owned();
    let (status, _) = cp
        .call(
            M::POST,
            "/v1/streams",
            Some(ADMIN),
            Some(json!({"name": "show"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // An origin validates the key.
    let (status, body) = cp
        .call(
            M::POST,
            "/v1/keys/validate",
            Some(NODE),
            Some(json!({"key": key})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    cp.conforms(&body, "ValidatedKey");
    assert_eq!(body["stream"], "show");

    // Listing shows ids and times, never the secret.
    let (_, keys) = cp
        .call(M::GET, "/v1/streams/show/keys", Some(ADMIN), None)
        .await;
    assert_eq!(keys.as_array().unwrap().len(), 1);
    cp.conforms(&keys[0], "KeyView");
    assert!(!keys.to_string().contains(&key));

    // Rotation: the new key works, the old one no longer does.
    let (status, rotated) = cp
        .call(M::POST, "/v1/streams/show/keys/rotate", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    cp.conforms(&rotated, "IssuedKey");
    let new_key = rotated["key"].as_str().unwrap();
    let validate = |k: String| async move {
        cp.call(
            M::POST,
            "/v1/keys/validate",
            Some(NODE),
            Some(json!({"key": k})),
        )
        .await
        .0
    };
    assert_eq!(validate(key.clone()).await, StatusCode::NOT_FOUND);
    assert_eq!(validate(new_key.to_owned()).await, StatusCode::OK);
    // A second key, then revoke it by id.
    let (_, extra) = cp
        .call(M::POST, "/v1/streams/show/keys", Some(ADMIN), None)
        .await;
    let extra_id = extra["id"].as_str().unwrap();
    assert_eq!(
        validate(extra["key"].as_str().unwrap().to_owned()).await,
        StatusCode::OK
    );
    let (status, _) = cp
        .call(
            M::DELETE,
            &format!("/v1/streams/show/keys/{extra_id}"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        validate(extra["key"].as_str().unwrap().to_owned()).await,
        StatusCode::NOT_FOUND
    );

    let (_, list) = cp.call(M::GET, "/v1/streams", Some(ADMIN), None).await;
    assert_eq!(list[0]["name"], "show");
    assert_eq!(list[0]["live"], false);
    let (status, stats) = cp
        .call(M::GET, "/v1/streams/show/stats", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(stats.as_array().is_some());
    let (status, _) = cp
        .call(M::DELETE, "/v1/streams/show", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(validate(new_key.to_owned()).await, StatusCode::NOT_FOUND);
    let (status, _) = cp.call(M::GET, "/v1/streams/show", Some(ADMIN), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_input_and_bad_credentials_get_a_json_4xx_never_a_500() {
    let cp = ControlPlane::start(None).await;
    use reqwest::Method as M;
    let raw = |method: M, path: &str, token: Option<&str>, body: Vec<u8>, ctype: &str| {
        let mut request = cp
            .client
            .request(method, format!("{}{path}", cp.base))
            .header("content-type", ctype.to_owned())
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token.to_owned());
        }
        request
    };
    let cases: Vec<(&str, reqwest::RequestBuilder, u16)> = vec![
        ("malformed JSON", raw(M::POST, "/v1/streams", Some(ADMIN), b"{\"name\":".to_vec(), "application/json"), 400),
        ("unknown field", raw(M::POST, "/v1/streams", Some(ADMIN), br#"{"name":"a","owner":"x"}"#.to_vec(), "application/json"), 422),
        ("wrong type", raw(M::POST, "/v1/streams", Some(ADMIN), br#"{"name":7}"#.to_vec(), "application/json"), 422),
        ("not JSON", raw(M::POST, "/v1/streams", Some(ADMIN), b"name=a".to_vec(), "application/x-www-form-urlencoded"), 415),
        ("bad stream name", raw(M::POST, "/v1/streams", Some(ADMIN), br#"{"name":"../etc"}"#.to_vec(), "application/json"), 400),
        ("bad node id", raw(M::POST, "/v1/nodes/heartbeat", Some(NODE), br#"{"id":"a b","role":"edge","region":"eu","tier":1}"#.to_vec(), "application/json"), 400),
        ("bad role", raw(M::POST, "/v1/nodes/heartbeat", Some(NODE), br#"{"id":"a","role":"boss","region":"eu"}"#.to_vec(), "application/json"), 422),
        ("NaN-ish cpu", raw(M::POST, "/v1/nodes/heartbeat", Some(NODE), br#"{"id":"a","role":"edge","region":"eu","tier":1,"load":{"connections":1,"egress_bps":1,"cpu":-1}}"#.to_vec(), "application/json"), 400),
        ("key too long", raw(M::POST, "/v1/keys/validate", Some(NODE), format!("{{\"key\":\"{}\"}}", "k".repeat(500)).into_bytes(), "application/json"), 400),
        ("no admin token", raw(M::GET, "/v1/streams", None, vec![], "application/json"), 401),
        ("wrong admin token", raw(M::GET, "/v1/streams", Some("guess"), vec![], "application/json"), 403),
        ("node token on admin endpoint", raw(M::GET, "/v1/nodes", Some(NODE), vec![], "application/json"), 403),
        ("admin token on node endpoint", raw(M::POST, "/v1/nodes/heartbeat", Some(ADMIN), b"{}".to_vec(), "application/json"), 403),
        ("bad play name", raw(M::GET, "/v1/play/a%20b", None, vec![], "application/json"), 400),
        ("long play name", raw(M::GET, &format!("/v1/play/{}", "a".repeat(65)), None, vec![], "application/json"), 400),
        ("bad region", raw(M::GET, "/v1/play/show?region=%3Cscript%3E", None, vec![], "application/json"), 400),
        ("unknown query", raw(M::GET, "/v1/play/show?regoin=eu", None, vec![], "application/json"), 400),
        ("stats range", raw(M::GET, "/v1/streams/show/stats?from=10&to=1", Some(ADMIN), vec![], "application/json"), 400),
        ("stats not a number", raw(M::GET, "/v1/streams/show/stats?from=yesterday", Some(ADMIN), vec![], "application/json"), 400),
        ("directory without edge", raw(M::GET, "/v1/directory/show", Some(NODE), vec![], "application/json"), 400),
        ("unknown endpoint", raw(M::GET, "/v1/nothing", None, vec![], "application/json"), 404),
        ("wrong method", raw(M::PUT, "/v1/live", None, vec![], "application/json"), 405),
        ("unknown node", raw(M::DELETE, "/v1/nodes/ghost", Some(NODE), vec![], "application/json"), 404),
    ];
    for (what, request, expected) in cases {
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(status, expected, "{what}: {text}");
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{what}: error body is not JSON ({e}): {text:?}"));
        cp.conforms(&body, "Error");
    }
    assert_eq!(
        cp.metric("livecdn_cp_auth_failures_total", ("reason", "missing"))
            .await,
        1.0
    );
    assert_eq!(
        cp.metric("livecdn_cp_auth_failures_total", ("reason", "invalid"))
            .await,
        3.0
    );
    assert!(
        cp.metric("livecdn_cp_api_rejected_total", ("outcome", "bad_request"))
            .await
            >= 8.0
    );
    // Still healthy for everyone else.
    let (status, _) = cp.call(M::GET, "/v1/live", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let openapi = cp
        .client
        .get(format!("{}/v1/openapi.json", cp.base))
        .send()
        .await
        .unwrap();
    assert_eq!(openapi.status(), StatusCode::OK);
}

#[tokio::test]
async fn chat_log_and_gift_records_are_searchable_page_by_page() {
    use reqwest::Method as M;
    let cp = ControlPlane::start(None).await;
    // What a chat relay writes, through the same data layer (the file the control plane uses).
    let db = store::Store::connect(&format!("sqlite://{}/cp.db", cp.dir.path().display()), 2)
        .await
        .unwrap();
    let records: Vec<store::ChatRecord> = (1..=25)
        .map(|seq| store::ChatRecord {
            room: if seq % 5 == 0 {
                "other".into()
            } else {
                "show".into()
            },
            seq,
            kind: "chat".into(),
            user_id: format!("user-{}", seq % 3),
            display_name: "Ann".into(),
            text: format!("hello {seq}"),
            client_msg_id: None,
            at_ms: 1_000 + seq,
            deleted: false,
        })
        .collect();
    db.append_chat(&records).await.unwrap();
    db.upsert_gift_kind(&store::GiftKind {
        id: "rose".into(),
        name: "Rose".into(),
        price: 1,
        animation: "rose".into(),
    })
    .await
    .unwrap();
    db.top_up("fan", 10, 1_000).await.unwrap();
    for key in ["g1", "g2", "g1"] {
        db.commit_gift(&store::GiftRequest {
            idempotency_key: key.into(),
            room: "show".into(),
            sender_id: "fan".into(),
            host_id: "host".into(),
            gift_id: "rose".into(),
            count: 2,
            at_ms: 2_000,
        })
        .await
        .unwrap();
    }

    // Page through one room's log: every record once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/v1/records/chat?room=show&limit=7".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = cp.call(M::GET, &path, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        cp.conforms(&page, "ChatPage");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["seq"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<i64> = (1..=25).filter(|s| s % 5 != 0).collect();
    assert_eq!(seen, expected);
    let (_, page) = cp
        .call(
            M::GET,
            "/v1/records/chat?user=user-1&from=1005&to=1011",
            Some(ADMIN),
            None,
        )
        .await;
    let seqs: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![7, 10]);

    // The ledger: the retried key was charged once.
    let (status, page) = cp
        .call(M::GET, "/v1/records/gifts?room=show", Some(ADMIN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    cp.conforms(&page, "GiftPage");
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(db.balance("fan").await.unwrap(), 6);

    for bad in [
        "/v1/records/chat?cursor=garbage",
        "/v1/records/chat?limit=0",
        "/v1/records/chat?kind=shout",
        "/v1/records/gifts?from=9&to=1",
        "/v1/records/gifts?room=a%20b",
    ] {
        let (status, body) = cp.call(M::GET, bad, Some(ADMIN), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        cp.conforms(&body, "Error");
    }
    let (status, _) = cp.call(M::GET, "/v1/records/gifts", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
