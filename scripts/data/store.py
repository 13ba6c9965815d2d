"""Per-molecule result files in data/work/results/ (gitignored), written atomically.

A result is written to a temp file in the same directory and renamed into place, so a file that
exists is always complete. A result with a different config.FINGERPRINT is treated as missing.
"""
import json
import os
import tempfile

import config


def path(index):
    return config.RESULTS_DIR / f"{config.mol_name(index)}.json"


def save(res):
    config.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".json", dir=config.RESULTS_DIR)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(res, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path(res["qm9_index"]))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(index):
    """The complete, current result of a molecule, or None."""
    p = path(index)
    if not p.exists():
        return None
    try:
        res = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    if res.get("fingerprint") != config.FINGERPRINT:
        return None
    return res
