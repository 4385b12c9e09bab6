"""The peers, each run on ONE held-out set at a time.

Every method is called as  impute(spatial_train, reference, genes)  where
spatial_train is the spatial AnnData restricted to the TRAINING genes of the
set (the held-out genes are not in it, so no method can see them), reference
is the whole scRNA-seq reference, and genes are the held-out genes to
predict. It returns a cells x genes float64 array in `genes` order.

SpaGE   TISSUE's copy of the authors' SpaGE (tissue-sc, tissue.SpaGE.main),
        inputs prepared as the SpaGE authors' benchmark scripts do:
        spatial: log1p(x / cell total * median cell total), totals over the
        training genes; reference: log1p(counts per million), totals over all
        reference genes; reference genes with zero variance dropped;
        n_pv principal vectors (default: 30 for osmFISH, 50 for MERFISH,
        at most the number of training genes); SpaGE's own kNN: k = 50
        nearest reference cells by cosine distance in the aligned space.
Tangram tangram-sc, its tutorial: reference normalize_total (to the median
        total; no log), spatial raw values of the training genes;
        tg.pp_adatas(reference, spatial_train, genes=training genes);
        tg.map_cells_to_space(mode="cells", density_prior="rna_count_based",
        num_epochs=1000, learning_rate=0.1, lambda_d=1 (set by the prior),
        lambda_g1=1, device="cpu", random_state=seed); tg.project_genes.
        The density prior sums each spatial cell's values over the genes of
        spatial_train, i.e. over the training genes only.

Two baselines, to read the scores against (not peers from the literature):
celltotal  each spatial cell's total over the training genes, the same
           column for every held-out gene: it knows nothing of the gene, so
           its score is what cell size (molecules captured per cell) alone
           earns under a metric.
ridge      ridge regression on the reference from the training genes to the
           held-out gene: reference log1p(counts per 10^4, totals over all
           reference genes), training genes z-scored over reference cells,
           beta = (A'A/n + lambda I)^-1 A'(y - mean y)/n with lambda = 0.1
           fixed (A'A/n is the genes' correlation matrix); applied to the
           spatial cells' log1p(values) of the training genes, z-scored over
           spatial cells (each platform standardised on its own cells).
"""
import numpy as np
import pandas as pd


def _gene_index(names, genes, who):
    low = {str(n).lower(): i for i, n in enumerate(names)}
    out = []
    for g in genes:
        i = low.get(str(g).lower())
        if i is None:
            raise SystemExit(f"{who}: gene '{g}' is not in the reference")
        out.append(i)
    return out


def _dense(x):
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)


def _log_per_cell(x, target=None):
    """log1p(x / cell total x target), target the median total if None; an
    all-zero cell stays zero."""
    tot = x.sum(axis=1)
    scale = np.median(tot) if target is None else target
    tot[tot == 0] = 1.0
    return np.log1p(x / tot[:, None] * scale)


def spage(spatial_train, reference, genes, n_pv):
    from tissue.SpaGE.main import SpaGE

    st = _log_per_cell(_dense(spatial_train.X))
    sc = _log_per_cell(_dense(reference.X), 1e6)
    rna = pd.DataFrame(sc, columns=[str(v) for v in reference.var_names])
    rna = rna.loc[:, rna.var(axis=0) > 0]
    # match the spelling of the spatial genes (the reference may differ in case)
    train = [str(g) for g in spatial_train.var_names]
    ren = {rna.columns[i]: train[k] for k, i in enumerate(_gene_index(rna.columns, train, "SpaGE"))}
    want = [rna.columns[i] for i in _gene_index(rna.columns, genes, "SpaGE")]
    ren.update({w: g for w, g in zip(want, genes)})
    rna = rna.rename(columns=ren)
    spatial = pd.DataFrame(st, columns=train)
    pv = int(min(n_pv, len(train)))
    out = SpaGE(spatial, rna, n_pv=pv, genes_to_predict=np.array(list(genes)))
    return out[list(genes)].to_numpy(np.float64), {"n_pv": pv, "k": 50}


def tangram(spatial_train, reference, genes, epochs, seed, threads):
    import logging

    import scanpy as sc
    import tangram as tg
    import torch

    torch.set_num_threads(threads)
    logging.getLogger().setLevel(logging.WARNING)
    ad_sc = reference.copy()
    ad_sc.X = _dense(ad_sc.X).astype(np.float32)
    sc.pp.normalize_total(ad_sc)
    ad_sp = spatial_train.copy()
    ad_sp.X = _dense(ad_sp.X).astype(np.float32)
    train = [str(g) for g in spatial_train.var_names]
    tg.pp_adatas(ad_sc, ad_sp, genes=train)
    ad_map = tg.map_cells_to_space(ad_sc, ad_sp, mode="cells", density_prior="rna_count_based",
                                   num_epochs=epochs, device="cpu", random_state=seed,
                                   verbose=True)  # its score every 100 epochs, as progress
    ad_ge = tg.project_genes(adata_map=ad_map, adata_sc=ad_sc)
    idx = _gene_index(ad_ge.var_names, genes, "Tangram")
    return _dense(ad_ge.X[:, idx]), {"n_training_genes": len(ad_sc.uns["training_genes"]), "epochs": epochs,
                                     "seed": seed}


def celltotal(spatial_train, reference, genes):
    tot = _dense(spatial_train.X).sum(axis=1)
    return np.repeat(tot[:, None], len(genes), axis=1), {}


def _zscore_columns(a):
    sd = a.std(axis=0)
    sd[sd == 0] = 1.0  # a constant gene becomes zeros
    return (a - a.mean(axis=0)) / sd


def ridge(spatial_train, reference, genes, lam):
    train = [str(g) for g in spatial_train.var_names]
    sc = _log_per_cell(_dense(reference.X), 1e4)
    names = [str(v) for v in reference.var_names]
    A = _zscore_columns(sc[:, _gene_index(names, train, "ridge")])
    Y = sc[:, _gene_index(names, genes, "ridge")]
    n = A.shape[0]
    beta = np.linalg.solve(A.T @ A / n + lam * np.eye(A.shape[1]), A.T @ (Y - Y.mean(axis=0)) / n)
    S = _zscore_columns(np.log1p(np.maximum(_dense(spatial_train.X), 0.0)))
    return S @ beta + Y.mean(axis=0), {"lambda": lam}
