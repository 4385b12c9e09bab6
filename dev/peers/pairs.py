"""The shared data pairs of the peer harness, read once from ../shared/data
and written as h5ad into the harness's work folder (never into the
repository), in the form `stai` and the peers read them.

osmfish  osmfish_allen_tissue/: Spatial_count.txt (cells x 33 genes, raw
         counts), Locations.txt (X, Y by position), scRNA_count.txt (genes x
         1000 Allen cells); cells are named "0", "1", ... as stai names the
         rows of a text table without row names. Leave-one-gene-out.
merfish  merfish_moffitt/: orgaccc_slice/merfish.h5ad (4975 cells x 160
         genes, obsm spatial, obs celltype) and stged_scrna/
         ref_exp_clear_100um.csv (genes x 9873 cells, raw UMIs) with the
         labels of ref_label_clear_100um.csv by position. 10-fold over genes.
"""
import os

import anndata as ad
import numpy as np
import pandas as pd

PAIRS = {
    "osmfish": {"scheme": "loo", "files": ["osmfish_allen_tissue/Spatial_count.txt",
                                           "osmfish_allen_tissue/Locations.txt",
                                           "osmfish_allen_tissue/scRNA_count.txt"]},
    "merfish": {"scheme": "kfold:10", "files": ["merfish_moffitt/orgaccc_slice/merfish.h5ad",
                                                "merfish_moffitt/stged_scrna/ref_exp_clear_100um.csv",
                                                "merfish_moffitt/stged_scrna/ref_label_clear_100um.csv"]},
}


def missing_files(pair, data_dir):
    return [f for f in PAIRS[pair]["files"] if not os.path.isfile(os.path.join(data_dir, f))]


def _dense32(a):
    x = a.X.toarray() if hasattr(a.X, "toarray") else np.asarray(a.X)
    a.X = x.astype(np.float32)
    return a


def write_inputs(pair, data_dir, work):
    """Writes spatial.h5ad and reference.h5ad for `pair` into `work` (once);
    returns their paths."""
    sp_path = os.path.join(work, "spatial.h5ad")
    ref_path = os.path.join(work, "reference.h5ad")
    if os.path.isfile(sp_path) and os.path.isfile(ref_path):
        return sp_path, ref_path
    if pair == "osmfish":
        base = os.path.join(data_dir, "osmfish_allen_tissue")
        counts = pd.read_csv(os.path.join(base, "Spatial_count.txt"), sep="\t")
        loc = pd.read_csv(os.path.join(base, "Locations.txt"), sep="\t")
        if len(loc) != len(counts):
            raise SystemExit(f"{base}/Locations.txt has {len(loc)} rows but Spatial_count.txt {len(counts)}")
        sp = ad.AnnData(X=counts.to_numpy(np.float32))
        sp.obs_names = [str(i) for i in range(sp.n_obs)]
        sp.var_names = list(counts.columns)
        sp.obsm["spatial"] = loc[["X", "Y"]].to_numpy(np.float64)
        ref_t = pd.read_csv(os.path.join(base, "scRNA_count.txt"), sep="\t", index_col=0)
        ref = ad.AnnData(X=ref_t.T.to_numpy(np.float32))
        ref.obs_names = list(ref_t.columns)
        ref.var_names = list(ref_t.index)
    elif pair == "merfish":
        base = os.path.join(data_dir, "merfish_moffitt")
        sp = _dense32(ad.read_h5ad(os.path.join(base, "orgaccc_slice/merfish.h5ad")))
        sp = ad.AnnData(X=sp.X, obs=sp.obs[["celltype"]].copy(), var=pd.DataFrame(index=sp.var_names),
                        obsm={"spatial": np.asarray(sp.obsm["spatial"], dtype=np.float64)})
        ref_t = pd.read_csv(os.path.join(base, "stged_scrna/ref_exp_clear_100um.csv"), index_col=0)
        labels = pd.read_csv(os.path.join(base, "stged_scrna/ref_label_clear_100um.csv"), index_col=0)
        if len(labels) != ref_t.shape[1]:
            raise SystemExit(f"{base}: {len(labels)} labels for {ref_t.shape[1]} reference cells")
        ref = ad.AnnData(X=ref_t.T.to_numpy(np.float32))
        ref.obs_names = list(ref_t.columns)
        ref.var_names = list(ref_t.index)
        ref.obs["celltype"] = pd.Categorical(labels.iloc[:, 0].astype(str).to_numpy())
    else:
        raise SystemExit(f"unknown pair '{pair}'; the pairs are {', '.join(PAIRS)}")
    os.makedirs(work, exist_ok=True)
    sp.write_h5ad(sp_path)
    ref.write_h5ad(ref_path)
    return sp_path, ref_path
