//! Seeded customers: valid, distinct identity numbers and phones from a seed, created in
//! process through the customer use case (sealing, blind index, de-duplication, durable
//! commit), for `puhui bench customers` and the at-rest scan test.

use clap::Args;
use engine::customers::{create_customer, NewCustomer, NewIndividual, Vault};
use engine::Engine;
use money::{BusinessDate, Currency};
use rand::{Rng, SeedableRng};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// One seeded customer's plaintext, kept by the caller to look for it later.
#[derive(Clone)]
pub struct SeededCustomer {
    pub id: Uuid,
    pub id_number: String,
    pub phone: String,
    pub name: String,
}

/// Region codes of a few prefectures (GB/T 2260), so the numbers look like real ones.
const REGIONS: &[&str] = &["110105", "310104", "440305", "330106", "510107", "420106"];

/// The `n`-th seeded person: an 18-character number with a correct check character, unique
/// in `n` (the sequence code and birth date spread `n` over 999 × ~10,000 values).
pub fn seeded_person(seed: u64, n: u64) -> SeededCustomer {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let region = REGIONS[(n % REGIONS.len() as u64) as usize];
    // Birth dates from 1960-01-01, one day per 999 customers, so (date, sequence) is unique.
    let birth = BusinessDate::from_ymd(1960, 1, 1)
        .expect("a date")
        .add_days((n / 999) as i64 % 14_000)
        .expect("in range");
    let seq = n % 999 + 1;
    let ymd = birth.to_string().replace('-', "");
    let first17 = format!("{region}{ymd}{seq:03}");
    let check = compliance::resident_id_check_char(&first17).expect("17 digits");
    // n times a number prime to 10⁸ is a permutation of 0..10⁸: distinct phones whose
    // digits look random (runs of zeros would turn up by chance in any long number).
    let phone = format!(
        "13{}{:08}",
        rng.gen_range(0..10),
        (n % 99_999_999 + 1) * 7_919_993 % 100_000_000
    );
    SeededCustomer {
        id: Uuid::now_v7(),
        id_number: format!("{first17}{check}"),
        phone,
        name: format!("客户{n:07}"),
    }
}

fn individual(c: &SeededCustomer) -> NewCustomer {
    let birth = &c.id_number[6..14];
    NewCustomer::Individual(NewIndividual {
        name: c.name.clone(),
        id_number: c.id_number.clone(),
        phone: c.phone.clone(),
        bank_card: None,
        birth_date: format!("{}-{}-{}", &birth[..4], &birth[4..6], &birth[6..])
            .parse()
            .expect("the birth date the number records"),
        region_code: c.id_number[..6].to_string(),
        occupation: "engineer".into(),
        student: false,
        currency: Currency::Cny,
        annual_income_minor: 12_000_000,
    })
}

/// Creates `n` seeded customers with `concurrency` requests in flight; returns them with
/// the seconds taken and each request's latency in microseconds.
pub async fn seed_customers(
    engine: &Engine,
    vault: &Arc<Vault>,
    tenant: &str,
    seed: u64,
    n: u64,
    concurrency: u64,
) -> anyhow::Result<(Vec<SeededCustomer>, f64, Vec<u64>)> {
    let people: Arc<Vec<SeededCustomer>> =
        Arc::new((0..n).map(|i| seeded_person(seed, i)).collect());
    // The tenant's keys are made once, before the clock starts.
    vault.tenant(engine, tenant).await?;
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (engine, vault, people, next) =
            (engine.clone(), vault.clone(), people.clone(), next.clone());
        let tenant = tenant.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= people.len() as u64 {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let c = &people[i as usize];
                let t = Instant::now();
                create_customer(&engine, &vault, &tenant, c.id, individual(c))
                    .await
                    .map_err(|e| anyhow::anyhow!("customer {i}: {e}"))?;
                lat.push(t.elapsed().as_micros() as u64);
            }
        }));
    }
    let mut lat = Vec::with_capacity(n as usize);
    for t in tasks {
        lat.extend(t.await??);
    }
    let seconds = start.elapsed().as_secs_f64();
    lat.sort_unstable();
    let people = Arc::try_unwrap(people).unwrap_or_else(|a| (*a).clone());
    Ok((people, seconds, lat))
}

#[derive(Args)]
pub struct CustomersArgs {
    #[command(flatten)]
    pub target: crate::bench::ScratchStore,
    #[arg(long, default_value_t = 20_000)]
    pub customers: u64,
    /// Creations in flight at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long)]
    pub json: bool,
}

fn pct(lat: &[u64], p: f64) -> u64 {
    if lat.is_empty() {
        return 0;
    }
    lat[((lat.len() - 1) as f64 * p) as usize]
}

/// `puhui bench customers`: customers created per second in process, each with its name,
/// identity number and phone sealed, a blind index written, and a durable commit.
pub async fn run(a: CustomersArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.customers > 0 && a.concurrency > 0,
        "--customers and --concurrency must be positive"
    );
    let (s, _dir) = a.target.open().await?;
    let engine = Engine::start(s, engine::EngineConfig::default()).await?;
    engine::loans::init_business_date(&engine, "2026-12-01".parse()?).await?;
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key[..]);
    let master = vault::MasterKey::from_bytes(vault::MasterKeyId(1), &key[..])
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let vault = Arc::new(Vault::new(vault::Keyring::new(master)));
    let (_, seconds, lat) =
        seed_customers(&engine, &vault, "bench", a.seed, a.customers, a.concurrency).await?;
    let per_s = a.customers as f64 / seconds;
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "store": format!("{:?}", a.target.store),
                "customers": a.customers,
                "seconds": seconds,
                "customers_per_s": per_s,
                "p50_us": pct(&lat, 0.5),
                "p99_us": pct(&lat, 0.99),
                "concurrency": a.concurrency,
            })
        );
    } else {
        println!(
            "{} customers in {:.2}s on {:?}: {:.0} customers/s; latency p50 {} µs, p99 {} µs (concurrency {})",
            a.customers,
            seconds,
            a.target.store,
            per_s,
            pct(&lat, 0.5),
            pct(&lat, 0.99),
            a.concurrency
        );
    }
    Ok(ExitCode::SUCCESS)
}
