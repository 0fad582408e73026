//! The OpenAPI 3.1 document, generated from the handlers and wire types.

use crate::auth::Principal;
use crate::routes::{apr, cob, decisions, keys, ledger, lists, loans, revolving};
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct ApiKeyScheme;

impl Modify for ApiKeyScheme {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Every POST whose handler requires the `Idempotency-Key` header (a retry with the same
/// key and body gets the first answer, another body under the key gets 409). Declared in
/// the document so that a client, and the idempotency test that walks these operations,
/// can tell them from the document alone.
pub const IDEMPOTENT_POSTS: &[&str] = &[
    "/v1/ledger/entries",
    "/v1/ledger/entry-batches",
    "/v1/ledger/entries/{id}/reversal",
    "/v1/holds",
    "/v1/holds/{id}/post",
    "/v1/holds/{id}/void",
    "/v1/loans/{id}/disburse",
    "/v1/loans/{id}/repayments",
    "/v1/loans/{id}/repayments/{rid}/reversal",
    "/v1/loans/{id}/prepay",
    "/v1/loans/{id}/refunds",
    "/v1/borrowers",
    "/v1/merchants",
    "/v1/credit-lines",
    "/v1/credit-lines/{id}/repayments",
    "/v1/credit-lines/{id}/refunds",
    "/v1/credit-lines/{id}/changes",
    "/v1/credit-lines/{id}/statement-installments",
    "/v1/purchases",
    "/v1/purchases/{id}/refunds",
];

struct IdempotencyHeader;

impl Modify for IdempotencyHeader {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        use utoipa::openapi::Required;
        for path in IDEMPOTENT_POSTS {
            let op = doc
                .paths
                .paths
                .get_mut(*path)
                .and_then(|item| item.post.as_mut())
                .unwrap_or_else(|| panic!("{path} is a documented POST"));
            let params = op.parameters.get_or_insert_with(Vec::new);
            if params
                .iter()
                .any(|p| p.name.eq_ignore_ascii_case("Idempotency-Key"))
            {
                continue;
            }
            let uuid = ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)));
            params.push(
                ParameterBuilder::new()
                    .name("Idempotency-Key")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::True)
                    .description(Some(
                        "A UUID naming this request (the id it creates, where the body has \
                         an `id`): a retry with the same body is answered as the first \
                         time; another body under the same key is refused with 409.",
                    ))
                    .schema(Some(uuid))
                    .build(),
            );
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Puhui", description = "Inclusive-finance lending core: ledger, loans, credit lines, decisioning."),
    paths(
        ledger::create_account, ledger::get_account, ledger::list_entries,
        ledger::post_entry, ledger::post_batch, ledger::get_entry, ledger::reverse_entry,
        ledger::entry_proof, ledger::tree_head, ledger::consistency,
        ledger::create_hold, ledger::get_hold, ledger::post_hold, ledger::void_hold,
        keys::create_key, apr::apr, decisions::decide, decisions::replay,
        loans::preview_schedule, loans::create_product, loans::get_product,
        loans::apply, loans::get_loan, loans::approve, loans::decline, loans::disburse,
        loans::repay, loans::reverse_repayment, loans::prepayment_quote, loans::prepay,
        loans::refund,
        revolving::create_borrower, revolving::get_borrower, revolving::create_merchant,
        revolving::get_merchant, revolving::create_line, revolving::get_line,
        revolving::line_history, revolving::repay, revolving::refund_overpayment, revolving::change_line,
        revolving::convert_statement, revolving::quote, revolving::authorize,
        revolving::get_purchase, revolving::capture, revolving::void, revolving::refund,
        revolving::convert_purchase, revolving::trace,
        cob::start_run, cob::get_run, cob::business_date,
        keys::list_keys, keys::revoke_key, lists::list_loans, lists::loan_entries,
        lists::list_borrowers, lists::list_lines, lists::list_purchases,
        lists::list_ledger_entries,
    ),
    modifiers(&ApiKeyScheme, &IdempotencyHeader)
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub async fn serve(_p: Principal) -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
