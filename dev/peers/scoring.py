"""The one scoring module of the peer harness: every method's held-out
predictions are scored here, gene by gene, with the same code.

Definitions follow stai's include/stai/eval/metrics.hpp (the scores of
`stai cv`), so that rescoring stai's own predictions reproduces its per-gene
table (checked by test_scoring.py and at every harness run):

* pcc          Pearson correlation over cells of the prediction and the
               MEASURED values as they are in the spatial input (raw counts
               for count data); NaN when either vector is constant.
* pcc_lognorm  Pearson correlation with the log-normalised measurement:
               each cell's values divided by its total over ALL genes of the
               spatial panel, times the median of those totals, then log1p.
* spearman     Spearman rank correlation (average ranks for ties).
* rmse_z       RMSE after z-scoring both vectors (population standard
               deviation; a constant vector becomes zeros).
* jsd          Jensen-Shannon divergence (natural log) of the two vectors,
               negative entries clipped to 0, each normalised to sum 1.
"""
import numpy as np
import scipy.stats

METRICS = ["pcc", "pcc_lognorm", "spearman", "rmse_z", "jsd"]
HIGHER_IS_BETTER = {"pcc": True, "pcc_lognorm": True, "spearman": True, "rmse_z": False, "jsd": False}


def pearson(x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    a = x - x.mean()
    b = y - y.mean()
    sxx, syy = float(a @ a), float(b @ b)
    if sxx <= 0 or syy <= 0:
        return float("nan")
    return float(a @ b) / np.sqrt(sxx * syy)


def zscore(x):
    x = np.asarray(x, dtype=np.float64)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def rmse_zscored(x, y):
    d = zscore(x) - zscore(y)
    return float(np.sqrt(np.mean(d * d)))


def jensen_shannon(x, y):
    p = np.clip(np.asarray(x, dtype=np.float64), 0, None)
    q = np.clip(np.asarray(y, dtype=np.float64), 0, None)
    if p.sum() <= 0 or q.sum() <= 0:
        return float("nan")
    p = p / p.sum()
    q = q / q.sum()
    m = 0.5 * (p + q)
    with np.errstate(divide="ignore", invalid="ignore"):
        tp = np.where(p > 0, p * np.log(p / m), 0.0)
        tq = np.where(q > 0, q * np.log(q / m), 0.0)
    return float(0.5 * tp.sum() + 0.5 * tq.sum())


def spearman(x, y):
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    return pearson(scipy.stats.rankdata(x), scipy.stats.rankdata(y))


def log_normalise(panel):
    """cells x all panel genes -> log1p(x / cell total * median cell total)."""
    panel = np.asarray(panel, dtype=np.float64)
    tot = panel.sum(axis=1)
    if np.any(tot <= 0):
        raise ValueError(f"{int(np.sum(tot <= 0))} spatial cell(s) have a zero total over the panel; "
                         "the log-normalised measurement is undefined for them")
    return np.log1p(panel / tot[:, None] * np.median(tot))


def score_gene(pred, measured, measured_lognorm):
    """All metrics of one held-out gene (vectors over the same cells)."""
    return {
        "pcc": pearson(pred, measured),
        "pcc_lognorm": pearson(pred, measured_lognorm),
        "spearman": spearman(pred, measured),
        "rmse_z": rmse_zscored(pred, measured),
        "jsd": jensen_shannon(pred, measured),
    }
