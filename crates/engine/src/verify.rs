//! Offline verification of everything stored: each entry's hash recomputed from its columns,
//! each partition's hash chain, balance of every entry, the Merkle root, and every cached
//! account balance recomputed from postings and pending holds, and the index of entries by
//! account against the postings.

use ledger::{leaf_data, merkle, partition_of, AccountId, Balances, MerkleTree, Side, PARTITIONS};
use std::collections::HashMap;
use store::Store;

#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub entries_checked: u64,
    pub accounts_checked: u64,
    pub tree_size: u64,
    pub root_hash: [u8; 32],
    /// The first entry that failed, with why; verification of entries stops there.
    pub first_bad_entry: Option<BadEntry>,
    /// Accounts whose cached sums differ from their postings and holds.
    pub bad_accounts: Vec<String>,
    /// Entries the index by account leaves out or invents (the first few).
    pub bad_account_index: Vec<String>,
    /// Co-lending: control accounts that differ from the sum of the funders' positions, and
    /// positions that differ from what was posted for their loan.
    pub bad_positions: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct BadEntry {
    pub seq: u64,
    pub id: String,
    pub reason: String,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.first_bad_entry.is_none()
            && self.bad_accounts.is_empty()
            && self.bad_account_index.is_empty()
            && self.bad_positions.is_empty()
    }
}

const CHUNK: u32 = 20_000;

fn check_entry(
    e: &ledger::EntryRecord,
    expected_seq: u64,
    heads: &[[u8; 32]; PARTITIONS as usize],
) -> Result<(), String> {
    if e.seq != expected_seq {
        return Err(format!("sequence gap: expected {expected_seq}"));
    }
    if e.partition != partition_of(e.id) {
        return Err(format!("stored partition {} is not the id's", e.partition));
    }
    if e.prev_hash != heads[e.partition as usize] {
        return Err("prev_hash does not link to the partition's previous entry".into());
    }
    if merkle::leaf_hash(&leaf_data(e)) != e.hash {
        return Err("stored columns do not hash to the stored hash (changed after posting)".into());
    }
    let (mut d, mut c) = (0i128, 0i128);
    for p in &e.postings {
        if p.amount_minor <= 0 {
            return Err(format!("non-positive posting amount {}", p.amount_minor));
        }
        match p.direction {
            Side::Debit => d += i128::from(p.amount_minor),
            Side::Credit => c += i128::from(p.amount_minor),
        }
    }
    if e.postings.len() < 2 || d != c {
        return Err(format!("unbalanced: debits {d} credits {c}"));
    }
    Ok(())
}

#[derive(Default, Clone, Copy)]
struct Sums {
    debits_posted: i128,
    credits_posted: i128,
    debits_pending: i128,
    credits_pending: i128,
}

/// Verifies the whole store; `progress` is told how many entries are done.
pub async fn verify(store: &Store, mut progress: impl FnMut(u64)) -> anyhow::Result<VerifyReport> {
    let state = store.load_book_state().await?;
    let mut heads = [[0u8; 32]; PARTITIONS as usize];
    let mut tree = MerkleTree::new();
    let mut sums: HashMap<AccountId, Sums> = HashMap::new();
    let mut first_bad = None;
    let mut seq = 0u64;
    'outer: loop {
        let chunk = store.entries_range(seq, CHUNK).await?;
        if chunk.is_empty() {
            break;
        }
        for stored in chunk {
            let e = stored.record;
            if let Err(reason) = check_entry(&e, seq, &heads) {
                first_bad = Some(BadEntry {
                    seq: e.seq,
                    id: e.id.to_string(),
                    reason,
                });
                break 'outer;
            }
            heads[e.partition as usize] = e.hash;
            tree.push(e.hash);
            for p in &e.postings {
                let s = sums.entry(p.account_id).or_default();
                match p.direction {
                    Side::Debit => s.debits_posted += i128::from(p.amount_minor),
                    Side::Credit => s.credits_posted += i128::from(p.amount_minor),
                }
            }
            seq += 1;
        }
        progress(seq);
    }
    for h in &state.pending_holds {
        let amt = i128::from(h.request.amount_minor);
        sums.entry(h.request.debit_account_id)
            .or_default()
            .debits_pending += amt;
        sums.entry(h.request.credit_account_id)
            .or_default()
            .credits_pending += amt;
    }
    let mut bad_accounts: Vec<String> = state
        .accounts
        .iter()
        .filter_map(|(id, a)| {
            let s = sums.remove(&id).unwrap_or_default();
            account_mismatch(&a.balances, &s).map(|m| format!("account {id}: {m}"))
        })
        .collect();
    let bad_positions = crate::colending::check_positions(store, |id| {
        state.accounts.get(&id).map(|a| {
            i128::from(a.balances.debits_posted_minor) - i128::from(a.balances.credits_posted_minor)
        })
    })
    .await?;
    bad_accounts.extend(
        sums.keys()
            .map(|id| format!("postings name account {id}, which does not exist")),
    );
    Ok(VerifyReport {
        entries_checked: seq,
        accounts_checked: state.accounts.len() as u64,
        tree_size: tree.len(),
        root_hash: tree.root(tree.len()).expect("root of own size"),
        first_bad_entry: first_bad,
        bad_accounts,
        bad_account_index: store.account_index_problems(10).await?,
        bad_positions,
    })
}

fn account_mismatch(b: &Balances, s: &Sums) -> Option<String> {
    let pairs = [
        ("debits_posted", b.debits_posted_minor, s.debits_posted),
        ("credits_posted", b.credits_posted_minor, s.credits_posted),
        ("debits_pending", b.debits_pending_minor, s.debits_pending),
        (
            "credits_pending",
            b.credits_pending_minor,
            s.credits_pending,
        ),
    ];
    let diffs: Vec<String> = pairs
        .iter()
        .filter(|(_, cached, summed)| i128::from(*cached) != *summed)
        .map(|(name, cached, summed)| format!("{name} cached {cached}, recomputed {summed}"))
        .collect();
    (!diffs.is_empty()).then(|| diffs.join("; "))
}
