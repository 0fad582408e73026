//! Customers on SQLite and PostgreSQL: sealed fields open to what was given, a duplicate
//! identity number or credit code is refused by its blind index, bad input names its field
//! and stores nothing, a customer works as a credit line's borrower, and rotating the
//! master key keeps every record readable.

use engine::customers::{
    self as cu, CustomerError, NewCustomer, NewEnterprise, NewIndividual, Profile, Vault,
};
use engine::revolving::{self as rc, NewLine};
use engine::{loans, Engine, EngineConfig};
use money::{BusinessDate, Currency};
use revolving::{LimitRules, Terms};
use uuid::Uuid;
use vault::{Keyring, MasterKey, MasterKeyId};

const T: &str = "t1";

pub(crate) fn master(id: u32, byte: u8) -> MasterKey {
    let mut k = [byte; 32];
    k[0] ^= 0x5a;
    MasterKey::from_bytes(MasterKeyId(id), &k).unwrap()
}

async fn engines() -> Vec<(testkit::TestStore, Engine)> {
    let mut out = Vec::new();
    for ts in testkit::all_stores().await {
        let e = Engine::start(ts.store.clone(), EngineConfig::default())
            .await
            .unwrap();
        loans::init_business_date(&e, "2026-12-01".parse().unwrap())
            .await
            .unwrap();
        out.push((ts, e));
    }
    out
}

fn id_number(birth: &str, seq: u32) -> String {
    let first17 = format!("110105{}{seq:03}", birth.replace('-', ""));
    let c = compliance::resident_id_check_char(&first17).unwrap();
    format!("{first17}{c}")
}

pub(crate) fn person(birth: &str, seq: u32) -> NewIndividual {
    NewIndividual {
        name: "张三".into(),
        id_number: id_number(birth, seq),
        phone: "138 1234 5678".into(),
        bank_card: Some("6222021234567890123".into()),
        birth_date: birth.parse().unwrap(),
        region_code: "110105".into(),
        occupation: "teacher".into(),
        student: false,
        currency: Currency::Cny,
        annual_income_minor: 24_000_000,
    }
}

fn invalid_field(r: Result<(cu::CustomerDoc, bool), CustomerError>) -> String {
    match r {
        Err(CustomerError::Invalid { field, .. }) => field,
        Err(e) => panic!("expected a field error, got {e}"),
        Ok(_) => panic!("expected a field error, got a customer"),
    }
}

#[tokio::test]
async fn customers_are_sealed_found_by_blind_index_and_deduplicated() {
    for (ts, e) in engines().await {
        let vault = Vault::new(Keyring::new(master(1, 7)));
        let id = Uuid::now_v7();
        let (doc, replay) = cu::create_customer(
            &e,
            &vault,
            T,
            id,
            NewCustomer::Individual(person("1990-03-07", 123)),
        )
        .await
        .unwrap();
        assert!(!replay, "{}", ts.name);
        // The stored document holds no plaintext; the masked name is what borrowers show.
        let row = e.store().doc(id).await.unwrap().unwrap();
        let body = String::from_utf8_lossy(&row.body).to_string();
        for secret in [
            id_number("1990-03-07", 123).as_str(),
            "13812345678",
            "张三",
            "6222021234567890123",
        ] {
            assert!(!body.contains(secret), "{}: {secret} in {body}", ts.name);
        }
        assert_eq!(doc.name, "张*");

        let view = cu::open_customer(&e, &vault, doc.clone()).await.unwrap();
        assert_eq!(view.name.as_ref().unwrap().expose(), "张三");
        assert_eq!(
            view.id_number.as_ref().unwrap().expose(),
            id_number("1990-03-07", 123)
        );
        assert_eq!(view.phone.as_ref().unwrap().expose(), "+8613812345678");
        assert_eq!(view.phone.as_ref().unwrap().masked(), "+86*******5678");
        assert_eq!(
            view.bank_card.as_ref().unwrap().masked(),
            "622202*********0123"
        );

        // Found by identity number, whatever its spacing or the case of its X.
        let found = cu::find_by_id_number(
            &e,
            &vault,
            T,
            &format!(" {} ", id_number("1990-03-07", 123)),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(found.id, id);
        assert!(
            cu::find_by_id_number(&e, &vault, "t2", &id_number("1990-03-07", 123))
                .await
                .unwrap()
                .is_none()
        );

        // The same request again is a replay; the same id with another body is refused.
        let (again, replay) = cu::create_customer(
            &e,
            &vault,
            T,
            id,
            NewCustomer::Individual(person("1990-03-07", 123)),
        )
        .await
        .unwrap();
        assert!(replay && again == doc);
        let mut other = person("1990-03-07", 123);
        other.occupation = "pilot".into();
        assert!(matches!(
            cu::create_customer(&e, &vault, T, id, NewCustomer::Individual(other)).await,
            Err(CustomerError::Conflict {
                code: "id_reused",
                ..
            })
        ));

        // Another customer with the same number: 409 naming the first.
        let dup = cu::create_customer(
            &e,
            &vault,
            T,
            Uuid::now_v7(),
            NewCustomer::Individual(person("1990-03-07", 123)),
        )
        .await;
        assert!(
            matches!(dup, Err(CustomerError::Duplicate { field: "id_number", existing }) if existing == id),
            "{}",
            ts.name
        );
        // Another tenant has its own index key: no clash.
        cu::create_customer(
            &e,
            &vault,
            "t2",
            Uuid::now_v7(),
            NewCustomer::Individual(person("1990-03-07", 123)),
        )
        .await
        .unwrap();

        // Bad input names its field and stores nothing.
        let before = e
            .store()
            .docs(rc::BORROWER, None, None, 100)
            .await
            .unwrap()
            .len();
        let mut p = person("1991-01-01", 5);
        p.id_number
            .replace_range(17..18, if p.id_number.ends_with('0') { "1" } else { "0" });
        assert_eq!(
            invalid_field(
                cu::create_customer(&e, &vault, T, Uuid::now_v7(), NewCustomer::Individual(p))
                    .await
            ),
            "id_number"
        );
        let mut p = person("1991-01-01", 5);
        p.birth_date = "1991-01-02".parse().unwrap();
        assert_eq!(
            invalid_field(
                cu::create_customer(&e, &vault, T, Uuid::now_v7(), NewCustomer::Individual(p))
                    .await
            ),
            "birth_date"
        );
        let p = person("2027-01-01", 5);
        assert_eq!(
            invalid_field(
                cu::create_customer(&e, &vault, T, Uuid::now_v7(), NewCustomer::Individual(p))
                    .await
            ),
            "id_number"
        );
        let mut p = person("1991-01-01", 5);
        p.phone = "12".into();
        assert_eq!(
            invalid_field(
                cu::create_customer(&e, &vault, T, Uuid::now_v7(), NewCustomer::Individual(p))
                    .await
            ),
            "phone"
        );
        let mut p = person("1991-01-01", 5);
        p.annual_income_minor = -1;
        assert_eq!(
            invalid_field(
                cu::create_customer(&e, &vault, T, Uuid::now_v7(), NewCustomer::Individual(p))
                    .await
            ),
            "annual_income_minor"
        );
        assert_eq!(
            e.store()
                .docs(rc::BORROWER, None, None, 100)
                .await
                .unwrap()
                .len(),
            before
        );

        // An enterprise names an individual customer as its legal representative.
        let ent = |code: &str, rep: Uuid| {
            NewCustomer::Enterprise(NewEnterprise {
                name: "北京某某科技有限公司".into(),
                credit_code: code.into(),
                industry_code: "I65".into(),
                region_code: "110105".into(),
                currency: Currency::Cny,
                registered_capital_minor: 1_000_000_000,
                annual_revenue_minor: 5_000_000_000,
                legal_representative_id: rep,
            })
        };
        let code = {
            let first17 = "91110105MA01ABCDE";
            let first17 = &first17[..17];
            format!(
                "{first17}{}",
                compliance::credit_code_check_char(first17).unwrap()
            )
        };
        let bad_code = format!(
            "{}{}",
            &code[..17],
            if code.ends_with('0') { '1' } else { '0' }
        );
        assert_eq!(
            invalid_field(
                cu::create_customer(&e, &vault, T, Uuid::now_v7(), ent(&bad_code, id)).await
            ),
            "credit_code"
        );
        assert_eq!(
            invalid_field(
                cu::create_customer(&e, &vault, T, Uuid::now_v7(), ent(&code, Uuid::now_v7()))
                    .await
            ),
            "legal_representative_id"
        );
        let eid = Uuid::now_v7();
        let (edoc, _) = cu::create_customer(&e, &vault, T, eid, ent(&code, id))
            .await
            .unwrap();
        assert!(matches!(edoc.profile, Some(Profile::Enterprise(_))));
        assert!(matches!(
            cu::create_customer(&e, &vault, T, Uuid::now_v7(), ent(&code, id)).await,
            Err(CustomerError::Duplicate {
                field: "credit_code",
                ..
            })
        ));

        // A customer is a borrower: a credit line opens on it, and its exposure shows it.
        let line_id = Uuid::now_v7();
        rc::open_line(
            &e,
            T,
            NewLine {
                id: line_id,
                borrower_id: id,
                limit_minor: 5_000_000,
                terms: Terms::standard(Currency::Cny),
                rules: LimitRules::default(),
            },
        )
        .await
        .unwrap();
        let x = cu::exposure(&e, T, id).await.unwrap();
        assert_eq!(x.limit_minor(Currency::Cny), 5_000_000, "{}", ts.name);
        assert_eq!(x.principal_minor(Currency::Cny), 0);
        assert_eq!(x.items.len(), 1);
        assert_eq!(x.items[0].id, line_id);
        let _: BusinessDate = edoc.created_on;
    }
}

#[tokio::test]
async fn rotating_the_master_key_keeps_every_record_readable() {
    for (ts, e) in engines().await {
        let old = Vault::new(Keyring::new(master(1, 7)));
        let mut ids = Vec::new();
        for (n, tenant) in ["a", "b", "c"].iter().enumerate() {
            for seq in 1..=5 {
                let id = Uuid::now_v7();
                cu::create_customer(
                    &e,
                    &old,
                    tenant,
                    id,
                    NewCustomer::Individual(person("1985-06-15", n as u32 * 10 + seq)),
                )
                .await
                .unwrap();
                ids.push((tenant.to_string(), id, n as u32 * 10 + seq));
            }
        }
        let ring = Keyring::new(master(2, 9))
            .with_retired(master(1, 7))
            .unwrap();
        let r = cu::rotate_master(&e, &ring).await.unwrap();
        assert_eq!((r.keys_seen, r.keys_rewrapped), (6, 6), "{}", ts.name);
        // Again: nothing left to do.
        let r = cu::rotate_master(&e, &ring).await.unwrap();
        assert_eq!(r.keys_rewrapped, 0);
        // The new master key alone opens everything; the old one alone opens nothing.
        let new_only = Vault::new(Keyring::new(master(2, 9)));
        let old_only = Vault::new(Keyring::new(master(1, 7)));
        for (tenant, id, seq) in &ids {
            let doc = cu::customer_doc(&e, tenant, *id).await.unwrap();
            let view = cu::open_customer(&e, &new_only, doc.clone()).await.unwrap();
            assert_eq!(
                view.id_number.unwrap().expose(),
                id_number("1985-06-15", *seq)
            );
            assert!(cu::open_customer(&e, &old_only, doc).await.is_err());
            assert_eq!(
                cu::find_by_id_number(&e, &new_only, tenant, &id_number("1985-06-15", *seq))
                    .await
                    .unwrap()
                    .map(|d| d.id),
                Some(*id)
            );
        }
    }
}
