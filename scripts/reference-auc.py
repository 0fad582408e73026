#!/usr/bin/env python3
"""Library baselines on the split rule (data row i is test when i % 5 == 0), for comparison
with `puhui model train --holdout`. Defaults of each library; categorical columns one-hot
encoded for logistic regression and integer-coded as categories for LightGBM/XGBoost.
Needs: pip install lightgbm xgboost scikit-learn numpy
"""
import csv, os
import numpy as np
import lightgbm as lgb
import xgboost as xgb
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.metrics import roc_auc_score

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ext = os.path.join(root, "testdata", "external")

def load(name, target, bad):
    with open(os.path.join(ext, name), newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    t = header.index(target)
    y = np.array([1 if r[t] == bad else 0 for r in body])
    num, cat = [], []
    for j in range(len(header)):
        if j == t:
            continue
        vals = [r[j] for r in body]
        try:
            num.append(np.array([float(v) for v in vals]))
        except ValueError:
            cat.append(vals)
    return num, cat, y

def run(name, target, bad):
    num, cat, y = load(name, target, bad)
    test = np.arange(len(y)) % 5 == 0
    codes = [np.array([sorted(set(c)).index(v) for v in c], dtype=float) for c in cat]
    X = np.column_stack(num + codes)
    cats = list(range(len(num), len(num) + len(codes)))
    m = lgb.train(dict(objective="binary", verbose=-1), lgb.Dataset(X[~test], y[~test], categorical_feature=cats), 100)
    out = {"lightgbm": roc_auc_score(y[test], m.predict(X[test]))}
    types = ["q"] * len(num) + ["c"] * len(codes)
    d = lambda rows: xgb.DMatrix(X[rows], y[rows], feature_types=types, enable_categorical=True)
    b = xgb.train(dict(objective="binary:logistic", tree_method="hist"), d(~test), 100)
    out["xgboost"] = roc_auc_score(y[test], b.predict(d(test)))
    onehot = [np.array([v == level for v in c], dtype=float) for c in cat for level in sorted(set(c))[1:]]
    Z = np.column_stack(num + onehot)
    s = StandardScaler().fit(Z[~test])
    lr = LogisticRegression(max_iter=2000).fit(s.transform(Z[~test]), y[~test])
    out["logistic"] = roc_auc_score(y[test], lr.predict_proba(s.transform(Z[test]))[:, 1])
    print(name, " ".join(f"{k} {v:.4f}" for k, v in out.items()))

run("germancredit.csv", "creditability", "bad")
run("bloan.csv", "is_bad", "1")
