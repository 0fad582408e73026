//! Dynamic limits: rules that raise, lower or freeze a line, run in close of business after
//! `AdvanceDay` or at once on an outside risk signal. Each rule returns the command to apply
//! (so the change goes through `apply` and is logged like any other).

use crate::line::{Command, Line, LineStatus};
use money::{BusinessDate, Decimal};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitRules {
    /// Raise after this many consecutive statements paid in full on time at high use; default 3.
    pub raise_after_statements: u32,
    /// Utilization (basis points of the limit) a statement must reach to count; default 7000.
    pub high_utilization_bp: u32,
    /// Raise by this fraction of the limit; default 0.20.
    pub raise_fraction: Decimal,
    /// Never raise above; default 5,000,000 minor units (50,000.00).
    pub limit_max_minor: i64,
    /// Days between two raises at least; default 90.
    pub raise_spacing_days: u32,
    /// At this DPD, lower the limit to what is used; default 1.
    pub lower_at_dpd: u32,
    /// At this DPD, freeze; default 30.
    pub freeze_at_dpd: u32,
}

/// The utilization at which the line counts a statement towards
/// `Line::high_use_on_time_streak`. The line keeps its streak without seeing the rules,
/// so it counts at this default; [`review`] also holds the latest flagged statement to
/// the rules' own threshold.
pub const DEFAULT_HIGH_UTILIZATION_BP: u32 = 7_000;

/// The reason a rule-driven raise carries; `apply` spaces raises by it.
pub const RAISE_REASON: &str = "rule:raise_on_time_high_use";
pub const LOWER_REASON: &str = "rule:lower_to_used_on_dpd";
pub const FREEZE_REASON: &str = "rule:freeze_on_dpd";

impl Default for LimitRules {
    fn default() -> Self {
        LimitRules {
            raise_after_statements: 3,
            high_utilization_bp: DEFAULT_HIGH_UTILIZATION_BP,
            raise_fraction: Decimal::new(20, 2),
            limit_max_minor: 5_000_000,
            raise_spacing_days: 90,
            lower_at_dpd: 1,
            freeze_at_dpd: 30,
        }
    }
}

/// An outside risk signal (e.g. from monitoring or a bureau alert).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RiskSignal {
    /// Lower the limit by this fraction (0–1).
    Lower {
        fraction: Decimal,
        reason: String,
    },
    Freeze {
        reason: String,
    },
}

/// The rule-driven change due on `as_of` (after that day's `AdvanceDay`), if any:
/// freeze at `freeze_at_dpd`, lower to used at `lower_at_dpd` (once per delinquency), raise
/// after the streak (and reset nothing: the streak is the line's). `free_minor` as in
/// [`Command::ChangeLimit`]. Reasons name the rule, e.g. "rule:raise_on_time_high_use".
///
/// DPD rises by one a day from 1, so "once per delinquency" is the day DPD equals
/// `lower_at_dpd`; a line whose limit is already at or below its use is left alone.
pub fn review(
    line: &Line,
    rules: &LimitRules,
    as_of: BusinessDate,
    free_minor: i64,
) -> Option<Command> {
    if line.status == LineStatus::Closed {
        return None;
    }
    if line.status == LineStatus::Active && line.dpd >= rules.freeze_at_dpd {
        let reason = FREEZE_REASON.to_string();
        return Some(Command::Freeze { reason });
    }
    if line.dpd > 0 {
        return lower_to_used(line, rules, free_minor);
    }
    raise(line, rules, as_of, free_minor)
}

fn lower_to_used(line: &Line, rules: &LimitRules, free_minor: i64) -> Option<Command> {
    if line.dpd != rules.lower_at_dpd || line.limit_total_minor() <= line.used_minor {
        return None;
    }
    let temp = line.temp_limit.map_or(0, |t| t.amount_minor);
    Some(Command::ChangeLimit {
        limit_minor: (line.used_minor - temp).max(0),
        free_minor,
        reason: LOWER_REASON.to_string(),
    })
}

fn raise(line: &Line, rules: &LimitRules, as_of: BusinessDate, free_minor: i64) -> Option<Command> {
    let spaced = line
        .last_raise_on
        .is_none_or(|last| last.days_until(as_of) >= i64::from(rules.raise_spacing_days));
    let eligible = line.status == LineStatus::Active
        && line.high_use_on_time_streak >= rules.raise_after_statements.max(1)
        && latest_flagged_utilization(line) >= Some(rules.high_utilization_bp)
        && spaced;
    if !eligible {
        return None;
    }
    let step = fraction_of(line, line.limit_minor, rules.raise_fraction)?;
    let limit_minor = (line.limit_minor + step).min(rules.limit_max_minor);
    (limit_minor > line.limit_minor).then(|| Command::ChangeLimit {
        limit_minor,
        free_minor,
        reason: RAISE_REASON.to_string(),
    })
}

fn latest_flagged_utilization(line: &Line) -> Option<u32> {
    line.statements
        .iter()
        .rev()
        .find(|s| s.paid_in_full_on_time.is_some())
        .map(|s| s.utilization_bp)
}

/// `amount × fraction` (fraction held to 0–1), rounded by the line's rule.
fn fraction_of(line: &Line, amount: i64, fraction: Decimal) -> Option<i64> {
    let fraction = fraction.clamp(Decimal::ZERO, Decimal::ONE);
    let exact = Decimal::from(amount).checked_mul(fraction)?;
    line.terms.rounding.round_minor(exact).ok()
}

/// The command a risk signal turns into for this line.
pub fn on_signal(line: &Line, signal: &RiskSignal, free_minor: i64) -> Command {
    match signal {
        RiskSignal::Lower { fraction, reason } => {
            let cut = fraction_of(line, line.limit_minor, *fraction).unwrap_or(line.limit_minor);
            Command::ChangeLimit {
                limit_minor: line.limit_minor - cut,
                free_minor,
                reason: format!("signal:lower: {reason}"),
            }
        }
        RiskSignal::Freeze { reason } => Command::Freeze {
            reason: format!("signal:freeze: {reason}"),
        },
    }
}
