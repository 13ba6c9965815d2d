"""Thermal test frames of the organic test molecules (issue #16's "thermal frames"): GFN2-xTB MD.

For the first N molecules of each test group (data/organic-gfn2/test/<group>/gfn2_min.extxyz.gz,
drug-like and everyday; never in any training set), GFN2-xTB Born-Oppenheimer MD from the GFN2
minimum at each of TEMPERATURES (xtb --md, 0.5 fs, no SHAKE, Berendsen thermostat, Maxwell-
Boltzmann start velocities from a per-molecule seed) for RUN_PS ps; the snapshots at KEEP_PS are
labelled with GFN2-xTB single points (the bundled data's settings). The frames are what the
molecule visits at that temperature under the reference method itself, so they test the
potential where MD takes it without any bias from the potential.

Per-molecule results are JSON files in data/work/thermal_test/ (atomic, fingerprinted): an
interrupted run continues. `--assemble` writes data/organic-gfn2/test/<group>/md_<T>K.extxyz.gz
(`config=md_<T>K`, `time_ps`) and data/organic-gfn2/thermal_test_provenance.json.

Usage: python scripts/data/thermal_test.py [--molecules 20] [--workers 2] [--assemble]
"""
import argparse
import gzip
import hashlib
import io
import json
import multiprocessing as mp
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config  # noqa: E402
import store  # noqa: E402
import xtb  # noqa: E402

TEST_DIR = config.ROOT / "data" / "organic-gfn2" / "test"
GROUPS = ("druglike", "everyday")
TEMPERATURES = (300, 600)   # K
RUN_PS = 0.8
DUMP_FS = 200
KEEP_PS = (0.4, 0.6, 0.8)   # snapshots labelled (the first 0.4 ps let the start equilibrate)
SEED = 20261204
RESULTS_DIR = config.WORK_DIR / "thermal_test"
FINGERPRINT = hashlib.sha256(json.dumps({
    "v": 1, "T": TEMPERATURES, "ps": RUN_PS, "dump": DUMP_FS, "keep": KEEP_PS, "seed": SEED,
    "sp": config.XTB_SP_ARGS,
}, sort_keys=True).encode()).hexdigest()[:16]


def molecules(n):
    """[(group, name, symbols, positions [N, 3])]: the first `n` GFN2 minima of each group."""
    import ase.io
    out = []
    for g in GROUPS:
        frames = ase.io.read(TEST_DIR / g / "gfn2_min.extxyz.gz", index=":")
        out += [(g, a.info["mol"], a.get_chemical_symbols(), a.positions.copy()) for a in frames[:n]]
    return out


def compute(mol, seed):
    """MD at each temperature and single points of the kept snapshots: the result record."""
    group, name, symbols, positions = mol
    t0 = time.time()
    res = {"name": name, "group": group, "fingerprint": FINGERPRINT, "status": "ok", "frames": []}
    try:
        for t in TEMPERATURES:
            snaps = dict(xtb.md(symbols, positions, t, RUN_PS, DUMP_FS, [SEED, seed, t]))
            for when in KEEP_PS:
                x = snaps[when]
                energy, forces = xtb.energy_forces(symbols, x)
                res["frames"].append({"T": t, "time_ps": when, "positions": x.tolist(),
                                      "energy": energy, "forces": forces})
    except (xtb.CalcError, KeyError) as e:
        res.update(status="failed", reason=str(e))
    res["seconds"] = round(time.time() - t0, 1)
    return res


def _job(args):
    mol, seed = args
    res = compute(mol, seed)
    store.save(res, RESULTS_DIR)
    return res["name"], res["status"], res.get("reason"), res["seconds"]


def run(n, workers):
    mols = molecules(n)
    todo = [(m, seed) for seed, m in enumerate(mols) if store.load(m[1], RESULTS_DIR, FINGERPRINT) is None]
    print(f"thermal test: {len(mols)} molecules, {len(mols) - len(todo)} done, {len(todo)} to run on "
          f"{workers} workers", flush=True)
    t0 = time.time()
    with mp.get_context("fork").Pool(workers) as pool:
        for k, (name, status, reason, dt) in enumerate(pool.imap_unordered(_job, todo), 1):
            if status != "ok":
                print(f"  {name}: {reason}", flush=True)
            el = time.time() - t0
            print(f"  {k}/{len(todo)} {name} {dt:.0f} s; {el:.0f} s elapsed, ~{el / k * (len(todo) - k):.0f} s left",
                  flush=True)


def assemble(n):
    import ase.io
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    mols = molecules(n)
    results = [store.load(m[1], RESULTS_DIR, FINGERPRINT) for m in mols]
    missing = [m[1] for m, r in zip(mols, results) if r is None]
    if missing:
        raise SystemExit(f"thermal test: {len(missing)} molecules have no result (run first): {missing[:5]}")
    counts, failed = {}, []
    for g in GROUPS:
        for t in TEMPERATURES:
            frames = []
            for (group, name, symbols, _), r in zip(mols, results):
                if group != g:
                    continue
                if r["status"] != "ok":
                    failed.append({"mol": name, "reason": r["reason"]})
                    continue
                for f in r["frames"]:
                    if f["T"] != t:
                        continue
                    a = Atoms(symbols=symbols, positions=f["positions"])
                    a.info.update(mol=name, config=f"md_{t}K", time_ps=f["time_ps"])
                    a.calc = SinglePointCalculator(a, energy=f["energy"], forces=np.array(f["forces"]))
                    frames.append(a)
            text = io.StringIO()
            ase.io.write(text, frames, format="extxyz")
            out = TEST_DIR / g / f"md_{t}K.extxyz.gz"
            tmp = out.with_suffix(".tmp")
            with gzip.GzipFile(tmp, "wb", mtime=0) as gz:
                gz.write(text.getvalue().encode())
            os.replace(tmp, out)
            counts[f"{g}/md_{t}K"] = len(frames)
    provenance = {
        "what": "thermal test frames (scripts/data/thermal_test.py): GFN2-xTB MD snapshots of organic test "
                "molecules, labelled with GFN2-xTB single points",
        "molecules_per_group": n, "seed": SEED, "fingerprint": FINGERPRINT,
        "md": {"program": "xtb --md", "temperatures_K": TEMPERATURES, "ps": RUN_PS, "timestep_fs": 0.5,
               "shake": 0, "thermostat": "Berendsen (xtb default)", "kept_ps": KEEP_PS},
        "frames": counts, "failed_molecules": failed, "xtb": xtb.version(), "xtb_args": config.XTB_SP_ARGS,
        "seconds": round(sum(r["seconds"] for r in results), 1),
    }
    tmp = TEST_DIR.parent / "thermal_test_provenance.tmp"
    tmp.write_text(json.dumps(provenance, indent=1) + "\n")
    os.replace(tmp, TEST_DIR.parent / "thermal_test_provenance.json")
    print(f"thermal test: {counts} ({len(failed)} molecules failed)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--molecules", type=int, default=20, help="first N molecules of each test group")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--assemble", action="store_true", help="write the bundled files from the results")
    a = ap.parse_args()
    if a.assemble:
        assemble(a.molecules)
    else:
        run(a.molecules, a.workers)


if __name__ == "__main__":
    main()
