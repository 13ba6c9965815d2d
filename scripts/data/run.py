"""Compute the per-molecule results of a set (`tiny` or `full`), in parallel and resumably.

Molecules that already have a current result file are skipped, so an interrupted run continues
where it stopped. Test molecules are processed first, then train, in selection order.

Usage: python scripts/data/run.py --set {tiny,full} [--workers 2]
"""
import argparse
import json
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import config  # noqa: E402
import molecule  # noqa: E402
import qm9  # noqa: E402
import store  # noqa: E402


def _job(args):
    index, split = args
    res = molecule.compute(qm9.load_all()[index], split)
    store.save(res)
    return index, res["status"], res.get("reason"), res["timings_s"]["total"]


def _init():
    qm9.load_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["tiny", "full"], default="full")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    sel = qm9.tiny_selection() if a.set == "tiny" else qm9.selection()
    todo = [(i, s) for s in ("test", "train") for i in sel[s] if store.load(i) is None]
    total = len(sel["test"]) + len(sel["train"])
    print(f"run[{a.set}]: {total} molecules, {total - len(todo)} already done, {len(todo)} to compute "
          f"on {a.workers} workers (fingerprint {config.FINGERPRINT})", flush=True)
    t0 = time.time()
    n_fail = 0
    qm9.load_all()  # parse once before forking
    with mp.get_context("fork").Pool(a.workers, initializer=_init) as pool:
        for k, (index, status, reason, dt) in enumerate(pool.imap_unordered(_job, todo, chunksize=1), 1):
            if status != "ok":
                n_fail += 1
                print(f"  {config.mol_name(index)} failed: {reason}", flush=True)
            if k % 50 == 0 or k == len(todo):
                el = time.time() - t0
                eta = el / k * (len(todo) - k)
                print(f"  {k}/{len(todo)} done, {n_fail} failed, {el:.0f} s elapsed, "
                      f"~{eta:.0f} s left ({dt:.2f} s last)", flush=True)
    wall = time.time() - t0
    print(f"run[{a.set}]: finished in {wall:.0f} s", flush=True)
    if not todo:
        return
    log = config.WORK_DIR / f"run_{a.set}.json"
    sessions = json.loads(log.read_text()) if log.exists() else []
    sessions.append({"started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t0)), "wall_s": round(wall, 1),
                     "computed": len(todo), "failed": n_fail, "workers": a.workers,
                     "fingerprint": config.FINGERPRINT})
    log.write_text(json.dumps(sessions, indent=1) + "\n")


if __name__ == "__main__":
    main()
