//! Purchases: authorization, capture, sale, void, refund and conversion to installments.

use super::accounts::*;
use super::docs::*;
use super::lines::*;
use crate::{Command, Engine, EngineError};
use ledger::{HoldRequest, LedgerError, Posting, Side};
use money::{BusinessDate, Currency};
use revolving::{FeePayer, LineStatus, Purpose};
use std::sync::Arc;
use store::DomainWrite;
use uuid::Uuid;

pub struct NewPurchase {
    pub id: Uuid,
    pub line_id: Uuid,
    pub merchant_id: Uuid,
    pub currency: Currency,
    pub amount_minor: i64,
}

/// A merchant from this engine's cache, or from the store (then cached): merchant
/// documents are never rewritten, so a cached one is never stale.
pub(super) async fn cached_merchant(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<Arc<Merchant>, RevolvingError> {
    let hit = engine.documents().merchants.get(id);
    let m = match hit {
        Some(m) => m,
        None => {
            let m = Arc::new(load::<Merchant>(engine, MERCHANT, id, "*").await?.doc);
            engine.documents().merchants.put(id, m.clone());
            m
        }
    };
    if tenant != "*" && m.tenant != tenant {
        return Err(RevolvingError::NotFound(MERCHANT));
    }
    Ok(m)
}

/// The merchant of a new purchase, once its amount is known to be positive.
pub(super) async fn purchase_merchant(
    engine: &Engine,
    tenant: &str,
    n: &NewPurchase,
) -> Result<Arc<Merchant>, RevolvingError> {
    if n.amount_minor <= 0 {
        return Err(invalid("amount_minor", "must be positive"));
    }
    cached_merchant(engine, tenant, n.merchant_id)
        .await
        .map_err(|_| invalid("merchant_id", "no such merchant"))
}

/// Authorizes a purchase: a hold `available → used` for its amount. Declined (nothing
/// stored) when the available limit cannot cover it; refused when the line is not active
/// or the merchant unknown. The same id again answers with the stored purchase.
pub async fn authorize(
    engine: &Engine,
    tenant: &str,
    n: NewPurchase,
) -> Result<(Purchase, bool), RevolvingError> {
    let _admitted = admit(engine, tenant, &n).await?;
    authorize_admitted(engine, tenant, n).await
}

/// Checks a new purchase against the halts in force (see `crate::controls`).
async fn admit<'a>(
    engine: &'a Engine,
    tenant: &str,
    n: &NewPurchase,
) -> Result<crate::controls::Admitted<'a>, RevolvingError> {
    let what = crate::controls::Admission::Purchase {
        tenant,
        merchant_id: n.merchant_id,
    };
    Ok(engine.admit(what).await?)
}

/// [`authorize`] once admitted.
async fn authorize_admitted(
    engine: &Engine,
    tenant: &str,
    n: NewPurchase,
) -> Result<(Purchase, bool), RevolvingError> {
    if n.amount_minor <= 0 {
        return Err(invalid("amount_minor", "must be positive"));
    }
    // No read for a retry first: a retry fails to insert the purchase (or its hold) again,
    // and is then answered from storage.
    let e = match authorize_new(engine, tenant, &n).await {
        Ok(p) => return Ok((p, false)),
        Err(e) => e,
    };
    match load::<Purchase>(engine, PURCHASE, n.id, tenant).await {
        Ok(p) => same_or_conflict(p.doc, |p| {
            p.line_id == n.line_id
                && p.merchant_id == n.merchant_id
                && p.currency == n.currency
                && p.amount_minor == n.amount_minor
        }),
        Err(_) => Err(e),
    }
}

/// Authorizes a purchase not seen before, from the line as this process last read or wrote
/// it, in its turn on the line; the commit names the line's version, so a line changed
/// elsewhere (frozen, say) is read again and checked again.
async fn authorize_new(
    engine: &Engine,
    tenant: &str,
    n: &NewPurchase,
) -> Result<Purchase, RevolvingError> {
    let merchant = purchase_merchant(engine, tenant, n).await?;
    engine.risk_halts().ensure_loaded(engine).await?;
    let _turn = engine.documents().turns.turn(n.line_id).await;
    for _ in 0..STALE_RETRIES_MAX {
        let line = cached_line(engine, n.line_id, tenant)
            .await
            .map_err(|_| invalid("credit_line_id", "no such credit line"))?;
        check_purchase(&line.doc, &merchant, n)?;
        check_not_halted(engine, &line.doc)?;
        let p = authorized_purchase(tenant, n, line.doc.line.business_date);
        let hold = Command::Hold(HoldRequest {
            id: hold_id(p.id),
            currency: p.currency,
            debit_account_id: line_account(&line.doc, Purpose::Available),
            credit_account_id: line_account(&line.doc, Purpose::Used),
            amount_minor: p.amount_minor,
            expires_at_ms: Some(engine.now_ms() + AUTHORIZATION_TTL_MS),
            memo: format!("purchase {} at merchant {}", p.id, p.merchant_id),
        });
        let writes = vec![
            purchase_write(&p, None),
            DomainWrite::DocAt {
                id: line.doc.id,
                version: line.version,
            },
        ];
        match engine.submit_with(vec![hold], writes).await {
            Ok(_) => {
                engine.documents().purchases.put(p.id, (p.clone(), 1));
                return Ok(p);
            }
            Err(EngineError::StaleDoc { id }) if id == n.line_id => {
                engine.documents().lines.forget(id);
                tokio::task::yield_now().await
            }
            Err(EngineError::StaleDoc { .. }) => {
                return Err(conflict("id_reused", "this id was taken meanwhile; retry"))
            }
            Err(EngineError::Rejected(LedgerError::ConstraintViolated { .. })) => {
                return Err(declined(p.amount_minor))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(conflict(
        "changed_meanwhile",
        "the line kept changing; retry",
    ))
}

/// An authorization as this process made it, else as stored.
async fn cached_purchase(
    engine: &Engine,
    id: Uuid,
    tenant: &str,
) -> Result<Versioned<Purchase>, RevolvingError> {
    match engine.documents().purchases.get(id) {
        Some((doc, version)) if tenant == "*" || doc.tenant == tenant => {
            Ok(Versioned { doc, version })
        }
        Some(_) => Err(RevolvingError::NotFound(PURCHASE)),
        None => load::<Purchase>(engine, PURCHASE, id, tenant).await,
    }
}

/// A one-step sale: authorization and capture of the whole amount in one commit, and one
/// entry: its first postings move the limit `available → used` (what the authorization's
/// hold post does in two steps), the rest are the capture's, under the capture's id. A retry, or an id
/// first used by a plain authorization, takes the two-step path, which answers replays.
pub async fn sale(
    engine: &Engine,
    tenant: &str,
    n: NewPurchase,
) -> Result<(Purchase, bool), RevolvingError> {
    let _admitted = admit(engine, tenant, &n).await?;
    // No read for a retry first: the purchase's insert fails if its id is taken.
    let merchant = purchase_merchant(engine, tenant, &n).await?;
    engine.risk_halts().ensure_loaded(engine).await?;
    let mut sold = None;
    let r = run_line(engine, tenant, n.line_id, false, |v, _| {
        check_purchase(&v.doc, &merchant, &n)?;
        check_not_halted(engine, &v.doc)?;
        let p = sold_purchase(tenant, &n, v.doc.line.business_date);
        let mut plan = LinePlan::new(
            revolving::Command::Capture {
                amount_minor: p.amount_minor,
            },
            capture_entry(p.id),
            format!("purchase {} at merchant {}", p.id, p.merchant_id),
        );
        plan.merchant = Some(p.merchant_id);
        plan.leading = limit_taken(&v.doc, p.amount_minor);
        plan.writes = vec![purchase_write(&p, None)];
        sold = Some(p);
        Ok(plan)
    })
    .await;
    let e = match r {
        Ok(_) => return Ok((sold.expect("a committed plan was built"), false)),
        Err(e) => e,
    };
    // A retry of a sale that went through (its insert failed, or the line has since moved
    // on) is answered by the two-step path, which finds the stored purchase.
    if load::<Purchase>(engine, PURCHASE, n.id, tenant)
        .await
        .is_ok()
    {
        return sale_in_two_steps(engine, tenant, n).await;
    }
    match e {
        RevolvingError::NotFound(_) => Err(invalid("credit_line_id", "no such credit line")),
        // The line's own check or the ledger's constraint on `available`: either way the
        // limit does not cover the sale.
        RevolvingError::Engine(EngineError::Rejected(LedgerError::ConstraintViolated {
            ..
        }))
        | RevolvingError::Line(revolving::LineError::TooLarge {
            field: "amount_minor",
            ..
        }) => Err(declined(n.amount_minor)),
        e => Err(e),
    }
}

pub(super) async fn sale_in_two_steps(
    engine: &Engine,
    tenant: &str,
    n: NewPurchase,
) -> Result<(Purchase, bool), RevolvingError> {
    // Admitted by the sale that calls this.
    let (p, replayed) = authorize_admitted(engine, tenant, n).await?;
    let (captured, _) = capture(engine, tenant, p.id, None).await?;
    Ok((captured, replayed))
}

pub(super) fn authorized_purchase(tenant: &str, n: &NewPurchase, today: BusinessDate) -> Purchase {
    Purchase {
        id: n.id,
        tenant: tenant.into(),
        line_id: n.line_id,
        merchant_id: n.merchant_id,
        currency: n.currency,
        amount_minor: n.amount_minor,
        status: PurchaseStatus::Authorized,
        captured_minor: 0,
        refunded_minor: 0,
        authorized_on: today,
        captured_on: None,
        refunds: Vec::new(),
        installment_months: None,
    }
}

pub(super) fn sold_purchase(tenant: &str, n: &NewPurchase, today: BusinessDate) -> Purchase {
    Purchase {
        status: PurchaseStatus::Captured,
        captured_minor: n.amount_minor,
        captured_on: Some(today),
        ..authorized_purchase(tenant, n, today)
    }
}

/// The limit a sale takes: what posting its authorization's hold would have moved.
pub(super) fn limit_taken(l: &LineDoc, amount_minor: i64) -> Vec<Posting> {
    vec![
        Posting {
            account_id: line_account(l, Purpose::Available),
            direction: Side::Debit,
            amount_minor,
        },
        Posting {
            account_id: line_account(l, Purpose::Used),
            direction: Side::Credit,
            amount_minor,
        },
    ]
}

pub(super) fn declined(amount_minor: i64) -> RevolvingError {
    RevolvingError::Declined {
        reason: "insufficient_available_limit",
        detail: format!("the line's available limit does not cover {amount_minor} minor units"),
    }
}

/// Early warning may have stopped the line's borrower from new purchases (`monitor`).
pub(super) fn check_not_halted(engine: &Engine, line: &LineDoc) -> Result<(), RevolvingError> {
    if engine.risk_halts().is_halted(line.borrower_id) {
        return Err(conflict(
            "customer_halted",
            crate::monitor::halts::refusal(line.borrower_id),
        ));
    }
    Ok(())
}

pub(super) fn check_purchase(
    line: &LineDoc,
    m: &Merchant,
    n: &NewPurchase,
) -> Result<(), RevolvingError> {
    if n.currency != line.line.terms.currency {
        return Err(invalid(
            "currency",
            format!("the line is in {}", line.line.terms.currency),
        ));
    }
    if m.currency != n.currency {
        return Err(invalid(
            "currency",
            format!("the merchant settles in {}", m.currency),
        ));
    }
    match line.line.status {
        LineStatus::Active => Ok(()),
        LineStatus::Frozen => Err(conflict("line_frozen", "the credit line is frozen")),
        LineStatus::Closed => Err(conflict("line_closed", "the credit line is closed")),
    }
}

pub async fn purchase(engine: &Engine, tenant: &str, id: Uuid) -> Result<Purchase, RevolvingError> {
    Ok(load::<Purchase>(engine, PURCHASE, id, tenant).await?.doc)
}

/// Captures an authorization, fully or partly (the rest of the hold is released). The
/// merchant's payable is credited; the borrower never holds the money.
pub async fn capture(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
    amount_minor: Option<i64>,
) -> Result<(Purchase, bool), RevolvingError> {
    for _ in 0..STALE_RETRIES_MAX {
        let p = cached_purchase(engine, id, tenant).await?;
        let amount = amount_minor.unwrap_or(p.doc.amount_minor);
        match p.doc.status {
            PurchaseStatus::Captured if amount == p.doc.captured_minor => return Ok((p.doc, true)),
            PurchaseStatus::Authorized => {}
            s => {
                return Err(conflict(
                    "purchase_not_authorized",
                    format!("the purchase is {s:?}, not authorized"),
                ))
            }
        }
        if amount <= 0 {
            return Err(invalid("amount_minor", "must be positive"));
        }
        if amount > p.doc.amount_minor {
            return Err(invalid(
                "amount_minor",
                format!("exceeds the authorized {}", p.doc.amount_minor),
            ));
        }
        let mut after = p.doc.clone();
        after.status = PurchaseStatus::Captured;
        after.captured_minor = amount;
        let r = capture_once(engine, tenant, &p, after).await;
        // Captured, or changed elsewhere: either way the cached copy is done with.
        engine.documents().purchases.forget(id);
        match r {
            Ok(done) => return Ok((done, false)),
            Err(RevolvingError::Engine(EngineError::StaleDoc { .. })) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(conflict(
        "changed_meanwhile",
        "the purchase kept changing; retry",
    ))
}

pub(super) async fn capture_once(
    engine: &Engine,
    tenant: &str,
    p: &Versioned<Purchase>,
    mut after: Purchase,
) -> Result<Purchase, RevolvingError> {
    let amount = after.captured_minor;
    let post = Command::PostHold {
        hold_id: hold_id(p.doc.id),
        entry_id: capture_limit_entry(p.doc.id),
        amount_minor: Some(amount),
        memo: format!("purchase {} captured", p.doc.id),
    };
    run_line(engine, tenant, p.doc.line_id, false, |v, _| {
        after.captured_on = Some(v.doc.line.business_date);
        let mut plan = LinePlan::new(
            revolving::Command::Capture {
                amount_minor: amount,
            },
            capture_entry(p.doc.id),
            format!("purchase {} at merchant {}", p.doc.id, p.doc.merchant_id),
        );
        plan.merchant = Some(p.doc.merchant_id);
        plan.before = vec![post.clone()];
        plan.writes = vec![purchase_write(&after, Some(p.version))];
        Ok(plan)
    })
    .await
    .map_err(|e| match e {
        RevolvingError::Engine(EngineError::Rejected(LedgerError::HoldExpired { .. })) => conflict(
            "authorization_expired",
            "the authorization expired; authorize again",
        ),
        other => other,
    })?;
    Ok(after)
}

/// Releases an authorization that will not be captured.
pub async fn void(
    engine: &Engine,
    tenant: &str,
    id: Uuid,
) -> Result<(Purchase, bool), RevolvingError> {
    let p = load::<Purchase>(engine, PURCHASE, id, tenant).await?;
    match p.doc.status {
        PurchaseStatus::Voided => return Ok((p.doc, true)),
        PurchaseStatus::Authorized => {}
        PurchaseStatus::Captured => {
            return Err(conflict(
                "purchase_captured",
                "a captured purchase is refunded, not voided",
            ))
        }
    }
    let mut after = p.doc.clone();
    after.status = PurchaseStatus::Voided;
    let void = Command::VoidHold {
        hold_id: hold_id(id),
    };
    let write = purchase_write(&after, Some(p.version));
    engine.documents().purchases.forget(id);
    match engine.submit_with(vec![void], vec![write]).await {
        Ok(_) => Ok((after, false)),
        Err(EngineError::Rejected(LedgerError::HoldExpired { .. }))
        | Err(EngineError::Rejected(LedgerError::HoldNotPending { .. })) => Err(conflict(
            "authorization_expired",
            "the authorization is no longer pending",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Refunds part or all of what was captured and not yet refunded: the borrower's debt and
/// the statement shrink, the limit comes back, the merchant's payable is debited.
pub async fn refund(
    engine: &Engine,
    tenant: &str,
    purchase_id: Uuid,
    refund_id: Uuid,
    amount_minor: i64,
) -> Result<(Purchase, bool), RevolvingError> {
    if amount_minor <= 0 {
        return Err(invalid("amount_minor", "must be positive"));
    }
    change_purchase(engine, tenant, purchase_id, |p| {
        if let Some(r) = p.refunds.iter().find(|r| r.id == refund_id) {
            if r.amount_minor != amount_minor {
                return Err(conflict(
                    "id_reused",
                    "this refund id was used with another amount",
                ));
            }
            return Ok(None);
        }
        if p.status != PurchaseStatus::Captured {
            return Err(conflict(
                "purchase_not_captured",
                "only a captured purchase is refunded",
            ));
        }
        let refundable = p.captured_minor - p.refunded_minor;
        if amount_minor > refundable {
            return Err(invalid(
                "amount_minor",
                format!("exceeds what can still be refunded: {refundable}"),
            ));
        }
        let entry_id = derived_entry(refund_id, "refund");
        let mut after = p.clone();
        after.refunded_minor += amount_minor;
        after.refunds.push(Refund {
            id: refund_id,
            amount_minor,
            entry_id: entry_id.0,
        });
        let plan_id = p.installment_months.map(|_| *p.id.as_bytes());
        Ok(Some(PurchaseChange {
            after,
            plan: LinePlan::new(
                revolving::Command::Refund {
                    amount_minor,
                    plan_id,
                },
                entry_id,
                format!("refund {refund_id} of purchase {purchase_id}"),
            ),
        }))
    })
    .await
}

/// Turns a captured purchase into monthly installments.
pub async fn convert_purchase(
    engine: &Engine,
    tenant: &str,
    purchase_id: Uuid,
    months: u32,
    fee_payer: FeePayer,
) -> Result<(Purchase, bool), RevolvingError> {
    change_purchase(engine, tenant, purchase_id, |p| {
        if let Some(m) = p.installment_months {
            if m == months {
                return Ok(None);
            }
            return Err(conflict(
                "already_converted",
                format!("already in {m} installments"),
            ));
        }
        if p.status != PurchaseStatus::Captured {
            return Err(conflict(
                "purchase_not_captured",
                "only a captured purchase is converted",
            ));
        }
        let mut after = p.clone();
        after.installment_months = Some(months);
        Ok(Some(PurchaseChange {
            after,
            plan: LinePlan::new(
                revolving::Command::ConvertPurchase {
                    plan_id: *purchase_id.as_bytes(),
                    amount_minor: p.captured_minor - p.refunded_minor,
                    months,
                    fee_payer,
                },
                derived_entry(purchase_id, "installments"),
                format!("purchase {purchase_id} in {months} installments"),
            ),
        }))
    })
    .await
}

/// A purchase as it will be after a line command, and that command.
pub(super) struct PurchaseChange {
    after: Purchase,
    plan: LinePlan,
}

/// Commits a change to a captured purchase with its line command (the merchant named, the
/// purchase rewritten under the version read). `decide` answers `None` for a replay of a
/// change already made. A purchase changed meanwhile is read and decided again.
pub(super) async fn change_purchase(
    engine: &Engine,
    tenant: &str,
    purchase_id: Uuid,
    mut decide: impl FnMut(&Purchase) -> Result<Option<PurchaseChange>, RevolvingError>,
) -> Result<(Purchase, bool), RevolvingError> {
    for _ in 0..STALE_RETRIES_MAX {
        let p = load::<Purchase>(engine, PURCHASE, purchase_id, tenant).await?;
        let Some(change) = decide(&p.doc)? else {
            return Ok((p.doc, true));
        };
        let write = purchase_write(&change.after, Some(p.version));
        let r = run_line(engine, tenant, p.doc.line_id, false, |_, _| {
            let mut plan = LinePlan::new(
                change.plan.command.clone(),
                change.plan.entry_id,
                change.plan.memo.clone(),
            );
            plan.merchant = Some(p.doc.merchant_id);
            plan.writes = vec![write.clone()];
            Ok(plan)
        })
        .await;
        match r {
            Ok(_) => return Ok((change.after, false)),
            Err(RevolvingError::Engine(EngineError::StaleDoc { .. })) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(conflict(
        "changed_meanwhile",
        "the purchase kept changing; retry",
    ))
}

/// Turns the latest statement's unpaid revolving principal into installments.
pub async fn convert_statement(
    engine: &Engine,
    tenant: &str,
    line_id: Uuid,
    key: Uuid,
    months: u32,
) -> Result<LineDoc, RevolvingError> {
    let memo = format!("statement in {months} installments");
    if let Some(e) = engine.entry(derived_entry(key, "installments")).await? {
        // The key names one conversion: the same months again is a retry, others a reuse.
        if e.memo != memo {
            return Err(conflict(
                "id_reused",
                "this Idempotency-Key was used for another conversion",
            ));
        }
        return Ok(load::<LineDoc>(engine, LINE, line_id, tenant).await?.doc);
    }
    // A conversion without a fee moves no money, so it leaves no entry: the plan it made,
    // named by the key, is what tells a retry.
    let line = load::<LineDoc>(engine, LINE, line_id, tenant).await?.doc;
    if let Some(plan) = line.line.plans.iter().find(|p| p.id == *key.as_bytes()) {
        if plan.months != months {
            return Err(conflict(
                "id_reused",
                "this Idempotency-Key was used for another conversion",
            ));
        }
        return Ok(line);
    }
    run_line(engine, tenant, line_id, false, |_, _| {
        Ok(LinePlan::new(
            revolving::Command::ConvertStatement {
                plan_id: *key.as_bytes(),
                months,
            },
            derived_entry(key, "installments"),
            memo.clone(),
        ))
    })
    .await
}
