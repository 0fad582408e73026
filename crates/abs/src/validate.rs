//! Deal validation: every error names its field, as a path into the deal file.

use crate::deal::*;
use rust_decimal::Decimal;
use std::collections::HashSet;

/// One problem with a deal file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Path of the field, e.g. `bonds[1].balance_minor`, `waterfalls.normal[2].bonds[0]`.
    pub field: String,
    /// Stable machine code, e.g. `out_of_range`, `unknown_bond`.
    pub code: &'static str,
    pub message: String,
}

struct Errors(Vec<FieldError>);

impl Errors {
    fn push(&mut self, field: impl Into<String>, code: &'static str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            code,
            message: message.into(),
        });
    }
    fn fraction(&mut self, field: impl Into<String>, value: Decimal) {
        if value < Decimal::ZERO || value > Decimal::ONE {
            self.push(
                field,
                "out_of_range",
                format!("{value} is not between 0 and 1"),
            );
        }
    }
    fn non_negative(&mut self, field: impl Into<String>, value_minor: i64) {
        if value_minor < 0 {
            self.push(field, "negative", "must not be negative");
        }
    }
    fn names<'a>(&mut self, list: &str, names: impl Iterator<Item = &'a str>) {
        let mut seen = HashSet::new();
        for (i, name) in names.enumerate() {
            if name.trim().is_empty() {
                self.push(format!("{list}[{i}].name"), "empty", "a name is required");
            } else if !seen.insert(name) {
                self.push(
                    format!("{list}[{i}].name"),
                    "duplicate",
                    format!("{name:?} is used twice"),
                );
            }
        }
    }
}

impl Deal {
    /// Checks the whole deal and returns every problem found, not just the first.
    pub fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors(Vec::new());
        if self.name.trim().is_empty() {
            e.push("name", "empty", "a name is required");
        }
        self.validate_dates(&mut e);
        if self.pool_balance_minor <= 0 {
            e.push(
                "pool_balance_minor",
                "not_positive",
                "the pool balance must be positive",
            );
        }
        if self.purchase_price <= Decimal::ZERO {
            e.push(
                "purchase_price",
                "not_positive",
                "the purchase price must be positive",
            );
        }
        e.names("accounts", self.accounts.iter().map(|a| a.name.as_str()));
        for (i, a) in self.accounts.iter().enumerate() {
            e.non_negative(
                format!("accounts[{i}].opening_balance_minor"),
                a.opening_balance_minor,
            );
            match &a.kind {
                AccountKind::Reserve {
                    target: ReserveTarget::PoolFraction(f),
                } => e.fraction(format!("accounts[{i}].target.pool_fraction"), *f),
                AccountKind::Reserve {
                    target: ReserveTarget::FixedMinor(m),
                } => e.non_negative(format!("accounts[{i}].target.fixed_minor"), *m),
                AccountKind::Collection => {}
            }
        }
        let collections = self
            .accounts
            .iter()
            .filter(|a| a.kind == AccountKind::Collection)
            .count();
        if collections != 1 {
            e.push(
                "accounts",
                "collection_account",
                format!("exactly one collection account is required, found {collections}"),
            );
        }
        e.names("fees", self.fees.iter().map(|f| f.name.as_str()));
        for (i, f) in self.fees.iter().enumerate() {
            match f.kind {
                FeeKind::FixedMinor(m) => e.non_negative(format!("fees[{i}].fixed_minor"), m),
                FeeKind::TargetMinor(m) => e.non_negative(format!("fees[{i}].target_minor"), m),
                FeeKind::PoolFraction(r) | FeeKind::PoolFractionPerPeriod(r) => {
                    e.fraction(format!("fees[{i}].pool_fraction"), r)
                }
            }
        }
        self.validate_bonds(&mut e);
        for (name, steps) in [
            ("normal", &self.waterfalls.normal),
            ("accelerated", &self.waterfalls.accelerated),
            ("cleanup", &self.waterfalls.cleanup),
        ] {
            self.validate_waterfall(&mut e, name, steps);
        }
        if self.waterfalls.normal.is_empty() {
            e.push(
                "waterfalls.normal",
                "empty",
                "the normal waterfall has no steps",
            );
        }
        if !self.triggers.is_empty() && self.waterfalls.accelerated.is_empty() {
            e.push(
                "waterfalls.accelerated",
                "empty",
                "triggers need an accelerated waterfall",
            );
        }
        self.validate_triggers(&mut e);
        if let Some(call) = &self.cleanup_call {
            if call.pool_fraction <= Decimal::ZERO || call.pool_fraction >= Decimal::ONE {
                e.push(
                    "cleanup_call.pool_fraction",
                    "out_of_range",
                    "must be above 0 and below 1",
                );
            }
            if self.waterfalls.cleanup.is_empty() {
                e.push(
                    "waterfalls.cleanup",
                    "empty",
                    "a clean-up call needs a clean-up waterfall",
                );
            }
        }
        if e.0.is_empty() {
            Ok(())
        } else {
            Err(e.0)
        }
    }

    fn validate_dates(&self, e: &mut Errors) {
        let d = &self.dates;
        if d.closing < d.cutoff {
            e.push(
                "dates.closing",
                "out_of_order",
                "closing is before the cut-off date",
            );
        }
        if d.first_payment <= d.closing {
            e.push(
                "dates.first_payment",
                "out_of_order",
                "the first payment must be after closing",
            );
        }
        if d.stated_maturity <= d.first_payment {
            e.push(
                "dates.stated_maturity",
                "out_of_order",
                "stated maturity must be after the first payment",
            );
        }
        if let Some(end) = d.revolving_end {
            if end < d.first_payment || end > d.stated_maturity {
                e.push(
                    "dates.revolving_end",
                    "out_of_order",
                    "the revolving period must end between the first payment and stated maturity",
                );
            }
        }
    }

    fn validate_bonds(&self, e: &mut Errors) {
        if self.bonds.is_empty() {
            e.push("bonds", "empty", "a deal needs at least one bond");
        }
        e.names("bonds", self.bonds.iter().map(|b| b.name.as_str()));
        for (i, b) in self.bonds.iter().enumerate() {
            e.non_negative(format!("bonds[{i}].balance_minor"), b.balance_minor);
            e.fraction(format!("bonds[{i}].coupon"), b.coupon);
            match &b.kind {
                BondKind::TargetBalance { pool_fraction } => {
                    e.fraction(format!("bonds[{i}].pool_fraction"), *pool_fraction)
                }
                BondKind::Equity if !b.coupon.is_zero() => e.push(
                    format!("bonds[{i}].coupon"),
                    "equity_coupon",
                    "an equity tranche has no coupon",
                ),
                _ => {}
            }
            if let Some(f) = &b.floating {
                if f.index.trim().is_empty() {
                    e.push(
                        format!("bonds[{i}].floating.index"),
                        "empty",
                        "an index name is required",
                    );
                }
                if f.spread.abs() > Decimal::ONE {
                    e.push(
                        format!("bonds[{i}].floating.spread"),
                        "out_of_range",
                        "the spread must be between -1 and 1",
                    );
                }
                if b.kind == BondKind::Equity {
                    e.push(
                        format!("bonds[{i}].floating"),
                        "equity_coupon",
                        "an equity tranche has no coupon",
                    );
                }
                for (k, d) in f.reset_dates.iter().enumerate() {
                    if *d <= self.dates.closing || *d > self.dates.stated_maturity {
                        e.push(
                            format!("bonds[{i}].floating.reset_dates[{k}]"),
                            "out_of_order",
                            "reset dates must fall after closing and by stated maturity",
                        );
                    } else if k > 0 && *d <= f.reset_dates[k - 1] {
                        e.push(
                            format!("bonds[{i}].floating.reset_dates[{k}]"),
                            "out_of_order",
                            "reset dates must increase",
                        );
                    }
                }
            }
        }
        if self.bonds_sum_to_pool {
            let total: i128 = self.bonds.iter().map(|b| i128::from(b.balance_minor)).sum();
            if total != i128::from(self.pool_balance_minor) {
                e.push(
                    "bonds",
                    "sum_mismatch",
                    format!(
                        "the bonds add up to {total}, the pool is {}",
                        self.pool_balance_minor
                    ),
                );
            }
        }
    }

    fn validate_waterfall(&self, e: &mut Errors, name: &str, steps: &[Step]) {
        let bond_ref = |e: &mut Errors, field: String, bond: &str| -> Option<usize> {
            let i = self.bond_index(bond);
            if i.is_none() {
                e.push(field, "unknown_bond", format!("no bond named {bond:?}"));
            }
            i
        };
        for (s, step) in steps.iter().enumerate() {
            let at = format!("waterfalls.{name}[{s}]");
            match step {
                Step::PayFee { fee } => {
                    if self.fee_index(fee).is_none() {
                        e.push(
                            format!("{at}.fee"),
                            "unknown_fee",
                            format!("no fee named {fee:?}"),
                        );
                    }
                }
                Step::PayInterest { bonds } | Step::PayPrincipal { bonds, .. }
                    if bonds.is_empty() =>
                {
                    e.push(format!("{at}.bonds"), "empty", "the step names no bond");
                }
                Step::PayInterest { bonds } => {
                    for (k, b) in bonds.iter().enumerate() {
                        bond_ref(e, format!("{at}.bonds[{k}]"), b);
                    }
                }
                Step::PayPrincipal { bonds, mode, .. } => {
                    for (k, b) in bonds.iter().enumerate() {
                        let field = format!("{at}.bonds[{k}]");
                        if let Some(i) = bond_ref(e, field.clone(), b) {
                            let target =
                                matches!(self.bonds[i].kind, BondKind::TargetBalance { .. });
                            if *mode == PrincipalMode::ToTarget && !target {
                                e.push(
                                    field,
                                    "not_target_balance",
                                    format!("{b:?} has no target balance"),
                                );
                            }
                        }
                    }
                }
                Step::PayResidual { bond } => {
                    bond_ref(e, format!("{at}.bond"), bond);
                }
                Step::TopUpReserve { account } => match self.account_index(account) {
                    None => e.push(
                        format!("{at}.account"),
                        "unknown_account",
                        format!("no account named {account:?}"),
                    ),
                    Some(i) if !matches!(self.accounts[i].kind, AccountKind::Reserve { .. }) => e
                        .push(
                            format!("{at}.account"),
                            "not_reserve",
                            format!("{account:?} is not a reserve account"),
                        ),
                    Some(_) => {}
                },
                Step::Purchase if self.dates.revolving_end.is_none() => {
                    e.push(
                        at,
                        "no_revolving_period",
                        "a purchase step needs dates.revolving_end",
                    );
                }
                Step::Purchase => {}
            }
        }
    }

    fn validate_triggers(&self, e: &mut Errors) {
        e.names("triggers", self.triggers.iter().map(|t| t.name.as_str()));
        for (i, t) in self.triggers.iter().enumerate() {
            match &t.condition {
                TriggerCondition::CumulativeDefaultAbove { curve } => {
                    if curve.is_empty() {
                        e.push(
                            format!("triggers[{i}].curve"),
                            "empty",
                            "the curve has no steps",
                        );
                    }
                    for (k, step) in curve.iter().enumerate() {
                        e.fraction(format!("triggers[{i}].curve[{k}].rate"), step.rate);
                        if k > 0 && step.from <= curve[k - 1].from {
                            e.push(
                                format!("triggers[{i}].curve[{k}].from"),
                                "out_of_order",
                                "curve dates must increase",
                            );
                        }
                    }
                }
                TriggerCondition::ExcessSpreadBelow { floor } => {
                    if floor.abs() > Decimal::ONE {
                        e.push(
                            format!("triggers[{i}].floor"),
                            "out_of_range",
                            "the floor must be between -1 and 1",
                        );
                    }
                }
                TriggerCondition::BondAboveTarget { bond } => match self.bond_index(bond) {
                    None => e.push(
                        format!("triggers[{i}].bond"),
                        "unknown_bond",
                        format!("no bond named {bond:?}"),
                    ),
                    Some(b) if !matches!(self.bonds[b].kind, BondKind::TargetBalance { .. }) => e
                        .push(
                            format!("triggers[{i}].bond"),
                            "not_target_balance",
                            format!("{bond:?} has no target balance"),
                        ),
                    Some(_) => {}
                },
            }
        }
    }
}
