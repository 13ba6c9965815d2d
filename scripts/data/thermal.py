"""Thermal frames of organic molecules (issue #16's "thermal frames"): GFN2-xTB MD.

`--split test`: the first N molecules of each test group (data/organic-gfn2/test/<group>/
gfn2_min.extxyz.gz, drug-like and everyday; never in any training set). `--split train`: the
first N training molecules (data/organic-gfn2/train_structures.sdf.gz) of a seeded permutation.
For each, GFN2-xTB Born-Oppenheimer MD from the GFN2
minimum at each of TEMPERATURES (xtb --md, 0.5 fs, no SHAKE, Berendsen thermostat, Maxwell-
Boltzmann start velocities from a per-molecule seed) for RUN_PS ps; the snapshots at KEEP_PS are
labelled with GFN2-xTB single points (the bundled data's settings). The frames are what the
molecule visits at that temperature under the reference method itself, so they test the
potential where MD takes it without any bias from the potential.

Per-molecule results are JSON files in data/work/thermal_<split>/ (atomic, fingerprinted): an
interrupted run continues. `--assemble` writes, for test, data/organic-gfn2/test/<group>/
md_<T>K.extxyz.gz, for train, data/organic-gfn2/train_thermal.extxyz.gz (`config=md_<T>K`,
`time_ps`), and data/organic-gfn2/thermal_<split>_provenance.json.

Usage: python scripts/data/thermal.py [--split test|train] [--molecules 20] [--workers 2] [--assemble]
"""
import argparse
import hashlib
import json
import multiprocessing as mp
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config  # noqa: E402
import store  # noqa: E402
import writers  # noqa: E402
import xtb  # noqa: E402

ORGANIC_DIR = config.ROOT / "data" / "organic-gfn2"
TEST_DIR = ORGANIC_DIR / "test"
GROUPS = ("druglike", "everyday")
TEMPERATURES = (300, 600)   # K
RUN_PS = 0.8
DUMP_FS = 200
KEEP_PS = (0.4, 0.6, 0.8)   # snapshots labelled (the first 0.4 ps let the start equilibrate)
SEED = 20261204
FINGERPRINT = hashlib.sha256(json.dumps({
    "v": 1, "T": TEMPERATURES, "ps": RUN_PS, "dump": DUMP_FS, "keep": KEEP_PS, "seed": SEED,
    "sp": config.XTB_SP_ARGS,
}, sort_keys=True).encode()).hexdigest()[:16]  # the same for both splits: test results keep


def results_dir(split):
    return config.WORK_DIR / f"thermal_{split}"


def molecules(n, split):
    """[(group, name, symbols, positions [N, 3])]: test, the first `n` GFN2 minima of each group;
    train, `n` training molecules (first of a seeded permutation), group "train"."""
    if split == "train":
        import active  # the training molecules' GFN2 minima and graphs, as active learning reads them
        mols = active.molecules()
        order = np.random.default_rng(SEED).permutation(len(mols))
        return [("train", mols[i][0], mols[i][1], np.asarray(mols[i][3])) for i in order[:n]]
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
    mol, seed, split = args
    res = compute(mol, seed)
    store.save(res, results_dir(split))
    return res["name"], res["status"], res.get("reason"), res["seconds"]


def run(n, workers, split):
    mols = molecules(n, split)
    # Seeds: test molecules keep the ones they were computed with; training molecules start at 10^6.
    first = 0 if split == "test" else 1_000_000
    todo = [(m, seed, split) for seed, m in enumerate(mols, start=first)
            if store.load(m[1], results_dir(split), FINGERPRINT) is None]
    print(f"thermal {split}: {len(mols)} molecules, {len(mols) - len(todo)} done, {len(todo)} to run on "
          f"{workers} workers", flush=True)
    t0 = time.time()
    with mp.get_context("fork").Pool(workers) as pool:
        for k, (name, status, reason, dt) in enumerate(pool.imap_unordered(_job, todo), 1):
            if status != "ok":
                print(f"  {name}: {reason}", flush=True)
            el = time.time() - t0
            print(f"  {k}/{len(todo)} {name} {dt:.0f} s; {el:.0f} s elapsed, ~{el / k * (len(todo) - k):.0f} s left",
                  flush=True)


def frames_of(mols, results, group, temperatures):
    """ase.Atoms of the kept snapshots of `group`'s molecules at `temperatures`, and the failures."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    frames, failed = [], []
    for (g, name, symbols, _), r in zip(mols, results):
        if g != group:
            continue
        if r["status"] != "ok":
            failed.append({"mol": name, "reason": r["reason"]})
            continue
        for f in r["frames"]:
            if f["T"] not in temperatures:
                continue
            a = Atoms(symbols=symbols, positions=f["positions"])
            a.info.update(mol=name, config=f"md_{f['T']}K", time_ps=f["time_ps"])
            a.calc = SinglePointCalculator(a, energy=f["energy"], forces=np.array(f["forces"]))
            frames.append(a)
    return frames, failed


def assemble(n, split):
    mols = molecules(n, split)
    results = [store.load(m[1], results_dir(split), FINGERPRINT) for m in mols]
    missing = [m[1] for m, r in zip(mols, results) if r is None]
    if missing:
        raise SystemExit(f"thermal {split}: {len(missing)} molecules have no result (run first): {missing[:5]}")
    counts, failed = {}, []
    if split == "train":
        frames, failed = frames_of(mols, results, "train", TEMPERATURES)
        writers.write_extxyz_gz(ORGANIC_DIR / "train_thermal.extxyz.gz", frames)
        counts["train_thermal"] = len(frames)
    for g in GROUPS if split == "test" else []:
        for t in TEMPERATURES:
            frames, bad = frames_of(mols, results, g, (t,))
            failed += bad if t == TEMPERATURES[0] else []
            writers.write_extxyz_gz(TEST_DIR / g / f"md_{t}K.extxyz.gz", frames)
            counts[f"{g}/md_{t}K"] = len(frames)
    provenance = {
        "what": f"thermal {split} frames (scripts/data/thermal.py): GFN2-xTB MD snapshots of organic {split} "
                "molecules, labelled with GFN2-xTB single points",
        ("molecules_per_group" if split == "test" else "molecules"): n, "seed": SEED, "fingerprint": FINGERPRINT,
        "md": {"program": "xtb --md", "temperatures_K": TEMPERATURES, "ps": RUN_PS, "timestep_fs": 0.5,
               "shake": 0, "thermostat": "Berendsen (xtb default)", "kept_ps": KEEP_PS},
        "frames": counts, "failed_molecules": failed, "xtb": xtb.version(), "xtb_args": config.XTB_SP_ARGS,
        "seconds": round(sum(r["seconds"] for r in results), 1),
    }
    writers.write_json(ORGANIC_DIR / f"thermal_{split}_provenance.json", provenance)
    print(f"thermal {split}: {counts} ({len(failed)} molecules failed)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=["test", "train"], default="test")
    ap.add_argument("--molecules", type=int, default=20,
                    help="test: the first N molecules of each group; train: N training molecules")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--assemble", action="store_true", help="write the bundled files from the results")
    a = ap.parse_args()
    if a.assemble:
        assemble(a.molecules, a.split)
    else:
        run(a.molecules, a.workers, a.split)


if __name__ == "__main__":
    main()
