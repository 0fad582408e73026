#!/usr/bin/env python3
"""Build the LightGBM/XGBoost import fixtures in crates/risk/tests/fixtures/.

Trains small models on German credit (scripts/fetch-data.sh first) with categorical columns
integer-coded and some values blanked to exercise missing-value routing, then saves each
library's own model file and its predicted probabilities for the fixture rows.
Needs: pip install lightgbm xgboost numpy pandas
"""
import csv, os, sys
import numpy as np
import lightgbm as lgb
import xgboost as xgb

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = os.path.join(root, "testdata", "external", "germancredit.csv")
out = os.path.join(root, "crates", "risk", "tests", "fixtures")
os.makedirs(out, exist_ok=True)

with open(src, newline="") as f:
    rows = list(csv.reader(f))
header, body = rows[0], rows[1:]
target = header.index("creditability")
names = [h for i, h in enumerate(header) if i != target]
short = ["f%02d_%s" % (i, n[:12].replace(" ", "_")) for i, n in enumerate(names)]

cols, cat_idx = [], []
for j, h in enumerate(header):
    if j == target:
        continue
    values = [r[j] for r in body]
    try:
        cols.append(np.array([float(v) for v in values]))
    except ValueError:
        levels = sorted(set(values))
        cols.append(np.array([float(levels.index(v)) for v in values]))
        cat_idx.append(len(cols) - 1)
X = np.column_stack(cols)
y = np.array([1.0 if r[target] == "bad" else 0.0 for r in body])
rng = np.random.default_rng(42)
# Blank 10% of two numeric columns and one categorical column: missing-value routing.
for j in (1, 4, cat_idx[0]):
    X[rng.random(len(X)) < 0.10, j] = np.nan
# Exact zeros in a numeric column exercise LightGBM's zero handling.
X[rng.random(len(X)) < 0.05, 12] = 0.0

fixture_rows = np.arange(0, len(X), 5)  # 200 rows
Xf = X[fixture_rows]

lgb_params = dict(objective="binary", num_leaves=15, learning_rate=0.1, min_data_in_leaf=10,
                  min_data_per_group=5, cat_smooth=5, max_cat_to_onehot=4, verbose=-1, seed=1)
ds = lgb.Dataset(X, y, feature_name=short, categorical_feature=cat_idx, free_raw_data=False)
booster = lgb.train(lgb_params, ds, num_boost_round=25)
booster.save_model(os.path.join(out, "lightgbm_german.txt"))
lgb_p = booster.predict(Xf)
# Random-forest mode: the model file says `average_output` and trees are averaged.
rf_params = dict(lgb_params, boosting="rf", bagging_fraction=0.7, bagging_freq=1, feature_fraction=0.8)
rf = lgb.train(rf_params, ds, num_boost_round=10)
rf.save_model(os.path.join(out, "lightgbm_german_rf.txt"))
rf_p = rf.predict(Xf)

dm = xgb.DMatrix(X, label=y, feature_names=short, missing=np.nan)
xgb_params = dict(objective="binary:logistic", max_depth=4, eta=0.1, base_score=0.3, seed=1)
bst = xgb.train(xgb_params, dm, num_boost_round=25)
bst.save_model(os.path.join(out, "xgboost_german.json"))
xgb_p = bst.predict(xgb.DMatrix(Xf, feature_names=short, missing=np.nan))

# Native categorical splits: codes in a node's category set go right in XGBoost.
types = ["c" if j in cat_idx else "q" for j in range(X.shape[1])]
dmc = xgb.DMatrix(X, label=y, feature_names=short, feature_types=types, enable_categorical=True)
cat_params = dict(xgb_params, tree_method="hist", max_cat_to_onehot=1)
bstc = xgb.train(cat_params, dmc, num_boost_round=25)
bstc.save_model(os.path.join(out, "xgboost_german_cat.json"))
xgbc_p = bstc.predict(xgb.DMatrix(Xf, feature_names=short, feature_types=types, enable_categorical=True))

def fmt(v):
    return "" if np.isnan(v) else repr(float(v))

with open(os.path.join(out, "german_rows.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(short + ["lightgbm_p", "xgboost_p", "xgboost_cat_p", "lightgbm_rf_p"])
    for i, row in enumerate(Xf):
        preds = [lgb_p[i], xgb_p[i], xgbc_p[i], rf_p[i]]
        w.writerow([fmt(v) for v in row] + [repr(float(p)) for p in preds])
print("lightgbm", lgb.__version__, "xgboost", xgb.__version__, "rows", len(Xf))

# A LightGBM model trained from a pandas DataFrame with category columns: the model file
# lists each categorical column's levels (pandas_categorical), so raw strings can be scored.
import pandas as pd
frame = pd.DataFrame({h: [r[j] for r in body] for j, h in enumerate(header) if j != target})
for h in frame.columns:
    try:
        frame[h] = frame[h].astype(float)
    except ValueError:
        frame[h] = frame[h].astype("category")
frame = frame.iloc[:, :12]  # a dozen columns keep the fixture small
pd_booster = lgb.train(dict(lgb_params), lgb.Dataset(frame, y), num_boost_round=15)
pd_booster.save_model(os.path.join(out, "lightgbm_german_pandas.txt"))
pd_p = pd_booster.predict(frame.iloc[fixture_rows])
# XGBoost 3 stores the category strings of DataFrame columns in the model ("cats").
xpd = xgb.train(dict(xgb_params, tree_method="hist", max_cat_to_onehot=1),
                xgb.DMatrix(frame, y, enable_categorical=True), num_boost_round=15)
xpd.save_model(os.path.join(out, "xgboost_german_pandas.json"))
xpd_p = xpd.predict(xgb.DMatrix(frame.iloc[fixture_rows], enable_categorical=True))
with open(os.path.join(out, "german_raw_rows.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(list(frame.columns) + ["lightgbm_pandas_p", "xgboost_pandas_p"])
    for i, r in enumerate(fixture_rows):
        raw = [body[r][header.index(c)] for c in frame.columns]
        w.writerow(raw + [repr(float(pd_p[i])), repr(float(xpd_p[i]))])
