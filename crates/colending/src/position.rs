//! Per-loan positions: what each funder, the platform and the guarantor hold of one loan.

use crate::guarantee::{ClaimId, GuaranteeTerms};
use crate::partner::PartnerId;
use crate::plan::{check_shares, PlanError, Share};
use money::{BusinessDate, Currency, DayCount, Decimal, RateAnnual};
use std::collections::BTreeSet;

/// A loan's amounts by component, as the loan state machine books them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    Principal,
    Interest,
    Fee,
    Penalty,
}

pub const COMPONENTS: [Component; 4] = [
    Component::Principal,
    Component::Interest,
    Component::Fee,
    Component::Penalty,
];

/// One of the balances a holder keeps of a loan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Balance {
    Principal,
    Interest,
    Fee,
    Penalty,
    /// Written off and not yet recovered, all components together.
    WrittenOff,
}

pub const BALANCES: [Balance; 5] = [
    Balance::Principal,
    Balance::Interest,
    Balance::Fee,
    Balance::Penalty,
    Balance::WrittenOff,
];

impl From<Component> for Balance {
    fn from(c: Component) -> Balance {
        match c {
            Component::Principal => Balance::Principal,
            Component::Interest => Balance::Interest,
            Component::Fee => Balance::Fee,
            Component::Penalty => Balance::Penalty,
        }
    }
}

/// What one holder is owed of one loan. Never negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balances {
    pub principal_outstanding_minor: i64,
    /// Interest charged to the borrower (billed) and unpaid. For the platform this is its
    /// service fee: the spread between the borrower's interest and the funders' yields.
    pub interest_receivable_minor: i64,
    pub fee_receivable_minor: i64,
    pub penalty_receivable_minor: i64,
    /// Taken off the books at write-off (all components) and not yet recovered.
    pub written_off_minor: i64,
}

impl Balances {
    pub fn get(&self, balance: Balance) -> i64 {
        match balance {
            Balance::Principal => self.principal_outstanding_minor,
            Balance::Interest => self.interest_receivable_minor,
            Balance::Fee => self.fee_receivable_minor,
            Balance::Penalty => self.penalty_receivable_minor,
            Balance::WrittenOff => self.written_off_minor,
        }
    }

    pub(crate) fn get_mut(&mut self, balance: Balance) -> &mut i64 {
        match balance {
            Balance::Principal => &mut self.principal_outstanding_minor,
            Balance::Interest => &mut self.interest_receivable_minor,
            Balance::Fee => &mut self.fee_receivable_minor,
            Balance::Penalty => &mut self.penalty_receivable_minor,
            Balance::WrittenOff => &mut self.written_off_minor,
        }
    }
}

/// One funder's position in one loan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunderPosition {
    pub partner_id: PartnerId,
    pub share: Decimal,
    /// `None`: the funder earns the borrower's interest pro rata.
    pub yield_annual: Option<RateAnnual>,
    pub held: Balances,
    /// Principal this funder lent at disbursement.
    pub principal_funded_minor: i64,
    /// What the guarantor has paid this funder (代偿), principal and interest.
    pub compensated_minor: i64,
}

/// The guarantor's position: claims it took over by paying funders, and its fee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuarantorPosition {
    pub partner_id: PartnerId,
    pub held: Balances,
}

/// Who holds a balance of a loan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Holder {
    Funder(PartnerId),
    /// The platform as servicer: the interest spread (service fee), fees and penalty kept
    /// by agreement, and funders' losses it bore from a first-loss deposit. Its own share as
    /// a funder is a `Funder` position of the platform's partner id.
    Platform,
    Guarantor(PartnerId),
}

/// Where a fee or penalty goes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ChargeRule {
    /// Kept by the platform (the default).
    #[default]
    Platform,
    /// Split among the principal's holders by the principal they hold.
    ProRata,
    /// The guarantor's: the charge is its guarantee fee. An agreement without a guarantee
    /// cannot name it (`LoanFunding::new` refuses it).
    Guarantor,
}

/// The terms of a co-lending agreement that decide splits beyond principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agreement {
    pub currency: Currency,
    /// How a yield becomes interest over a period.
    pub day_count: DayCount,
    pub fees: ChargeRule,
    pub penalties: ChargeRule,
    pub guarantee: Option<GuaranteeTerms>,
}

/// A funder as it enters a loan: the plan's share and the partner's yield at origination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunderTerms {
    pub share: Share,
    pub yield_annual: Option<RateAnnual>,
}

/// Every holder's position in one loan, and the loan's own totals they must add up to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoanFunding {
    pub agreement: Agreement,
    pub funders: Vec<FunderPosition>,
    pub platform: Balances,
    pub guarantor: Option<GuarantorPosition>,
    /// The loan's balances, moved by the same events: the sum over holders of each balance
    /// equals this, always.
    pub totals: Balances,
    pub disbursed: bool,
    /// The date interest has been charged through (the disbursement date at first): the
    /// start of the next charge's period for the funders' yields.
    pub interest_from: Option<BusinessDate>,
    pub written_off: bool,
    /// Guarantee claims already paid on this loan (each moves money once).
    pub settled_claims: BTreeSet<ClaimId>,
}

impl LoanFunding {
    /// A loan's funding before disbursement: the chosen shares (in the plan's order, which
    /// decides ties in every split) with each funder's yield.
    pub fn new(
        agreement: Agreement,
        funders: &[FunderTerms],
    ) -> Result<LoanFunding, Vec<PlanError>> {
        let shares: Vec<Share> = funders.iter().map(|f| f.share).collect();
        check_shares(&shares)?;
        let ids: BTreeSet<PartnerId> = shares.iter().map(|s| s.partner_id).collect();
        if ids.len() != shares.len() {
            let index = first_duplicate(&shares);
            return Err(vec![PlanError::Duplicate {
                field: "shares",
                index,
            }]);
        }
        if agreement.guarantee.is_none() {
            let rules = [("fees", agreement.fees), ("penalties", agreement.penalties)];
            let errors: Vec<PlanError> = rules
                .into_iter()
                .filter(|(_, rule)| *rule == ChargeRule::Guarantor)
                .map(|(field, _)| PlanError::NoGuarantor { field })
                .collect();
            if !errors.is_empty() {
                return Err(errors);
            }
        }
        let guarantor = agreement.guarantee.map(|g| GuarantorPosition {
            partner_id: g.guarantor_id,
            held: Balances::default(),
        });
        Ok(LoanFunding {
            agreement,
            funders: funders.iter().map(new_position).collect(),
            platform: Balances::default(),
            guarantor,
            totals: Balances::default(),
            disbursed: false,
            interest_from: None,
            written_off: false,
            settled_claims: BTreeSet::new(),
        })
    }

    pub fn currency(&self) -> Currency {
        self.agreement.currency
    }

    pub fn shares(&self) -> Vec<Decimal> {
        self.funders.iter().map(|f| f.share).collect()
    }

    /// Holders in a fixed order: funders (plan order), the platform, the guarantor.
    pub fn holders(&self) -> Vec<Holder> {
        let mut out: Vec<Holder> = self
            .funders
            .iter()
            .map(|f| Holder::Funder(f.partner_id))
            .collect();
        out.push(Holder::Platform);
        if let Some(g) = &self.guarantor {
            out.push(Holder::Guarantor(g.partner_id));
        }
        out
    }

    /// A holder's balances by its index in [`LoanFunding::holders`].
    pub(crate) fn held(&self, index: usize) -> &Balances {
        let n = self.funders.len();
        match index {
            i if i < n => &self.funders[i].held,
            i if i == n => &self.platform,
            _ => &self.guarantor.as_ref().expect("index within holders").held,
        }
    }

    pub(crate) fn held_mut(&mut self, index: usize) -> &mut Balances {
        let n = self.funders.len();
        match index {
            i if i < n => &mut self.funders[i].held,
            i if i == n => &mut self.platform,
            _ => &mut self.guarantor.as_mut().expect("index within holders").held,
        }
    }

    pub(crate) fn platform_index(&self) -> usize {
        self.funders.len()
    }

    pub(crate) fn guarantor_index(&self) -> Option<usize> {
        self.guarantor.as_ref().map(|_| self.funders.len() + 1)
    }

    /// A balance summed over every holder.
    pub fn sum_over_holders(&self, balance: Balance) -> i64 {
        (0..self.holders().len())
            .map(|i| self.held(i).get(balance))
            .sum()
    }

    /// The invariant of this crate: for every balance, the holders' sum is the loan's
    /// total, and no holder's balance is negative. Checked after every change, in release
    /// builds too, because a broken split would misstate a funder's books.
    pub fn assert_consistent(&self) {
        for balance in BALANCES {
            assert_eq!(
                self.sum_over_holders(balance),
                self.totals.get(balance),
                "holders' {balance:?} must add up to the loan's"
            );
            for i in 0..self.holders().len() {
                assert!(self.held(i).get(balance) >= 0, "{balance:?} went negative");
            }
        }
    }
}

fn new_position(terms: &FunderTerms) -> FunderPosition {
    FunderPosition {
        partner_id: terms.share.partner_id,
        share: terms.share.share,
        yield_annual: terms.yield_annual,
        held: Balances::default(),
        principal_funded_minor: 0,
        compensated_minor: 0,
    }
}

fn first_duplicate(shares: &[Share]) -> usize {
    let mut seen = BTreeSet::new();
    shares
        .iter()
        .position(|s| !seen.insert(s.partner_id))
        .unwrap_or(0)
}

/// One holder's balance moved by an event. `delta_minor` is signed: a repayment of
/// principal is a negative principal delta for each funder it pays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    pub holder: Holder,
    pub balance: Balance,
    pub delta_minor: i64,
}
