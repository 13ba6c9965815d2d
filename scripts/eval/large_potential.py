"""The potential on larger molecules (scripts/eval/large.smi, 45-118 atoms, none in any training
set): GFN2-xTB labels at each molecule's GFN2 minimum (xtb --opt from RDKit ETKDGv3 seed 0 +
MMFF94) and at that minimum with 0.05 and 0.10 Å Gaussian noise per coordinate (seeded), one
extended-XYZ file per class for `concord eval` (docs/potential.md#larger). About a minute.

Usage: python scripts/eval/large_potential.py [--out runs/eval/large-potential]
       then: target/release/concord eval --model M --data runs/eval/large-potential/min.extxyz (and noise005, noise010)
"""
import argparse
import os
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.io import write
from rdkit.Chem import AllChem

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import xtb  # noqa: E402  (scripts/data/xtb.py, importable through common)

NOISE = {"min": 0.0, "noise005": 0.05, "noise010": 0.10}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smiles", default=str(common.EVAL_DIR / "large.smi"))
    ap.add_argument("--out", default=str(common.ROOT / "runs/eval/large-potential"))
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    frames = {key: [] for key in NOISE}
    for smiles, name in common.read_smiles_file(a.smiles):
        mol = common.embed(smiles, name)
        AllChem.MMFFOptimizeMolecule(mol, maxIters=2000)
        symbols = [atom.GetSymbol() for atom in mol.GetAtoms()]
        minimum, _ = xtb.optimise(symbols, mol.GetConformer().GetPositions())
        minimum = np.asarray(minimum)
        for key, sigma in NOISE.items():
            pos = minimum + rng.normal(0.0, sigma, minimum.shape) if sigma else minimum
            energy, forces = xtb.energy_forces(symbols, pos)
            atoms = Atoms(symbols, positions=pos)
            atoms.info.update(energy=energy, mol=name)
            atoms.arrays["forces"] = np.asarray(forces)
            frames[key].append(atoms)
        print(f"{name}: {len(symbols)} atoms", flush=True)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    for key, fs in frames.items():
        write(Path(a.out) / f"{key}.extxyz", fs, format="extxyz")
    print(f"-> {a.out}/{{{','.join(NOISE)}}}.extxyz")


if __name__ == "__main__":
    main()
