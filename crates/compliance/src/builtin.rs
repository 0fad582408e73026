//! The built-in packs. Each rule names the text it implements and how binding that text
//! is ([`SourceStatus`]): several of China's limits come from a draft that was never
//! adopted, and the 24% cap is a convention, and the packs say so rather than dress them
//! up as law. Article numbers are given only where the provision is cited by number with
//! confidence; otherwise the provision is named by its subject. docs/compliance.md lists
//! every rule.

use crate::pack::{
    Condition, DisclosureField, Fraction, FundingKind, LenderKind, Purpose, Rule, RulePack, Scope,
    Source, SourceStatus,
};
use money::{BusinessDate, Currency, Decimal, Money};

use Scope::{Book, Colending, LimitChange, Origination, Pricing, Purchase};

const MICROLOAN_DRAFT: &str = "网络小额贷款业务管理暂行办法（征求意见稿）, China Banking and \
     Insurance Regulatory Commission and People's Bank of China, published for comment on \
     2 November 2020; a draft, never adopted";
const BANK_INTERNET_MEASURES: &str = "商业银行互联网贷款管理暂行办法, CBIRC Order 2020 No. 9, in \
     force from 17 July 2020";
const BANK_INTERNET_NOTICE: &str =
    "关于进一步规范商业银行互联网贷款业务的通知, 银保监办发〔2021〕24号, \
     CBIRC General Office, February 2021";
const STUDENT_NOTICE: &str =
    "关于进一步规范大学生互联网消费贷款监督管理工作的通知, 银保监发〔2021〕28号, \
     CBIRC, Ministry of Education, Ministry of Public Security, PBOC and SAMR, 2021";
const RATE_DISCLOSURE: &str = "中国人民银行公告〔2021〕第3号 (annualised loan rate disclosure), \
     People's Bank of China, March 2021";

fn cny(yuan: i64) -> Money {
    Money::from_minor(yuan * 100, Currency::Cny)
}

fn rule(
    id: &str,
    scopes: &[Scope],
    message: &str,
    source: (&str, &str, SourceStatus),
    condition: Condition,
) -> Rule {
    Rule {
        id: id.to_string(),
        scopes: scopes.to_vec(),
        message: message.to_string(),
        source: Source {
            regulation: source.0.to_string(),
            article: source.1.to_string(),
            status: source.2,
        },
        condition,
    }
}

/// China's online lending rules as of 2021, version 1 of pack `cn.online_lending`.
///
/// `effective_from` is 2021-03-01, after the last in-force text the pack cites (the
/// February 2021 notices): the day from which a platform applies the pack, not a date any
/// regulation sets. An operator that starts later issues version 2.
///
/// The balance rules count every balance the platform knows across products and funders
/// (no funder kind filter), which is stricter than the draft's "single-borrower online
/// micro-loan balance" of one company; the bank rule counts only commercial banks'
/// unsecured consumer credit.
pub fn china_online_lending() -> RulePack {
    let balance_scopes = [Origination, LimitChange, Purchase, Book];
    let rules = vec![
        rule(
            "cn.microloan.individual_balance_max",
            &balance_scopes,
            "An individual's online micro-loan balance may not exceed 300,000 CNY across \
             products and funders.",
            (
                MICROLOAN_DRAFT,
                "provision on loan amounts: a natural person's single-borrower balance in \
                 principle at most 300,000 CNY",
                SourceStatus::Draft,
            ),
            Condition::IndividualBalanceMax {
                limit: cny(300_000),
                funder_kind: None,
                consumer_credit_only: false,
            },
        ),
        rule(
            "cn.microloan.individual_income_share_max",
            &balance_scopes,
            "An individual's online micro-loan balance may not exceed one third of the \
             average annual income of the last three years.",
            (
                MICROLOAN_DRAFT,
                "provision on loan amounts: at most one third of the borrower's average \
                 annual income of the last three years, the lower of the two limits applying",
                SourceStatus::Draft,
            ),
            Condition::IncomeShareMax {
                share: Fraction {
                    numerator: 1,
                    denominator: 3,
                },
                years: 3,
                funder_kind: None,
            },
        ),
        rule(
            "cn.microloan.enterprise_balance_max",
            &balance_scopes,
            "An enterprise's online micro-loan balance may not exceed 1,000,000 CNY across \
             products and funders.",
            (
                MICROLOAN_DRAFT,
                "provision on loan amounts: a legal person's or other organisation's balance, \
                 with its related parties, in principle at most 1,000,000 CNY",
                SourceStatus::Draft,
            ),
            Condition::EnterpriseBalanceMax {
                limit: cny(1_000_000),
                funder_kind: None,
            },
        ),
        rule(
            "cn.bank.individual_consumer_credit_max",
            &balance_scopes,
            "A commercial bank's unsecured internet consumer credit to one individual may not \
             exceed 200,000 CNY.",
            (
                BANK_INTERNET_MEASURES,
                "provision on credit limits: unsecured personal credit for consumption at most \
                 200,000 CNY per borrower (the regulator may adjust it)",
                SourceStatus::InForce,
            ),
            Condition::IndividualBalanceMax {
                limit: cny(200_000),
                funder_kind: Some(LenderKind::CommercialBank),
                consumer_credit_only: true,
            },
        ),
        rule(
            "cn.all_in_apr_max",
            &[Pricing, Origination, LimitChange, Purchase, Book],
            "The all-in annual rate (interest, fees, guarantee and insurance, by the IRR \
             method) may not exceed 24%.",
            (
                "最高人民法院关于审理民间借贷案件适用法律若干问题的规定 (法释〔2015〕18号) Art. 26, \
                 applied to the all-in cost of lending by 关于规范整顿“现金贷”业务的通知 \
                 (整治办函〔2017〕141号); the IRR method per 中国人民银行公告〔2021〕第3号",
                "24% a year: the 2015 court provisions' protected ceiling. The 2020 amendment \
                 (法释〔2020〕6号) replaced it for private lending with four times the one-year \
                 LPR, and 法释〔2020〕27号 excludes licensed lenders from those provisions, so \
                 for a licensed lender 24% is a supervisory convention, not a statute",
                SourceStatus::Convention,
            ),
            Condition::AllInAprMax {
                percent: Decimal::from(24),
            },
        ),
        rule(
            "cn.annual_rate_prominence",
            &[Pricing, Origination, Book],
            "The annualised rate must be shown at least as prominently as any daily or \
             monthly rate.",
            (
                RATE_DISCLOSURE,
                "every loan product shows its annualised rate clearly, no less prominently \
                 than a daily or monthly rate",
                SourceStatus::InForce,
            ),
            Condition::AnnualRateProminence,
        ),
        rule(
            "cn.no_students",
            &balance_scopes,
            "No lending to students.",
            (
                STUDENT_NOTICE,
                "micro-loan companies may not issue internet consumer loans to college \
                 students; applied here to every product and lender, which is stricter than \
                 the notice",
                SourceStatus::Notice,
            ),
            Condition::NoStudents,
        ),
        rule(
            "cn.banned_purposes",
            &[Origination, Purchase, Book],
            "Loan funds may not pay for securities investment or a property down payment.",
            (
                "商业银行互联网贷款管理暂行办法 (CBIRC Order 2020 No. 9), provision on the use \
                 of funds; 关于规范整顿“现金贷”业务的通知 (整治办函〔2017〕141号) on down-payment \
                 loans (首付贷)",
                "funds not for buying property, nor for investing in stocks, bonds, futures, \
                 derivatives or asset-management products; no down-payment loans",
                SourceStatus::InForce,
            ),
            Condition::BannedPurposes {
                purposes: vec![Purpose::Securities, Purpose::PropertyDownPayment],
            },
        ),
        rule(
            "cn.no_loan_repayment",
            &[Origination, Purchase, Book],
            "Loan funds may not repay other loans.",
            (
                "the platform's own policy against rolling debt (以贷还贷), in line with the \
                 ban on inducing over-indebtedness of 整治办函〔2017〕141号",
                "no text cited here names repaying other loans as a banned purpose in so many \
                 words",
                SourceStatus::Convention,
            ),
            Condition::BannedPurposes {
                purposes: vec![Purpose::LoanRepayment],
            },
        ),
        rule(
            "cn.colending.platform_share_min",
            &[Colending, Origination, Book],
            "The platform's share of a co-lent loan must be at least 30%.",
            (
                BANK_INTERNET_NOTICE,
                "item on contribution ratios: the cooperating institution's (合作方) share of \
                 each co-funded loan at least 30%",
                SourceStatus::Notice,
            ),
            Condition::PlatformShareMin {
                share: Decimal::new(3, 1),
            },
        ),
        rule(
            "cn.microloan.leverage_borrowing_max",
            &[Book],
            "Bank loans, shareholder loans and other non-standard financing may not exceed \
             once net assets.",
            (
                MICROLOAN_DRAFT,
                "provision on financing: non-standard financing balance at most 1× net assets",
                SourceStatus::Draft,
            ),
            Condition::LeverageMax {
                funding: FundingKind::Borrowing,
                multiple: Decimal::ONE,
            },
        ),
        rule(
            "cn.microloan.leverage_bonds_abs_max",
            &[Book],
            "Bonds and asset-backed securities may not exceed four times net assets.",
            (
                MICROLOAN_DRAFT,
                "provision on financing: bonds and asset-backed securities at most 4× net \
                 assets",
                SourceStatus::Draft,
            ),
            Condition::LeverageMax {
                funding: FundingKind::BondsAndAbs,
                multiple: Decimal::from(4),
            },
        ),
    ];
    RulePack {
        id: "cn.online_lending".to_string(),
        version: 1,
        jurisdiction: "CN".to_string(),
        effective_from: BusinessDate::from_ymd(2021, 3, 1).expect("a calendar date"),
        effective_to: None,
        rules,
    }
}

/// US Regulation Z (Truth in Lending, 12 CFR 1026) for closed-end credit, version 1 of
/// pack `us.regulation_z`, in effect from 30 December 2011, when the CFPB's recodification
/// as part 1026 took effect. Regulation Z caps no rate; it governs what is disclosed.
pub fn us_regulation_z() -> RulePack {
    let rules = vec![
        rule(
            "us.regz.apr_accuracy",
            &[Pricing, Origination, Book],
            "The disclosed APR must be within 1/8 of a percentage point (1/4 for an irregular \
             transaction) of the APR computed by Appendix J.",
            (
                "Regulation Z, 12 CFR 1026, Appendix J (actuarial APR)",
                "§ 1026.22(a)(2) and (a)(3)",
                SourceStatus::InForce,
            ),
            Condition::AprDisclosureAccuracy,
        ),
        rule(
            "us.regz.closed_end_disclosures",
            &[Pricing, Origination, Book],
            "A closed-end credit disclosure must show the amount financed, the finance \
             charge, the APR, the payment schedule and the total of payments.",
            (
                "Regulation Z, 12 CFR 1026",
                "§ 1026.18(b), (d), (e), (g) and (h)",
                SourceStatus::InForce,
            ),
            Condition::DisclosureFields {
                fields: vec![
                    DisclosureField::AmountFinanced,
                    DisclosureField::FinanceCharge,
                    DisclosureField::AnnualPercentageRate,
                    DisclosureField::PaymentSchedule,
                    DisclosureField::TotalOfPayments,
                ],
            },
        ),
    ];
    RulePack {
        id: "us.regulation_z".to_string(),
        version: 1,
        jurisdiction: "US".to_string(),
        effective_from: BusinessDate::from_ymd(2011, 12, 30).expect("a calendar date"),
        effective_to: None,
        rules,
    }
}

/// Both built-in packs as one set.
pub fn builtin_packs() -> crate::pack::PackSet {
    crate::pack::PackSet::new(vec![china_online_lending(), us_regulation_z()])
        .expect("the built-in packs are valid")
}
