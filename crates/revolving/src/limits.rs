//! Dynamic limits: rules that raise, lower or freeze a line, run in close of business after
//! `AdvanceDay` or at once on an outside risk signal. Each rule returns the command to apply
//! (so the change goes through `apply` and is logged like any other).

use crate::line::{Command, Line};
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

impl Default for LimitRules {
    fn default() -> Self {
        todo!()
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
pub fn review(
    line: &Line,
    rules: &LimitRules,
    as_of: BusinessDate,
    free_minor: i64,
) -> Option<Command> {
    todo!("{line:?} {rules:?} {as_of} {free_minor}")
}

/// The command a risk signal turns into for this line.
pub fn on_signal(line: &Line, signal: &RiskSignal, free_minor: i64) -> Command {
    todo!("{line:?} {signal:?} {free_minor}")
}
