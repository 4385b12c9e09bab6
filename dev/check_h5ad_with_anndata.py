#!/usr/bin/env python3
"""Cross-checks stai's .h5ad writer and reader against python anndata.

Development tool only (the library and its tests never need Python):

    pip install anndata h5py
    python3 dev/check_h5ad_with_anndata.py            # check + generate
    ./stai_tests -tc="anndata-written*"                # C++ reads what anndata wrote

1. Reads $TMPDIR/stai_h5ad_roundtrip.h5ad, which the C++ test
   "h5ad: write then read round-trips every field" (tests/test_io_h5ad.cpp)
   leaves behind, with anndata.read_h5ad and checks every value against the
   content that test wrote (mirrored below).
2. Writes files with anndata itself into $TMPDIR/stai_anndata_written/
   (dense float32 / float64 / int64 X, CSR and CSC X, categorical, string,
   float, bool and nullable-integer obs columns, obsm) together with
   expected_X.csv / expected_obs.csv, which the C++ test
   "anndata-written files" reads and compares.
Exits non-zero on the first mismatch.
"""
import os
import sys
import tempfile

import numpy as np
import pandas as pd

try:
    import anndata as ad
    import scipy.sparse as sp
except ImportError as e:  # pragma: no cover
    sys.exit(f"needs anndata, h5py and scipy: pip install anndata h5py ({e})")

TMP = tempfile.gettempdir()


def fail(msg):
    print("MISMATCH:", msg)
    sys.exit(1)


def sample_matrix(rows, cols):
    m = np.zeros((rows, cols), dtype=np.float32)
    for i in range(rows):
        for j in range(cols):
            m[i, j] = 0.0 if (i * 7 + j * 3) % 4 == 0 else float(i * 10 + j + 1)
    return m


def check_cpp_written():
    path = os.path.join(TMP, "stai_h5ad_roundtrip.h5ad")
    if not os.path.exists(path):
        print(f"SKIP part 1: {path} not found; run the C++ test suite first "
              "(test case 'h5ad: write then read round-trips every field')")
        return False
    a = ad.read_h5ad(path)
    from importlib.metadata import version
    print(f"read {path} with anndata {version('anndata')}: {a}")
    if a.shape != (5, 4):
        fail(f"shape {a.shape}")
    if not np.array_equal(np.asarray(a.X), sample_matrix(5, 4)):
        fail("X values")
    if a.X.dtype != np.float32:
        fail(f"X dtype {a.X.dtype}")
    if list(a.obs_names) != [f"c{i}" for i in range(5)]:
        fail(f"obs_names {list(a.obs_names)}")
    if list(a.var_names) != ["Gad2", "Vip", "Sst", "Pvalb"]:
        fail(f"var_names {list(a.var_names)}")
    o = a.obs
    if not np.array_equal(o["total"].to_numpy(), [1.5, 2.0, -3.25, 4e10, 0.0]):
        fail("obs total")
    ct = o["celltype"]
    if not isinstance(ct.dtype, pd.CategoricalDtype) or list(ct.cat.categories) != ["B", "A", "C"]:
        fail(f"celltype categories {ct.dtype}")
    if list(ct.astype(str)) != ["B", "A", "B", "C", "A"]:
        fail("celltype values")
    fo = o["fixed_order"]
    if list(fo.cat.categories) != ["y", "x"] or not pd.isna(fo.iloc[1]) or list(fo.cat.codes) != [1, -1, 0, 1, 0]:
        fail(f"fixed_order {list(fo)}")
    if list(o["note"]) != ["n0", "n,1", 'n"2', "üñí", ""]:
        fail(f"note {list(o['note'])}")
    if not np.array_equal(a.var["hyb"].to_numpy(), [1, 2, 3, 4]):
        fail("var hyb")
    if list(a.var["dye"].astype(str)) != ["Cy5", "Cy3", "Cy5", "A594"]:
        fail("var dye")
    spm = np.asarray(a.obsm["spatial"])
    if not np.array_equal(spm, np.arange(0.5, 10.0, 1.0).reshape(5, 2)):
        fail(f"obsm spatial {spm}")
    if a.uns.get("description") != "stai round trip" or a.uns.get("params") != '{"k": 50}':
        fail(f"uns {dict(a.uns)}")
    # anndata must also be able to write it back unchanged.
    out = os.path.join(TMP, "stai_h5ad_roundtrip_rewritten.h5ad")
    a.write_h5ad(out)
    b = ad.read_h5ad(out)
    if not (np.array_equal(np.asarray(b.X), np.asarray(a.X)) and b.obs.equals(a.obs) and b.var.equals(a.var)):
        fail("anndata re-write changed the data")
    print("part 1 OK: the C++-written file reads back unchanged in anndata")
    return True


def write_python_files():
    d = os.path.join(TMP, "stai_anndata_written")
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        os.remove(os.path.join(d, f))
    x = sample_matrix(6, 5)
    obs = pd.DataFrame(
        {
            "celltype": pd.Categorical(["Astro", "Neuron", "Astro", "OD Mature", "Neuron", "Astro"]),
            "batch": ["b1", "b2", "b1", "b1", "b2", "b2"],
            "n_counts": np.array([1.5, 2.25, 3.0, -4.0, 5.5, 6.0]),
            "flag": np.array([True, False, True, True, False, False]),
            "nullable": pd.array([1, None, 3, 4, None, 6], dtype="Int64"),
        },
        index=[f"cell{i}" for i in range(6)],
    )
    var = pd.DataFrame({"hyb": np.arange(5)}, index=[f"gene{j}" for j in range(5)])
    spatial = np.arange(12, dtype=np.float64).reshape(6, 2) / 2.0  # [1,0] == 1.0
    variants = {
        "dense_f32": x,
        "dense_f64": x.astype(np.float64),
        "dense_i64": x.astype(np.int64),
        "csr": sp.csr_matrix(x),
        "csc": sp.csc_matrix(x),
    }
    for name, mat in variants.items():
        a = ad.AnnData(X=mat, obs=obs.copy(), var=var.copy())
        a.obsm["spatial"] = spatial
        a.uns["note"] = "written by anndata"
        a.write_h5ad(os.path.join(d, f"{name}.h5ad"))
    pd.DataFrame(x, index=obs.index, columns=var.index).to_csv(os.path.join(d, "expected_X.csv"))
    exp = obs.copy()
    exp["flag"] = exp["flag"].astype(int)
    exp.to_csv(os.path.join(d, "expected_obs.csv"), na_rep="NA")
    print(f"part 2 OK: wrote {len(variants)} anndata files and expectations into {d}")
    print('          now run: stai_tests -tc="anndata-written*"')


if __name__ == "__main__":
    check_cpp_written()
    write_python_files()
