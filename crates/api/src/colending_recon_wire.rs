//! A partner's daily reconciliation manifest on the wire: each file with its rows, totals
//! and SHA-256, and the signed tree head taken after the files were read.

use crate::TreeHeadResponse;
use engine::colending::recon::Manifest;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReconFileWire {
    /// `disbursements.csv`, `repayments.csv`, `charges.csv`, `write_offs.csv`,
    /// `recoveries.csv`, `balances.csv`, `overdue.csv`, `guarantee_claims.csv`,
    /// `first_loss_draws.csv`, `settlement.csv`.
    pub name: String,
    /// Data rows (the header line excluded).
    pub rows: u64,
    pub bytes: u64,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// Each amount column's sum, minor units.
    pub totals: BTreeMap<String, i64>,
    /// Where to read the file.
    pub href: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReconManifestResponse {
    pub partner_id: Uuid,
    pub currency: String,
    /// The business day, `YYYY-MM-DD`.
    pub date: String,
    /// The day is closed (the open business day is later): its files no longer change.
    pub closed: bool,
    pub files: Vec<ReconFileWire>,
    /// Signed after the files were read: its root covers every entry they reflect.
    pub tree_head: TreeHeadResponse,
}

impl From<&Manifest> for ReconManifestResponse {
    fn from(m: &Manifest) -> Self {
        let base = format!("/v1/funding-partners/{}/recon/{}", m.partner_id, m.date);
        ReconManifestResponse {
            partner_id: m.partner_id,
            currency: m.currency.code().into(),
            date: m.date.to_string(),
            closed: m.closed,
            files: m
                .files
                .iter()
                .map(|f| ReconFileWire {
                    name: f.name.into(),
                    rows: f.rows,
                    bytes: f.bytes,
                    sha256: hex::encode(f.sha256),
                    totals: f.totals.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                    href: format!("{base}/{}", f.name),
                })
                .collect(),
            tree_head: TreeHeadResponse::from(&m.tree_head),
        }
    }
}
