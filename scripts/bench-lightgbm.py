#!/usr/bin/env python3
"""Reference scoring throughput: LightGBM's and XGBoost's own single-threaded predict on bloan.

Trains a model the size of Puhui's default booster on bloan (200 trees, 15 leaves; the
categorical column coded by sorted level), saves it to testdata/external/lightgbm_bloan.txt
for the Rust bench to import, and times Booster.predict(num_threads=1) over all 20,000 rows;
likewise an XGBoost model of 200 depth-4 trees saved to testdata/external/xgboost_bloan.json
(the categorical column as its numeric code).
"""
import csv, os, time
import numpy as np
import lightgbm as lgb
import xgboost as xgb

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ext = os.path.join(root, "testdata", "external")
with open(os.path.join(ext, "bloan.csv"), newline="") as f:
    rows = list(csv.reader(f))
header, body = rows[0], rows[1:]
t = header.index("is_bad")
names = [h for i, h in enumerate(header) if i != t]
cols, cats = [], []
for j, h in enumerate(header):
    if j == t:
        continue
    vals = [r[j] for r in body]
    try:
        cols.append(np.array([float(v) for v in vals]))
    except ValueError:
        levels = sorted(set(vals))
        cols.append(np.array([float(levels.index(v)) for v in vals]))
        cats.append(len(cols) - 1)
X = np.column_stack(cols)
y = np.array([float(r[t]) for r in body])
params = dict(objective="binary", num_leaves=15, learning_rate=0.03, min_data_in_leaf=20, verbose=-1, seed=1)
booster = lgb.train(params, lgb.Dataset(X, y, feature_name=names, categorical_feature=cats), num_boost_round=200)
booster.save_model(os.path.join(ext, "lightgbm_bloan.txt"))
booster.predict(X, num_threads=1)
passes = 10
start = time.perf_counter()
for _ in range(passes):
    booster.predict(X, num_threads=1)
secs = time.perf_counter() - start
print(f"lightgbm {lgb.__version__} predict, 1 thread: {len(X) * passes / secs:,.0f} rows/s "
      f"({booster.num_trees()} trees, 15 leaves, {len(X)} rows x {passes} passes)")

xparams = dict(objective="binary:logistic", max_depth=4, eta=0.03, nthread=1, tree_method="hist")
bst = xgb.train(xparams, xgb.DMatrix(X, y, feature_names=names), 200)
bst.save_model(os.path.join(ext, "xgboost_bloan.json"))
# inplace_predict: Booster.predict on a reused DMatrix returns a cached result.
bst.set_param({"nthread": 1})
bst.inplace_predict(X)
start = time.perf_counter()
for _ in range(passes):
    bst.inplace_predict(X)
secs = time.perf_counter() - start
print(f"xgboost {xgb.__version__} predict, 1 thread: {len(X) * passes / secs:,.0f} rows/s "
      f"(200 trees, depth 4, {len(X)} rows x {passes} passes, inplace_predict)")
