"""Per-molecule result files (gitignored), written atomically.

A result is written to a temp file in the same directory and renamed into place, so a file that
exists is always complete. A result whose "fingerprint" differs from the expected one is treated
as missing. QM9 results live in config.RESULTS_DIR keyed by QM9 index; other sets pass their own
directory and fingerprint and key results by name.
"""
import json
import os
import tempfile

import config


def path(index, directory=None):
    """Result file of QM9 index `index` (an int) or of a molecule named `index` (a str)."""
    name = config.mol_name(index) if isinstance(index, int) else index
    return (directory or config.RESULTS_DIR) / f"{name}.json"


def save(res, directory=None):
    """Write `res` atomically, keyed by its "qm9_index" (QM9) or its "name" (`directory` given)."""
    directory = directory or config.RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    key = res["name"] if directory != config.RESULTS_DIR else res["qm9_index"]
    fd, tmp = tempfile.mkstemp(prefix=".tmp_", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(res, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path(key, directory))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(index, directory=None, fingerprint=None):
    """The complete, current result of a molecule, or None."""
    p = path(index, directory)
    if not p.exists():
        return None
    try:
        res = json.loads(p.read_text())
    except (OSError, ValueError):
        return None
    if res.get("fingerprint") != (fingerprint or config.FINGERPRINT):
        return None
    return res
