"""Checks of the harness's scoring module.

  dev/peers/.venv/bin/python dev/peers/test_scoring.py [path/to/stai]

1. the metrics against scipy and hand-computed values;
2. rescoring the predictions of a real `stai cv --predictions` run (tiny
   simulated inputs from `stai demo --write-inputs`) reproduces stai's own
   per-gene table (PCC, RMSE(z), JSD) to 1e-6.
Exits non-zero on any failure.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import pandas as pd
import scipy.stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scoring  # noqa: E402


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def unit():
    rng = np.random.default_rng(1)
    x = rng.poisson(3, 200).astype(float)
    y = x + rng.normal(0, 2, 200)
    check(abs(scoring.pearson(x, y) - scipy.stats.pearsonr(x, y)[0]) < 1e-12, "pearson = scipy.stats.pearsonr")
    check(abs(scoring.spearman(x, y) - scipy.stats.spearmanr(x, y)[0]) < 1e-12, "spearman = scipy.stats.spearmanr")
    check(np.isnan(scoring.pearson(np.ones(5), np.arange(5.0))), "pearson of a constant vector is NaN")
    zx, zy = scipy.stats.zscore(x), scipy.stats.zscore(y)
    check(abs(scoring.rmse_zscored(x, y) - np.sqrt(np.mean((zx - zy) ** 2))) < 1e-12, "rmse_z with population sd")
    check(scoring.jensen_shannon(x, 2 * x) < 1e-15, "JSD of proportional vectors is 0")
    # disjoint supports: JSD = log 2
    check(abs(scoring.jensen_shannon([1, 0], [0, 1]) - np.log(2)) < 1e-15, "JSD of disjoint vectors is log 2")
    check(abs(scoring.jensen_shannon([-1, 1, 1], [0, 1, 1])) < 1e-15, "JSD clips negative predictions to 0")
    panel = np.array([[1.0, 3.0], [2.0, 2.0], [0.0, 8.0]])
    med = np.median([4.0, 4.0, 8.0])
    check(np.allclose(scoring.log_normalise(panel), np.log1p(panel / np.array([[4.0], [4.0], [8.0]]) * med)),
          "log-normalisation: cell total over the panel, median total, log1p")


def against_stai(stai):
    with tempfile.TemporaryDirectory() as d:
        run = lambda *a: subprocess.run([stai, *a], check=True, stdout=subprocess.DEVNULL)  # noqa: E731
        run("demo", "--write-inputs", d, "--n-spatial", "150", "--n-reference", "120", "--n-genes", "40",
            "--n-panel", "16", "--seed", "5", "--quiet")
        table, pred = os.path.join(d, "cv.csv"), os.path.join(d, "pred.csv")
        run("cv", "--spatial", f"{d}/spatial.h5ad", "--reference", f"{d}/reference.h5ad", "--scheme", "kfold:3",
            "--out", table, "--predictions", pred, "--epochs", "5", "--threads", "1", "--quiet")
        import anndata as ad

        sp = ad.read_h5ad(f"{d}/spatial.h5ad")
        X = np.asarray(sp.X, dtype=np.float64)
        P = pd.read_csv(pred, index_col=0)
        check(list(P.index.astype(str)) == list(sp.obs_names), "predictions: one row per spatial cell, in order")
        t = pd.read_csv(table).set_index("gene")
        check(list(P.columns) == list(t.index), "predictions: one column per scored gene, in table order")
        ln = scoring.log_normalise(X)
        worst = 0.0
        for g in P.columns:
            j = list(sp.var_names).index(g)
            s = scoring.score_gene(P[g].to_numpy(np.float32).astype(np.float64), X[:, j], ln[:, j])
            for k in ("pcc", "rmse_z", "jsd"):
                worst = max(worst, abs(s[k] - float(t.loc[g, k])))
        check(worst <= 1e-6, f"rescored stai predictions reproduce stai's per-gene table (worst {worst:.2g})")


if __name__ == "__main__":
    unit()
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
    stai = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build", "stai")
    if os.access(stai, os.X_OK):
        against_stai(stai)
    else:
        print(f"FAIL: no stai program at {stai}; build it (cmake --build build --target stai) or pass its path")
        sys.exit(1)
