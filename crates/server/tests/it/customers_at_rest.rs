//! Issue 19's acceptance on personal data at rest, on SQLite and PostgreSQL: 10,000 seeded
//! customers (created in process through the customer use case) and a few through HTTP
//! (lookups, a duplicate, a refused number, an audited reveal); then the SQLite files,
//! a `pg_dump` of the PostgreSQL database and everything the server logged at TRACE are
//! searched for every identity number and phone number created, and none is found.
//! Rotating the master key then leaves every one of them readable with the new key alone.

use serde_json::{json, Value};
use server::customers_bench::{seed_customers, seeded_person};
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use uuid::Uuid;
use vault::{Keyring, MasterKey, MasterKeyId};

const KEY: &str = "customers-at-rest-operator-key";
const SEEDED: u64 = 10_000;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Everything any code in this test process logs, at every level.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let c = Captured::default();
        let w = c.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || w.clone())
            .init();
        c
    })
}

fn master(id: u32, byte: u8) -> MasterKey {
    let mut k = [byte; 32];
    k[31] ^= 0xa5;
    MasterKey::from_bytes(MasterKeyId(id), &k).unwrap()
}

/// The secrets found in `bytes`: every run of digits (and `X`) is cut into the windows of
/// the lengths sought, so the scan is linear in the input and needs no plaintext index.
fn found_in(bytes: &[u8], secrets: &HashSet<Vec<u8>>) -> Vec<String> {
    let lengths: HashSet<usize> = secrets.iter().map(Vec::len).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !(bytes[i].is_ascii_digit() || bytes[i] == b'X') {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'X') {
            i += 1;
        }
        let run = &bytes[start..i];
        for &n in &lengths {
            for w in run.windows(n) {
                if secrets.contains(w) {
                    out.push(String::from_utf8_lossy(w).into_owned());
                }
            }
        }
    }
    out
}

/// The dump split in two: its text with every `\x…` hexadecimal run (a `bytea` value)
/// blanked out, and the bytes those runs encode, one after another (each followed by a
/// newline so that two values do not join into one number). Hexadecimal is not plaintext,
/// and the hexadecimal of ASCII digits is itself a long run of digits.
fn split_bytea(dump: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut text = dump.to_vec();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < dump.len() {
        if dump[i] == b'\\' && dump[i + 1] == b'x' {
            let start = i + 2;
            let mut j = start;
            while j < dump.len() && dump[j].is_ascii_hexdigit() {
                j += 1;
            }
            if let Ok(bytes) = hex::decode(&dump[start..start + (j - start) / 2 * 2]) {
                out.extend(bytes);
                out.push(b'\n');
            }
            text[i..j].fill(b' ');
            i = j;
        } else {
            i += 1;
        }
    }
    (text, out)
}

async fn send(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{base}{path}");
    let mut req = match method {
        "GET" => http.get(url),
        _ => http
            .post(url)
            .header("Idempotency-Key", Uuid::now_v7().to_string()),
    }
    .bearer_auth(KEY);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().await.unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn no_identity_or_phone_number_is_stored_or_logged_in_plaintext_and_rotation_keeps_all_readable(
) {
    let logs = logs();
    // The scanner finds what is there: a positive control, so that a clean scan means
    // something.
    let control: HashSet<Vec<u8>> = [b"11010519491231002X".to_vec()].into();
    assert_eq!(found_in(b"..id=11010519491231002X&", &control).len(), 1);
    let (text, bytes) = split_bytea(br"a\x3131303130353139343931323331303032580a b");
    assert_eq!(
        (
            found_in(&text, &control).len(),
            found_in(&bytes, &control).len()
        ),
        (0, 1)
    );

    for ts in testkit::all_stores().await {
        let name = ts.name;
        let state = server::app::build_state(ts.store.clone()).await.unwrap();
        state
            .customers
            .install_vault(Keyring::new(master(1, 3)))
            .unwrap();
        server::app::bootstrap_key(&ts.store, Some(KEY))
            .await
            .unwrap();
        engine::loans::init_business_date(&state.engine, "2026-12-01".parse().unwrap())
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(server::app::serve(
            state.clone(),
            listener,
            std::future::pending(),
        ));

        let seed = if name == "sqlite" { 19 } else { 20 };
        let t = std::time::Instant::now();
        let (people, seconds, _) = seed_customers(
            &state.engine,
            state.customers.vault(),
            "default",
            seed,
            SEEDED,
            64,
        )
        .await
        .unwrap();
        eprintln!(
            "{name}: {SEEDED} customers seeded in {seconds:.2}s ({:.0}/s; test setup {:.2}s)",
            SEEDED as f64 / seconds,
            t.elapsed().as_secs_f64()
        );
        let mut expected: HashMap<Uuid, String> =
            people.iter().map(|p| (p.id, p.id_number.clone())).collect();
        let mut secrets: HashSet<Vec<u8>> = people
            .iter()
            .flat_map(|p| {
                [
                    p.id_number.clone().into_bytes(),
                    p.phone.clone().into_bytes(),
                ]
            })
            .collect();

        // Through HTTP: creations, lookups, a duplicate, a refused number and a reveal.
        let http = reqwest::Client::new();
        for n in 0..50 {
            let p = seeded_person(seed + 1000, SEEDED + n);
            let birth = &p.id_number[6..14];
            let body = json!({"kind": "individual", "name": p.name, "id_number": p.id_number,
                "phone": p.phone, "birth_date": format!("{}-{}-{}", &birth[..4], &birth[4..6], &birth[6..]),
                "region_code": &p.id_number[..6], "occupation": "clerk", "student": false,
                "currency": "CNY", "annual_income_minor": 9_000_000});
            let (s, v) = send(&http, &base, "POST", "/v1/customers", Some(body.clone())).await;
            assert_eq!(s, 201, "{name}: {v}");
            let id: Uuid = v["id"].as_str().unwrap().parse().unwrap();
            let (s, v) = send(
                &http,
                &base,
                "GET",
                &format!("/v1/customers?id_number={}", p.id_number),
                None,
            )
            .await;
            assert_eq!(
                (s, v["items"][0]["id"].as_str()),
                (200, Some(id.to_string().as_str())),
                "{name}"
            );
            let (s, _) = send(&http, &base, "POST", "/v1/customers", Some(body.clone())).await;
            assert_eq!(s, 409, "{name}");
            let mut wrong = body;
            let check = if p.id_number.ends_with('0') { '1' } else { '0' };
            wrong["id_number"] = json!(format!("{}{check}", &p.id_number[..17]));
            let (s, _) = send(&http, &base, "POST", "/v1/customers", Some(wrong)).await;
            assert_eq!(s, 422, "{name}");
            secrets.insert(format!("{}{check}", &p.id_number[..17]).into_bytes());
            if n == 0 {
                let (s, v) = send(
                    &http,
                    &base,
                    "GET",
                    &format!("/v1/customers/{id}?reveal=true&reason=scan%20test"),
                    None,
                )
                .await;
                assert_eq!(
                    (s, v["id_number"].as_str()),
                    (200, Some(p.id_number.as_str())),
                    "{name}"
                );
            }
            expected.insert(id, p.id_number.clone());
            secrets.insert(p.id_number.into_bytes());
            secrets.insert(p.phone.into_bytes());
        }
        assert_eq!(expected.len() as u64, SEEDED + 50);

        // Rotation: the new master key alone opens every record, found by its index too.
        let ring = Keyring::new(master(2, 4))
            .with_retired(master(1, 3))
            .unwrap();
        let r = engine::customers::rotate_master(&state.engine, &ring)
            .await
            .unwrap();
        assert_eq!(
            r.keys_rewrapped, 2,
            "{name}: one tenant, a data and an index key"
        );
        let fresh = engine::customers::Vault::new(Keyring::new(master(2, 4)));
        let mut after = None;
        let mut opened = 0;
        loop {
            let rows = state
                .engine
                .store()
                .docs(engine::revolving::BORROWER, None, after, 1000)
                .await
                .unwrap();
            let Some(last) = rows.last() else { break };
            after = Some(last.id);
            for row in &rows {
                let doc = engine::customers::decode(row).unwrap();
                let view = engine::customers::open_customer(&state.engine, &fresh, doc)
                    .await
                    .unwrap();
                assert_eq!(
                    Some(view.id_number.unwrap().expose()),
                    expected.get(&row.id).map(String::as_str),
                    "{name}"
                );
                opened += 1;
            }
        }
        assert_eq!(opened, expected.len(), "{name}");

        // The scan.
        let mut scanned_bytes = 0usize;
        let mut hits = Vec::new();
        if name == "sqlite" {
            for entry in std::fs::read_dir(&ts.location).unwrap() {
                let path = entry.unwrap().path();
                if path.is_file() {
                    let bytes = std::fs::read(&path).unwrap();
                    scanned_bytes += bytes.len();
                    hits.extend(
                        found_in(&bytes, &secrets)
                            .into_iter()
                            .map(|h| format!("{}: {h}", path.display())),
                    );
                }
            }
        } else {
            let out = std::process::Command::new("pg_dump")
                .arg("--no-owner")
                .arg(&ts.location)
                .output()
                .expect("run pg_dump");
            assert!(
                out.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            scanned_bytes += out.stdout.len();
            // `bytea` columns (documents' bodies) are dumped as `\x` and hexadecimal:
            // decode them, or the scan would not see what they hold.
            let (text, decoded) = split_bytea(&out.stdout);
            assert!(
                String::from_utf8_lossy(&decoded).contains("id_number_sealed"),
                "{name}: the dump holds the customers' documents"
            );
            hits.extend(
                found_in(&text, &secrets)
                    .into_iter()
                    .map(|h| format!("pg_dump: {h}")),
            );
            hits.extend(
                found_in(&decoded, &secrets)
                    .into_iter()
                    .map(|h| format!("pg_dump bytea: {h}")),
            );
        }
        assert!(
            scanned_bytes > 1_000_000,
            "{name}: only {scanned_bytes} bytes scanned"
        );
        let logged = logs.0.lock().unwrap().clone();
        assert!(
            String::from_utf8_lossy(&logged).contains("/v1/customers"),
            "{name}: the requests were logged (the log scan looks at something)"
        );
        for h in found_in(&logged, &secrets) {
            let text = String::from_utf8_lossy(&logged);
            let at = text.find(&h).unwrap_or(0);
            let from = text.floor_char_boundary(at.saturating_sub(200));
            let to = text.floor_char_boundary((at + 100).min(text.len()));
            hits.push(format!("log: {h} in …{}…", &text[from..to]));
        }
        eprintln!(
            "{name}: {} secrets searched in {scanned_bytes} stored bytes and {} log bytes",
            secrets.len(),
            logged.len()
        );
        assert!(
            hits.is_empty(),
            "{name}: plaintext found: {:?}",
            &hits[..hits.len().min(10)]
        );
    }
}
