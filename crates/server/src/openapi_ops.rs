//! One table of every operation: its id, who may call it and whether it needs an
//! `Idempotency-Key`. `openapi::document` applies it to the generated document, so the
//! headers, roles and problem answers are stated once instead of on forty annotations.

use crate::auth::Role;

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
    pub roles: &'static [Role],
    pub idem: Idem,
}

pub const ANY: &[Role] = &[
    Role::Operator,
    Role::RiskAnalyst,
    Role::PartnerBank,
    Role::Investor,
    Role::Merchant,
    Role::Borrower,
];
const OPER: &[Role] = &[Role::Operator];
const OPER_RISK: &[Role] = &[Role::Operator, Role::RiskAnalyst];
const OPER_BORROWER: &[Role] = &[Role::Operator, Role::Borrower];
const OPER_MERCHANT: &[Role] = &[Role::Operator, Role::Merchant];
const OPER_BORROWER_MERCHANT: &[Role] = &[Role::Operator, Role::Borrower, Role::Merchant];

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

const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    roles: &'static [Role],
    idem: Idem,
) -> Op {
    Op {
        method,
        path,
        id,
        roles,
        idem,
    }
}

use Idem::No;

/// Every documented operation. `openapi::tests` checks that the document and this table
/// name the same operations, and the router serves each of them.
pub const OPS: &[Op] = &[
    // ledger
    op("post", "/v1/accounts", "createAccount", OPER, No),
    op("get", "/v1/accounts/{id}", "getAccount", ANY, No),
    op(
        "get",
        "/v1/accounts/{id}/entries",
        "listAccountEntries",
        ANY,
        No,
    ),
    op("post", "/v1/ledger/entries", "postEntry", OPER, KEY_IS_ID),
    op(
        "post",
        "/v1/ledger/entry-batches",
        "postEntryBatch",
        OPER,
        KEY_NAMES_ACTION,
    ),
    op("get", "/v1/ledger/entries/{id}", "getEntry", ANY, No),
    op(
        "post",
        "/v1/ledger/entries/{id}/reversal",
        "reverseEntry",
        OPER,
        KEY_IS_ID,
    ),
    op(
        "get",
        "/v1/ledger/entries/{id}/proof",
        "getEntryProof",
        ANY,
        No,
    ),
    op("get", "/v1/ledger/tree-head", "getTreeHead", ANY, No),
    op(
        "get",
        "/v1/ledger/consistency",
        "getConsistencyProof",
        ANY,
        No,
    ),
    op("post", "/v1/holds", "createHold", OPER, KEY_IS_ID),
    op("get", "/v1/holds/{id}", "getHold", OPER, No),
    op(
        "post",
        "/v1/holds/{id}/post",
        "postHold",
        OPER,
        Idem::Required("A UUID; it must equal the body's `entry_id`."),
    ),
    op(
        "post",
        "/v1/holds/{id}/void",
        "voidHold",
        OPER,
        KEY_NAMES_ACTION,
    ),
    // keys, disclosure, decisioning
    op("post", "/v1/api-keys", "createApiKey", OPER, No),
    op("post", "/v1/apr", "computeApr", ANY, No),
    op("post", "/v1/decisions", "decide", OPER_RISK, No),
    op(
        "post",
        "/v1/decisions/{id}/replay",
        "replayDecision",
        OPER_RISK,
        No,
    ),
    // term loans
    op(
        "post",
        "/v1/loan-schedules/preview",
        "previewLoanSchedule",
        ANY,
        No,
    ),
    op("post", "/v1/loan-products", "createLoanProduct", OPER, No),
    op("get", "/v1/loan-products/{id}", "getLoanProduct", ANY, No),
    op("post", "/v1/loans", "applyForLoan", OPER, No),
    op("get", "/v1/loans/{id}", "getLoan", ANY, No),
    op("post", "/v1/loans/{id}/approve", "approveLoan", OPER, No),
    op("post", "/v1/loans/{id}/decline", "declineLoan", OPER, No),
    op(
        "post",
        "/v1/loans/{id}/disburse",
        "disburseLoan",
        OPER,
        KEY_NAMES_ACTION,
    ),
    op(
        "post",
        "/v1/loans/{id}/repayments",
        "repayLoan",
        OPER,
        KEY_NAMES_ACTION,
    ),
    op(
        "post",
        "/v1/loans/{id}/repayments/{rid}/reversal",
        "reverseLoanRepayment",
        OPER,
        KEY_NAMES_ACTION,
    ),
    op(
        "get",
        "/v1/loans/{id}/prepayment-quote",
        "getPrepaymentQuote",
        ANY,
        No,
    ),
    op(
        "post",
        "/v1/loans/{id}/prepay",
        "prepayLoan",
        OPER,
        KEY_NAMES_ACTION,
    ),
    // revolving credit
    op(
        "post",
        "/v1/borrowers",
        "createBorrower",
        OPER,
        KEY_DEFAULTS_ID,
    ),
    op("get", "/v1/borrowers/{id}", "getBorrower", ANY, No),
    op(
        "post",
        "/v1/merchants",
        "createMerchant",
        OPER,
        KEY_DEFAULTS_ID,
    ),
    op("get", "/v1/merchants/{id}", "getMerchant", ANY, No),
    op(
        "post",
        "/v1/credit-lines",
        "createCreditLine",
        OPER,
        KEY_DEFAULTS_ID,
    ),
    op("get", "/v1/credit-lines/{id}", "getCreditLine", ANY, No),
    op(
        "get",
        "/v1/credit-lines/{id}/history",
        "getCreditLineHistory",
        ANY,
        No,
    ),
    op(
        "post",
        "/v1/credit-lines/{id}/repayments",
        "repayCreditLine",
        OPER_BORROWER,
        KEY_DEFAULTS_ID,
    ),
    op(
        "post",
        "/v1/credit-lines/{id}/changes",
        "changeCreditLine",
        OPER_RISK,
        KEY_NAMES_ACTION,
    ),
    op(
        "post",
        "/v1/credit-lines/{id}/statement-installments",
        "convertStatementToInstallments",
        OPER_BORROWER,
        KEY_NAMES_ACTION,
    ),
    op(
        "get",
        "/v1/installment-quotes/{months}/{fee_rate}",
        "getInstallmentQuote",
        ANY,
        No,
    ),
    op(
        "post",
        "/v1/purchases",
        "authorizePurchase",
        OPER_MERCHANT,
        KEY_DEFAULTS_ID,
    ),
    op("get", "/v1/purchases/{id}", "getPurchase", ANY, No),
    op(
        "post",
        "/v1/purchases/{id}/capture",
        "capturePurchase",
        OPER_MERCHANT,
        No,
    ),
    op(
        "post",
        "/v1/purchases/{id}/void",
        "voidPurchase",
        OPER_MERCHANT,
        No,
    ),
    op(
        "post",
        "/v1/purchases/{id}/refunds",
        "refundPurchase",
        OPER_MERCHANT,
        KEY_DEFAULTS_ID,
    ),
    op(
        "post",
        "/v1/purchases/{id}/installments",
        "convertPurchaseToInstallments",
        OPER_BORROWER_MERCHANT,
        No,
    ),
    op("get", "/v1/purchases/{id}/trace", "tracePurchase", ANY, No),
];

pub fn find(method: &str, path: &str) -> Option<&'static Op> {
    OPS.iter().find(|o| o.method == method && o.path == path)
}
