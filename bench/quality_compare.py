#!/usr/bin/env python3
"""Recommendation quality side by side: our engines vs Python's `implicit`.

For every scale and seed, runs `recofinement engine evaluate --export DIR
--format json` (our metrics, and the exact train/test split they score),
trains implicit's ALS and BPR on that train split, scores their top-10 lists
with the same rule and the same metrics as crates/engine/src/evaluate, and
prints one table of mean ± sample standard deviation over the seeds.

Only for benchmarking: the service and its tests never need Python.

    pip install implicit==0.7.3 numpy scipy
    python3 bench/quality_compare.py --binary target/release/recofinement \
        --scales s m --seeds 7 11 13

Same rules as ours (crates/engine/src/evaluate.rs and evaluate/metrics.rs):
* lists per (user, kind), 10 items, without the user's training items;
* a (user, kind) pair is evaluated when its held-out part holds a relevant
  item: rated >= 4, or unrated with a positive counter;
* implicit gets the same signed confidences as our ALS
  (`crates/engine/src/als.rs`, `confidence`): a negative value is a
  confident "no", which implicit's CG solver reads the same way; BPR gets
  the positive interactions only.
implicit's own `implicit.evaluation` is not used: it ranks over the whole
catalogue, not per kind, and has no relevance threshold.

The most-popular baseline is recomputed here and must equal ours: that
checks that both sides score the same way.
"""

import argparse
import csv
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

# implicit asks for a single-threaded BLAS (it parallelises itself); set
# before numpy loads it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

N = 10


def load(dirname):
    items, kinds, genres = [], [], []
    with open(os.path.join(dirname, "items.csv")) as f:
        for row in csv.DictReader(f):
            items.append(int(row["item"]))
            kinds.append(row["kind"])
            genres.append([int(g) for g in row["genres"].split(";") if g])

    def rows(name):
        with open(os.path.join(dirname, name)) as f:
            return [
                (int(r["user"]), int(r["item"]), float(r["rating"]) if r["rating"] else 0.0, int(r["count"]))
                for r in csv.DictReader(f)
            ]

    return items, kinds, genres, rows("train.csv"), rows("test.csv")


def confidence(rating, count, alpha):
    """Signed confidence of our ALS (als.rs `confidence`)."""
    l = math.log1p(count)
    if 0 < rating < 3:
        return -(1 + alpha * (3 - rating))
    if rating >= 3:
        return 1 + alpha * ((rating - 2) + l)
    return 1 + alpha * (1 + l)


def relevant(rating, count):
    return rating >= 4 if rating > 0 else count > 0


class Split:
    def __init__(self, dirname):
        items, kinds, self.genres, train, test = load(dirname)
        self.item_pos = {it: i for i, it in enumerate(items)}
        users = sorted({u for u, _, _, _ in train})
        self.user_pos = {u: i for i, u in enumerate(users)}
        self.train = train
        self.n_users, self.n_items = len(users), len(items)
        self.kind_items = {}
        for i, k in enumerate(kinds):
            self.kind_items.setdefault(k, []).append(i)
        self.kind_items = {k: np.array(v) for k, v in self.kind_items.items()}
        self.kind_of = kinds
        self.pos_in_kind = np.zeros(len(items), dtype=np.int64)
        for cand in self.kind_items.values():
            self.pos_in_kind[cand] = np.arange(len(cand))
        self.consumed = [set() for _ in users]
        self.degree = np.zeros(self.n_items, dtype=np.int64)
        for u, it, _, _ in train:
            self.consumed[self.user_pos[u]].add(self.item_pos[it])
            self.degree[self.item_pos[it]] += 1
        self.truth = {}
        for u, it, r, c in test:
            if relevant(r, c) and u in self.user_pos:
                i = self.item_pos[it]
                self.truth.setdefault((self.user_pos[u], kinds[i]), set()).add(i)

    def matrix(self, values):
        rows = [self.user_pos[u] for u, _, _, _ in self.train]
        cols = [self.item_pos[it] for _, it, _, _ in self.train]
        return sp.csr_matrix((values, (rows, cols)), shape=(self.n_users, self.n_items), dtype=np.float32)

    def lists_from_factors(self, uf, itf):
        """Top-10 per evaluated (user, kind) by dot product, consumed excluded,
        ties to the earlier item (as our `top_k`)."""
        lists = {}
        keys = sorted(self.truth)
        for start in range(0, len(keys), 2048):
            chunk = keys[start : start + 2048]
            users = np.array(sorted({u for u, _ in chunk}))
            row_of = {u: n for n, u in enumerate(users)}
            scores = uf[users] @ itf.T
            for u, kind in chunk:
                cand = self.kind_items[kind]
                s = scores[row_of[u], cand].astype(np.float64)
                gone = [self.pos_in_kind[c] for c in self.consumed[u] if self.kind_of[c] == kind]
                s[gone] = -np.inf
                top = np.argpartition(-s, N - 1)[:N] if len(s) > N else np.arange(len(s))
                top = top[np.lexsort((cand[top], -s[top]))]
                lists[(u, kind)] = [int(cand[t]) for t in top if np.isfinite(s[t])]
        return lists

    def most_popular(self):
        by_kind = {k: c[np.lexsort((c, -self.degree[c]))] for k, c in self.kind_items.items()}
        lists = {}
        for u, kind in self.truth:
            out = []
            for i in by_kind[kind]:
                if i not in self.consumed[u]:
                    out.append(int(i))
                    if len(out) == N:
                        break
            lists[(u, kind)] = out
        return lists

    def score(self, lists):
        """Our metrics (evaluate/metrics.rs) on the evaluated pairs."""
        m = dict.fromkeys(["precision@10", "recall@10", "ndcg@10", "hit_rate@10"], 0.0)
        recommended, pop, nov, shown, div, div_n = set(), 0.0, 0.0, 0, 0.0, 0
        for key, rel in self.truth.items():
            lst = lists.get(key, [])[:N]
            hits = [i in rel for i in lst]
            dcg = sum(1 / math.log2(r + 2) for r, h in enumerate(hits) if h)
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(rel), N)))
            m["precision@10"] += sum(hits) / N
            m["recall@10"] += sum(hits) / len(rel)
            m["ndcg@10"] += dcg / idcg
            m["hit_rate@10"] += 1.0 if any(hits) else 0.0
            labels, distinct = 0, set()
            for i in lst:
                recommended.add(i)
                pop += math.log1p(self.degree[i])
                nov += -math.log2((self.degree[i] + 1) / (self.n_users + 1))
                shown += 1
                labels += len(self.genres[i])
                distinct.update(self.genres[i])
            if labels:
                div += len(distinct) / labels
                div_n += 1
        n = len(self.truth)
        m = {k: v / n for k, v in m.items()}
        m["coverage"] = len(recommended) / self.n_items
        m["popularity_bias"] = pop / shown if shown else 0.0
        m["novelty"] = nov / shown if shown else 0.0
        m["diversity"] = div / div_n if div_n else 0.0
        return m


def implicit_als(split, seed, factors, regularization, alpha, iterations):
    from implicit.cpu.als import AlternatingLeastSquares

    values = [confidence(r, c, alpha) for _, _, r, c in split.train]
    model = AlternatingLeastSquares(
        factors=factors,
        regularization=regularization,
        alpha=1.0,  # the values are already confidences
        iterations=iterations,
        use_cg=True,
        calculate_training_loss=False,
        random_state=seed,
    )
    model.fit(split.matrix(values), show_progress=False)
    return split.lists_from_factors(model.user_factors, model.item_factors)


def implicit_bpr(split, seed, factors, learning_rate, regularization, iterations):
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    values = [1.0 if (r == 0 or r >= 3) else 0.0 for _, _, r, _ in split.train]
    m = split.matrix(values)
    m.eliminate_zeros()
    model = BayesianPersonalizedRanking(
        factors=factors,
        learning_rate=learning_rate,
        regularization=regularization,
        iterations=iterations,
        random_state=seed,
    )
    model.fit(m, show_progress=False)
    return split.lists_from_factors(model.user_factors, model.item_factors)


# implicit's configurations; the table shows the best of each family per
# scale (chosen on the test split: an upper bound for implicit, so the
# comparison is, if anything, unfair to us).
ALS_GRID = [(f, reg, a, 15) for f in (16, 32, 64) for reg in (0.05, 1.0, 8.0) for a in (1.0, 5.0, 20.0)]
BPR_GRID = [(f, lr, 0.01, it) for f in (16, 64) for lr in (0.01, 0.05) for it in (100, 300)]
# Above scale s, the configurations that came first or close at scale s
# (the full grids would take hours on two cores).
ALS_GRID_LARGE = [(16, 8.0, 1.0, 15), (32, 8.0, 1.0, 15), (64, 8.0, 1.0, 15), (16, 1.0, 1.0, 15), (16, 8.0, 5.0, 15)]
BPR_GRID_LARGE = [(64, 0.01, 0.01, 100), (16, 0.01, 0.01, 100)]


def ours(binary, scale, seed, dirname):
    env = dict(os.environ, DATABASE_URL="sqlite://" + os.path.join(dirname, "scratch.db"), RUST_LOG="warn")
    cmd = [binary, "engine", "evaluate", "--scale", scale, "--seed", str(seed), "--format", "json", "--export", dirname]
    started = time.time()
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    print(f"  ours: {time.time() - started:.1f} s ({out.stderr.strip().splitlines()[-1]})", file=sys.stderr)
    return json.loads(out.stdout)["engines"]


def best(split, runs):
    scored = [(split.score(lists), cfg) for cfg, lists in runs]
    return max(scored, key=lambda e: e[0]["ndcg@10"])


def one(binary, scale, seed, als_grid, bpr_grid):
    with tempfile.TemporaryDirectory() as d:
        engines = ours(binary, scale, seed, d)
        split = Split(d)
    rows = {name: m for name, m in engines.items()}
    mine = split.score(split.most_popular())
    if abs(mine["ndcg@10"] - engines["most_popular"]["ndcg@10"]) > 1e-9:
        sys.exit(f"most_popular differs: ours {engines['most_popular']['ndcg@10']} here {mine['ndcg@10']}")
    started = time.time()
    rows["implicit ALS"], cfg = best(split, ((c, implicit_als(split, seed, *c)) for c in als_grid))
    print(f"  implicit ALS best {cfg} ({time.time() - started:.0f} s for {len(als_grid)} configs)", file=sys.stderr)
    started = time.time()
    rows["implicit BPR"], cfg = best(split, ((c, implicit_bpr(split, seed, *c)) for c in bpr_grid))
    print(f"  implicit BPR best {cfg} ({time.time() - started:.0f} s for {len(bpr_grid)} configs)", file=sys.stderr)
    return rows


ORDER = [
    "merged",
    "CollaborativeFiltering",
    "FromProfile",
    "FromSimilarContent",
    "implicit ALS",
    "implicit BPR",
    "most_popular",
    "random",
]
COLUMNS = ["ndcg@10", "precision@10", "recall@10", "hit_rate@10", "coverage", "diversity", "novelty"]


def cell(values):
    mean = statistics.mean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.4f} ± {spread:.4f}"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default="target/release/recofinement")
    p.add_argument("--scales", nargs="+", default=["s", "m"])
    p.add_argument("--seeds", nargs="+", type=int, default=[7, 11, 13])
    a = p.parse_args()
    for scale in a.scales:
        als_grid, bpr_grid = (ALS_GRID, BPR_GRID) if scale == "s" else (ALS_GRID_LARGE, BPR_GRID_LARGE)
        per_seed = []
        for seed in a.seeds:
            print(f"scale {scale}, seed {seed}", file=sys.stderr)
            per_seed.append(one(a.binary, scale, seed, als_grid, bpr_grid))
        print(f"\nscale {scale}, seeds {' '.join(map(str, a.seeds))} (mean ± sample std)\n")
        print("| engine | " + " | ".join(COLUMNS) + " |")
        print("|---|" + "---|" * len(COLUMNS))
        for name in ORDER:
            print(f"| {name} | " + " | ".join(cell([r[name][c] for r in per_seed]) for c in COLUMNS) + " |")
        pop = [r["most_popular"]["ndcg@10"] for r in per_seed]
        merged = [r["merged"]["ndcg@10"] / q for r, q in zip(per_seed, pop)]
        ours_best = [max(r[e]["ndcg@10"] for e in ORDER[:4]) for r in per_seed]
        theirs = [max(r["implicit ALS"]["ndcg@10"], r["implicit BPR"]["ndcg@10"]) for r in per_seed]
        print(f"\nmerged / most_popular NDCG@10 per seed: {', '.join(f'{x:.2f}' for x in merged)}")
        print(
            "our best / implicit's best NDCG@10 per seed: "
            + ", ".join(f"{o / t:.3f}" for o, t in zip(ours_best, theirs))
        )


if __name__ == "__main__":
    main()
