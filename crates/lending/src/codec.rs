//! A compact, versioned binary form of a [`Loan`] (terms, schedule and servicing state), so
//! storage can keep one row per loan and close of business can stream millions of them.
//!
//! Integers are LEB128 varints (zig-zag for signed values): most fields of a loan are small
//! or zero, so a 12-month loan takes a few hundred bytes. Decimals keep their exact 96-bit
//! mantissa and scale. Decoding checks every tag and refuses trailing bytes.

use crate::loan::{ComponentAmounts, InstallmentState, Loan, LoanConfig, LoanStatus};
use crate::product::{
    AllocationOrder, AllocationScope, Component, ContractRate, FeeCollection, OriginationFee,
    OverpaymentCredit, PartialPrepaymentEffect, PrepaymentPolicy, RepaymentDayRule,
    RepaymentMethod,
};
use crate::schedule::{Installment, RepaymentTerms};
use money::{
    BusinessDate, Currency, DayCount, Decimal, Money, RateAnnual, RateDaily, RateMonthly,
    RoundingMode,
};

/// 2: the daily interest carry is no longer stored (accrual has a closed form).
/// 3: the overpayment credit and the contract's rule for it. A version-2 state decodes with
/// no credit and the product default (credit pays what falls due next).
const VERSION: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored loan state is corrupt: {0}")]
pub struct DecodeError(pub &'static str);

pub fn encode_loan(loan: &Loan) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(96 + loan.installments.len() * 24));
    w.u8(VERSION);
    config(&mut w, &loan.config);
    w.u8(match loan.status {
        LoanStatus::Signed => 0,
        LoanStatus::Active => 1,
        LoanStatus::PaidOff => 2,
        LoanStatus::WrittenOff => 3,
    });
    w.date(loan.business_date);
    match loan.disbursed_on {
        Some(d) => {
            w.u8(1);
            w.date(d);
        }
        None => w.u8(0),
    }
    w.uv(u64::from(loan.dpd));
    w.amounts(&loan.written_off);
    w.u8(match loan.config.overpayment_credit {
        OverpaymentCredit::ApplyToNextDue => 0,
        OverpaymentCredit::Hold => 1,
    });
    w.iv(loan.overpayment_credit_minor);
    w.uv(loan.installments.len() as u64);
    for i in &loan.installments {
        let s = &i.scheduled;
        w.uv(u64::from(s.number));
        w.date(s.due_date);
        for v in [
            s.principal_minor,
            s.interest_minor,
            s.fee_minor,
            s.total_minor,
        ] {
            w.iv(v);
        }
        w.u8(u8::from(i.billed));
        for v in [i.interest_accrued_minor, i.late_fee_minor, i.penalty_minor] {
            w.iv(v);
        }
        w.dec(i.penalty_carry);
        w.amounts(&i.paid);
    }
    w.0
}

pub fn decode_loan(bytes: &[u8]) -> Result<Loan, DecodeError> {
    let mut r = Reader { b: bytes, at: 0 };
    let version = r.u8()?;
    if version != VERSION && version != 2 {
        return Err(DecodeError("unknown version"));
    }
    let mut config = read_config(&mut r)?;
    let status = match r.u8()? {
        0 => LoanStatus::Signed,
        1 => LoanStatus::Active,
        2 => LoanStatus::PaidOff,
        3 => LoanStatus::WrittenOff,
        _ => return Err(DecodeError("status")),
    };
    let business_date = r.date()?;
    let disbursed_on = match r.u8()? {
        0 => None,
        1 => Some(r.date()?),
        _ => return Err(DecodeError("disbursed_on")),
    };
    let dpd = u32::try_from(r.uv()?).map_err(|_| DecodeError("dpd"))?;
    let written_off = r.amounts()?;
    let mut overpayment_credit_minor = 0;
    if version == VERSION {
        config.overpayment_credit = match r.u8()? {
            0 => OverpaymentCredit::ApplyToNextDue,
            1 => OverpaymentCredit::Hold,
            _ => return Err(DecodeError("overpayment credit rule")),
        };
        overpayment_credit_minor = r.iv()?;
        if overpayment_credit_minor < 0 {
            return Err(DecodeError("overpayment credit"));
        }
    }
    let count = r.uv()?;
    if count > 1024 {
        return Err(DecodeError("installment count"));
    }
    let mut installments = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let number = u32::try_from(r.uv()?).map_err(|_| DecodeError("number"))?;
        let due_date = r.date()?;
        let scheduled = Installment {
            number,
            due_date,
            principal_minor: r.iv()?,
            interest_minor: r.iv()?,
            fee_minor: r.iv()?,
            total_minor: r.iv()?,
        };
        let billed = match r.u8()? {
            0 => false,
            1 => true,
            _ => return Err(DecodeError("billed")),
        };
        installments.push(InstallmentState {
            scheduled,
            billed,
            interest_accrued_minor: r.iv()?,
            late_fee_minor: r.iv()?,
            penalty_minor: r.iv()?,
            penalty_carry: r.dec()?,
            paid: r.amounts()?,
        });
    }
    if r.at != bytes.len() {
        return Err(DecodeError("trailing bytes"));
    }
    Ok(Loan {
        config,
        status,
        business_date,
        disbursed_on,
        installments,
        dpd,
        written_off,
        overpayment_credit_minor,
    })
}

fn config(w: &mut Writer, c: &LoanConfig) {
    w.u8(currency_code(c.principal.currency()));
    w.iv(c.principal.amount_minor());
    let t = &c.repayment;
    w.uv(u64::from(t.term_months));
    w.u8(match t.method {
        RepaymentMethod::Annuity => 0,
        RepaymentMethod::EqualPrincipal => 1,
        RepaymentMethod::InterestOnly => 2,
        RepaymentMethod::Bullet => 3,
    });
    let (tag, rate) = match t.rate {
        ContractRate::Daily(r) => (0, r.fraction()),
        ContractRate::Monthly(r) => (1, r.fraction()),
        ContractRate::Annual(r) => (2, r.fraction()),
    };
    w.u8(tag);
    w.dec(rate);
    w.u8(match t.day_count {
        DayCount::Act360 => 0,
        DayCount::Act365F => 1,
        DayCount::Thirty360 => 2,
    });
    w.u8(rounding_code(t.rounding));
    w.u8(match t.repayment_day {
        RepaymentDayRule::DisbursementDay => 0,
        RepaymentDayRule::FixedDay(d) => d,
    });
    match t.origination_fee {
        None => w.u8(0),
        Some(f) => {
            w.u8(match f.collection {
                FeeCollection::Upfront => 1,
                FeeCollection::Spread => 2,
            });
            w.dec(f.rate_fraction);
        }
    }
    w.dec(c.penalty_rate_daily.fraction());
    w.u8(u8::from(c.penalty_compounds));
    w.iv(c.late_fee_minor);
    w.uv(u64::from(c.grace_days));
    for comp in c.allocation_order.components {
        w.u8(component_code(comp));
    }
    w.u8(match c.allocation_order.scope {
        AllocationScope::OldestInstallmentFirst => 0,
        AllocationScope::ComponentFirst => 1,
    });
    let p = &c.prepayment;
    w.u8(u8::from(p.full_allowed) | u8::from(p.partial_allowed) << 1);
    w.u8(match p.partial_effect {
        PartialPrepaymentEffect::ShortenTerm => 0,
        PartialPrepaymentEffect::LowerInstallment => 1,
    });
    w.dec(p.fee_rate_fraction);
    w.iv(p.partial_minimum_minor);
    w.iv(c.entrusted_payment_threshold_minor);
    w.uv(u64::from(c.write_off_dpd));
}

fn read_config(r: &mut Reader) -> Result<LoanConfig, DecodeError> {
    let currency = currency_from(r.u8()?)?;
    let principal = Money::from_minor(r.iv()?, currency);
    let term_months = u32::try_from(r.uv()?).map_err(|_| DecodeError("term"))?;
    let method = match r.u8()? {
        0 => RepaymentMethod::Annuity,
        1 => RepaymentMethod::EqualPrincipal,
        2 => RepaymentMethod::InterestOnly,
        3 => RepaymentMethod::Bullet,
        _ => return Err(DecodeError("method")),
    };
    let bad_rate = |_| DecodeError("rate");
    let rate = match (r.u8()?, r.dec()?) {
        (0, f) => ContractRate::Daily(RateDaily::from_fraction(f).map_err(bad_rate)?),
        (1, f) => ContractRate::Monthly(RateMonthly::from_fraction(f).map_err(bad_rate)?),
        (2, f) => ContractRate::Annual(RateAnnual::from_fraction(f).map_err(bad_rate)?),
        _ => return Err(DecodeError("rate tag")),
    };
    let day_count = match r.u8()? {
        0 => DayCount::Act360,
        1 => DayCount::Act365F,
        2 => DayCount::Thirty360,
        _ => return Err(DecodeError("day count")),
    };
    let rounding = rounding_from(r.u8()?)?;
    let repayment_day = match r.u8()? {
        0 => RepaymentDayRule::DisbursementDay,
        d => RepaymentDayRule::FixedDay(d),
    };
    let origination_fee = match r.u8()? {
        0 => None,
        tag @ (1 | 2) => Some(OriginationFee {
            collection: if tag == 1 {
                FeeCollection::Upfront
            } else {
                FeeCollection::Spread
            },
            rate_fraction: r.dec()?,
        }),
        _ => return Err(DecodeError("origination fee")),
    };
    let penalty_rate_daily = RateDaily::from_fraction(r.dec()?).map_err(bad_rate)?;
    let penalty_compounds = r.u8()? == 1;
    let late_fee_minor = r.iv()?;
    let grace_days = u32::try_from(r.uv()?).map_err(|_| DecodeError("grace"))?;
    let mut components = [Component::Principal; 4];
    for c in &mut components {
        *c = component_from(r.u8()?)?;
    }
    let scope = match r.u8()? {
        0 => AllocationScope::OldestInstallmentFirst,
        1 => AllocationScope::ComponentFirst,
        _ => return Err(DecodeError("allocation scope")),
    };
    let flags = r.u8()?;
    let partial_effect = match r.u8()? {
        0 => PartialPrepaymentEffect::ShortenTerm,
        1 => PartialPrepaymentEffect::LowerInstallment,
        _ => return Err(DecodeError("partial effect")),
    };
    let prepayment = PrepaymentPolicy {
        full_allowed: flags & 1 == 1,
        partial_allowed: flags & 2 == 2,
        partial_effect,
        fee_rate_fraction: r.dec()?,
        partial_minimum_minor: r.iv()?,
    };
    Ok(LoanConfig {
        principal,
        repayment: RepaymentTerms {
            term_months,
            method,
            rate,
            day_count,
            rounding,
            repayment_day,
            origination_fee,
        },
        penalty_rate_daily,
        penalty_compounds,
        late_fee_minor,
        grace_days,
        allocation_order: AllocationOrder { components, scope },
        prepayment,
        entrusted_payment_threshold_minor: r.iv()?,
        write_off_dpd: u32::try_from(r.uv()?).map_err(|_| DecodeError("write-off dpd"))?,
        overpayment_credit: OverpaymentCredit::ApplyToNextDue,
    })
}

const CURRENCIES: [Currency; 10] = [
    Currency::Cny,
    Currency::Hkd,
    Currency::Usd,
    Currency::Eur,
    Currency::Gbp,
    Currency::Sgd,
    Currency::Jpy,
    Currency::Krw,
    Currency::Kwd,
    Currency::Bhd,
];

fn currency_code(c: Currency) -> u8 {
    CURRENCIES
        .iter()
        .position(|x| *x == c)
        .expect("every currency has a code") as u8
}

fn currency_from(code: u8) -> Result<Currency, DecodeError> {
    CURRENCIES
        .get(usize::from(code))
        .copied()
        .ok_or(DecodeError("currency"))
}

fn rounding_code(m: RoundingMode) -> u8 {
    match m {
        RoundingMode::HalfEven => 0,
        RoundingMode::HalfUp => 1,
        RoundingMode::Down => 2,
    }
}

fn rounding_from(code: u8) -> Result<RoundingMode, DecodeError> {
    match code {
        0 => Ok(RoundingMode::HalfEven),
        1 => Ok(RoundingMode::HalfUp),
        2 => Ok(RoundingMode::Down),
        _ => Err(DecodeError("rounding")),
    }
}

fn component_code(c: Component) -> u8 {
    match c {
        Component::Penalty => 0,
        Component::Fee => 1,
        Component::Interest => 2,
        Component::Principal => 3,
    }
}

fn component_from(code: u8) -> Result<Component, DecodeError> {
    match code {
        0 => Ok(Component::Penalty),
        1 => Ok(Component::Fee),
        2 => Ok(Component::Interest),
        3 => Ok(Component::Principal),
        _ => Err(DecodeError("component")),
    }
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn uv(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn iv(&mut self, v: i64) {
        self.uv(((v << 1) ^ (v >> 63)) as u64);
    }

    fn date(&mut self, d: BusinessDate) {
        self.iv(i64::from(d.to_epoch_days()));
    }

    /// Scale byte (with the sign in bit 7), then the 96-bit mantissa as a varint.
    fn dec(&mut self, d: Decimal) {
        let scale = d.scale() as u8;
        self.u8(scale | if d.is_sign_negative() { 0x80 } else { 0 });
        let m = d.mantissa().unsigned_abs();
        let mut v = m;
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn amounts(&mut self, a: &ComponentAmounts) {
        for v in a.to_array() {
            self.iv(v);
        }
    }
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, DecodeError> {
        let v = *self.b.get(self.at).ok_or(DecodeError("truncated"))?;
        self.at += 1;
        Ok(v)
    }

    fn wide(&mut self, bits_max: u32) -> Result<u128, DecodeError> {
        let mut v: u128 = 0;
        let mut shift = 0;
        loop {
            let byte = self.u8()?;
            if shift >= bits_max {
                return Err(DecodeError("varint too long"));
            }
            v |= u128::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn uv(&mut self) -> Result<u64, DecodeError> {
        u64::try_from(self.wide(64)?).map_err(|_| DecodeError("varint overflow"))
    }

    fn iv(&mut self) -> Result<i64, DecodeError> {
        let u = self.uv()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn date(&mut self) -> Result<BusinessDate, DecodeError> {
        let days = i32::try_from(self.iv()?).map_err(|_| DecodeError("date"))?;
        BusinessDate::from_epoch_days(days).ok_or(DecodeError("date"))
    }

    fn dec(&mut self) -> Result<Decimal, DecodeError> {
        let head = self.u8()?;
        let scale = u32::from(head & 0x7f);
        let m = self.wide(98)?;
        if scale > 28 || m >= 1u128 << 96 {
            return Err(DecodeError("decimal"));
        }
        let signed = if head & 0x80 != 0 {
            -(m as i128)
        } else {
            m as i128
        };
        Decimal::try_from_i128_with_scale(signed, scale).map_err(|_| DecodeError("decimal"))
    }

    fn amounts(&mut self) -> Result<ComponentAmounts, DecodeError> {
        Ok(ComponentAmounts::from_array([
            self.iv()?,
            self.iv()?,
            self.iv()?,
            self.iv()?,
        ]))
    }
}
