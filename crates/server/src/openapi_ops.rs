//! One table of every operation: its id, who may call it and whether it needs an
//! `Idempotency-Key`. `openapi::document` applies it to the generated document, so the
//! headers, roles and problem answers are stated once instead of on forty annotations.

/// Whether a POST needs an `Idempotency-Key` header, and what the key must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idem {
    No,
    /// Required; the text says how the key relates to the request.
    Required(&'static str),
}

#[derive(Clone, Copy, Debug)]
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    pub idem: Idem,
}

const KEY_IS_ID: Idem = Idem::Required(
    "A UUID; it must equal the body's `id`, which is the idempotency key of what is created.",
);
const KEY_NAMES_ACTION: Idem = Idem::Required(
    "A UUID naming this request: a retry with the same key and body answers the original \
     result and moves nothing twice.",
);
const KEY_DEFAULTS_ID: Idem = Idem::Required(
    "A UUID; the id of what is created. When the body names an `id`, the key must equal it.",
);

const fn op(method: &'static str, path: &'static str, id: &'static str, idem: Idem) -> Op {
    Op {
        method,
        path,
        id,
        idem,
    }
}

use Idem::No;

/// Every documented operation. `openapi::tests` checks that the document and this table
/// name the same operations, and the router serves each of them.
pub const OPS: &[Op] = &[
    // ledger
    op("post", "/v1/accounts", "createAccount", No),
    op("get", "/v1/accounts/{id}", "getAccount", No),
    op("get", "/v1/accounts/{id}/entries", "listAccountEntries", No),
    op("post", "/v1/ledger/entries", "postEntry", KEY_IS_ID),
    op(
        "post",
        "/v1/ledger/entry-batches",
        "postEntryBatch",
        KEY_NAMES_ACTION,
    ),
    op("get", "/v1/ledger/entries/{id}", "getEntry", No),
    op(
        "post",
        "/v1/ledger/entries/{id}/reversal",
        "reverseEntry",
        KEY_IS_ID,
    ),
    op("get", "/v1/ledger/entries/{id}/proof", "getEntryProof", No),
    op("get", "/v1/ledger/tree-head", "getTreeHead", No),
    op("get", "/v1/ledger/consistency", "getConsistencyProof", No),
    op("post", "/v1/holds", "createHold", KEY_IS_ID),
    op("get", "/v1/holds/{id}", "getHold", No),
    op(
        "post",
        "/v1/holds/{id}/post",
        "postHold",
        Idem::Required("A UUID; it must equal the body's `entry_id`."),
    ),
    op("post", "/v1/holds/{id}/void", "voidHold", KEY_NAMES_ACTION),
    // keys, disclosure, decisioning
    op("post", "/v1/api-keys", "createApiKey", No),
    op("post", "/v1/apr", "computeApr", No),
    op("post", "/v1/decisions", "decide", No),
    op("get", "/v1/decisions/{id}", "getDecision", No),
    op("post", "/v1/decisions/{id}/replay", "replayDecision", No),
    op("get", "/v1/events", "listEvents", No),
    op("post", "/v1/webhooks", "createWebhook", KEY_DEFAULTS_ID),
    op("get", "/v1/webhooks", "listWebhooks", No),
    op("get", "/v1/webhooks/{id}", "getWebhook", No),
    op("post", "/v1/webhooks/{id}/disable", "disableWebhook", No),
    op(
        "post",
        "/v1/webhooks/{id}/redeliver",
        "redeliverWebhook",
        No,
    ),
    op(
        "get",
        "/v1/webhooks/{id}/deliveries",
        "listWebhookDeliveries",
        No,
    ),
    // emergency controls
    op("post", "/v1/controls/halts", "createHalt", KEY_DEFAULTS_ID),
    op("get", "/v1/controls/halts", "listHalts", No),
    op("get", "/v1/controls/halts/{id}", "getHalt", No),
    op("post", "/v1/controls/halts/{id}/lift", "liftHalt", No),
    op("post", "/v1/controls/read-only", "setReadOnly", No),
    op("get", "/v1/controls/read-only", "getReadOnly", No),
    op("post", "/v1/controls/funder-outages", "setFunderOutage", No),
    op(
        "get",
        "/v1/controls/funder-outages",
        "listFunderOutages",
        No,
    ),
    // portfolio analytics
    op("get", "/v1/analytics/vintage", "analyticsVintage", No),
    op("get", "/v1/analytics/roll-rates", "analyticsRollRates", No),
    op(
        "get",
        "/v1/analytics/delinquency",
        "analyticsDelinquency",
        No,
    ),
    op("get", "/v1/analytics/approvals", "analyticsApprovals", No),
    op(
        "get",
        "/v1/analytics/concentration",
        "analyticsConcentration",
        No,
    ),
    // term loans
    op(
        "post",
        "/v1/loan-schedules/preview",
        "previewLoanSchedule",
        No,
    ),
    op("post", "/v1/loan-products", "createLoanProduct", No),
    op("get", "/v1/loan-products/{id}", "getLoanProduct", No),
    op("post", "/v1/loans", "applyForLoan", No),
    op("get", "/v1/loans/{id}", "getLoan", No),
    op("post", "/v1/loans/{id}/approve", "approveLoan", No),
    op("post", "/v1/loans/{id}/decline", "declineLoan", No),
    op(
        "post",
        "/v1/loans/{id}/disburse",
        "disburseLoan",
        KEY_NAMES_ACTION,
    ),
    op(
        "post",
        "/v1/loans/{id}/repayments",
        "repayLoan",
        KEY_NAMES_ACTION,
    ),
    op(
        "post",
        "/v1/loans/{id}/repayments/{rid}/reversal",
        "reverseLoanRepayment",
        KEY_NAMES_ACTION,
    ),
    op(
        "get",
        "/v1/loans/{id}/prepayment-quote",
        "getPrepaymentQuote",
        No,
    ),
    op(
        "post",
        "/v1/loans/{id}/prepay",
        "prepayLoan",
        KEY_NAMES_ACTION,
    ),
    // revolving credit
    op("post", "/v1/borrowers", "createBorrower", KEY_DEFAULTS_ID),
    op("get", "/v1/borrowers/{id}", "getBorrower", No),
    // co-lending
    op(
        "post",
        "/v1/funding-partners",
        "createFundingPartner",
        KEY_DEFAULTS_ID,
    ),
    op("get", "/v1/funding-partners", "listFundingPartners", No),
    op(
        "post",
        "/v1/first-loss-deposits",
        "createFirstLossDeposit",
        KEY_DEFAULTS_ID,
    ),
    op(
        "get",
        "/v1/first-loss-deposits",
        "listFirstLossDeposits",
        No,
    ),
    op(
        "get",
        "/v1/first-loss-deposits/{id}",
        "getFirstLossDeposit",
        No,
    ),
    op("get", "/v1/funding-partners/{id}", "getFundingPartner", No),
    op(
        "post",
        "/v1/funding-partners/{id}/changes",
        "changeFundingPartner",
        KEY_NAMES_ACTION,
    ),
    op(
        "get",
        "/v1/funding-partners/{id}/positions",
        "listFundingPartnerPositions",
        No,
    ),
    op(
        "get",
        "/v1/funding-partners/{id}/recon/{date}",
        "getReconManifest",
        No,
    ),
    op(
        "get",
        "/v1/funding-partners/{id}/recon/{date}/{file}",
        "getReconFile",
        No,
    ),
    op(
        "post",
        "/v1/loan-products/{id}/funding-plan",
        "setFundingPlan",
        KEY_NAMES_ACTION,
    ),
    op(
        "get",
        "/v1/loan-products/{id}/funding-plan",
        "getFundingPlan",
        No,
    ),
    op("post", "/v1/merchants", "createMerchant", KEY_DEFAULTS_ID),
    op("get", "/v1/merchants/{id}", "getMerchant", No),
    op(
        "post",
        "/v1/credit-lines",
        "createCreditLine",
        KEY_DEFAULTS_ID,
    ),
    op("get", "/v1/credit-lines/{id}", "getCreditLine", No),
    op(
        "get",
        "/v1/credit-lines/{id}/history",
        "getCreditLineHistory",
        No,
    ),
    op(
        "post",
        "/v1/credit-lines/{id}/repayments",
        "repayCreditLine",
        KEY_DEFAULTS_ID,
    ),
    op(
        "post",
        "/v1/credit-lines/{id}/changes",
        "changeCreditLine",
        KEY_NAMES_ACTION,
    ),
    op(
        "post",
        "/v1/credit-lines/{id}/statement-installments",
        "convertStatementToInstallments",
        KEY_NAMES_ACTION,
    ),
    op(
        "get",
        "/v1/installment-quotes/{months}/{fee_rate}",
        "getInstallmentQuote",
        No,
    ),
    op(
        "post",
        "/v1/purchases",
        "authorizePurchase",
        KEY_DEFAULTS_ID,
    ),
    op("get", "/v1/purchases/{id}", "getPurchase", No),
    op("post", "/v1/purchases/{id}/capture", "capturePurchase", No),
    op("post", "/v1/purchases/{id}/void", "voidPurchase", No),
    op(
        "post",
        "/v1/purchases/{id}/refunds",
        "refundPurchase",
        KEY_DEFAULTS_ID,
    ),
    op(
        "post",
        "/v1/purchases/{id}/installments",
        "convertPurchaseToInstallments",
        No,
    ),
    op("get", "/v1/purchases/{id}/trace", "tracePurchase", No),
    op(
        "post",
        "/v1/loans/{id}/refunds",
        "refundLoanOverpayment",
        KEY_DEFAULTS_ID,
    ),
    op(
        "post",
        "/v1/loans/{id}/recoveries",
        "recoverWrittenOffLoan",
        KEY_DEFAULTS_ID,
    ),
    op(
        "post",
        "/v1/credit-lines/{id}/refunds",
        "refundLineOverpayment",
        KEY_DEFAULTS_ID,
    ),
    // securitization (stateless)
    op("post", "/v1/abs/deals/validate", "validateAbsDeal", No),
    op("post", "/v1/abs/projections", "projectAbsDeal", No),
    op("post", "/v1/abs/monte-carlo", "simulateAbsLosses", No),
    op("post", "/v1/abs/deals", "createAbsDeal", KEY_DEFAULTS_ID),
    op("get", "/v1/abs/deals", "listAbsDeals", No),
    op("get", "/v1/abs/deals/{id}", "getAbsDeal", No),
    op("post", "/v1/abs/deals/{id}/pool", "poolAbsDeal", No),
    op("get", "/v1/abs/deals/{id}/pool", "getAbsPool", No),
    op("get", "/v1/abs/deals/{id}/pool/tape", "getAbsPoolTape", No),
    op(
        "post",
        "/v1/abs/deals/{id}/close",
        "closeAbsDeal",
        KEY_NAMES_ACTION,
    ),
    op("get", "/v1/abs/deals/{id}/periods", "listAbsPeriods", No),
    op(
        "post",
        "/v1/abs/deals/{id}/periods/{n}/run",
        "runAbsPeriod",
        KEY_NAMES_ACTION,
    ),
    op(
        "get",
        "/v1/abs/deals/{id}/periods/{n}/report",
        "getAbsInvestorReport",
        No,
    ),
    op(
        "post",
        "/v1/abs/deals/{id}/repurchases",
        "repurchaseAbsLoan",
        KEY_NAMES_ACTION,
    ),
    // close of business
    op(
        "post",
        "/v1/close-of-business",
        "startCloseOfBusiness",
        KEY_DEFAULTS_ID,
    ),
    op(
        "get",
        "/v1/close-of-business/{id}",
        "getCloseOfBusinessRun",
        No,
    ),
    op("get", "/v1/business-date", "getBusinessDate", No),
    // keys and lists
    op("get", "/v1/api-keys", "listApiKeys", No),
    op("post", "/v1/api-keys/{id}/revoke", "revokeApiKey", No),
    op("get", "/v1/loans", "listLoans", No),
    op("get", "/v1/loans/{id}/entries", "listLoanEntries", No),
    op("get", "/v1/borrowers", "listBorrowers", No),
    op("get", "/v1/credit-lines", "listCreditLines", No),
    op("get", "/v1/purchases", "listPurchases", No),
    op("get", "/v1/ledger/entries", "listLedgerEntries", No),
    // customers and compliance
    op("post", "/v1/customers", "createCustomer", KEY_DEFAULTS_ID),
    op("get", "/v1/customers", "listCustomers", No),
    op("get", "/v1/customers/{id}", "getCustomer", No),
    op(
        "get",
        "/v1/customers/{id}/exposure",
        "getCustomerExposure",
        No,
    ),
    op("get", "/v1/compliance/report", "getComplianceReport", No),
    op("get", "/v1/audit", "listAuditLog", No),
    op(
        "post",
        "/v1/customers/{id}/signals",
        "postCustomerSignal",
        KEY_DEFAULTS_ID,
    ),
    op("get", "/v1/customers/{id}/risk", "getCustomerRisk", No),
];

pub fn find(method: &str, path: &str) -> Option<&'static Op> {
    OPS.iter().find(|o| o.method == method && o.path == path)
}
