"""Rebuild the per-molecule results of the organic set from its committed files.

The per-molecule results (config.ORGANIC_RESULTS_DIR) are not committed, so a fresh machine has
none and `organic_run.py` would recompute every molecule. This writes, for every selected molecule
without a local result, the result the committed bundle implies: its frames (rounded as bundled),
its graph, its failures. Then the run computes only molecules the bundle does not hold, and
`organic_assemble.py` writes the same files again plus the new molecules. Restored results carry
`"restored": true` and no timings.

Usage: python scripts/data/organic_restore.py   (organic_run.py calls it first)
"""
import collections
import gzip
import io
import os
import sys

from ase.io import read
from rdkit import Chem

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import config  # noqa: E402
import organic_sources  # noqa: E402
import store  # noqa: E402


def bundled_frames():
    """{molecule name: [frame dicts as organic.compute writes them]} from every bundled extxyz."""
    paths = [config.ORGANIC_DIR / name for _, name in config.ORGANIC_TRAIN_SHARDS]
    paths += sorted(p for p in (config.ORGANIC_DIR / "test").glob("*/*.extxyz.gz")
                    if not p.name.startswith(config.OTHER_TEST_CLASS_PREFIX))
    frames = collections.defaultdict(list)
    symbols = {}
    for path in paths:
        if not path.exists():
            continue
        # ASE seeks back and forth in the file: decompress into memory first (a gzip stream
        # seeks by re-reading from the start).
        text = io.StringIO(gzip.decompress(path.read_bytes()).decode())
        for a in read(text, index=":", format="extxyz"):
            name = a.info["mol"]
            f = {"config": a.info["config"], "pos": a.positions.tolist(),
                 "energy": float(a.get_potential_energy()), "forces": a.get_forces().tolist()}
            if "sigma" in a.info:
                f["sigma"] = float(a.info["sigma"])
            frames[name].append(f)
            symbols[name] = a.get_chemical_symbols()
    return frames, symbols


def bundled_molblocks():
    """{molecule name: mol block} of the bundled train and test structures."""
    out = {}
    for stem in ("train", "test"):
        path = config.ORGANIC_DIR / f"{stem}_structures.sdf.gz"
        if not path.exists():
            continue
        with gzip.open(path, "rb") as handle:
            for mol in Chem.ForwardSDMolSupplier(handle, removeHs=False):
                if mol is not None:
                    out[mol.GetProp("_Name")] = Chem.MolToMolBlock(mol)
    return out


def bundled_failures():
    """{molecule name: [failure rows (level, reason, detail)]} from failures.tsv (tab-separated,
    unquoted, as organic_assemble.py writes it: a detail may hold quotes and line breaks)."""
    out = collections.defaultdict(list)
    path = config.ORGANIC_DIR / "failures.tsv"
    if not path.exists():
        return out
    rows = []
    for line in path.read_text().split("\n")[1:-1]:
        fields = line.split("\t", 4)
        if len(fields) == 5 and fields[0] in ("test", "train"):
            rows.append(fields)
        elif rows:   # a line break inside the previous detail
            rows[-1][4] += "\n" + line
    for _, name, level, reason, detail in rows:
        out[name].append((level, reason, detail))
    return out


def result(rec, split, seed, frames, symbols, molblock, failures):
    """The result `organic.compute` would have stored, or None if the bundle does not hold it."""
    res = {"fingerprint": config.ORGANIC_FINGERPRINT, **rec, "split": split, "seed": seed,
           "status": "ok", "frame_failures": [], "frames": frames, "timings_s": {}, "restored": True}
    molecule = [f for f in failures if f[0] == "molecule"]
    if molecule:
        _, reason, detail = molecule[0]
        return {**res, "status": "failed", "reason": reason, "detail": detail, "frames": []}
    if not frames or molblock is None:
        return None
    res["symbols"] = symbols
    res["molblock"] = molblock
    for _, reason, detail in (f for f in failures if f[0] == "frame"):
        cfg, _, why = reason.partition(":")
        res["frame_failures"].append({"config": cfg, "reason": why, "detail": detail})
    return res


def restore():
    """Writes the results the bundle implies for selected molecules without one; returns how many."""
    sel = organic_sources.selection()
    jobs = [(r, "test") for r in sel["test"]] + [(r, "train") for r in sel["train"]]
    missing = [(seed, r, split) for seed, (r, split) in enumerate(jobs)
               if store.load(r["name"], config.ORGANIC_RESULTS_DIR, config.ORGANIC_FINGERPRINT) is None]
    if not missing:
        return 0
    frames, symbols = bundled_frames()
    molblocks, failures = bundled_molblocks(), bundled_failures()
    n = 0
    for seed, rec, split in missing:
        name = rec["name"]
        res = result(rec, split, seed, frames.get(name, []), symbols.get(name), molblocks.get(name),
                     failures.get(name, []))
        if res is not None:
            store.save(res, config.ORGANIC_RESULTS_DIR)
            n += 1
    return n


if __name__ == "__main__":
    print(f"organic_restore: {restore()} results rebuilt from {config.ORGANIC_DIR}")
