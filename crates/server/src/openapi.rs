//! The OpenAPI 3.1 document, generated from the handlers and wire types.

use crate::auth::Principal;
use crate::routes::{apr, decisions, keys, ledger, lists, loans, revolving};
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
        revolving::create_borrower, revolving::get_borrower, revolving::create_merchant,
        revolving::get_merchant, revolving::create_line, revolving::get_line,
        revolving::line_history, revolving::repay, revolving::change_line,
        revolving::convert_statement, revolving::quote, revolving::authorize,
        revolving::get_purchase, revolving::capture, revolving::void, revolving::refund,
        revolving::convert_purchase, revolving::trace,
        keys::list_keys, keys::revoke_key, lists::list_loans, lists::loan_entries,
        lists::list_borrowers, lists::list_lines, lists::list_purchases,
        lists::list_ledger_entries,
    ),
    modifiers(&ApiKeyScheme)
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub async fn serve(_p: Principal) -> Json<utoipa::openapi::OpenApi> {
    Json(document())
}
