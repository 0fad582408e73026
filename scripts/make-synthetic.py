#!/usr/bin/env python3
"""Writes a seeded synthetic credit set for the large-data GBM benchmark.

Default: 1,000,000 rows, 20 feature columns plus `is_bad`, into
testdata/synthetic/credit-1m.csv. The columns mimic a loan book: amounts and incomes with
long right tails, ratios, counts, dates as days, a few categorical columns (state, sector
code, channel, purpose, term band, collateral) of very different cardinalities, and missing
values in several columns (blank cells). The log-odds of default is a nonlinear function of
about a dozen columns (thresholds, an interaction, a U shape, category effects) plus noise
features that carry nothing, so models that overfit lose test AUC.

Usage: scripts/make-synthetic.py [--rows N] [--seed S] [--out PATH]
Needs: pip install numpy pandas
"""
import argparse, os
import numpy as np
import pandas as pd

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("--rows", type=int, default=1_000_000)
ap.add_argument("--seed", type=int, default=20240611)
ap.add_argument("--out", default=os.path.join(root, "testdata", "synthetic", "credit-1m.csv"))
a = ap.parse_args()
rng = np.random.default_rng(a.seed)
n = a.rows

def missing(col, share):
    col = col.astype(object)
    col[rng.random(n) < share] = ""
    return col

states = np.array([f"S{i:02d}" for i in range(52)])
state_w = rng.dirichlet(np.full(52, 0.6))
state = rng.choice(52, n, p=state_w)
state_effect = rng.normal(0, 0.35, 52)
sector = rng.choice(300, n, p=rng.dirichlet(np.full(300, 0.3)))
sector_effect = rng.normal(0, 0.5, 300)
channel = rng.choice(["branch", "broker", "online", "partner"], n, p=[0.4, 0.25, 0.3, 0.05])
purpose = rng.choice(["working_capital", "equipment", "real_estate", "refinance", "startup", "other"],
                     n, p=[0.35, 0.2, 0.15, 0.15, 0.1, 0.05])
collateral = rng.choice(["none", "property", "vehicle", "guarantee"], n, p=[0.3, 0.3, 0.2, 0.2])

amount = np.round(np.exp(rng.normal(11.0, 1.1, n)), 0)
income = np.round(np.exp(rng.normal(11.8, 0.8, n)), 0)
term_months = rng.choice([12, 24, 36, 60, 84, 120, 240, 300], n, p=[0.05, 0.1, 0.15, 0.25, 0.2, 0.15, 0.05, 0.05])
employees = np.maximum(0, np.round(np.exp(rng.normal(1.6, 1.2, n)) - 1)).astype(int)
age_years = np.round(np.abs(rng.normal(8, 7, n)), 1)
bureau = np.clip(np.round(rng.normal(690, 60, n)), 300, 850)
dti = np.round(np.clip(amount / income * rng.lognormal(0, 0.3, n), 0, 20), 3)
delinq = rng.poisson(0.3 + 0.7 * (bureau < 620), n)
inquiries = rng.poisson(1.2, n)
utilization = np.round(rng.beta(2, 3, n), 4)
approval_day = rng.integers(0, 7300, n)
guarantee_pct = np.round(np.clip(rng.normal(0.6, 0.2, n), 0, 1), 2)
noise1 = np.round(rng.normal(0, 1, n), 4)
noise2 = rng.integers(0, 1000, n)

logit = (-2.6
         + 0.9 * (bureau < 640) + 0.5 * (bureau < 600) - 0.012 * (bureau - 690) / 10
         + 0.35 * np.log1p(dti) ** 2
         + 0.45 * np.minimum(delinq, 4)
         + 0.12 * inquiries
         + 1.2 * (utilization - 0.45) ** 2 * 4
         - 0.5 * (age_years > 5) - 0.3 * (employees > 10)
         + 0.6 * (term_months >= 240) * (collateral == "none")
         + state_effect[state] + sector_effect[sector]
         + np.select([channel == "broker", channel == "online"], [0.35, 0.15], 0.0)
         + np.select([purpose == "startup", purpose == "refinance"], [0.7, 0.25], 0.0)
         - 0.8 * guarantee_pct * (collateral != "none")
         + 0.4 * np.sin(approval_day / 1200.0)
         + rng.normal(0, 0.8, n))
y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)

df = pd.DataFrame({
    "amount": amount.astype(np.int64),
    "income": missing(income.astype(np.int64), 0.08),
    "term_months": term_months,
    "employees": missing(employees, 0.05),
    "business_age_years": age_years,
    "bureau_score": missing(bureau.astype(int), 0.12),
    "dti": dti,
    "delinquencies": delinq,
    "inquiries": missing(inquiries, 0.03),
    "utilization": missing(utilization, 0.1),
    "approval_day": approval_day,
    "guarantee_pct": guarantee_pct,
    "noise_a": noise1,
    "noise_b": noise2,
    "state": missing(states[state], 0.01),
    "sector": np.array([f"N{c:03d}" for c in range(300)])[sector],
    "channel": channel,
    "purpose": missing(purpose, 0.04),
    "collateral": collateral,
    "urban": rng.choice(["urban", "rural", ""], n, p=[0.6, 0.3, 0.1]),
    "is_bad": y,
})
os.makedirs(os.path.dirname(a.out), exist_ok=True)
tmp = a.out + ".tmp"
df.to_csv(tmp, index=False)
os.replace(tmp, a.out)
print(f"wrote {a.out}: {n} rows, {df.shape[1] - 1} features, bad rate {y.mean():.4f}, "
      f"{os.path.getsize(a.out) / 2**20:.1f} MiB")
