//! Pool files as CSV: the loan tape (one loan a row) and the collection table (one payment
//! period a row), read with the row and column named in every error, and written back.
//! Columns are documented in docs/securitization.md ("Pool files"). Unknown columns are
//! refused, so that a misspelt optional column cannot pass silently as its default.

use crate::abs_pool_wire::{
    AmortizationWire, CollectionsWire, IndexRateWire, PoolLoanWire, PERIODS_MAX, POOL_LOANS_MAX,
};
use crate::FieldError;

pub const TAPE_COLUMNS: &[&str] = &[
    "loan_id",
    "balance_minor",
    "currency",
    "annual_rate",
    "remaining_term_months",
    "age_months",
    "amortization",
];
const TAPE_REQUIRED: &[&str] = &["balance_minor", "annual_rate", "remaining_term_months"];

pub const COLLECTION_COLUMNS: &[&str] = &[
    "payment_date",
    "interest_minor",
    "principal_minor",
    "recovery_minor",
    "new_default_minor",
    "exercise_call",
    "index_rates",
];
const COLLECTION_REQUIRED: &[&str] = &["interest_minor", "principal_minor"];

struct Table {
    header: Vec<String>,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    fn read(
        text: &str,
        known: &[&str],
        required: &[&str],
        max_rows: usize,
    ) -> Result<Table, FieldError> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .comment(Some(b'#'))
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| FieldError::new("header", e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        for (i, h) in header.iter().enumerate() {
            if !known.contains(&h.as_str()) {
                return Err(FieldError::new(
                    format!("header.{h}"),
                    format!("unknown column {h:?}; the columns are {}", known.join(", ")),
                ));
            }
            if header[..i].contains(h) {
                return Err(FieldError::new(format!("header.{h}"), "column given twice"));
            }
        }
        for r in required {
            if !header.iter().any(|h| h == r) {
                return Err(FieldError::new(
                    format!("header.{r}"),
                    "required column missing",
                ));
            }
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                FieldError::new(format!("line {line}"), e.to_string())
            })?;
            if rows.len() == max_rows {
                return Err(FieldError::new("rows", format!("at most {max_rows} rows")));
            }
            let line = record.position().map_or(0, |p| p.line());
            rows.push((line, record));
        }
        Ok(Table { header, rows })
    }

    fn cell<'a>(&self, record: &'a csv::StringRecord, column: &str) -> Option<&'a str> {
        let i = self.header.iter().position(|h| h == column)?;
        record.get(i).filter(|v| !v.is_empty())
    }
}

fn field(line: u64, column: &str) -> String {
    format!("line {line}.{column}")
}

fn integer<T: std::str::FromStr>(
    line: u64,
    column: &str,
    text: Option<&str>,
) -> Result<Option<T>, FieldError> {
    text.map(|t| {
        t.parse::<T>().map_err(|_| {
            FieldError::new(
                field(line, column),
                format!("must be a whole number, got {t:?}"),
            )
        })
    })
    .transpose()
}

fn required<T>(line: u64, column: &str, v: Option<T>) -> Result<T, FieldError> {
    v.ok_or_else(|| FieldError::new(field(line, column), "required"))
}

/// Reads a loan tape. `currency`, when given, is the deal's: a row in another is refused.
pub fn read_loan_tape(text: &str, currency: Option<&str>) -> Result<Vec<PoolLoanWire>, FieldError> {
    let t = Table::read(text, TAPE_COLUMNS, TAPE_REQUIRED, POOL_LOANS_MAX)?;
    let mut loans = Vec::with_capacity(t.rows.len());
    for (line, r) in &t.rows {
        let line = *line;
        if let (Some(want), Some(got)) = (currency, t.cell(r, "currency")) {
            if want != got {
                return Err(FieldError::new(
                    field(line, "currency"),
                    format!("{got} is not the deal's currency {want}"),
                ));
            }
        }
        let loan = PoolLoanWire {
            loan_id: t.cell(r, "loan_id").map(str::to_string),
            balance_minor: required(
                line,
                "balance_minor",
                integer(line, "balance_minor", t.cell(r, "balance_minor"))?,
            )?,
            annual_rate: required(line, "annual_rate", t.cell(r, "annual_rate"))?.to_string(),
            remaining_term_months: required(
                line,
                "remaining_term_months",
                integer(
                    line,
                    "remaining_term_months",
                    t.cell(r, "remaining_term_months"),
                )?,
            )?,
            age_months: integer(line, "age_months", t.cell(r, "age_months"))?.unwrap_or(0),
            amortization: AmortizationWire::parse(
                &field(line, "amortization"),
                t.cell(r, "amortization").unwrap_or(""),
            )?,
        };
        // The same checks as a request's loans, named by line and column.
        loan.cohort("").map_err(|e| FieldError {
            field: field(line, &e.field),
            ..e
        })?;
        loans.push(loan);
    }
    if loans.is_empty() {
        return Err(FieldError::new("rows", "the tape has no loans"));
    }
    Ok(loans)
}

/// Writes a loan tape with every column, in the order of [`TAPE_COLUMNS`].
pub fn write_loan_tape(loans: &[PoolLoanWire], currency: &str) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(TAPE_COLUMNS).expect("write to memory");
    for l in loans {
        w.write_record([
            l.loan_id.as_deref().unwrap_or(""),
            &l.balance_minor.to_string(),
            currency,
            &l.annual_rate,
            &l.remaining_term_months.to_string(),
            &l.age_months.to_string(),
            l.amortization.as_str(),
        ])
        .expect("write to memory");
    }
    String::from_utf8(w.into_inner().expect("flush to memory")).expect("CSV of UTF-8 text")
}

/// Reads a collection table. `index_rates` is `INDEX=RATE` pairs separated by `;`.
pub fn read_collection_table(text: &str) -> Result<Vec<CollectionsWire>, FieldError> {
    let t = Table::read(text, COLLECTION_COLUMNS, COLLECTION_REQUIRED, PERIODS_MAX)?;
    let mut out = Vec::with_capacity(t.rows.len());
    for (line, r) in &t.rows {
        let line = *line;
        let amount = |c: &str| -> Result<i64, FieldError> {
            Ok(integer(line, c, t.cell(r, c))?.unwrap_or(0))
        };
        let exercise_call = match t.cell(r, "exercise_call") {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(FieldError::new(
                    field(line, "exercise_call"),
                    format!("must be true or false, got {other:?}"),
                ))
            }
        };
        let mut index_rates = Vec::new();
        for pair in t
            .cell(r, "index_rates")
            .unwrap_or("")
            .split(';')
            .filter(|p| !p.trim().is_empty())
        {
            let (index, rate) = pair.split_once('=').ok_or_else(|| {
                FieldError::new(
                    field(line, "index_rates"),
                    format!("{pair:?} is not INDEX=RATE"),
                )
            })?;
            index_rates.push(IndexRateWire {
                index: index.trim().to_string(),
                rate: rate.trim().to_string(),
            });
        }
        let row = CollectionsWire {
            payment_date: t.cell(r, "payment_date").map(str::to_string),
            interest_minor: required(
                line,
                "interest_minor",
                integer(line, "interest_minor", t.cell(r, "interest_minor"))?,
            )?,
            principal_minor: required(
                line,
                "principal_minor",
                integer(line, "principal_minor", t.cell(r, "principal_minor"))?,
            )?,
            recovery_minor: amount("recovery_minor")?,
            new_default_minor: amount("new_default_minor")?,
            exercise_call,
            index_rates,
        };
        row.parse("").map_err(|e| FieldError {
            field: field(line, &e.field),
            ..e
        })?;
        out.push(row);
    }
    Ok(out)
}

/// Writes a collection table (every column).
pub fn write_collection_table(rows: &[CollectionsWire]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLLECTION_COLUMNS).expect("write to memory");
    for c in rows {
        let fixings: Vec<String> = c
            .index_rates
            .iter()
            .map(|r| format!("{}={}", r.index, r.rate))
            .collect();
        w.write_record([
            c.payment_date.as_deref().unwrap_or(""),
            &c.interest_minor.to_string(),
            &c.principal_minor.to_string(),
            &c.recovery_minor.to_string(),
            &c.new_default_minor.to_string(),
            if c.exercise_call { "true" } else { "false" },
            &fixings.join(";"),
        ])
        .expect("write to memory");
    }
    String::from_utf8(w.into_inner().expect("flush to memory")).expect("CSV of UTF-8 text")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tape_reads_writes_and_reads_back_the_same() {
        let text = "# a comment\nloan_id,balance_minor,annual_rate,remaining_term_months,age_months,amortization\nL1,100000,0.12,12,3,level_payment\nL2,50000,0.18,6,,equal_principal\n";
        let loans = read_loan_tape(text, Some("CNY")).unwrap();
        assert_eq!(loans.len(), 2);
        assert_eq!(loans[1].age_months, 0);
        assert_eq!(loans[1].amortization, AmortizationWire::EqualPrincipal);
        let written = write_loan_tape(&loans, "CNY");
        assert_eq!(read_loan_tape(&written, Some("CNY")).unwrap(), loans);
    }

    #[test]
    fn tape_errors_name_the_line_and_column() {
        let cases = [
            (
                "balance_minor,annual_rate,remaining_term_months\n100,0.1,0\n",
                "line 2.remaining_term_months",
            ),
            (
                "balance_minor,annual_rate,remaining_term_months\n100,1.5,12\n",
                "line 2.annual_rate",
            ),
            (
                "balance_minor,annual_rate,remaining_term_months\n1x0,0.1,12\n",
                "line 2.balance_minor",
            ),
            (
                "balance_minor,annual_rate,remaining_term_month\n100,0.1,12\n",
                "header.remaining_term_month",
            ),
            (
                "balance_minor,annual_rate\n100,0.1\n",
                "header.remaining_term_months",
            ),
            (
                "balance_minor,annual_rate,remaining_term_months,currency\n100,0.1,12,USD\n",
                "line 2.currency",
            ),
        ];
        for (text, want) in cases {
            let e = read_loan_tape(text, Some("CNY")).unwrap_err();
            assert_eq!(e.field, want, "{text}");
        }
    }

    #[test]
    fn a_collection_table_round_trips_with_fixings() {
        let text = "payment_date,interest_minor,principal_minor,new_default_minor,index_rates\n2026-05-01,800000,60000000,0,LPR1Y=0.031\n,400000,0,500000,\n";
        let rows = read_collection_table(text).unwrap();
        assert_eq!(rows[0].index_rates[0].rate, "0.031");
        assert_eq!(rows[1].payment_date, None);
        assert_eq!(
            read_collection_table(&write_collection_table(&rows)).unwrap(),
            rows
        );
        let e = read_collection_table("interest_minor,principal_minor\n-1,0\n").unwrap_err();
        assert_eq!(e.field, "line 2.interest_minor");
    }
}
