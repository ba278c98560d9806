#!/usr/bin/env python3
"""Compare the Rust engine kernels with Python `implicit` and scikit-learn
on the very same data (written by the engine's `bench_data` example).

    pip install implicit==0.7.3 scikit-learn numpy scipy
    python3 bench/engine_compare.py [--data DIR] [--iterations N] [--threads 2]

Steps: writes the data if DIR has none (cargo run --example bench_data), runs
our `engine_bench` example (JSON on stdout), then
* implicit 0.7.3 ALS: 64 factors, conjugate gradient, `--threads` threads,
  seconds per iteration = (time of 1 + N iterations - time of 1) / N, so that
  set-up and conversion costs are left out;
* scikit-learn TfidfVectorizer (float32) on corpus.txt, MB/s;
* cosine top-10 neighbours: rows are L2-normalised, so X·Xᵀ in blocks of
  1,000 rows, self excluded, argpartition; items/s.
and prints both sets of figures side by side.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def cargo(example, *args):
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", "/work/target-engine")
    cmd = ["cargo", "run", "-q", "--release", "-p", "recofinement-engine",
           "--example", example, "--", *map(str, args)]
    return subprocess.run(cmd, cwd=REPO, env=env, check=True,
                          capture_output=True, text=True).stdout


def load(data):
    import numpy as np
    import scipy.sparse as sp
    shape = json.loads((data / "shape.json").read_text())
    users = np.fromfile(data / "users.u32", dtype="<u4")
    items = np.fromfile(data / "items.u32", dtype="<u4")
    values = np.fromfile(data / "values.f32", dtype="<f4")
    m = sp.csr_matrix((values, (users, items)),
                      shape=(shape["users"], shape["items"]), dtype=np.float32)
    docs = (data / "corpus.txt").read_text().splitlines()
    return m, docs


def implicit_als(m, iterations, threads):
    from implicit.cpu.als import AlternatingLeastSquares

    def fit(n):
        model = AlternatingLeastSquares(
            factors=64, regularization=0.05, alpha=1.0, iterations=n,
            use_cg=True, num_threads=threads, calculate_training_loss=False,
            random_state=1)
        start = time.perf_counter()
        model.fit(m, show_progress=False)
        return time.perf_counter() - start

    fit(1)  # warm-up (thread pool, caches)
    one = min(fit(1) for _ in range(2))
    many = fit(1 + iterations)
    return (many - one) / iterations


def sklearn_text(docs):
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    size = sum(len(d) for d in docs) / 1e6
    start = time.perf_counter()
    x = TfidfVectorizer(dtype=np.float32).fit_transform(docs)
    tfidf = time.perf_counter() - start
    start = time.perf_counter()
    xt = x.T.tocsr()
    n = x.shape[0]
    for lo in range(0, n, 1000):
        block = (x[lo:lo + 1000] @ xt).toarray()
        rows = np.arange(block.shape[0])
        block[rows, lo + rows] = -1.0
        top = np.argpartition(-block, 10, axis=1)[:, :10]
        order = np.take_along_axis(block, top, axis=1).argsort(axis=1)[:, ::-1]
        np.take_along_axis(top, order, axis=1)
    knn = time.perf_counter() - start
    return size / tfidf, n / knn, tfidf, knn


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/engine-bench-data")
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    # implicit runs its own thread pool and asks for single-threaded BLAS.
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    data = Path(a.data)
    if not (data / "shape.json").exists():
        print(cargo("bench_data", data).strip(), file=sys.stderr)
    ours = json.loads(cargo("engine_bench", data, a.iterations))
    m, docs = load(data)
    als = implicit_als(m, a.iterations, a.threads)
    mbs, ips, _, _ = sklearn_text(docs)
    print(f"data: {m.shape[0]} users x {m.shape[1]} items, {m.nnz} interactions; "
          f"{len(docs)} documents, {ours['corpus_mb']:.2f} MB")
    print(f"{'kernel':<34} {'ours (Rust)':>14} {'Python':>14} {'target':>10}")
    print(f"{'ALS iteration, 64 f, CG (s)':<34} {ours['als_s_per_iter']:>14.3f} {als:>14.3f} {'<= 0.15':>10}")
    print(f"{'TF-IDF fit (MB/s)':<34} {ours['tfidf_mb_per_s']:>14.1f} {mbs:>14.1f} {'>= 40':>10}")
    print(f"{'top-10 cosine (items/s)':<34} {ours['knn_items_per_s']:>14.0f} {ips:>14.0f} {'>= 6000':>10}")
    print("Python: implicit 0.7.3 (ALS, %d threads); scikit-learn TfidfVectorizer and "
          "scipy sparse X.Xt (single thread)" % a.threads)


if __name__ == "__main__":
    main()
