"""Tables, tests, figure and summary of one harness run (see harness.py)."""
import os

import numpy as np
import pandas as pd
import scipy.stats

import scoring

NAMES = {"stai": "stai", "spage": "SpaGE", "tangram": "Tangram", "ridge": "ridge (baseline)",
         "celltotal": "cell total (baseline)"}


def _paired(df, metric, a, b):
    w = df.pivot(index="gene", columns="method", values=metric)[[a, b]].dropna()
    return w[a].to_numpy(), w[b].to_numpy()


def write(out, pair, scheme, sets, rows, found, meta_of, info):
    df = pd.DataFrame(rows)
    df.to_csv(os.path.join(out, "per_gene.csv"), index=False, float_format="%.10g")

    summ = []
    for m in found:
        d = df[df.method == m]
        r = {"method": m, "n_genes": len(d)}
        for k in scoring.METRICS:
            r[f"median_{k}"] = float(np.nanmedian(d[k]))
            r[f"mean_{k}"] = float(np.nanmean(d[k]))
        summ.append(r)
    summ = pd.DataFrame(summ)
    summ.to_csv(os.path.join(out, "summary.csv"), index=False, float_format="%.6g")

    comps = []
    if "stai" in found:
        for peer in [m for m in found if m != "stai"]:
            for k in scoring.METRICS:
                s, q = _paired(df, k, "stai", peer)
                hib = scoring.HIGHER_IS_BETTER[k]
                better = (s > q) if hib else (s < q)
                alt = "greater" if hib else "less"
                wil = scipy.stats.wilcoxon(s, q, alternative=alt) if np.any(s != q) else None
                mw = scipy.stats.mannwhitneyu(s, q, alternative=alt)
                comps.append({"peer": peer, "metric": k, "n_genes": len(s), "stai_wins": int(better.sum()),
                              "peer_wins": int(((q > s) if hib else (q < s)).sum()),
                              "wilcoxon_alternative": f"stai {alt}",
                              "wilcoxon_p": float(wil.pvalue) if wil is not None else float("nan"),
                              "mannwhitney_p": float(mw.pvalue)})
    comps = pd.DataFrame(comps)
    comps.to_csv(os.path.join(out, "comparisons.csv"), index=False, float_format="%.6g")

    times = pd.DataFrame([{"method": m, "seconds": meta_of[m].get("seconds"), "threads": meta_of[m].get("threads"),
                           "settings": str(meta_of[m].get("settings"))} for m in found])
    times.to_csv(os.path.join(out, "times.csv"), index=False)

    fig_path = os.path.join(out, "pcc_scatter.png")
    peers = [m for m in found if m != "stai"]
    if "stai" in found and peers:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, len(peers), figsize=(4.2 * len(peers), 4.2), squeeze=False)
        for ax, peer in zip(axes[0], peers):
            s, q = _paired(df, "pcc", "stai", peer)
            lo = min(0.0, np.min(s), np.min(q)) - 0.02
            hi = max(np.max(s), np.max(q)) + 0.02
            ax.plot([lo, hi], [lo, hi], color="0.5", lw=1, zorder=0)
            ax.scatter(q, s, s=14, alpha=0.8)
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal")
            ax.set_xlabel(f"{NAMES[peer]} PCC")
            ax.set_ylabel("stai PCC")
            ax.set_title(f"{pair}: stai above the line on {int((s > q).sum())} of {len(s)}")
        fig.tight_layout()
        fig.savefig(fig_path, dpi=130)
        plt.close(fig)

    L = [f"# Peer comparison: {pair}", "",
         f"{len(sets)} held-out set(s) ({scheme}), {len(df.gene.unique())} genes, {info['n_cells']} spatial cells, "
         f"{info['n_shared']} shared genes, panel of {info['n_panel']} genes. Sets: sets.csv. "
         "Scores per held-out gene over cells (scoring.py): pcc vs the raw measurement, pcc_lognorm vs "
         "log1p(x / cell total over the panel x median total), Spearman, RMSE after z-scoring, JSD.", "",
         "| method | genes | " + " | ".join(f"{k} median / mean" for k in scoring.METRICS) + " |",
         "|---|---|" + "---|" * len(scoring.METRICS)]
    for _, r in summ.iterrows():
        L.append(f"| {NAMES[r.method]} | {r.n_genes} | " +
                 " | ".join(f"{r[f'median_{k}']:.3f} / {r[f'mean_{k}']:.3f}" for k in scoring.METRICS) + " |")
    if len(comps):
        L += ["", "stai against each peer, per gene (wins: stai better / peer better; one-sided paired Wilcoxon "
              "signed-rank and one-sided Mann-Whitney U, H1 = stai better):", "",
              "| peer | metric | stai wins | peer wins | Wilcoxon p | Mann-Whitney p |", "|---|---|---|---|---|---|"]
        for _, r in comps.iterrows():
            L.append(f"| {NAMES[r.peer]} | {r.metric} | {r.stai_wins} | {r.peer_wins} | {r.wilcoxon_p:.3g} | "
                     f"{r.mannwhitney_p:.3g} |")
    L += ["", "| method | wall time (s) | threads | settings |", "|---|---|---|---|"]
    for _, r in times.iterrows():
        secs = "" if r.seconds is None or pd.isna(r.seconds) else f"{r.seconds:.1f}"
        L.append(f"| {NAMES[r.method]} | {secs} | {'' if pd.isna(r.threads) else int(r.threads)} | {r.settings} |")
    if os.path.isfile(fig_path):
        L += ["", "![stai PCC against each peer](pcc_scatter.png)"]
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n".join(L) + "\n")
    print("\n".join(L))
