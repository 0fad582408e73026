//! Property tests: the postings agree with the state for any product and any days.

use super::*;

/// Balances per purpose (debit positive) from a journal.
pub(super) fn balances(journal: &[PostingIntent]) -> BTreeMap<AccountPurpose, i64> {
    let mut map = BTreeMap::new();
    for p in journal {
        *map.entry(p.debit).or_insert(0) += p.amount_minor;
        *map.entry(p.credit).or_insert(0) -= p.amount_minor;
    }
    map
}

fn any_config() -> impl Strategy<Value = LoanConfig> {
    let method = prop_oneof![
        Just(crate::product::RepaymentMethod::Annuity),
        Just(crate::product::RepaymentMethod::EqualPrincipal),
        Just(crate::product::RepaymentMethod::InterestOnly),
        Just(crate::product::RepaymentMethod::Bullet),
    ];
    let rate = prop_oneof![
        Just(crate::product::ContractRate::Daily(
            "0.05%".parse().unwrap()
        )),
        Just(crate::product::ContractRate::Monthly(
            "1.5%".parse().unwrap()
        )),
        Just(crate::product::ContractRate::Annual("18%".parse().unwrap())),
    ];
    let fee = prop_oneof![
        Just(None),
        Just(Some(OriginationFee {
            rate_fraction: dec!(0.02),
            collection: FeeCollection::Spread
        })),
        Just(Some(OriginationFee {
            rate_fraction: dec!(0.01),
            collection: FeeCollection::Upfront
        })),
    ];
    let scope = prop_oneof![
        Just(AllocationScope::OldestInstallmentFirst),
        Just(AllocationScope::ComponentFirst)
    ];
    let day_rule = prop_oneof![
        Just(crate::product::RepaymentDayRule::DisbursementDay),
        (1u8..=31).prop_map(crate::product::RepaymentDayRule::FixedDay),
    ];
    let effect = prop_oneof![
        Just(PartialPrepaymentEffect::ShortenTerm),
        Just(PartialPrepaymentEffect::LowerInstallment)
    ];
    (
        (method, rate, fee, scope, day_rule, effect, 0i64..=200),
        (
            3u32..=12,
            10_000i64..=5_000_000,
            any::<bool>(),
            0u32..=5,
            30u32..=120,
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (method, rate, fee, scope, day_rule, effect, fee_bp),
                (term, principal, compounds, grace, write_off, late_fee, hold),
            )| {
                let mut product = cny_daily_product();
                product.repayment_method = method;
                product.contract_rate = rate;
                product.origination_fee = fee;
                product.allocation_order.scope = scope;
                product.repayment_day = day_rule;
                product.penalty.compound_on_overdue_interest = compounds;
                product.grace_days = grace;
                product.late_fee_minor = if late_fee { 1_000 } else { 0 };
                product.prepayment.partial_effect = effect;
                product.prepayment.fee_rate_fraction = Decimal::new(fee_bp, 4);
                product.overpayment_credit = if hold {
                    crate::product::OverpaymentCredit::Hold
                } else {
                    crate::product::OverpaymentCredit::ApplyToNextDue
                };
                product.validate().unwrap();
                LoanConfig::from_product(&product, cny(principal), term, write_off).unwrap()
            },
        )
}

proptest! {
    /// Random days and repayments: the receivables the postings imply always equal what
    /// the state says is owed, and every posting is positive.
    #[test]
    fn postings_agree_with_state(
        days in 1usize..200,
        payments in prop::collection::vec((0usize..200, 1i64..400_000), 0..12),
        compounds in any::<bool>(),
    ) {
        let mut c = config();
        c.penalty_compounds = compounds;
        let signed = Loan::signed(c, d("2026-01-15"));
        let (mut loan, mut journal) = apply(&signed, &Command::Disburse { payee: None }, d("2026-01-15")).unwrap();
        for day in 0..days {
            let (state, postings) = apply(&loan, &Command::AdvanceDay, loan.business_date.succ()).unwrap();
            loan = state;
            journal.extend(postings);
            for &(_, amount_minor) in payments.iter().filter(|(on, _)| *on == day) {
                let (state, postings) = apply(&loan, &Command::Repay { amount: cny(amount_minor) }, loan.business_date).unwrap();
                loan = state;
                journal.extend(postings);
            }
            prop_assert!(journal.iter().all(|p| p.amount_minor > 0));
            let b = balances(&journal);
            let get = |purpose| b.get(&purpose).copied().unwrap_or(0);
            let on_books = loan.status == LoanStatus::Active;
            prop_assert_eq!(get(PrincipalReceivable), if on_books { loan.principal_outstanding_minor() } else { 0 });
            prop_assert_eq!(get(InterestReceivable), if on_books { loan.outstanding_minor(Component::Interest) } else { 0 });
            prop_assert_eq!(get(AccruedInterest), if on_books { loan.interest_accrued_unbilled_minor() } else { 0 });
            prop_assert_eq!(get(PenaltyReceivable), if on_books { loan.outstanding_minor(Component::Penalty) } else { 0 });
            prop_assert_eq!(get(FeeReceivable), if on_books { loan.outstanding_minor(Component::Fee) } else { 0 });
            prop_assert_eq!(-get(Overpayment), loan.overpayment_credit_minor);
            prop_assert_eq!(b.values().sum::<i64>(), 0);
        }
    }

    /// On every day `quiet_through` promises, `AdvanceDay` changes nothing but the date and
    /// the accrued interest and posts only `AccruedInterest ← InterestIncome`, by the amount
    /// `quiet_day_accrual_minor` gives; `fast_forward` lands on the same state as stepping.
    #[test]
    fn quiet_days_have_a_closed_form(
        c in any_config(),
        actions in prop::collection::vec((0u8..100, 1i64..600_000), 1..200),
    ) {
        let signed = Loan::signed(c, d("2026-01-31"));
        let (mut loan, _) = apply(&signed, &Command::Disburse { payee: None }, d("2026-01-31")).unwrap();
        for &(kind, amount_minor) in &actions {
            if kind < 15 {
                if let Ok((state, _)) = apply(&loan, &Command::Repay { amount: cny(amount_minor) }, loan.business_date) {
                    loan = state;
                }
            }
            let Some(quiet) = quiet_through(&loan) else {
                loan = apply(&loan, &Command::AdvanceDay, loan.business_date.succ()).unwrap().0;
                continue;
            };
            let start = loan.clone();
            let mut stepped = loan.clone();
            while stepped.business_date < quiet {
                let next = stepped.business_date.succ();
                let expected = quiet_day_accrual_minor(&stepped, next);
                let (state, postings) = apply(&stepped, &Command::AdvanceDay, next).unwrap();
                let accrued: i64 = postings.iter().map(|p| p.amount_minor).sum();
                prop_assert!(postings.iter().all(|p| p.debit == AccruedInterest && p.credit == InterestIncome));
                prop_assert_eq!(accrued, expected);
                prop_assert_eq!(quiet_day_accrual_minor(&start, next), expected);
                stepped = state;
                let mut jumped = start.clone();
                prop_assert_eq!(fast_forward(&mut jumped, next), Some(()));
                prop_assert_eq!(&jumped, &stepped);
            }
            let mut beyond = stepped.clone();
            prop_assert_eq!(fast_forward(&mut beyond, quiet.succ()), None);
            prop_assert_eq!(&beyond, &stepped);
            loan = apply(&stepped, &Command::AdvanceDay, quiet.succ()).unwrap().0;
            if loan.status != LoanStatus::Active {
                break;
            }
        }
    }

    /// Random products and borrowers: whatever happens, the journal balances, receivables
    /// match the state, a paid-off loan owes nothing and every principal unit is either
    /// repaid or written off.
    #[test]
    fn any_product_keeps_the_books_in_step(
        c in any_config(),
        actions in prop::collection::vec((0u8..100, 1i64..600_000), 60..420),
        pay_percent in 0u8..40,
        prepay_percent in 0u8..3,
    ) {
        let principal_minor = c.principal.amount_minor();
        let signed = Loan::signed(c, d("2026-01-31"));
        let (mut loan, mut journal) = apply(&signed, &Command::Disburse { payee: None }, d("2026-01-31")).unwrap();
        for &(kind, amount_minor) in &actions {
            // Borrowers differ: some pay often, some never, a few pay off early.
            let command = if kind < prepay_percent {
                match payoff_minor(&loan) {
                    Ok(required) => Command::PrepayFull { amount: cny(required + amount_minor % 3) },
                    Err(_) => Command::AdvanceDay,
                }
            } else if kind < prepay_percent + 2 {
                Command::PrepayPartial { amount: cny(amount_minor) }
            } else if kind < prepay_percent + pay_percent {
                Command::Repay { amount: cny(amount_minor) }
            } else if kind >= 97 && loan.overpayment_credit_minor > 0 {
                Command::Refund { amount: cny(1 + amount_minor % loan.overpayment_credit_minor) }
            } else {
                Command::AdvanceDay
            };
            let as_of = match command {
                Command::AdvanceDay => loan.business_date.succ(),
                _ => loan.business_date,
            };
            match apply(&loan, &command, as_of) {
                Ok((state, postings)) => {
                    loan = state;
                    journal.extend(postings);
                }
                // A partial prepayment may be refused (too small, too large); nothing
                // else may fail here.
                Err(error) => prop_assert!(
                    matches!(command, Command::PrepayPartial { .. })
                        || (loan.status != LoanStatus::Active
                            && !matches!(command, Command::AdvanceDay)),
                    "{}", error
                ),
            }
        }
        prop_assert!(journal.iter().all(|p| p.amount_minor > 0));
        let b = balances(&journal);
        let get = |purpose| b.get(&purpose).copied().unwrap_or(0);
        prop_assert_eq!(b.values().sum::<i64>(), 0);
        let on_books = loan.status == LoanStatus::Active;
        prop_assert_eq!(get(PrincipalReceivable), if on_books { loan.principal_outstanding_minor() } else { 0 });
        prop_assert_eq!(get(InterestReceivable), if on_books { loan.outstanding_minor(Component::Interest) } else { 0 });
            prop_assert_eq!(get(AccruedInterest), if on_books { loan.interest_accrued_unbilled_minor() } else { 0 });
        prop_assert_eq!(get(FeeReceivable), if on_books { loan.outstanding_minor(Component::Fee) } else { 0 });
        prop_assert_eq!(get(PenaltyReceivable), if on_books { loan.outstanding_minor(Component::Penalty) } else { 0 });
        prop_assert_eq!(-get(Overpayment), loan.overpayment_credit_minor);
        prop_assert!(loan.overpayment_credit_minor >= 0);
        let repaid = sum_of(&journal, BorrowerCash, PrincipalReceivable)
            + sum_of(&journal, Overpayment, PrincipalReceivable);
        let written_off = sum_of(&journal, WriteOffExpense, PrincipalReceivable);
        prop_assert_eq!(repaid + written_off + get(PrincipalReceivable), principal_minor);
        if loan.status == LoanStatus::PaidOff {
            prop_assert!(loan.installments.iter().all(|i| i.billed && i.outstanding_total() == 0));
        }
        let stored = crate::codec::encode_loan(&loan);
        prop_assert_eq!(crate::codec::decode_loan(&stored), Ok(loan.clone()));
        prop_assert!(crate::codec::decode_loan(&stored[..stored.len() - 1]).is_err());
    }
}
