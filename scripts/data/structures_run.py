"""Compute the structure set (issue #15) in parallel and resumably, then write its bundle.

Molecules with a current result in config.STRUCT_RESULTS_DIR are skipped; on a fresh machine the
results of the committed bundle are rebuilt first (structures_bundle.restore), so a later session
extends the set (`--n`) and only computes new molecules. `--minutes` stops handing out work after
that long (the bundle is still written), so a run fits a session.

Usage: python scripts/data/structures_run.py [--workers 2] [--n 30000] [--minutes M]
"""
import argparse
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import config  # noqa: E402
import qm9  # noqa: E402
import store  # noqa: E402
import structures  # noqa: E402
import structures_bundle  # noqa: E402


def _job(args):
    index, seed = args
    res = structures.compute(qm9.load_all()[index], seed)
    store.save(res, config.STRUCT_RESULTS_DIR)
    return res["name"], res["status"], res.get("reason"), res["timings_s"]["total"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--n", type=int, default=config.STRUCT_N, help="molecules of the selection to compute")
    ap.add_argument("--minutes", type=float, default=None, help="stop handing out work after this long")
    a = ap.parse_args()
    restored = structures_bundle.restore()
    if restored:
        print(f"structures: {restored} results rebuilt from {config.STRUCT_DIR}", flush=True)
    selection = qm9.structure_selection(a.n)
    todo = [(idx, config.STRUCT_SEED + k) for k, idx in enumerate(selection)
            if store.load(config.mol_name(idx), config.STRUCT_RESULTS_DIR, config.STRUCT_FINGERPRINT) is None]
    print(f"structures: {len(selection)} molecules, {len(selection) - len(todo)} already done, {len(todo)} "
          f"to compute on {a.workers} workers (fingerprint {config.STRUCT_FINGERPRINT})", flush=True)
    t0, n_fail, k = time.time(), 0, 0
    deadline = t0 + 60 * a.minutes if a.minutes else None
    with mp.get_context("fork").Pool(a.workers) as pool:
        for k, (name, status, reason, dt) in enumerate(pool.imap(_job, todo, chunksize=4), 1):
            if status != "ok":
                n_fail += 1
            if k % 200 == 0 or k == len(todo):
                el = time.time() - t0
                print(f"  {k}/{len(todo)} done, {n_fail} failed, {el:.0f} s elapsed, "
                      f"~{el / k * (len(todo) - k):.0f} s left ({dt:.2f} s last)", flush=True)
            if deadline and time.time() > deadline:
                print(f"structures: --minutes {a.minutes} reached after {k} molecules", flush=True)
                pool.terminate()
                break
    print(f"structures: computed {k} in {time.time() - t0:.0f} s ({n_fail} failed)", flush=True)
    prov = structures_bundle.assemble(a.n)
    print(f"structures: bundle {config.STRUCT_DIR}: {prov['counts']}", flush=True)


if __name__ == "__main__":
    main()
