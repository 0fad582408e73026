//! A loan's ledger accounts and the ids of the entries it causes: every id is a UUIDv5 (or
//! laid out from one), so a loan's accounts and entries are known without a lookup.

use crate::Command;
use ledger::{AccountId, EntryId, EntryRequest, Posting, Side};
use lending::codec::encode_loan;
use lending::loan::{AccountPurpose, Loan, LoanStatus, PostingIntent};
use money::{BusinessDate, Currency};
use store::LoanRow;
use uuid::Uuid;

/// Namespace of every id derived here.
pub(crate) const NS: Uuid = Uuid::from_u128(0x6f1d_5e0a_93b4_4c55_a7a2_1e0c_52d9_8b31);

pub(crate) fn purpose_name(p: AccountPurpose) -> &'static str {
    match p {
        AccountPurpose::PrincipalReceivable => "principal_receivable",
        AccountPurpose::InterestReceivable => "interest_receivable",
        AccountPurpose::FeeReceivable => "fee_receivable",
        AccountPurpose::PenaltyReceivable => "penalty_receivable",
        AccountPurpose::InterestIncome => "interest_income",
        AccountPurpose::FeeIncome => "fee_income",
        AccountPurpose::PenaltyIncome => "penalty_income",
        AccountPurpose::BorrowerCash => "cash_clearing",
        AccountPurpose::PayeeSettlement => "payee_settlement",
        AccountPurpose::Suspense => "suspense",
        AccountPurpose::WriteOffExpense => "write_off_expense",
        AccountPurpose::Overpayment => "overpayment_liability",
        AccountPurpose::AccruedInterest => "accrued_interest",
        AccountPurpose::RecoveryIncome => "recovery_income",
    }
}

pub const RECEIVABLES: [AccountPurpose; 4] = [
    AccountPurpose::PrincipalReceivable,
    AccountPurpose::InterestReceivable,
    AccountPurpose::FeeReceivable,
    AccountPurpose::PenaltyReceivable,
];

pub(crate) const SHARED: [AccountPurpose; 8] = [
    AccountPurpose::AccruedInterest,
    AccountPurpose::InterestIncome,
    AccountPurpose::FeeIncome,
    AccountPurpose::PenaltyIncome,
    AccountPurpose::BorrowerCash,
    AccountPurpose::PayeeSettlement,
    AccountPurpose::Suspense,
    AccountPurpose::WriteOffExpense,
];

pub(crate) fn per_loan(p: AccountPurpose) -> bool {
    RECEIVABLES.contains(&p) || p == AccountPurpose::Overpayment
}

pub(crate) fn normal_side(p: AccountPurpose) -> Side {
    match p {
        AccountPurpose::PrincipalReceivable
        | AccountPurpose::InterestReceivable
        | AccountPurpose::FeeReceivable
        | AccountPurpose::PenaltyReceivable
        | AccountPurpose::AccruedInterest
        | AccountPurpose::BorrowerCash
        | AccountPurpose::WriteOffExpense => Side::Debit,
        _ => Side::Credit,
    }
}

/// The ledger account of `purpose` for loan `loan_id` (or the shared one of its tenant).
///
/// A loan's own accounts get ids that sort by partition: `[partition, 14 bytes of
/// UUIDv5(loan, "accounts"), purpose]`. Close of business works one partition at a time,
/// so the balance rows and posting-index entries a group writes stay within one
/// partition's stretch of the tables instead of all over them. (Were two loans' 112-bit
/// hashes ever equal, the second opening would be refused as an id conflict, not merged.)
pub fn account_id(
    loan_id: Uuid,
    tenant: &str,
    currency: Currency,
    purpose: AccountPurpose,
) -> AccountId {
    let name = purpose_name(purpose);
    AccountId(if per_loan(purpose) {
        let mut b = [0u8; 16];
        b[0] = store::loan_partition(loan_id) as u8;
        b[1..15].copy_from_slice(&Uuid::new_v5(&loan_id, b"accounts").as_bytes()[..14]);
        b[15] = purpose as u8;
        Uuid::from_bytes(b)
    } else {
        Uuid::new_v5(
            &NS,
            format!("gl:{tenant}:{}:{name}", currency.code()).as_bytes(),
        )
    })
}

pub(crate) fn open_account(row: &LoanRow, currency: Currency, p: AccountPurpose) -> Command {
    Command::OpenAccount {
        id: account_id(row.id, &row.tenant, currency, p),
        tenant: row.tenant.clone(),
        owner: if per_loan(p) {
            format!("loan:{}", row.id)
        } else {
            "platform".to_string()
        },
        purpose: purpose_name(p).to_string(),
        currency,
        normal_side: normal_side(p),
        constraint: None,
    }
}

/// The entry of one loan's business day: `[day (4 bytes, big-endian), partition, 11 bytes
/// of UUIDv5(loan, day)]`, so a day's entries sort together, in the order close of
/// business writes them, and the entry-id index grows at its end instead of everywhere.
pub fn day_entry_id(loan_id: Uuid, day: BusinessDate) -> EntryId {
    dated_entry_id(loan_id, day, "day")
}

pub(crate) fn dated_entry_id(loan_id: Uuid, day: BusinessDate, name: &str) -> EntryId {
    let hash = Uuid::new_v5(&loan_id, format!("{name}:{day}").as_bytes());
    day_partition_id(day, store::loan_partition(loan_id), hash)
}

/// `[day (u32 BE), partition, 11 bytes of hash]`.
pub(crate) fn day_partition_id(day: BusinessDate, partition: i32, hash: Uuid) -> EntryId {
    let mut b = [0u8; 16];
    b[..4].copy_from_slice(&(day.to_epoch_days() as u32).to_be_bytes());
    b[4] = partition as u8;
    b[5..].copy_from_slice(&hash.as_bytes()[..11]);
    EntryId(Uuid::from_bytes(b))
}

pub fn event_entry_id(loan_id: Uuid, seq: i32) -> EntryId {
    EntryId(Uuid::new_v5(&loan_id, format!("event:{seq}").as_bytes()))
}

pub(crate) fn entry(
    row: &LoanRow,
    currency: Currency,
    id: EntryId,
    intents: &[PostingIntent],
    memo: String,
) -> Option<EntryRequest> {
    if intents.is_empty() {
        return None;
    }
    let account = |p| account_id(row.id, &row.tenant, currency, p);
    let mut postings = Vec::with_capacity(intents.len() * 2);
    for i in intents {
        assert!(
            i.amount_minor > 0,
            "the state machine posts positive amounts"
        );
        postings.push(Posting {
            account_id: account(i.debit),
            direction: Side::Debit,
            amount_minor: i.amount_minor,
        });
        postings.push(Posting {
            account_id: account(i.credit),
            direction: Side::Credit,
            amount_minor: i.amount_minor,
        });
    }
    Some(EntryRequest {
        id,
        currency,
        postings,
        memo,
    })
}

pub fn stage_of(loan: &Loan, pre_disbursement_stage: &str) -> String {
    match loan.status {
        LoanStatus::Signed => pre_disbursement_stage.to_string(),
        LoanStatus::Active => "active".into(),
        LoanStatus::PaidOff => "paid_off".into(),
        LoanStatus::WrittenOff => "written_off".into(),
    }
}

pub(crate) fn next_row(old: &LoanRow, loan: &Loan) -> LoanRow {
    LoanRow {
        stage: stage_of(loan, &old.stage),
        day: loan.business_date.to_epoch_days(),
        open: loan.status == LoanStatus::Active,
        version: old.version + 1,
        dpd: i32::try_from(loan.dpd).unwrap_or(i32::MAX),
        state: encode_loan(loan),
        ..old.clone()
    }
}
