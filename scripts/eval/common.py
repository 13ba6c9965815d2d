"""Shared paths and imports for the structure evaluation (scripts/eval/).

Makes the data-pipeline modules in scripts/data/ importable (config, graph, xtb, stats, mopac),
so units, xtb keywords, the bond-perception rule and the Kabsch RMSD are the pipeline's own.
"""
import os
import sys
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent
DATA_SCRIPTS = EVAL_DIR.parent / "data"
for _p in (str(EVAL_DIR), str(DATA_SCRIPTS)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

import config  # noqa: E402  (scripts/data/config.py)

ROOT = config.ROOT
DEFAULT_CACHE = ROOT / "runs" / "eval-cache"
TEST_FILES = {
    "graphs": "test_structures.sdf.gz",
    "pm6_min": "test_pm6_min.extxyz.gz",
    "gfn2_min": "test_gfn2_min.extxyz.gz",
    "b3lyp": "test_b3lyp.extxyz.gz",
}


def data_dir(name: str) -> Path:
    """`full` -> data/qm9-gfn2, `tiny` -> data/qm9-gfn2/tiny, anything else is a directory path."""
    if name == "full":
        return config.OUT_DIR
    if name == "tiny":
        return config.TINY_DIR
    return Path(name).resolve()


def nice_worker(level: int = 5):
    """Raise this process's niceness to `level` (never lowers it); children (xtb) inherit it."""
    cur = os.nice(0)
    if cur < level:
        os.nice(level - cur)


def concord_binary() -> Path:
    """The built concord CLI (the full build, else the runtime-only one)."""
    for p in (ROOT / "target/release/concord", ROOT / "target/runtime-only/release/concord"):
        if p.exists():
            return p
    raise SystemExit("no concord binary: run `make build` or `make build-runtime` first")


def read_smiles_file(path) -> list:
    """[(SMILES, name)] of a file of `SMILES name` lines; blank lines and `#` comments skipped."""
    out = []
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            smiles, name = line.split()
            out.append((smiles, name))
    return out


def embed(smiles: str, name: str):
    """RDKit molecule of `smiles` with explicit hydrogens and one ETKDGv3 conformer (seed 0),
    named `name`; SystemExit when RDKit cannot embed it."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    params = AllChem.ETKDGv3()
    params.randomSeed = 0
    if AllChem.EmbedMolecule(mol, params) != 0:
        raise SystemExit(f"{name}: RDKit cannot embed it")
    mol.SetProp("_Name", name)
    return mol
