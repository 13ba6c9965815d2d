"""GFN2-xTB calls with a resumable on-disk cache keyed by a hash of the structure.

One cache entry per (kind, xtb version, xtb keywords, element list, positions rounded to 1e-6 Å),
stored as a small JSON file under CACHE/xx/<sha256>.json, written atomically (temp file + rename),
so concurrent workers and interrupted runs are safe and a rerun with more methods only computes
structures it has not seen. The calculation itself runs on the rounded positions, so a cached
result is exactly what a fresh call would give.

Failures are cached too (xtb is deterministic), except timeouts, which are retried next run.
The calls are the data pipeline's (scripts/data/xtb.py, same keywords: `--gfn 2 --grad` for
single points, `--opt tight` for relaxations; OMP_NUM_THREADS=1 per call).
"""
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import common  # noqa: F401  (sys.path for scripts/data)
import config
import xtb
from mopac import CalcError

DECIMALS = 6


def rounded(pos):
    return np.round(np.asarray(pos, dtype=float), DECIMALS)


def key(kind, symbols, pos, xtb_version):
    args = config.XTB_SP_ARGS if kind == "sp" else config.XTB_OPT_ARGS
    blob = json.dumps({"kind": kind, "xtb": xtb_version, "args": args, "symbols": list(symbols),
                       "pos": [f"{v:.{DECIMALS}f}" for v in rounded(pos).ravel()]})
    return hashlib.sha256(blob.encode()).hexdigest()


class Cache:
    def __init__(self, root, xtb_version):
        self.root = Path(root)
        self.xtb_version = xtb_version

    def _path(self, k):
        return self.root / k[:2] / f"{k}.json"

    def get(self, k):
        p = self._path(k)
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None

    def put(self, k, entry):
        p = self._path(k)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".json", dir=p.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(entry, f)
            os.replace(tmp, p)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def call(self, kind, symbols, pos):
        """Cached single point (`sp`) or relaxation (`opt`). Returns the entry dict with
        `ok`, `cached` and either results or `reason`/`detail`.

        sp:  energy (eV), fmax (max per-atom force norm, eV/Å), fmax_component (eV/Å)
        opt: pos (relaxed positions, Å), iterations
        """
        k = key(kind, symbols, pos, self.xtb_version)
        hit = self.get(k)
        if hit is not None:
            hit["cached"] = True
            return hit
        p = rounded(pos)
        t0 = time.time()
        try:
            if kind == "sp":
                e, f = xtb.energy_forces(list(symbols), p.tolist(), what="gfn2_sp")
                f = np.asarray(f)
                entry = {"ok": True, "energy": e, "fmax": float(np.linalg.norm(f, axis=1).max()),
                         "fmax_component": float(np.abs(f).max())}
            else:
                q, info = xtb.optimise(list(symbols), p.tolist(), what="gfn2_opt")
                entry = {"ok": True, "pos": q, "iterations": info.get("iterations")}
        except CalcError as err:
            entry = {"ok": False, "reason": err.reason, "detail": err.detail}
        entry.update(kind=kind, time_s=round(time.time() - t0, 3))
        if entry["ok"] or not entry["reason"].endswith("_timeout"):
            self.put(k, entry)
        entry["cached"] = False
        return entry


def evaluate(cache, symbols, pos):
    """All xtb work for one structure: single point at it, relaxation from it, single point at
    the relaxed structure (its energy; forces ~0). Returns {"sp", "opt", "sp_relaxed"} entries
    (`sp_relaxed` is None when the relaxation failed)."""
    sp = cache.call("sp", symbols, pos)
    opt = cache.call("opt", symbols, pos)
    sp_r = cache.call("sp", symbols, opt["pos"]) if opt["ok"] else None
    return {"sp": sp, "opt": opt, "sp_relaxed": sp_r}
