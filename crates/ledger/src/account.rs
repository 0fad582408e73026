use money::Currency;
use std::fmt;

/// Account identifier (a UUID; v7 when the server makes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub uuid::Uuid);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Debit,
    Credit,
}

impl Side {
    pub const fn as_str(self) -> &'static str {
        match self {
            Side::Debit => "debit",
            Side::Credit => "credit",
        }
    }

    pub fn parse(s: &str) -> Option<Side> {
        match s {
            "debit" => Some(Side::Debit),
            "credit" => Some(Side::Credit),
            _ => None,
        }
    }
}

/// An optional limit on an account, checked against posted plus pending amounts, so a hold
/// cannot reserve what the account does not have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Constraint {
    DebitsMustNotExceedCredits,
    CreditsMustNotExceedDebits,
}

impl Constraint {
    pub const fn as_str(self) -> &'static str {
        match self {
            Constraint::DebitsMustNotExceedCredits => "debits_must_not_exceed_credits",
            Constraint::CreditsMustNotExceedDebits => "credits_must_not_exceed_debits",
        }
    }

    pub fn parse(s: &str) -> Option<Constraint> {
        match s {
            "debits_must_not_exceed_credits" => Some(Constraint::DebitsMustNotExceedCredits),
            "credits_must_not_exceed_debits" => Some(Constraint::CreditsMustNotExceedDebits),
            _ => None,
        }
    }
}

/// The four running sums of an account, in minor units; never negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Balances {
    pub debits_posted_minor: i64,
    pub credits_posted_minor: i64,
    pub debits_pending_minor: i64,
    pub credits_pending_minor: i64,
}

impl Balances {
    /// Posted balance on the account's normal side (debit-normal: debits − credits).
    pub fn net_posted_minor(&self, normal_side: Side) -> i128 {
        let d = i128::from(self.debits_posted_minor);
        let c = i128::from(self.credits_posted_minor);
        match normal_side {
            Side::Debit => d - c,
            Side::Credit => c - d,
        }
    }

    /// Whether the sums respect `constraint`; pending amounts count against the limit.
    pub fn satisfies(&self, constraint: Option<Constraint>) -> bool {
        let d = i128::from(self.debits_posted_minor) + i128::from(self.debits_pending_minor);
        let c = i128::from(self.credits_posted_minor) + i128::from(self.credits_pending_minor);
        match constraint {
            None => true,
            Some(Constraint::DebitsMustNotExceedCredits) => {
                d <= i128::from(self.credits_posted_minor)
            }
            Some(Constraint::CreditsMustNotExceedDebits) => {
                c <= i128::from(self.debits_posted_minor)
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub tenant: String,
    pub owner: String,
    pub purpose: String,
    pub currency: Currency,
    pub normal_side: Side,
    pub constraint: Option<Constraint>,
    pub balances: Balances,
    pub created_at_ms: i64,
}
