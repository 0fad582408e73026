//! Who may call which route: one table, read by the authorization middleware and by the
//! OpenAPI document. A route missing here is refused (403) for everyone.

use super::Role;

/// How the party a bound key acts for is found in a request, and so which requests it
/// may make. Keys without a party are limited by role and tenant only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PartyOf {
    /// Nothing here belongs to a party (tree heads, previews, quotes): bound keys may call it.
    Unowned,
    /// Only keys without a party (bulk reads across parties, operator tools).
    Unbound,
    /// The path's `{id}` is a loan; its party is the loan's borrower.
    Loan,
    /// The path's `{id}` is a borrower; its party is itself.
    Borrower,
    /// The path's `{id}` is a merchant; its party is itself.
    Merchant,
    /// The path's `{id}` is a credit line; its party is the line's borrower.
    Line,
    /// The path's `{id}` is a purchase; its parties are its merchant and its line's borrower.
    Purchase,
    /// The path's `{id}` is an account; its party is its owner (a loan's or line's
    /// borrower, a merchant, or the owner named when it was opened).
    Account,
    /// The path's `{id}` is a ledger entry; the parties of the accounts it posts to.
    Entry,
    /// The path's `{id}` is a hold; the parties of its two accounts.
    Hold,
    /// The path's `{id}` is a funding partner; its party is itself (a `partner` key).
    FundingPartner,
    /// The path's `{id}` is a securitization deal; its parties are the investors named on
    /// it (`investor` keys).
    Deal,
    /// A JSON field of the request body names the party (a purchase's `merchant_id`).
    BodyField(&'static str),
    /// A list: a bound key's list is narrowed to its own party's objects.
    List,
    /// The path's `{id}` is a webhook subscription; its party is the one it was made for.
    Webhook,
}

impl PartyOf {
    /// What the OpenAPI document says about the route's party binding.
    pub fn description(self) -> &'static str {
        match self {
            PartyOf::Unowned => "any key of the roles, bound or not",
            PartyOf::Unbound => "keys not bound to a party only",
            PartyOf::Loan => "a bound key only for loans of its borrower",
            PartyOf::Borrower => "a bound key only for its own borrower",
            PartyOf::Merchant => "a bound key only for its own merchant",
            PartyOf::FundingPartner => "a bound key only for its own funding partner",
            PartyOf::Deal => "a bound key only for deals naming its investor",
            PartyOf::Line => "a bound key only for lines of its borrower",
            PartyOf::Purchase => {
                "a bound key only for purchases of its merchant or on its borrower's lines"
            }
            PartyOf::Account => "a bound key only for accounts its party owns",
            PartyOf::Entry | PartyOf::Hold => "a bound key only where its party owns an account",
            PartyOf::BodyField(_) => "a bound key only with its own party in the body",
            PartyOf::List => "a bound key sees its own party's objects only",
            PartyOf::Webhook => "a bound key only for its own party's subscriptions",
        }
    }
}

/// One route's rule. `roles` None is public (no key needed).
#[derive(Clone, Copy, Debug)]
pub struct RouteAccess {
    pub method: &'static str,
    /// The route pattern as routed and documented (`/v1/loans/{id}`).
    pub path: &'static str,
    pub roles: Option<&'static [Role]>,
    pub party: PartyOf,
    /// The route acts on, or reads, every tenant at once: only a key of tenant `*` passes.
    pub every_tenant: bool,
}

use super::Role::*;

const ALL: &[Role] = &[
    Operator,
    RiskAnalyst,
    PartnerBank,
    Investor,
    Merchant,
    Borrower,
];
const OPS: &[Role] = &[Operator];
const RISK: &[Role] = &[Operator, RiskAnalyst];
/// Who reads loans: not merchants, who have none.
const LOAN_READERS: &[Role] = &[Operator, RiskAnalyst, PartnerBank, Investor, Borrower];
const LEDGER_READERS: &[Role] = &[Operator, RiskAnalyst, PartnerBank, Investor];
const MERCHANT_OPS: &[Role] = &[Operator, Merchant];
const BORROWER_OPS: &[Role] = &[Operator, Borrower];
/// Who reads funding partners and their positions.
const FUNDING_READERS: &[Role] = &[Operator, RiskAnalyst, PartnerBank];
/// Who subscribes to events: operators to any, partner banks and merchants to their own.
const SUBSCRIBERS: &[Role] = &[Operator, PartnerBank, Merchant];
/// Who reads portfolio analytics: the book's figures, no party's own data.
const ANALYTICS: &[Role] = &[Operator, RiskAnalyst, PartnerBank, Investor];
/// Who checks deal files and runs projections of them.
const ABS_USERS: &[Role] = &[Operator, RiskAnalyst, Investor];
/// Who reads a live deal's investor reports (bound investor keys: their deals only).
const REPORT_READERS: &[Role] = &[Operator, RiskAnalyst, Investor];

const fn r(
    method: &'static str,
    path: &'static str,
    roles: &'static [Role],
    party: PartyOf,
) -> RouteAccess {
    RouteAccess {
        method,
        path,
        roles: Some(roles),
        party,
        every_tenant: false,
    }
}

/// As [`r`], for a route that covers every tenant (a key of tenant `*` only).
const fn platform(
    method: &'static str,
    path: &'static str,
    roles: &'static [Role],
    party: PartyOf,
) -> RouteAccess {
    RouteAccess {
        every_tenant: true,
        ..r(method, path, roles, party)
    }
}

const TABLE: &[RouteAccess] = &[
    RouteAccess {
        method: "GET",
        path: "/healthz",
        roles: None,
        party: PartyOf::Unowned,
        every_tenant: false,
    },
    r("GET", "/metrics", OPS, PartyOf::Unbound),
    // The contract is public: clients need it before they have a key.
    RouteAccess {
        method: "GET",
        path: "/openapi.json",
        roles: None,
        party: PartyOf::Unowned,
        every_tenant: false,
    },
    // Ledger.
    r("POST", "/v1/accounts", OPS, PartyOf::Unbound),
    r("GET", "/v1/accounts/{id}", ALL, PartyOf::Account),
    r("GET", "/v1/accounts/{id}/entries", ALL, PartyOf::Account),
    r(
        "GET",
        "/v1/ledger/entries",
        LEDGER_READERS,
        PartyOf::Unbound,
    ),
    r("POST", "/v1/ledger/entries", OPS, PartyOf::Unbound),
    r("POST", "/v1/ledger/entry-batches", OPS, PartyOf::Unbound),
    r("GET", "/v1/ledger/entries/{id}", ALL, PartyOf::Entry),
    r(
        "POST",
        "/v1/ledger/entries/{id}/reversal",
        OPS,
        PartyOf::Unbound,
    ),
    r("GET", "/v1/ledger/entries/{id}/proof", ALL, PartyOf::Entry),
    r("GET", "/v1/ledger/tree-head", ALL, PartyOf::Unowned),
    r("GET", "/v1/ledger/consistency", ALL, PartyOf::Unowned),
    r("POST", "/v1/holds", OPS, PartyOf::Unbound),
    r("GET", "/v1/holds/{id}", ALL, PartyOf::Hold),
    r("POST", "/v1/holds/{id}/post", OPS, PartyOf::Unbound),
    r("POST", "/v1/holds/{id}/void", OPS, PartyOf::Unbound),
    // Keys, pricing, decisions.
    r("POST", "/v1/api-keys", OPS, PartyOf::Unbound),
    r("GET", "/v1/api-keys", OPS, PartyOf::Unbound),
    r("POST", "/v1/api-keys/{id}/revoke", OPS, PartyOf::Unbound),
    r("POST", "/v1/apr", ALL, PartyOf::Unowned),
    r("POST", "/v1/decisions", RISK, PartyOf::Unbound),
    r("GET", "/v1/decisions/{id}", RISK, PartyOf::Unbound),
    r("POST", "/v1/decisions/{id}/replay", RISK, PartyOf::Unbound),
    r("GET", "/v1/events", OPS, PartyOf::Unbound),
    // The audit log spans every tenant.
    platform("GET", "/v1/audit", OPS, PartyOf::Unbound),
    r("POST", "/v1/webhooks", SUBSCRIBERS, PartyOf::List),
    r("GET", "/v1/webhooks", SUBSCRIBERS, PartyOf::List),
    r("GET", "/v1/webhooks/{id}", SUBSCRIBERS, PartyOf::Webhook),
    r(
        "POST",
        "/v1/webhooks/{id}/disable",
        SUBSCRIBERS,
        PartyOf::Webhook,
    ),
    r("POST", "/v1/webhooks/{id}/redeliver", OPS, PartyOf::Unbound),
    r(
        "GET",
        "/v1/webhooks/{id}/deliveries",
        SUBSCRIBERS,
        PartyOf::Webhook,
    ),
    // Emergency controls.
    r("POST", "/v1/controls/halts", OPS, PartyOf::Unbound),
    r("GET", "/v1/controls/halts", OPS, PartyOf::Unbound),
    r("GET", "/v1/controls/halts/{id}", OPS, PartyOf::Unbound),
    r(
        "POST",
        "/v1/controls/halts/{id}/lift",
        OPS,
        PartyOf::Unbound,
    ),
    // The read-only mode covers every tenant.
    platform("POST", "/v1/controls/read-only", OPS, PartyOf::Unbound),
    r("GET", "/v1/controls/read-only", OPS, PartyOf::Unbound),
    r("POST", "/v1/controls/funder-outages", OPS, PartyOf::Unbound),
    r("GET", "/v1/controls/funder-outages", OPS, PartyOf::Unbound),
    // Portfolio analytics: the whole book's figures, for risk and the funders.
    r("GET", "/v1/analytics/vintage", ANALYTICS, PartyOf::Unbound),
    r(
        "GET",
        "/v1/analytics/roll-rates",
        ANALYTICS,
        PartyOf::Unbound,
    ),
    r(
        "GET",
        "/v1/analytics/delinquency",
        ANALYTICS,
        PartyOf::Unbound,
    ),
    r("GET", "/v1/analytics/approvals", RISK, PartyOf::Unbound),
    r(
        "GET",
        "/v1/analytics/concentration",
        ANALYTICS,
        PartyOf::Unbound,
    ),
    // Term loans.
    r("POST", "/v1/loan-schedules/preview", ALL, PartyOf::Unowned),
    r("POST", "/v1/loan-products", OPS, PartyOf::Unbound),
    r("GET", "/v1/loan-products/{id}", ALL, PartyOf::Unowned),
    r("POST", "/v1/loans", OPS, PartyOf::Unbound),
    r("GET", "/v1/loans", LOAN_READERS, PartyOf::List),
    r("GET", "/v1/loans/{id}", LOAN_READERS, PartyOf::Loan),
    r("GET", "/v1/loans/{id}/entries", LOAN_READERS, PartyOf::Loan),
    r("POST", "/v1/loans/{id}/approve", OPS, PartyOf::Unbound),
    r("POST", "/v1/loans/{id}/decline", OPS, PartyOf::Unbound),
    r("POST", "/v1/loans/{id}/disburse", OPS, PartyOf::Unbound),
    r("POST", "/v1/loans/{id}/repayments", OPS, PartyOf::Unbound),
    r(
        "POST",
        "/v1/loans/{id}/repayments/{rid}/reversal",
        OPS,
        PartyOf::Unbound,
    ),
    r(
        "GET",
        "/v1/loans/{id}/prepayment-quote",
        LOAN_READERS,
        PartyOf::Loan,
    ),
    r("POST", "/v1/loans/{id}/prepay", OPS, PartyOf::Unbound),
    // Co-lending.
    r("POST", "/v1/funding-partners", OPS, PartyOf::Unbound),
    r("POST", "/v1/first-loss-deposits", OPS, PartyOf::Unbound),
    r("GET", "/v1/first-loss-deposits", RISK, PartyOf::Unbound),
    r(
        "GET",
        "/v1/first-loss-deposits/{id}",
        RISK,
        PartyOf::Unbound,
    ),
    r(
        "GET",
        "/v1/funding-partners",
        FUNDING_READERS,
        PartyOf::List,
    ),
    r(
        "GET",
        "/v1/funding-partners/{id}",
        FUNDING_READERS,
        PartyOf::FundingPartner,
    ),
    r(
        "POST",
        "/v1/funding-partners/{id}/changes",
        OPS,
        PartyOf::Unbound,
    ),
    r(
        "GET",
        "/v1/funding-partners/{id}/positions",
        FUNDING_READERS,
        PartyOf::FundingPartner,
    ),
    r(
        "GET",
        "/v1/funding-partners/{id}/recon/{date}",
        FUNDING_READERS,
        PartyOf::FundingPartner,
    ),
    r(
        "GET",
        "/v1/funding-partners/{id}/recon/{date}/{file}",
        FUNDING_READERS,
        PartyOf::FundingPartner,
    ),
    r(
        "POST",
        "/v1/loan-products/{id}/funding-plan",
        OPS,
        PartyOf::Unbound,
    ),
    r(
        "GET",
        "/v1/loan-products/{id}/funding-plan",
        RISK,
        PartyOf::Unbound,
    ),
    // Customers.
    r("POST", "/v1/customers", OPS, PartyOf::Unbound),
    r("GET", "/v1/customers", LOAN_READERS, PartyOf::List),
    r("GET", "/v1/customers/{id}", ALL, PartyOf::Borrower),
    r(
        "GET",
        "/v1/customers/{id}/exposure",
        LOAN_READERS,
        PartyOf::Borrower,
    ),
    r("POST", "/v1/customers/{id}/signals", RISK, PartyOf::Unbound),
    r("GET", "/v1/customers/{id}/risk", RISK, PartyOf::Unbound),
    r("GET", "/v1/compliance/report", RISK, PartyOf::Unbound),
    // Revolving credit.
    r("POST", "/v1/borrowers", OPS, PartyOf::Unbound),
    r("GET", "/v1/borrowers", LOAN_READERS, PartyOf::List),
    r("GET", "/v1/borrowers/{id}", ALL, PartyOf::Borrower),
    r("POST", "/v1/merchants", OPS, PartyOf::Unbound),
    r("GET", "/v1/merchants/{id}", ALL, PartyOf::Merchant),
    r("POST", "/v1/credit-lines", OPS, PartyOf::Unbound),
    r("GET", "/v1/credit-lines", LOAN_READERS, PartyOf::List),
    r("GET", "/v1/credit-lines/{id}", ALL, PartyOf::Line),
    r("GET", "/v1/credit-lines/{id}/history", ALL, PartyOf::Line),
    r(
        "POST",
        "/v1/credit-lines/{id}/repayments",
        BORROWER_OPS,
        PartyOf::Line,
    ),
    r(
        "POST",
        "/v1/credit-lines/{id}/changes",
        RISK,
        PartyOf::Unbound,
    ),
    r(
        "POST",
        "/v1/credit-lines/{id}/statement-installments",
        BORROWER_OPS,
        PartyOf::Line,
    ),
    r(
        "GET",
        "/v1/installment-quotes/{months}/{fee_rate}",
        ALL,
        PartyOf::Unowned,
    ),
    r(
        "POST",
        "/v1/purchases",
        MERCHANT_OPS,
        PartyOf::BodyField("merchant_id"),
    ),
    r("GET", "/v1/purchases", ALL, PartyOf::List),
    r("GET", "/v1/purchases/{id}", ALL, PartyOf::Purchase),
    r(
        "POST",
        "/v1/purchases/{id}/capture",
        MERCHANT_OPS,
        PartyOf::Purchase,
    ),
    r(
        "POST",
        "/v1/purchases/{id}/void",
        MERCHANT_OPS,
        PartyOf::Purchase,
    ),
    r(
        "POST",
        "/v1/purchases/{id}/refunds",
        MERCHANT_OPS,
        PartyOf::Purchase,
    ),
    r(
        "POST",
        "/v1/purchases/{id}/installments",
        &[Operator, Borrower, Merchant],
        PartyOf::Purchase,
    ),
    r("GET", "/v1/purchases/{id}/trace", ALL, PartyOf::Purchase),
    r("POST", "/v1/loans/{id}/refunds", OPS, PartyOf::Unbound),
    r("POST", "/v1/loans/{id}/recoveries", OPS, PartyOf::Unbound),
    r(
        "POST",
        "/v1/credit-lines/{id}/refunds",
        OPS,
        PartyOf::Unbound,
    ),
    // Securitization: stateless deal checks, projections and simulations.
    r(
        "POST",
        "/v1/abs/deals/validate",
        ABS_USERS,
        PartyOf::Unowned,
    ),
    r("POST", "/v1/abs/projections", ABS_USERS, PartyOf::Unowned),
    r("POST", "/v1/abs/monte-carlo", ABS_USERS, PartyOf::Unowned),
    // Securitization on the live book: operators change deals; readers not bound to a party.
    r("POST", "/v1/abs/deals", OPS, PartyOf::Unbound),
    r("GET", "/v1/abs/deals", ABS_USERS, PartyOf::Unbound),
    r("GET", "/v1/abs/deals/{id}", ABS_USERS, PartyOf::Unbound),
    r("POST", "/v1/abs/deals/{id}/pool", OPS, PartyOf::Unbound),
    r(
        "GET",
        "/v1/abs/deals/{id}/pool",
        ABS_USERS,
        PartyOf::Unbound,
    ),
    r(
        "GET",
        "/v1/abs/deals/{id}/pool/tape",
        ABS_USERS,
        PartyOf::Unbound,
    ),
    r("POST", "/v1/abs/deals/{id}/close", OPS, PartyOf::Unbound),
    r(
        "GET",
        "/v1/abs/deals/{id}/periods",
        ABS_USERS,
        PartyOf::Unbound,
    ),
    r(
        "POST",
        "/v1/abs/deals/{id}/periods/{n}/run",
        OPS,
        PartyOf::Unbound,
    ),
    r(
        "GET",
        "/v1/abs/deals/{id}/periods/{n}/report",
        REPORT_READERS,
        PartyOf::Deal,
    ),
    r(
        "POST",
        "/v1/abs/deals/{id}/repurchases",
        OPS,
        PartyOf::Unbound,
    ),
    // Close of business.
    // Every tenant's loans move with the business date.
    platform("POST", "/v1/close-of-business", OPS, PartyOf::Unbound),
    r("GET", "/v1/close-of-business/{id}", OPS, PartyOf::Unbound),
    r("GET", "/v1/business-date", ALL, PartyOf::Unowned),
    // Only routed with the hidden `--fault-injection` flag, for tests.
    r("POST", "/v1/_faults/panic", OPS, PartyOf::Unbound),
    r(
        "POST",
        "/v1/_faults/stop-ledger-writer",
        OPS,
        PartyOf::Unbound,
    ),
];

/// Every route's roles and party rule. The middleware refuses a route not listed here.
pub fn route_roles() -> &'static [RouteAccess] {
    TABLE
}

/// The table as Markdown, for docs/security.md.
pub fn roles_markdown() -> String {
    let mut out =
        String::from("| method | route | roles | bound keys |\n| --- | --- | --- | --- |\n");
    for a in TABLE {
        let roles = match a.roles {
            None => "public".to_string(),
            Some(r) if r.len() == ALL.len() => "all".to_string(),
            Some(r) => r.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(", "),
        };
        let roles = if a.every_tenant {
            format!("{roles}; tenant `*` keys only")
        } else {
            roles
        };
        out.push_str(&format!(
            "| {} | `{}` | {} | {} |\n",
            a.method,
            a.path,
            roles,
            a.party.description()
        ));
    }
    out
}

/// The rule of `method` on the routed pattern `path`.
pub fn rule(method: &str, path: &str) -> Option<&'static RouteAccess> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static INDEX: OnceLock<HashMap<(&'static str, &'static str), &'static RouteAccess>> =
        OnceLock::new();
    INDEX
        .get_or_init(|| TABLE.iter().map(|a| ((a.method, a.path), a)).collect())
        .get(&(method, path))
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_operation_has_one_rule() {
        let doc = serde_json::to_value(crate::openapi::document()).unwrap();
        let mut missing = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                let m = method.to_uppercase();
                if rule(&m, path).is_none() {
                    missing.push(format!("{m} {path}"));
                }
            }
        }
        assert!(missing.is_empty(), "routes without a rule: {missing:?}");
        let docs = include_str!("../../../../docs/security.md");
        assert!(
            docs.contains(&roles_markdown()),
            "docs/security.md must hold roles_markdown():\n{}",
            roles_markdown()
        );
        let mut seen = std::collections::HashSet::new();
        for a in TABLE {
            assert!(
                seen.insert((a.method, a.path)),
                "two rules for {} {}",
                a.method,
                a.path
            );
        }
    }
}
