"""QM9 molecules from the CSVs bundled in PyPI `qm9pack` and the seeded train/test selection."""
import csv
import json
import os
import re
from functools import lru_cache

import numpy as np

import config

_BARE_DOT = re.compile(r"(\d)\.(?=[,\]])")  # "0." -> "0.0" (Python-style floats in the CSV)

CSV_FILES = [f"qm9_part{i}.csv" for i in (1, 2, 3)]


def data_dir() -> str:
    import qm9pack
    return os.path.join(os.path.dirname(qm9pack.__file__), "data")


@lru_cache(maxsize=1)
def load_all() -> dict:
    """All molecules: {qm9_index: {"index", "smiles", "symbols", "xyz"}}, xyz = B3LYP geometry (Å)."""
    csv.field_size_limit(1 << 30)
    mols = {}
    for name in CSV_FILES:
        with open(os.path.join(data_dir(), name), newline="") as f:
            for row in csv.DictReader(f):
                idx = int(row["Index"])
                symbols = json.loads(row["Elements"].replace("'", '"'))
                xyz = json.loads(_BARE_DOT.sub(r"\1.0", row["XYZ_Ang"]))
                if len(symbols) != int(row["N_atoms"]) or len(xyz) != len(symbols):
                    raise ValueError(f"QM9 row {idx}: inconsistent atom count")
                mols[idx] = {"index": idx, "smiles": row["SMILES"], "symbols": symbols, "xyz": xyz}
    return mols


def selection() -> dict:
    """The seeded split: {"test": [...], "train": [...]} (QM9 indices, disjoint, in processing order)."""
    indices = np.array(sorted(load_all().keys()))
    perm = np.random.default_rng(config.SELECTION_SEED).permutation(len(indices))
    chosen = [int(i) for i in indices[perm[: config.N_TEST + config.N_TRAIN]]]
    return {"test": chosen[: config.N_TEST], "train": chosen[config.N_TEST:]}


def structure_selection(n: int) -> list:
    """QM9 indices of the structure set: the `n` molecules after `selection()`'s in the same
    permutation (so disjoint from its test and train molecules), in processing order."""
    indices = np.array(sorted(load_all().keys()))
    perm = np.random.default_rng(config.SELECTION_SEED).permutation(len(indices))
    start = config.N_TEST + config.N_TRAIN
    return [int(i) for i in indices[perm[start: start + n]]]


def tiny_selection() -> dict:
    """The tiny subset: the first molecules of each split of `selection()`."""
    sel = selection()
    return {"test": sel["test"][: config.TINY_TEST], "train": sel["train"][: config.TINY_TRAIN]}


def n_molecules() -> int:
    return len(load_all())
