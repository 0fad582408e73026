//! "Seal a customer": what creating an individual customer costs the vault. An ID number,
//! a phone, a name and a bank card are normalized and sealed, and the ID number and the
//! phone get blind indexes. One thread; the keys are unwrapped once, as the server keeps
//! a tenant's keys in memory. Nonces come from the operating system (`OsRng`, a system
//! call per nonce), from `rand::thread_rng()` (ChaCha12 seeded and reseeded from it; either
//! is fit for production) and from a seeded ChaCha12 generator (as tests use).
//!
//! `cargo bench -p vault` (`-- N` sets the customers per run, default 100,000).

use std::hint::black_box;
use std::time::Instant;

use rand::rngs::{OsRng, StdRng};
use rand::SeedableRng;
use rand_core::CryptoRngCore;
use vault::{
    blind_index, normalize, open, seal, Binding, DataKey, FieldKind, IndexKey, KeyId, Keyring,
    MasterKey, MasterKeyId,
};

struct Customer {
    id: [u8; 16],
    resident_id: String,
    phone: String,
    name: String,
    card: String,
}

fn customers(n: usize) -> Vec<Customer> {
    let names = ["张三", "李四", "欧阳娜娜", "王小明", "Jane Doe"];
    (0..n)
        .map(|i| {
            let mut id = [0u8; 16];
            id[..8].copy_from_slice(&(i as u64).to_be_bytes());
            Customer {
                id,
                resident_id: format!("110105{:08}{:03}X", 19_900_101 + i % 9_000, i % 1000),
                phone: format!("138-{:04}-{:04}", i / 10_000 % 10_000, i % 10_000),
                name: names[i % names.len()].to_owned(),
                card: format!("6222 0212 {:04} {:04} 123", i / 10_000 % 10_000, i % 10_000),
            }
        })
        .collect()
}

/// Sealed bytes and indexes of one customer, as a store would write them.
type Row = ([Vec<u8>; 4], [[u8; 32]; 2]);

fn seal_customer(
    c: &Customer,
    key: &DataKey,
    index: &IndexKey,
    rng: &mut impl CryptoRngCore,
) -> Row {
    let id_number = normalize(FieldKind::ResidentId, &c.resident_id).unwrap();
    let phone = normalize(FieldKind::Phone, &c.phone).unwrap();
    let card = normalize(FieldKind::BankCard, &c.card).unwrap();
    let field = |kind, value: &str, name, rng: &mut _| {
        seal(kind, value, key, &Binding::new(&c.id, name), rng)
            .unwrap()
            .into_bytes()
    };
    let sealed = [
        field(FieldKind::ResidentId, id_number.expose(), "id_number", rng),
        field(FieldKind::Phone, phone.expose(), "phone", rng),
        field(FieldKind::Name, c.name.trim(), "name", rng),
        field(FieldKind::BankCard, card.expose(), "bank_card", rng),
    ];
    let indexes = [
        blind_index(&id_number, index).0,
        blind_index(&phone, index).0,
    ];
    (sealed, indexes)
}

fn run(
    label: &str,
    book: &[Customer],
    key: &DataKey,
    index: &IndexKey,
    rng: &mut impl CryptoRngCore,
) {
    let mut rates = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for c in book {
            black_box(seal_customer(c, key, index, rng));
        }
        let seconds = start.elapsed().as_secs_f64();
        rates.push(book.len() as f64 / seconds);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "seal a customer ({label}): median {:.0}/s, {:.2} µs each; runs {}",
        rates[2],
        1e6 / rates[2],
        rates
            .iter()
            .map(|r| format!("{r:.0}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let master = MasterKey::from_bytes(
        MasterKeyId(1),
        &core::array::from_fn::<u8, 32, _>(|i| i as u8 * 7 + 1),
    )
    .unwrap();
    let ring = Keyring::new(master);
    let (key, _) = ring.new_data_key(&mut OsRng, "default", KeyId(1)).unwrap();
    let (index, _) = ring.new_index_key(&mut OsRng, "default", KeyId(2)).unwrap();
    let book = customers(n);
    println!("{n} customers per run, 5 runs, one thread");
    run("OsRng nonces", &book, &key, &index, &mut OsRng);
    run(
        "ThreadRng nonces",
        &book,
        &key,
        &index,
        &mut rand::thread_rng(),
    );
    run(
        "seeded ChaCha12 nonces",
        &book,
        &key,
        &index,
        &mut StdRng::seed_from_u64(1),
    );

    // Opening the four fields again: what an unmasked read of a customer costs.
    let rows: Vec<Row> = book
        .iter()
        .map(|c| seal_customer(c, &key, &index, &mut OsRng))
        .collect();
    let kinds = [
        FieldKind::ResidentId,
        FieldKind::Phone,
        FieldKind::Name,
        FieldKind::BankCard,
    ];
    let names = ["id_number", "phone", "name", "bank_card"];
    let start = Instant::now();
    for (c, (sealed, _)) in book.iter().zip(&rows) {
        for i in 0..4 {
            let s = vault::Sealed::from_bytes(sealed[i].clone()).unwrap();
            black_box(open(kinds[i], &s, &key, &Binding::new(&c.id, names[i])).unwrap());
        }
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "open a customer's four fields: {rate:.0}/s, {:.2} µs each",
        1e6 / rate
    );
}
