"""Compute the per-molecule results of the organic set, in parallel and resumably.

Test molecules first, then training molecules in selection order; molecules with a current
result in config.ORGANIC_RESULTS_DIR are skipped, so an interrupted run continues where it
stopped and a later session can extend the training set (`--train N`). On a fresh machine the
results of the molecules the committed bundle holds are first rebuilt from it
(organic_restore.py), so only new molecules are computed.

Usage: python scripts/data/organic_run.py [--workers 2] [--train N]
"""
import argparse
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import config  # noqa: E402
import organic  # noqa: E402
import organic_restore  # noqa: E402
import organic_sources  # noqa: E402
import store  # noqa: E402


def _job(args):
    rec, split, seed = args
    res = organic.compute(rec, split, seed)
    store.save(res, config.ORGANIC_RESULTS_DIR)
    return rec["name"], res["status"], res.get("reason"), res["timings_s"]["total"]


def todo_list(n_train):
    """[(record, split, seed)] of the selection's molecules without a current result."""
    sel = organic_sources.selection()
    jobs = [(r, "test") for r in sel["test"]] + [(r, "train") for r in sel["train"][:n_train]]
    return [(r, split, seed) for seed, (r, split) in enumerate(jobs)
            if store.load(r["name"], config.ORGANIC_RESULTS_DIR, config.ORGANIC_FINGERPRINT) is None], len(jobs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    n_sel = config.ORGANIC_TRAIN + config.ORGANIC_LARGE
    ap.add_argument("--train", type=int, default=n_sel,
                    help="training molecules to compute (MOSES first, then the large ChEMBL ones)")
    a = ap.parse_args()
    restored = organic_restore.restore()
    if restored:
        print(f"organic: {restored} results rebuilt from the committed files in {config.ORGANIC_DIR}",
              flush=True)
    todo, total = todo_list(min(a.train, n_sel))
    print(f"organic: {total} molecules, {total - len(todo)} already done, {len(todo)} to compute on "
          f"{a.workers} workers (fingerprint {config.ORGANIC_FINGERPRINT})", flush=True)
    t0, n_fail = time.time(), 0
    with mp.get_context("fork").Pool(a.workers) as pool:
        for k, (name, status, reason, dt) in enumerate(pool.imap(_job, todo, chunksize=1), 1):
            if status != "ok":
                n_fail += 1
                print(f"  {name} failed: {reason}", flush=True)
            if k % 20 == 0 or k == len(todo):
                el = time.time() - t0
                print(f"  {k}/{len(todo)} done, {n_fail} failed, {el:.0f} s elapsed, "
                      f"~{el / k * (len(todo) - k):.0f} s left ({dt:.1f} s last)", flush=True)
    print(f"organic: finished in {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
