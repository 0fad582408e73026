//! Rule pack files: one JSON file per pack version (format in docs/compliance.md, "Pack
//! files"), parsed into `compliance::RulePack` and validated with the rest of the set at
//! start. Every error names the file and the field path (`rules[2].condition.share`).
//! Unknown fields are refused, so a misspelt limit cannot pass unnoticed.

use compliance::{
    Condition, DisclosureField, Fraction, FundingKind, LenderKind, PackSet, Purpose, Rule,
    RulePack, Scope, Source, SourceStatus,
};
use money::{BusinessDate, Currency, Decimal, Money};
use serde_json::{json, Map, Value};
use std::path::Path;
use std::str::FromStr;

/// A pack file that could not be used: the file, the field path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {field}: {message}")]
pub struct PackFileError {
    pub file: String,
    pub field: String,
    pub message: String,
}

type Res<T> = Result<T, (String, String)>;

fn err<T>(field: &str, message: impl Into<String>) -> Res<T> {
    Err((field.to_string(), message.into()))
}

struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn new(path: &str, v: &'a Value, allowed: &[&str]) -> Res<Obj<'a>> {
        let Some(map) = v.as_object() else {
            return err(path, "must be an object");
        };
        if let Some(k) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return err(&join(path, k), "is not a field of this object");
        }
        Ok(Obj {
            path: path.to_string(),
            map,
        })
    }

    fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn opt(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn get(&self, key: &str) -> Res<&'a Value> {
        self.opt(key)
            .ok_or_else(|| (self.at(key), "is required".to_string()))
    }

    fn str(&self, key: &str) -> Res<&'a str> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| (self.at(key), "must be a string".to_string()))
    }

    fn decimal(&self, key: &str) -> Res<Decimal> {
        let text = self.str(key)?;
        Decimal::from_str(text).map_err(|_| (self.at(key), "must be a decimal string".into()))
    }

    fn uint(&self, key: &str) -> Res<u32> {
        self.get(key)?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| (self.at(key), "must be a whole number".to_string()))
    }

    fn date(&self, key: &str) -> Res<BusinessDate> {
        self.str(key)?
            .parse()
            .map_err(|_| (self.at(key), "must be a date YYYY-MM-DD".to_string()))
    }

    fn list(&self, key: &str) -> Res<&'a Vec<Value>> {
        self.get(key)?
            .as_array()
            .ok_or_else(|| (self.at(key), "must be a list".to_string()))
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn names<T: Copy + PartialEq>(table: &[(&'static str, T)]) -> String {
    table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

fn pick<T: Copy + PartialEq>(table: &[(&'static str, T)], field: &str, v: &Value) -> Res<T> {
    let text = v
        .as_str()
        .ok_or_else(|| (field.to_string(), "must be a string".to_string()))?;
    table
        .iter()
        .find(|(n, _)| *n == text)
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            (
                field.to_string(),
                format!("must be one of {}", names(table)),
            )
        })
}

fn name_of<T: Copy + PartialEq>(table: &[(&'static str, T)], t: T) -> &'static str {
    table.iter().find(|(_, x)| *x == t).map_or("", |(n, _)| *n)
}

const STATUSES: &[(&str, SourceStatus)] = &[
    ("in_force", SourceStatus::InForce),
    ("notice", SourceStatus::Notice),
    ("draft", SourceStatus::Draft),
    ("convention", SourceStatus::Convention),
];
const LENDERS: &[(&str, LenderKind)] = &[
    (
        "online_micro_loan_company",
        LenderKind::OnlineMicroLoanCompany,
    ),
    ("commercial_bank", LenderKind::CommercialBank),
    ("other", LenderKind::Other),
];
const FUNDING: &[(&str, FundingKind)] = &[
    ("borrowing", FundingKind::Borrowing),
    ("bonds_and_abs", FundingKind::BondsAndAbs),
];
const FIELDS: &[(&str, DisclosureField)] = &[
    ("amount_financed", DisclosureField::AmountFinanced),
    ("finance_charge", DisclosureField::FinanceCharge),
    (
        "annual_percentage_rate",
        DisclosureField::AnnualPercentageRate,
    ),
    ("payment_schedule", DisclosureField::PaymentSchedule),
    ("total_of_payments", DisclosureField::TotalOfPayments),
];

fn purposes() -> &'static [(&'static str, Purpose)] {
    crate::routes::compliance::PURPOSES
}

fn scopes() -> Vec<(&'static str, Scope)> {
    Scope::ALL.iter().map(|s| (s.as_str(), *s)).collect()
}

fn money(o: &Obj<'_>) -> Res<Money> {
    let minor = o
        .get("limit_minor")?
        .as_i64()
        .ok_or_else(|| (o.at("limit_minor"), "must be a whole number".to_string()))?;
    let currency: Currency = o
        .str("currency")?
        .parse()
        .map_err(|_| (o.at("currency"), "must be an ISO 4217 code".to_string()))?;
    Ok(Money::from_minor(minor, currency))
}

fn funder_kind(o: &Obj<'_>) -> Res<Option<LenderKind>> {
    o.opt("funder_kind")
        .map(|v| pick(LENDERS, &o.at("funder_kind"), v))
        .transpose()
}

fn list_of<T: Copy + PartialEq>(
    o: &Obj<'_>,
    key: &str,
    table: &[(&'static str, T)],
) -> Res<Vec<T>> {
    o.list(key)?
        .iter()
        .enumerate()
        .map(|(i, v)| pick(table, &format!("{}[{i}]", o.at(key)), v))
        .collect()
}

fn condition(path: &str, v: &Value) -> Res<Condition> {
    let Some(obj) = v.as_object() else {
        return err(path, "must be an object");
    };
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .ok_or_else(|| (join(path, "kind"), "is required (a string)".to_string()))?;
    let fields: &[&str] = match kind {
        "individual_balance_max" => &[
            "kind",
            "limit_minor",
            "currency",
            "funder_kind",
            "consumer_credit_only",
        ],
        "income_share_max" => &["kind", "share", "years", "funder_kind"],
        "enterprise_balance_max" => &["kind", "limit_minor", "currency", "funder_kind"],
        "all_in_apr_max" => &["kind", "percent"],
        "banned_purposes" => &["kind", "purposes"],
        "platform_share_min" => &["kind", "share"],
        "leverage_max" => &["kind", "funding", "multiple"],
        "disclosure_fields" => &["kind", "fields"],
        _ => &["kind"],
    };
    let rule_kind = compliance::RuleKind::parse(kind, 0)
        .map_err(|_| (join(path, "kind"), format!("unknown rule kind {kind:?}")))?;
    let o = Obj::new(path, v, fields)?;
    Ok(match rule_kind {
        compliance::RuleKind::IndividualBalanceMax => Condition::IndividualBalanceMax {
            limit: money(&o)?,
            funder_kind: funder_kind(&o)?,
            consumer_credit_only: match o.opt("consumer_credit_only") {
                None => false,
                Some(b) => b.as_bool().ok_or_else(|| {
                    (
                        o.at("consumer_credit_only"),
                        "must be true or false".to_string(),
                    )
                })?,
            },
        },
        compliance::RuleKind::IncomeShareMax => {
            let text = o.str("share")?;
            let bad = || {
                (
                    o.at("share"),
                    "must be a fraction such as \"1/3\"".to_string(),
                )
            };
            let (n, d) = text.split_once('/').ok_or_else(bad)?;
            let numerator = n.trim().parse().map_err(|_| bad())?;
            let denominator: u32 = d.trim().parse().map_err(|_| bad())?;
            if denominator == 0 {
                return Err(bad());
            }
            Condition::IncomeShareMax {
                share: Fraction {
                    numerator,
                    denominator,
                },
                years: o.uint("years")?,
                funder_kind: funder_kind(&o)?,
            }
        }
        compliance::RuleKind::EnterpriseBalanceMax => Condition::EnterpriseBalanceMax {
            limit: money(&o)?,
            funder_kind: funder_kind(&o)?,
        },
        compliance::RuleKind::AllInAprMax => Condition::AllInAprMax {
            percent: o.decimal("percent")?,
        },
        compliance::RuleKind::NoStudents => Condition::NoStudents,
        compliance::RuleKind::BannedPurposes => Condition::BannedPurposes {
            purposes: list_of(&o, "purposes", purposes())?,
        },
        compliance::RuleKind::PlatformShareMin => Condition::PlatformShareMin {
            share: o.decimal("share")?,
        },
        compliance::RuleKind::LeverageMax => Condition::LeverageMax {
            funding: pick(FUNDING, &o.at("funding"), o.get("funding")?)?,
            multiple: o.decimal("multiple")?,
        },
        compliance::RuleKind::AprDisclosureAccuracy => Condition::AprDisclosureAccuracy,
        compliance::RuleKind::DisclosureFields => Condition::DisclosureFields {
            fields: list_of(&o, "fields", FIELDS)?,
        },
        compliance::RuleKind::AnnualRateProminence => Condition::AnnualRateProminence,
    })
}

fn rule(path: &str, v: &Value) -> Res<Rule> {
    let o = Obj::new(path, v, &["id", "scopes", "message", "source", "condition"])?;
    let src = Obj::new(
        &o.at("source"),
        o.get("source")?,
        &["regulation", "article", "status"],
    )?;
    Ok(Rule {
        id: o.str("id")?.to_string(),
        scopes: list_of(&o, "scopes", &scopes())?,
        message: o.str("message")?.to_string(),
        source: Source {
            regulation: src.str("regulation")?.to_string(),
            article: src.str("article")?.to_string(),
            status: pick(STATUSES, &src.at("status"), src.get("status")?)?,
        },
        condition: condition(&o.at("condition"), o.get("condition")?)?,
    })
}

fn pack(v: &Value) -> Res<RulePack> {
    let o = Obj::new(
        "",
        v,
        &[
            "id",
            "version",
            "jurisdiction",
            "effective_from",
            "effective_to",
            "rules",
        ],
    )?;
    let rules = o
        .list("rules")?
        .iter()
        .enumerate()
        .map(|(i, r)| rule(&format!("rules[{i}]"), r))
        .collect::<Res<Vec<_>>>()?;
    let p = RulePack {
        id: o.str("id")?.to_string(),
        version: o.uint("version")?,
        jurisdiction: o.str("jurisdiction")?.to_string(),
        effective_from: o.date("effective_from")?,
        effective_to: o
            .opt("effective_to")
            .map(|_| o.date("effective_to"))
            .transpose()?,
        rules,
    };
    p.validate().map_err(|e| (e.field, e.problem.to_string()))?;
    Ok(p)
}

/// Parses one pack file's text; `file` names it in errors.
pub fn parse_pack(file: &str, text: &str) -> Result<RulePack, PackFileError> {
    let fail = |(field, message): (String, String)| PackFileError {
        file: file.to_string(),
        field,
        message,
    };
    let v: Value = serde_json::from_str(text).map_err(|e| {
        fail((
            format!("line {} column {}", e.line(), e.column()),
            format!("not JSON: {e}"),
        ))
    })?;
    pack(&v).map_err(fail)
}

/// Every `*.json` file of `dir`, in name order, as one validated set. An error in the set
/// (two versions of a pack that overlap) names the later file.
pub fn load_dir(dir: &Path) -> Result<PackSet, PackFileError> {
    let io = |e: std::io::Error| PackFileError {
        file: dir.display().to_string(),
        field: String::new(),
        message: e.to_string(),
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(PackFileError {
            file: dir.display().to_string(),
            field: String::new(),
            message: "holds no *.json pack file".into(),
        });
    }
    let mut packs = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(io)?;
        packs.push(parse_pack(&f.display().to_string(), &text)?);
    }
    PackSet::new(packs).map_err(|e| {
        // `packs[i].field…`: name the file instead of the index.
        let (index, rest) = e
            .field
            .strip_prefix("packs[")
            .and_then(|r| r.split_once("]."))
            .map_or((None, e.field.as_str()), |(i, rest)| {
                (i.parse::<usize>().ok(), rest)
            });
        PackFileError {
            file: index
                .and_then(|i| files.get(i))
                .map_or_else(|| dir.display().to_string(), |f| f.display().to_string()),
            field: rest.to_string(),
            message: e.problem.to_string(),
        }
    })
}

fn condition_json(c: &Condition) -> Value {
    let kind = c.kind().as_str();
    let lender = |k: &Option<LenderKind>| k.map(|k| name_of(LENDERS, k));
    match c {
        Condition::IndividualBalanceMax {
            limit,
            funder_kind,
            consumer_credit_only,
        } => {
            json!({"kind": kind, "limit_minor": limit.amount_minor(), "currency": limit.currency().code(),
            "funder_kind": lender(funder_kind), "consumer_credit_only": consumer_credit_only})
        }
        Condition::IncomeShareMax {
            share,
            years,
            funder_kind,
        } => {
            json!({"kind": kind, "share": share.to_string(), "years": years, "funder_kind": lender(funder_kind)})
        }
        Condition::EnterpriseBalanceMax { limit, funder_kind } => json!({"kind": kind,
            "limit_minor": limit.amount_minor(), "currency": limit.currency().code(), "funder_kind": lender(funder_kind)}),
        Condition::AllInAprMax { percent } => json!({"kind": kind, "percent": percent.to_string()}),
        Condition::BannedPurposes { purposes: p } => json!({"kind": kind,
            "purposes": p.iter().map(|x| name_of(purposes(), *x)).collect::<Vec<_>>()}),
        Condition::PlatformShareMin { share } => json!({"kind": kind, "share": share.to_string()}),
        Condition::LeverageMax { funding, multiple } => json!({"kind": kind,
            "funding": name_of(FUNDING, *funding), "multiple": multiple.to_string()}),
        Condition::DisclosureFields { fields } => json!({"kind": kind,
            "fields": fields.iter().map(|f| name_of(FIELDS, *f)).collect::<Vec<_>>()}),
        Condition::NoStudents
        | Condition::AprDisclosureAccuracy
        | Condition::AnnualRateProminence => {
            json!({ "kind": kind })
        }
    }
}

/// A pack as its file holds it (`puhui compliance packs --write DIR` writes the built-in
/// ones as a starting point).
pub fn pack_json(p: &RulePack) -> Value {
    json!({
        "id": p.id,
        "version": p.version,
        "jurisdiction": p.jurisdiction,
        "effective_from": p.effective_from.to_string(),
        "effective_to": p.effective_to.map(|d| d.to_string()),
        "rules": p.rules.iter().map(|r| json!({
            "id": r.id,
            "scopes": r.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            "message": r.message,
            "source": {
                "regulation": r.source.regulation,
                "article": r.source.article,
                "status": name_of(STATUSES, r.source.status),
            },
            "condition": condition_json(&r.condition),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_packs_survive_a_round_trip_through_their_files() {
        for p in compliance::builtin_packs().packs() {
            let text = serde_json::to_string_pretty(&pack_json(p)).unwrap();
            assert_eq!(&parse_pack("x.json", &text).unwrap(), p, "{}", p.id);
        }
    }

    fn china() -> Value {
        pack_json(&compliance::china_online_lending())
    }

    #[test]
    fn errors_name_the_file_and_the_field_path() {
        let mut v = china();
        v["rules"][2]["condition"]["limit_minor"] = json!("lots");
        let e = parse_pack("cn.json", &v.to_string()).unwrap_err();
        assert_eq!(
            (e.file.as_str(), e.field.as_str()),
            ("cn.json", "rules[2].condition.limit_minor")
        );

        let mut v = china();
        v["rules"][0]["scopes"][1] = json!("everywhere");
        let e = parse_pack("cn.json", &v.to_string()).unwrap_err();
        assert_eq!(e.field, "rules[0].scopes[1]");

        let mut v = china();
        v["rules"][1]["condition"]["sahre"] = json!("1/3");
        let e = parse_pack("cn.json", &v.to_string()).unwrap_err();
        assert_eq!(e.field, "rules[1].condition.sahre");

        let mut v = china();
        v["rules"][3]["condition"]["kind"] = json!("no_dragons");
        let e = parse_pack("cn.json", &v.to_string()).unwrap_err();
        assert_eq!(e.field, "rules[3].condition.kind");
        assert!(e.message.contains("no_dragons"), "{}", e.message);

        let mut v = china();
        v["rules"][0]["condition"]["limit_minor"] = json!(0);
        let e = parse_pack("cn.json", &v.to_string()).unwrap_err();
        assert_eq!(e.field, "rules[0].condition.limit_minor");

        let e = parse_pack("bad.json", "{ \"id\": ").unwrap_err();
        assert_eq!(e.file, "bad.json");
        assert!(e.field.starts_with("line 1"), "{}", e.field);
    }

    #[test]
    fn a_directory_with_overlapping_versions_is_refused_naming_the_later_file() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = china();
        let mut v2 = china();
        v2["version"] = json!(2);
        v2["effective_from"] = json!("2026-01-01");
        std::fs::write(dir.path().join("a.json"), v1.to_string()).unwrap();
        std::fs::write(dir.path().join("b.json"), v2.to_string()).unwrap();
        let e = load_dir(dir.path()).unwrap_err();
        assert!(e.file.ends_with("b.json"), "{e}");
        assert_eq!(e.field, "effective_from");
        // Ending version 1 the day before version 2 starts makes the set valid.
        let mut v1 = china();
        v1["effective_to"] = json!("2025-12-31");
        std::fs::write(dir.path().join("a.json"), v1.to_string()).unwrap();
        let set = load_dir(dir.path()).unwrap();
        assert_eq!(set.packs().len(), 2);
    }
}
