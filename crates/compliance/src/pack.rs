//! Rule packs: versioned data that names each rule, where it applies, what it says and the
//! regulation it implements. A pack is built by code ([`crate::builtin`]) or parsed from a
//! file by an outer crate; either way [`RulePack::validate`] and [`PackSet::new`] refuse
//! what could not be applied, naming the field at fault as a path (`rules[3].scopes[1]`).

use money::{BusinessDate, Decimal, Money};
use std::fmt;
use std::str::FromStr;

/// The action a rule guards; a rule lists every scope it is checked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Opening a loan or a credit line.
    Origination,
    /// Raising (or setting) a credit line's limit.
    LimitChange,
    /// A purchase on a credit line.
    Purchase,
    /// Quoting a price, and what is disclosed with it.
    Pricing,
    /// Choosing the funders of a co-lent loan.
    Colending,
    /// The report over the whole book.
    Book,
}

impl Scope {
    pub const ALL: [Scope; 6] = [
        Scope::Origination,
        Scope::LimitChange,
        Scope::Purchase,
        Scope::Pricing,
        Scope::Colending,
        Scope::Book,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::Origination => "origination",
            Scope::LimitChange => "limit_change",
            Scope::Purchase => "purchase",
            Scope::Pricing => "pricing",
            Scope::Colending => "colending",
            Scope::Book => "book",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Scope, String> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| s.to_string())
    }
}

/// How binding the text a rule implements is; docs/compliance.md says why each rule has
/// the status it has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SourceStatus {
    /// A law, or a regulator's rules or measures, in force.
    InForce,
    /// A regulator's notice to the institutions it supervises, in force.
    Notice,
    /// Published for comment and not adopted: followed by the market, not binding.
    Draft,
    /// A supervisory or market convention that no text in force states as such.
    Convention,
}

/// The text a rule implements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// The regulation's name as published, with its document number where it has one.
    pub regulation: String,
    /// The article or item, or the provision's subject where its number is not given.
    pub article: String,
    pub status: SourceStatus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CustomerKind {
    Individual,
    Enterprise,
}

/// The kind of institution that funds a balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LenderKind {
    OnlineMicroLoanCompany,
    CommercialBank,
    Other,
}

/// What a loan is for, as declared at origination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    Consumption,
    BusinessOperation,
    Education,
    Medical,
    HomeImprovement,
    /// Stocks, bonds, futures, derivatives or asset-management products.
    Securities,
    /// A property purchase's down payment (首付).
    PropertyDownPayment,
    /// Repaying another loan (以贷还贷).
    LoanRepayment,
    Other,
}

/// How a lender funds itself, for the leverage caps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FundingKind {
    /// Non-standard financing on the balance sheet: bank loans, shareholder loans.
    Borrowing,
    /// Standardised debt: bonds and asset-backed securities.
    BondsAndAbs,
}

/// A closed-end credit disclosure of Regulation Z, 12 CFR 1026.18.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DisclosureField {
    /// § 1026.18(b).
    AmountFinanced,
    /// § 1026.18(d).
    FinanceCharge,
    /// § 1026.18(e).
    AnnualPercentageRate,
    /// § 1026.18(g).
    PaymentSchedule,
    /// § 1026.18(h).
    TotalOfPayments,
}

/// An exact fraction, for limits such as one third that a decimal cannot hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fraction {
    pub numerator: u32,
    pub denominator: u32,
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

/// What a rule requires, with its parameters. Evaluation: [`crate::evaluate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// An individual's principal across products and funders (those of `funder_kind`
    /// when given, consumer credit only when `consumer_credit_only`) is at most `limit`.
    IndividualBalanceMax {
        limit: Money,
        funder_kind: Option<LenderKind>,
        consumer_credit_only: bool,
    },
    /// An individual's principal (as above) is at most `share` of the average of the
    /// declared annual incomes of the last `years` years.
    IncomeShareMax {
        share: Fraction,
        years: u32,
        funder_kind: Option<LenderKind>,
    },
    /// An enterprise's principal across products and funders is at most `limit`.
    EnterpriseBalanceMax {
        limit: Money,
        funder_kind: Option<LenderKind>,
    },
    /// The all-in APR (interest, fees, guarantee and insurance, by the IRR method), in
    /// percent, is at most `percent`.
    AllInAprMax { percent: Decimal },
    /// No lending to an individual who is a student.
    NoStudents,
    /// The loan's purpose is none of `purposes`.
    BannedPurposes { purposes: Vec<Purpose> },
    /// The platform's share of a co-lent loan is at least `share` (0.3 = 30%).
    PlatformShareMin { share: Decimal },
    /// The lender's `funding` is at most `multiple` × its net assets.
    LeverageMax {
        funding: FundingKind,
        multiple: Decimal,
    },
    /// The disclosed APR is within the § 1026.22(a)(2)–(3) tolerance of the Appendix J APR.
    AprDisclosureAccuracy,
    /// Every one of `fields` is disclosed.
    DisclosureFields { fields: Vec<DisclosureField> },
    /// Where a daily or monthly rate is shown, the annual rate is shown at least as
    /// prominently.
    AnnualRateProminence,
}

/// The kind of a [`Condition`], as a pack file names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleKind {
    IndividualBalanceMax,
    IncomeShareMax,
    EnterpriseBalanceMax,
    AllInAprMax,
    NoStudents,
    BannedPurposes,
    PlatformShareMin,
    LeverageMax,
    AprDisclosureAccuracy,
    DisclosureFields,
    AnnualRateProminence,
}

use Scope::{Book, Colending, LimitChange, Origination, Pricing, Purchase};

impl RuleKind {
    pub const ALL: [RuleKind; 11] = [
        RuleKind::IndividualBalanceMax,
        RuleKind::IncomeShareMax,
        RuleKind::EnterpriseBalanceMax,
        RuleKind::AllInAprMax,
        RuleKind::NoStudents,
        RuleKind::BannedPurposes,
        RuleKind::PlatformShareMin,
        RuleKind::LeverageMax,
        RuleKind::AprDisclosureAccuracy,
        RuleKind::DisclosureFields,
        RuleKind::AnnualRateProminence,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            RuleKind::IndividualBalanceMax => "individual_balance_max",
            RuleKind::IncomeShareMax => "income_share_max",
            RuleKind::EnterpriseBalanceMax => "enterprise_balance_max",
            RuleKind::AllInAprMax => "all_in_apr_max",
            RuleKind::NoStudents => "no_students",
            RuleKind::BannedPurposes => "banned_purposes",
            RuleKind::PlatformShareMin => "platform_share_min",
            RuleKind::LeverageMax => "leverage_max",
            RuleKind::AprDisclosureAccuracy => "apr_disclosure_accuracy",
            RuleKind::DisclosureFields => "disclosure_fields",
            RuleKind::AnnualRateProminence => "annual_rate_prominence",
        }
    }

    /// The scopes whose facts hold what this kind needs. A rule listed in another scope
    /// would never find its facts there, so validation refuses it rather than let it pass
    /// silently.
    pub const fn allowed_scopes(self) -> &'static [Scope] {
        match self {
            RuleKind::IndividualBalanceMax
            | RuleKind::IncomeShareMax
            | RuleKind::EnterpriseBalanceMax
            | RuleKind::NoStudents => &[Origination, LimitChange, Purchase, Book],
            RuleKind::AllInAprMax => &[Origination, LimitChange, Purchase, Pricing, Book],
            RuleKind::BannedPurposes => &[Origination, Purchase, Book],
            RuleKind::PlatformShareMin => &[Origination, Colending, Book],
            RuleKind::LeverageMax => &[Origination, Book],
            RuleKind::AprDisclosureAccuracy
            | RuleKind::DisclosureFields
            | RuleKind::AnnualRateProminence => &[Origination, Pricing, Book],
        }
    }

    /// Parses a pack file's kind; `index` is the rule's position, for the error's path.
    pub fn parse(text: &str, index: usize) -> Result<RuleKind, PackError> {
        RuleKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                PackError::new(
                    format!("rules[{index}].kind"),
                    PackProblem::UnknownRuleKind(text.to_string()),
                )
            })
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Condition {
    pub fn kind(&self) -> RuleKind {
        match self {
            Condition::IndividualBalanceMax { .. } => RuleKind::IndividualBalanceMax,
            Condition::IncomeShareMax { .. } => RuleKind::IncomeShareMax,
            Condition::EnterpriseBalanceMax { .. } => RuleKind::EnterpriseBalanceMax,
            Condition::AllInAprMax { .. } => RuleKind::AllInAprMax,
            Condition::NoStudents => RuleKind::NoStudents,
            Condition::BannedPurposes { .. } => RuleKind::BannedPurposes,
            Condition::PlatformShareMin { .. } => RuleKind::PlatformShareMin,
            Condition::LeverageMax { .. } => RuleKind::LeverageMax,
            Condition::AprDisclosureAccuracy => RuleKind::AprDisclosureAccuracy,
            Condition::DisclosureFields { .. } => RuleKind::DisclosureFields,
            Condition::AnnualRateProminence => RuleKind::AnnualRateProminence,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Dotted lower-case id, e.g. `cn.microloan.individual_balance_max`; a refused action's
    /// problem `code`.
    pub id: String,
    pub scopes: Vec<Scope>,
    pub message: String,
    pub source: Source,
    pub condition: Condition,
}

/// One version of a pack. Versions of one pack id follow each other in time without
/// overlap; the one in effect on a business date is the one that applies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulePack {
    pub id: String,
    pub version: u32,
    /// ISO 3166-1 alpha-2, optionally with a subdivision: `CN`, `US`, `US-CA`.
    pub jurisdiction: String,
    pub effective_from: BusinessDate,
    /// The last day this version is in effect; `None` while no later version is known.
    pub effective_to: Option<BusinessDate>,
    pub rules: Vec<Rule>,
}

/// A refused pack: the path of the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct PackError {
    /// The path from the pack (or, from [`PackSet::new`], from the list of packs), e.g.
    /// `rules[2].condition.limit_minor` or `packs[1].effective_from`.
    pub field: String,
    pub problem: PackProblem,
}

impl PackError {
    pub fn new(field: impl Into<String>, problem: PackProblem) -> PackError {
        PackError {
            field: field.into(),
            problem,
        }
    }

    fn under(self, prefix: &str) -> PackError {
        PackError {
            field: format!("{prefix}.{}", self.field),
            problem: self.problem,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackProblem {
    #[error("must be dotted lower-case words (a-z, 0-9, _), at most 100 characters")]
    BadId,
    #[error("must not be empty")]
    Empty,
    #[error("must be at least 1")]
    VersionZero,
    #[error("must be an ISO 3166-1 alpha-2 code, optionally with a subdivision (US-CA)")]
    BadJurisdiction,
    #[error("is before effective_from")]
    EndsBeforeStart,
    #[error("rule id {0} appears twice in the pack")]
    DuplicateRule(String),
    #[error("scope {0} is listed twice")]
    DuplicateScope(Scope),
    #[error("a {kind} rule cannot be checked in scope {scope}")]
    ScopeNotAllowed { kind: RuleKind, scope: Scope },
    #[error("must be above zero")]
    NotPositive,
    #[error("must be above 0 and at most 1")]
    ShareOutOfRange,
    #[error("must be above 0 and at most 100 (percent)")]
    PercentOutOfRange,
    #[error("{0} is listed twice")]
    Duplicate(String),
    #[error("unknown rule kind {0:?}")]
    UnknownRuleKind(String),
    #[error("no rule {0} is in effect")]
    UnknownRule(String),
    #[error("rule id {rule_id} is also a rule of pack {other_pack}")]
    RuleInTwoPacks { rule_id: String, other_pack: String },
    #[error("version {version} of pack {id} is listed twice")]
    DuplicateVersion { id: String, version: u32 },
    #[error("overlaps version {other_version} of pack {id} in effect from {other_from}")]
    Overlap {
        id: String,
        other_version: u32,
        other_from: BusinessDate,
    },
    #[error(
        "version {version} takes effect before the lower version {other_version} of pack {id}"
    )]
    VersionOrder {
        id: String,
        version: u32,
        other_version: u32,
    },
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 100
        && id.split('.').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

fn valid_jurisdiction(text: &str) -> bool {
    let (country, subdivision) = match text.split_once('-') {
        Some((country, subdivision)) => (country, Some(subdivision)),
        None => (text, None),
    };
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_uppercase())
        && subdivision.is_none_or(|s| {
            (1..=3).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

fn positive_share(share: Decimal) -> bool {
    share > Decimal::ZERO && share <= Decimal::ONE
}

impl Rule {
    /// Checks this rule alone; paths are relative to the rule.
    pub fn validate(&self) -> Result<(), PackError> {
        let err = |field: &str, problem| Err(PackError::new(field, problem));
        if !valid_id(&self.id) {
            return err("id", PackProblem::BadId);
        }
        if self.message.trim().is_empty() {
            return err("message", PackProblem::Empty);
        }
        if self.source.regulation.trim().is_empty() {
            return err("source.regulation", PackProblem::Empty);
        }
        if self.source.article.trim().is_empty() {
            return err("source.article", PackProblem::Empty);
        }
        if self.scopes.is_empty() {
            return err("scopes", PackProblem::Empty);
        }
        let kind = self.condition.kind();
        for (index, &scope) in self.scopes.iter().enumerate() {
            let field = format!("scopes[{index}]");
            if self.scopes[..index].contains(&scope) {
                return err(&field, PackProblem::DuplicateScope(scope));
            }
            if !kind.allowed_scopes().contains(&scope) {
                return err(&field, PackProblem::ScopeNotAllowed { kind, scope });
            }
        }
        self.validate_condition()
    }

    fn validate_condition(&self) -> Result<(), PackError> {
        let err = |field: &str, problem| Err(PackError::new(format!("condition.{field}"), problem));
        match &self.condition {
            Condition::IndividualBalanceMax { limit, .. }
            | Condition::EnterpriseBalanceMax { limit, .. } => {
                if !limit.is_positive() {
                    return err("limit_minor", PackProblem::NotPositive);
                }
            }
            Condition::IncomeShareMax { share, years, .. } => {
                if share.numerator == 0 || share.numerator > share.denominator {
                    return err("share", PackProblem::ShareOutOfRange);
                }
                if *years == 0 {
                    return err("years", PackProblem::NotPositive);
                }
            }
            Condition::AllInAprMax { percent } => {
                if *percent <= Decimal::ZERO || *percent > Decimal::ONE_HUNDRED {
                    return err("percent", PackProblem::PercentOutOfRange);
                }
            }
            Condition::BannedPurposes { purposes } => {
                if purposes.is_empty() {
                    return err("purposes", PackProblem::Empty);
                }
                for (index, purpose) in purposes.iter().enumerate() {
                    if purposes[..index].contains(purpose) {
                        let problem = PackProblem::Duplicate(format!("{purpose:?}"));
                        return err(&format!("purposes[{index}]"), problem);
                    }
                }
            }
            Condition::PlatformShareMin { share } => {
                if !positive_share(*share) {
                    return err("share", PackProblem::ShareOutOfRange);
                }
            }
            Condition::LeverageMax { multiple, .. } => {
                if *multiple <= Decimal::ZERO {
                    return err("multiple", PackProblem::NotPositive);
                }
            }
            Condition::DisclosureFields { fields } => {
                if fields.is_empty() {
                    return err("fields", PackProblem::Empty);
                }
                for (index, field) in fields.iter().enumerate() {
                    if fields[..index].contains(field) {
                        let problem = PackProblem::Duplicate(format!("{field:?}"));
                        return err(&format!("fields[{index}]"), problem);
                    }
                }
            }
            Condition::NoStudents
            | Condition::AprDisclosureAccuracy
            | Condition::AnnualRateProminence => {}
        }
        Ok(())
    }
}

impl RulePack {
    /// Checks the pack alone: ids, version, jurisdiction, dates, and every rule.
    pub fn validate(&self) -> Result<(), PackError> {
        let err = |field: &str, problem| Err(PackError::new(field, problem));
        if !valid_id(&self.id) {
            return err("id", PackProblem::BadId);
        }
        if self.version == 0 {
            return err("version", PackProblem::VersionZero);
        }
        if !valid_jurisdiction(&self.jurisdiction) {
            return err("jurisdiction", PackProblem::BadJurisdiction);
        }
        if self.effective_to.is_some_and(|to| to < self.effective_from) {
            return err("effective_to", PackProblem::EndsBeforeStart);
        }
        if self.rules.is_empty() {
            return err("rules", PackProblem::Empty);
        }
        for (index, rule) in self.rules.iter().enumerate() {
            let prefix = format!("rules[{index}]");
            rule.validate().map_err(|e| e.under(&prefix))?;
            if self.rules[..index].iter().any(|r| r.id == rule.id) {
                return Err(PackError::new(
                    format!("{prefix}.id"),
                    PackProblem::DuplicateRule(rule.id.clone()),
                ));
            }
        }
        Ok(())
    }

    /// Whether this version is in effect on `on` (both bounds included).
    pub fn in_effect(&self, on: BusinessDate) -> bool {
        self.effective_from <= on && self.effective_to.is_none_or(|to| on <= to)
    }

    pub fn rule(&self, rule_id: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.id == rule_id)
    }

    fn overlaps(&self, other: &RulePack) -> bool {
        let starts_before_other_ends = other
            .effective_to
            .is_none_or(|to| self.effective_from <= to);
        let other_starts_before_self_ends = self
            .effective_to
            .is_none_or(|to| other.effective_from <= to);
        starts_before_other_ends && other_starts_before_self_ends
    }
}

/// Every pack a platform applies, each version validated and no two versions of one pack
/// in effect on the same day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackSet {
    packs: Vec<RulePack>,
}

impl PackSet {
    /// Validates every pack (paths `packs[i]…`), refuses a rule id used by two pack ids,
    /// and refuses two versions of one pack id that are listed twice, overlap in effective dates, or whose order in time is not the
    /// order of their version numbers.
    pub fn new(packs: Vec<RulePack>) -> Result<PackSet, PackError> {
        for (index, pack) in packs.iter().enumerate() {
            let prefix = format!("packs[{index}]");
            pack.validate().map_err(|e| e.under(&prefix))?;
            // A rule id is a refused request's code, so it must name one rule only.
            for other in packs[..index].iter().filter(|other| other.id != pack.id) {
                if let Some((rule_index, rule)) = pack
                    .rules
                    .iter()
                    .enumerate()
                    .find(|(_, rule)| other.rule(&rule.id).is_some())
                {
                    return Err(PackError::new(
                        format!("{prefix}.rules[{rule_index}].id"),
                        PackProblem::RuleInTwoPacks {
                            rule_id: rule.id.clone(),
                            other_pack: other.id.clone(),
                        },
                    ));
                }
            }
            for other in packs[..index].iter().filter(|other| other.id == pack.id) {
                let problem = if other.version == pack.version {
                    PackProblem::DuplicateVersion {
                        id: pack.id.clone(),
                        version: pack.version,
                    }
                } else if pack.overlaps(other) {
                    PackProblem::Overlap {
                        id: pack.id.clone(),
                        other_version: other.version,
                        other_from: other.effective_from,
                    }
                } else if (pack.version > other.version)
                    != (pack.effective_from > other.effective_from)
                {
                    PackProblem::VersionOrder {
                        id: pack.id.clone(),
                        version: pack.version,
                        other_version: other.version,
                    }
                } else {
                    continue;
                };
                let field = match problem {
                    PackProblem::DuplicateVersion { .. } => "version",
                    _ => "effective_from",
                };
                return Err(PackError::new(format!("{prefix}.{field}"), problem));
            }
        }
        Ok(PackSet { packs })
    }

    pub fn packs(&self) -> &[RulePack] {
        &self.packs
    }

    /// The versions in effect on `on`, at most one per pack id.
    pub fn in_effect(&self, on: BusinessDate) -> impl Iterator<Item = &RulePack> {
        self.packs.iter().filter(move |pack| pack.in_effect(on))
    }

    /// The rule `rule_id` of the version in effect on `on`, or an error naming it (for a
    /// request that names a rule, e.g. a report filtered by rule).
    pub fn rule(&self, rule_id: &str, on: BusinessDate) -> Result<(&RulePack, &Rule), PackError> {
        self.in_effect(on)
            .find_map(|pack| pack.rule(rule_id).map(|rule| (pack, rule)))
            .ok_or_else(|| PackError::new("rule_id", PackProblem::UnknownRule(rule_id.to_string())))
    }
}
