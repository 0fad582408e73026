//! Funding partners: who brings money, on what terms, and how they approve a loan.

use money::{Currency, Decimal, Money, RateAnnual};

/// A funding partner's id. The shell maps its UUID here (`Uuid::as_u128`); ordering by id
/// is the last tie-break of every choice this crate makes, so results never depend on the
/// order a caller happened to list partners in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartnerId(pub u128);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartnerKind {
    Bank,
    Trust,
    /// The platform itself, funding its own share.
    Platform,
    /// A financing guarantee company (融资担保): it guarantees plans and funds no share.
    Guarantor,
}

/// Who a partner lends to. Every bound is optional; an empty list means "any".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Eligibility {
    /// The lowest credit score the partner accepts (inclusive).
    pub score_min: Option<Decimal>,
    pub amount_min_minor: Option<i64>,
    pub amount_max_minor: Option<i64>,
    pub term_months_min: Option<u32>,
    pub term_months_max: Option<u32>,
    pub regions: Vec<String>,
    pub products: Vec<String>,
}

/// How the partner approves a loan at origination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApprovalMode {
    /// Approves whatever its eligibility and quotas allow.
    Auto,
    /// Asks the partner's own system over HTTP; a timeout or a malformed answer is a decline.
    Callback {
        url: String,
        secret: String,
        timeout_ms: u32,
    },
}

/// Bounds on a callback, so a partner cannot stall origination for long or sign with a
/// guessable key.
pub const CALLBACK_TIMEOUT_MS_MAX: u32 = 60_000;
pub const CALLBACK_SECRET_MIN_BYTES: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FundingPartner {
    pub id: PartnerId,
    pub name: String,
    pub kind: PartnerKind,
    pub currency: Currency,
    /// The partner's annual yield on its principal; `None` means it earns the borrower's
    /// interest pro rata to its principal.
    pub yield_annual: Option<RateAnnual>,
    /// Cap on the partner's outstanding principal across all loans.
    pub quota_minor: i64,
    /// Cap on what the partner disburses in one business day.
    pub daily_quota_minor: i64,
    pub eligibility: Eligibility,
    pub approval: ApprovalMode,
}

/// A refused partner, naming the field at fault as the API spells it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartnerError {
    #[error("{field}: must not be empty")]
    Empty { field: &'static str },
    #[error("{field}: must be positive, got {value}")]
    NotPositive { field: &'static str, value: i64 },
    #[error("{field}: must not be negative")]
    Negative { field: &'static str },
    #[error("{field}: lower bound is above the upper bound")]
    BoundsInverted { field: &'static str },
    #[error("{field}: must be an http(s) URL with a host")]
    BadUrl { field: &'static str },
    #[error("{field}: must be at least {CALLBACK_SECRET_MIN_BYTES} bytes")]
    SecretTooShort { field: &'static str },
    #[error("{field}: must be between 1 and {CALLBACK_TIMEOUT_MS_MAX} ms")]
    TimeoutOutOfRange { field: &'static str },
    #[error("{field}: a yield of {value} is not below 1 (100% a year)")]
    YieldTooHigh { field: &'static str, value: Decimal },
    #[error("{field}: daily quota {daily_minor} exceeds the quota {quota_minor}")]
    DailyAboveQuota {
        field: &'static str,
        daily_minor: i64,
        quota_minor: i64,
    },
}

impl PartnerError {
    /// The JSON path of the field at fault, for an RFC 9457 problem's `field`.
    pub fn field(&self) -> &'static str {
        match self {
            PartnerError::Empty { field }
            | PartnerError::NotPositive { field, .. }
            | PartnerError::Negative { field }
            | PartnerError::BoundsInverted { field }
            | PartnerError::BadUrl { field }
            | PartnerError::SecretTooShort { field }
            | PartnerError::TimeoutOutOfRange { field }
            | PartnerError::YieldTooHigh { field, .. }
            | PartnerError::DailyAboveQuota { field, .. } => field,
        }
    }
}

impl FundingPartner {
    /// Every problem with the partner, in field order, or `Ok` if there is none.
    pub fn validate(&self) -> Result<(), Vec<PartnerError>> {
        let mut errors = Vec::new();
        if self.name.trim().is_empty() {
            errors.push(PartnerError::Empty { field: "name" });
        }
        if let Some(rate) = self.yield_annual {
            if rate.fraction() >= Decimal::ONE {
                errors.push(PartnerError::YieldTooHigh {
                    field: "yield_annual",
                    value: rate.fraction(),
                });
            }
        }
        self.validate_quotas(&mut errors);
        self.eligibility.validate_into(&mut errors);
        validate_approval(&self.approval, &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn validate_quotas(&self, errors: &mut Vec<PartnerError>) {
        let quota_ok = positive("quota_minor", self.quota_minor, errors);
        let daily_ok = positive("daily_quota_minor", self.daily_quota_minor, errors);
        if quota_ok && daily_ok && self.daily_quota_minor > self.quota_minor {
            errors.push(PartnerError::DailyAboveQuota {
                field: "daily_quota_minor",
                daily_minor: self.daily_quota_minor,
                quota_minor: self.quota_minor,
            });
        }
    }

    /// Whether a request meets this partner's eligibility; the first miss otherwise.
    pub fn eligible(&self, request: &LoanRequest) -> Result<(), Ineligible> {
        if request.amount.currency() != self.currency {
            return Err(Ineligible::Currency);
        }
        self.eligibility.check(request)
    }
}

fn positive(field: &'static str, value: i64, errors: &mut Vec<PartnerError>) -> bool {
    if value > 0 {
        return true;
    }
    errors.push(PartnerError::NotPositive { field, value });
    false
}

fn validate_approval(approval: &ApprovalMode, errors: &mut Vec<PartnerError>) {
    let ApprovalMode::Callback {
        url,
        secret,
        timeout_ms,
    } = approval
    else {
        return;
    };
    if !url_has_host(url) {
        errors.push(PartnerError::BadUrl {
            field: "approval.url",
        });
    }
    if secret.len() < CALLBACK_SECRET_MIN_BYTES {
        errors.push(PartnerError::SecretTooShort {
            field: "approval.secret",
        });
    }
    if *timeout_ms == 0 || *timeout_ms > CALLBACK_TIMEOUT_MS_MAX {
        errors.push(PartnerError::TimeoutOutOfRange {
            field: "approval.timeout_ms",
        });
    }
}

/// A syntactic check only: the scheme is http or https and a host follows. Whether the
/// host answers is the approval client's business.
fn url_has_host(url: &str) -> bool {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or("");
    !host.is_empty() && !host.starts_with(':') && !host.chars().any(char::is_whitespace)
}

impl Eligibility {
    fn validate_into(&self, errors: &mut Vec<PartnerError>) {
        if let Some(score) = self.score_min {
            if score.is_sign_negative() && !score.is_zero() {
                errors.push(PartnerError::Negative {
                    field: "eligibility.score_min",
                });
            }
        }
        for (field, value) in [
            ("eligibility.amount_min_minor", self.amount_min_minor),
            ("eligibility.amount_max_minor", self.amount_max_minor),
        ] {
            if value.is_some_and(|v| v < 0) {
                errors.push(PartnerError::Negative { field });
            }
        }
        if let (Some(min), Some(max)) = (self.amount_min_minor, self.amount_max_minor) {
            if min > max {
                errors.push(PartnerError::BoundsInverted {
                    field: "eligibility.amount_max_minor",
                });
            }
        }
        if let (Some(min), Some(max)) = (self.term_months_min, self.term_months_max) {
            if min > max {
                errors.push(PartnerError::BoundsInverted {
                    field: "eligibility.term_months_max",
                });
            }
        }
        for (field, list) in [
            ("eligibility.regions", &self.regions),
            ("eligibility.products", &self.products),
        ] {
            if list.iter().any(|item| item.trim().is_empty()) {
                errors.push(PartnerError::Empty { field });
            }
        }
    }

    fn check(&self, request: &LoanRequest) -> Result<(), Ineligible> {
        // A loan without a score or a region fails a partner that asks for one.
        if self
            .score_min
            .is_some_and(|min| request.score.is_none_or(|s| s < min))
        {
            return Err(Ineligible::Score);
        }
        let amount_minor = request.amount.amount_minor();
        if self.amount_min_minor.is_some_and(|min| amount_minor < min)
            || self.amount_max_minor.is_some_and(|max| amount_minor > max)
        {
            return Err(Ineligible::Amount);
        }
        if self
            .term_months_min
            .is_some_and(|m| request.term_months < m)
            || self
                .term_months_max
                .is_some_and(|m| request.term_months > m)
        {
            return Err(Ineligible::Term);
        }
        if !self.regions.is_empty()
            && !request
                .region
                .as_ref()
                .is_some_and(|r| self.regions.contains(r))
        {
            return Err(Ineligible::Region);
        }
        if !self.products.is_empty() && !self.products.contains(&request.product) {
            return Err(Ineligible::Product);
        }
        Ok(())
    }
}

/// A loan asking for funding: what eligibility and quotas are checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoanRequest {
    pub amount: Money,
    pub term_months: u32,
    /// The score of the decision the loan was applied for with, if any.
    pub score: Option<Decimal>,
    /// The borrower's region code, if known.
    pub region: Option<String>,
    pub product: String,
}

/// The first eligibility rule a request fails for a partner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Ineligible {
    #[error("the loan's currency is not the partner's")]
    Currency,
    #[error("the loan has no score, or one below the partner's cut-off")]
    Score,
    #[error("the amount is outside the partner's bounds")]
    Amount,
    #[error("the term is outside the partner's bounds")]
    Term,
    #[error("the borrower's region is unknown or not one the partner serves")]
    Region,
    #[error("the product is not one the partner funds")]
    Product,
}
