"""stai, SpaGE and Tangram on exactly the same held-out gene sets of a shared
data pair, scored by one scoring module. Run it through run.sh (which makes
the virtual environment); see docs/evaluation.md, "Peers".

  1. writes the pair as h5ad into OUT/inputs (once);
  2. fixes the held-out sets in OUT/sets.csv with `stai cv --print-sets`
     (osmfish: leave one gene out; merfish: --scheme kfold:10);
  3. runs each method on those sets; every method writes OUT/pred_METHOD.csv
     (spatial cells x held-out genes, each column predicted by the model of
     the set that held the gene out) and OUT/pred_METHOD.json (settings,
     timing, a digest of the sets); a prediction file whose digest and
     settings match is reused unless --rerun; each finished set is also kept
     in OUT/sets_METHOD/, so a stopped run resumes where it stopped;
  4. scores every method found in OUT with scoring.py (with --partial also
     a peer stopped part-way, on the sets it finished, every method then on
     the genes all of them have) and writes
     per_gene.csv, summary.csv, comparisons.csv, times.csv, summary.md and
     pcc_scatter.png.
"""
import argparse
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time

import numpy as np
import pandas as pd

import methods
import pairs
import scoring

ALL_METHODS = ["stai", "spage", "tangram", "ridge", "celltotal"]  # the last two: baselines (methods.py)


def die(msg):
    print(f"peers: error: {msg}", file=sys.stderr)
    sys.exit(1)


def say(*a):
    print("peers:", *a, flush=True)


def read_sets(path):
    t = pd.read_csv(path, dtype={"gene": str})
    if list(t.columns[:2]) != ["set", "gene"]:
        die(f"{path}: expected the header set,gene")
    order, sets = [], {}
    for s, g in zip(t["set"], t["gene"]):
        if s not in sets:
            order.append(s)
            sets[s] = []
        sets[s].append(g)
    return [sets[s] for s in order]


def write_sets(path, sets):
    rows = [(i + 1, g) for i, s in enumerate(sets) for g in s]
    pd.DataFrame(rows, columns=["set", "gene"]).to_csv(path, index=False)


def sets_digest(sets):
    return hashlib.sha256(json.dumps(sets).encode()).hexdigest()[:16]


def write_predictions(path, cells, genes, values):
    df = pd.DataFrame(np.asarray(values, dtype=np.float32), index=pd.Index(cells, name="cell"), columns=genes)
    df.to_csv(path, float_format="%.9g")


def read_predictions(path, cells, genes):
    df = pd.read_csv(path, index_col=0, dtype={0: str})
    df.index = df.index.astype(str)
    missing = [g for g in genes if g not in df.columns]
    if missing:
        die(f"{path}: no column for held-out gene(s) {', '.join(missing[:5])}; it must hold every gene of the sets")
    if list(df.index) != list(cells):
        die(f"{path}: its {len(df)} rows are not the {len(cells)} spatial cells in input order")
    # float32 text read back as float32, then widened: the exact values written
    return df[genes].to_numpy(np.float32).astype(np.float64)


def meta_matches(path, want):
    if not os.path.isfile(path):
        return False
    with open(path) as f:
        have = json.load(f)
    return all(have.get(k) == v for k, v in want.items())


def set_part(parts, genes, train, settings):
    """The file that keeps one finished held-out set of a method, and the
    record it must carry to be reused."""
    return (os.path.join(parts, f"set_{sets_digest([genes, train])}.npz"),
            {"genes": genes, "training": train, "settings": settings})


def read_part(part, part_meta, n_cells):
    """(values, seconds) of a finished set, or None if absent or not for this set."""
    if not os.path.isfile(part):
        return None
    with np.load(part) as z:
        if json.loads(str(z["meta"])) == part_meta and z["values"].shape == (n_cells, len(part_meta["genes"])):
            return np.array(z["values"]), float(z["seconds"])
    return None


def finished_sets(out, m, sets, shared_all, settings, n_cells):
    """The sets a stopped run of peer m finished: (values with NaN columns for
    the others, seconds per finished set, the finished sets' genes)."""
    values = np.full((n_cells, sum(len(s) for s in sets)), np.nan)
    k, secs, genes = 0, [], []
    for s in sets:
        train = [g for g in shared_all if g not in s]
        got = read_part(*set_part(os.path.join(out, f"sets_{m}"), s, train, settings), n_cells)
        if got is not None:
            values[:, k:k + len(s)] = got[0]
            secs.append(got[1])
            genes += s
        k += len(s)
    return values, secs, genes


def run_stai(a, sp_path, ref_path, sets_path, out):
    pred = os.path.join(out, "pred_stai.csv")
    table = os.path.join(out, "stai_cv.csv")
    cmd = [a.stai, "cv", "--spatial", sp_path, "--reference", ref_path, "--sets", sets_path, "--out", table,
           "--predictions", pred, "--threads", str(a.threads), "--json"] + shlex.split(a.stai_args)
    say("stai:", " ".join(shlex.quote(c) for c in cmd))
    t0 = time.time()
    last = ""
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as p:
        for line in p.stdout:  # stai's own lines pass through; the last is its JSON summary
            if last:
                print(last, end="", flush=True)
            last = line
    secs = time.time() - t0
    if p.returncode != 0:
        print(last, end="")
        die(f"stai cv failed (exit code {p.returncode}); see its message above")
    # The refinement's choices per set (chosen on the training genes only), kept beside the table.
    try:
        record = json.loads(last).get("refinement", [])
    except ValueError:
        record = []
    with open(os.path.join(out, "stai_refinement.json"), "w") as f:
        json.dump(record, f, indent=1)
    return secs, table


def check_against_stai_table(table, rows):
    """The Python scorer must reproduce stai's own per-gene table."""
    t = pd.read_csv(table, dtype={"gene": str}).set_index("gene")
    mine = {r["gene"]: r for r in rows if r["method"] == "stai"}
    worst = 0.0
    for g, row in t.iterrows():
        if g not in mine:  # --partial scores only the genes every method has
            continue
        for ours, theirs in (("pcc", "pcc"), ("rmse_z", "rmse_z"), ("jsd", "jsd")):
            a, b = mine[g][ours], float(row[theirs])
            if np.isnan(a) and np.isnan(b):
                continue
            worst = max(worst, abs(a - b))
    if not worst <= 1e-6:
        die(f"the Python scorer disagrees with stai's table {table} by {worst:.3g} (limit 1e-6)")
    say(f"scorer check: stai's per-gene table {os.path.basename(table)} reproduced to {worst:.2g} (limit 1e-6)")
    return worst


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pair", choices=sorted(pairs.PAIRS))
    p.add_argument("--data", required=True, help="the shared data folder")
    p.add_argument("--out", required=True, help="output folder (keep it outside the repository)")
    p.add_argument("--stai", required=True, help="the stai program")
    p.add_argument("--methods", default=",".join(ALL_METHODS),
                   help="comma-separated subset of stai,spage,tangram,ridge,celltotal (empty: run none, score what "
                   "OUT holds)")
    p.add_argument("--stai-args", default="", help="extra arguments for `stai cv` (e.g. \"--epochs 20\")")
    p.add_argument("--stai-predictions", default="", help="use this stai prediction file instead of running stai")
    p.add_argument("--stai-table", default="", help="with --stai-predictions: stai's per-gene table, to check the "
                   "scorer against it")
    p.add_argument("--max-sets", type=int, default=0, help="only the first N held-out sets (0 = all)")
    p.add_argument("--threads", type=int, default=1, help="threads for every method (default 1)")
    p.add_argument("--n-pv", type=int, default=0, help="SpaGE principal vectors (default 30 osmfish, 50 merfish)")
    p.add_argument("--tangram-epochs", type=int, default=1000)
    p.add_argument("--seed", type=int, default=8848, help="Tangram's random_state")
    p.add_argument("--rerun", action="store_true", help="run the peers again even if matching predictions exist")
    p.add_argument("--partial", action="store_true", help="also score a peer stopped part-way, on the sets it "
                   "finished (OUT/sets_METHOD/); every method is then scored on the genes all of them have")
    p.add_argument("--reverse", action="store_true", help="work through the sets last first; a second process "
                   "with --reverse on the same --out shares the work with a forward one (each set is kept once "
                   "finished and reused by the other)")
    a = p.parse_args()
    want = [m.strip() for m in a.methods.split(",") if m.strip()]
    for m in want:
        if m not in ALL_METHODS:
            die(f"--methods: unknown method '{m}'; use a subset of {','.join(ALL_METHODS)}")
    if not os.path.isfile(a.stai) or not os.access(a.stai, os.X_OK):
        die(f"--stai: '{a.stai}' is not an executable; build it with "
            "'cmake --build build --target stai' or pass --stai PATH")
    miss = pairs.missing_files(a.pair, a.data)
    if miss:
        print(f"peers: skipped {a.pair}: {a.data} lacks {', '.join(miss)} (pass --data DIR)")
        return 0
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    sp_path, ref_path = pairs.write_inputs(a.pair, a.data, os.path.join(out, "inputs"))

    # 1. The held-out sets, once, from stai itself.
    scheme = pairs.PAIRS[a.pair]["scheme"]
    all_sets = os.path.join(out, "sets_all.csv")
    if not os.path.isfile(all_sets):
        r = subprocess.run([a.stai, "cv", "--spatial", sp_path, "--reference", ref_path, "--scheme", scheme,
                            "--print-sets", all_sets, "--quiet"])
        if r.returncode != 0:
            die("stai cv --print-sets failed; see its message above")
    sets = read_sets(all_sets)
    if a.max_sets > 0:
        sets = sets[: a.max_sets]
    sets_path = os.path.join(out, "sets.csv")
    write_sets(sets_path, sets)
    digest = sets_digest(sets)
    genes = [g for s in sets for g in s]
    set_of = {g: i + 1 for i, s in enumerate(sets) for g in s}
    say(f"{a.pair}: {len(sets)} held-out set(s), {len(genes)} genes ({scheme}); sets in {sets_path}")

    import anndata as ad

    sp = ad.read_h5ad(sp_path)
    ref = ad.read_h5ad(ref_path)
    cells = [str(c) for c in sp.obs_names]
    X = np.asarray(sp.X.toarray() if hasattr(sp.X, "toarray") else sp.X, dtype=np.float64)
    spatial_genes = [str(v) for v in sp.var_names]
    col = {g: j for j, g in enumerate(spatial_genes)}
    shared_all = [g for s in read_sets(all_sets) for g in s]
    shared_all_set = set(shared_all)
    n_pv = a.n_pv or (30 if a.pair == "osmfish" else 50)

    def peer_settings(m):
        return {"spage": {"n_pv": n_pv, "k": 50}, "tangram": {"epochs": a.tangram_epochs, "seed": a.seed},
                "ridge": {"lambda": 0.1, "input": "log1p"}, "celltotal": {}}[m]

    # 2. The methods.
    for m in want:
        pred = os.path.join(out, f"pred_{m}.csv")
        meta_path = os.path.join(out, f"pred_{m}.json")
        if m == "stai":
            if a.stai_predictions:
                read_predictions(a.stai_predictions, cells, genes)  # checked now, scored below
                meta = {"sets": digest, "source": os.path.abspath(a.stai_predictions),
                        "table": os.path.abspath(a.stai_table) if a.stai_table else "", "seconds": None,
                        "threads": None, "settings": "from --stai-predictions"}
            else:
                secs, table = run_stai(a, sp_path, ref_path, sets_path, out)
                meta = {"sets": digest, "source": pred, "table": table, "seconds": secs, "threads": a.threads,
                        "settings": f"stai cv --sets {os.path.basename(sets_path)} {a.stai_args}".strip()}
            with open(meta_path, "w") as f:
                json.dump(meta, f, indent=1)
            continue
        settings = peer_settings(m)
        if not a.rerun and meta_matches(meta_path, {"sets": digest, "settings": settings, "complete": True}):
            say(f"{m}: reusing {pred} (same sets and settings; --rerun to run it again)")
            continue
        say(f"{m}: {len(sets)} set(s), {a.threads} thread(s), settings {settings}")
        values = np.zeros((len(cells), len(genes)))
        t0 = time.time()
        per_set = [0.0] * len(sets)  # seconds, in set order
        parts = os.path.join(out, f"sets_{m}")  # one finished set per file: a stopped run resumes
        os.makedirs(parts, exist_ok=True)
        order = list(enumerate(sets))
        offset = np.cumsum([0] + [len(s) for s in sets])  # first column of each set
        if a.reverse:
            order.reverse()
        for si, s in order:
            k = int(offset[si])
            train = [g for g in shared_all if g not in s]
            assert not set(train) & set(s)
            part, part_meta = set_part(parts, s, train, settings)
            got = None if a.rerun else read_part(part, part_meta, len(cells))
            if got is not None:
                values[:, k:k + len(s)], per_set[si] = got
                say(f"{m}: set {si + 1}/{len(sets)} reused from {part}")
                continue
            spatial_train = sp[:, [col[g] for g in train]].copy()  # the held-out genes are not in it
            ts = time.time()
            if m == "spage":
                v, info = methods.spage(spatial_train, ref, s, n_pv)
            elif m == "tangram":
                v, info = methods.tangram(spatial_train, ref, s, a.tangram_epochs, a.seed, a.threads)
            elif m == "ridge":
                v, info = methods.ridge(spatial_train, ref, s, settings["lambda"])
            else:
                v, info = methods.celltotal(spatial_train, ref, s)
            values[:, k:k + len(s)] = v
            per_set[si] = time.time() - ts
            tmp = part + ".tmp.npz"
            np.savez(tmp, values=np.asarray(v, dtype=np.float64), seconds=per_set[si], meta=json.dumps(part_meta))
            os.replace(tmp, part)
            say(f"{m}: set {si + 1}/{len(sets)} ({len(s)} gene(s), {len(train)} training) "
                f"{per_set[si]:.1f} s {info}")
        secs = time.time() - t0
        write_predictions(pred, cells, genes, values)
        with open(meta_path, "w") as f:
            # seconds: the sum over sets of each set's own run, whichever process or session ran it
            json.dump({"sets": digest, "settings": settings, "complete": True, "seconds": float(sum(per_set)),
                       "wall_seconds_this_run": secs,
                       "seconds_per_set": per_set, "threads": a.threads, "source": pred}, f, indent=1)

    # 3. Score every method with predictions for these sets.
    panel = X  # all genes of the spatial file
    lognorm = scoring.log_normalise(panel)
    found, meta_of = [], {}
    for m in ALL_METHODS:
        mp = os.path.join(out, f"pred_{m}.json")
        if meta_matches(mp, {"sets": digest}):
            with open(mp) as f:
                meta_of[m] = json.load(f)
            if m == "stai" or meta_of[m].get("complete"):
                found.append(m)
    pred_of = {m: read_predictions(meta_of[m]["source"], cells, genes) for m in found}
    if a.partial:
        for m in [m for m in ALL_METHODS if m != "stai" and m not in found]:
            settings = peer_settings(m)
            P, secs, done = finished_sets(out, m, sets, shared_all, settings, len(cells))
            if done:
                found.append(m)
                pred_of[m] = P
                meta_of[m] = {"seconds": float(sum(secs)), "threads": None,
                              "settings": f"{settings}, partial: {len(secs)} of {len(sets)} sets"}
                say(f"{m}: --partial: {len(secs)} of {len(sets)} set(s) finished ({len(done)} genes)")
    if not found:
        die("no method has predictions for these sets yet")
    scored = [j for j in range(len(genes)) if all(np.isfinite(pred_of[m][:, j]).all() for m in found)]
    if len(scored) < len(genes):
        say(f"--partial: scoring the {len(scored)} of {len(genes)} held-out genes that every method has")
    rows = []
    for m in found:
        P = pred_of[m]
        for j in scored:
            g = genes[j]
            c = col[g]
            r = {"gene": g, "set": set_of[g], "method": m}
            r.update(scoring.score_gene(P[:, j], X[:, c], lognorm[:, c]))
            rows.append(r)
    if "stai" in found and meta_of["stai"].get("table"):
        check_against_stai_table(meta_of["stai"]["table"], rows)
    import report

    report.write(out, a.pair, scheme, sets, rows, found, meta_of,
                 {"n_pv": n_pv, "tangram_epochs": a.tangram_epochs, "seed": a.seed,
                  "n_cells": len(cells), "n_shared": len(shared_all_set), "n_panel": len(spatial_genes)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
