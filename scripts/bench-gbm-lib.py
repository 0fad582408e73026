#!/usr/bin/env python3
"""One LightGBM or XGBoost training run on a CSV under the split rule, for scripts/bench-gbm.sh.

Data row i (0-based, header excluded) is test when i % 5 == 0, else train. Columns that are
not all numbers become pandas categories (both libraries split on them natively); blanks
are missing. Modes:
  default  the library's defaults, 100 rounds, all train rows;
  early    up to 2000 rounds at the default learning rate, stopping after 50 rounds without a
           better logloss on a validation slice: every `--valid-every`-th train row (the same
           slice Puhui stops on), the rest fit.
Prints one JSON line: library, mode, test AUC, rounds, seconds spent loading and training
(predicting the test rows excluded), and the CPU seconds (all threads) of the training.
Needs: pip install lightgbm xgboost pandas scikit-learn
"""
import argparse, json, time
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ap = argparse.ArgumentParser()
ap.add_argument("--lib", choices=["lightgbm", "xgboost"], required=True)
ap.add_argument("--mode", choices=["default", "early"], required=True)
ap.add_argument("--data", required=True)
ap.add_argument("--target", required=True)
ap.add_argument("--bad-value", default="1")
ap.add_argument("--valid-every", type=int, default=5)
a = ap.parse_args()

t0 = time.perf_counter()
df = pd.read_csv(a.data, keep_default_na=True, na_values=["?", "NA", "null"], dtype={a.target: str})
y = (df.pop(a.target).astype(str).str.strip() == a.bad_value).astype(int).to_numpy()
for c in df.columns:
    if not pd.api.types.is_numeric_dtype(df[c]):
        df[c] = df[c].astype("category")
n = len(df)
test = np.arange(n) % 5 == 0
train_idx = np.flatnonzero(~test)
X_train, y_train = df.iloc[train_idx], y[train_idx]
X_test, y_test = df.iloc[np.flatnonzero(test)], y[test]
if a.mode == "early":
    v = np.arange(len(train_idx)) % a.valid_every == 0
    X_fit, y_fit, X_val, y_val = X_train[~v], y_train[~v], X_train[v], y_train[v]
t1, c1 = time.perf_counter(), time.process_time()

if a.lib == "lightgbm":
    import lightgbm as lgb
    version = lgb.__version__
    params = dict(objective="binary", verbose=-1)
    if a.mode == "default":
        m = lgb.train(params, lgb.Dataset(X_train, y_train), 100)
    else:
        fit = lgb.Dataset(X_fit, y_fit)
        m = lgb.train(params | dict(metric="binary_logloss"), fit, 2000,
                      valid_sets=[lgb.Dataset(X_val, y_val, reference=fit)],
                      callbacks=[lgb.early_stopping(50, verbose=False)])
    rounds = m.best_iteration or 100
    t2, c2 = time.perf_counter(), time.process_time()
    p = m.predict(X_test, num_iteration=rounds)
else:
    import xgboost as xgb
    version = xgb.__version__
    params = dict(objective="binary:logistic", tree_method="hist", eval_metric="logloss")
    dm = lambda X, y: xgb.DMatrix(X, y, enable_categorical=True)
    if a.mode == "default":
        m = xgb.train(params, dm(X_train, y_train), 100)
        rounds = 100
    else:
        m = xgb.train(params, dm(X_fit, y_fit), 2000, evals=[(dm(X_val, y_val), "valid")],
                      early_stopping_rounds=50, verbose_eval=False)
        rounds = m.best_iteration + 1
    t2, c2 = time.perf_counter(), time.process_time()
    p = m.predict(dm(X_test, y_test), iteration_range=(0, rounds))
print(json.dumps(dict(lib=f"{a.lib} {version}", mode=a.mode, auc=roc_auc_score(y_test, p),
                      rounds=rounds, load_s=t1 - t0, train_s=t2 - t1, train_cpu_s=c2 - c1)))
