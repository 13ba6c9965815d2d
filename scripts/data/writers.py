"""Writers of the bundled files: extended XYZ via ASE, SDF V2000 via RDKit, both gzip -9.

Values are rounded to config.DECIMALS decimals before ASE formats them (ASE writes %16.8f), which
keeps the exact ASE layout while the repeated trailing zeros compress away.
"""
import gzip
import io
import json
import os

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from rdkit import Chem

import config


def frame_atoms(symbols, pos, energy, forces, mol, cfg):
    d = config.DECIMALS
    a = Atoms(symbols=symbols, positions=np.round(np.asarray(pos, float), d), pbc=False)
    a.info["mol"] = mol
    a.info["config"] = cfg
    a.calc = SinglePointCalculator(a, energy=round(float(energy), d),
                                   forces=np.round(np.asarray(forces, float), d))
    return a


def write_extxyz_gz(path, atoms_list):
    """`atoms_list` to the gzipped extended-XYZ file `path`, atomically (a temp file renamed)."""
    import ase.io
    buf = io.StringIO()
    ase.io.write(buf, atoms_list, format="extxyz")
    tmp = f"{path}.tmp"
    # The gzip header names the final file (as writing to `path` directly would), not the temp.
    with open(tmp, "wb") as raw, gzip.GzipFile(str(path), "wb", compresslevel=9, fileobj=raw, mtime=0) as f:
        f.write(buf.getvalue().encode())
    os.replace(tmp, path)


def write_json(path, obj):
    """`obj` as indented JSON to `path`, atomically (provenance files)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(json.dumps(obj, indent=1) + "\n")
    os.replace(tmp, path)


def sdf_mol(molblock, name, smiles, index):
    mol = Chem.MolFromMolBlock(molblock, removeHs=False)
    if mol is None:
        raise ValueError(f"{name}: stored mol block does not parse")
    mol.SetProp("_Name", name)
    mol.SetProp("smiles", smiles)
    mol.SetProp("qm9_index", str(index))
    return mol


def write_sdf_gz(path, mols):
    buf = io.StringIO()
    w = Chem.SDWriter(buf)
    w.SetForceV3000(False)
    for m in mols:
        w.write(m)
    w.close()
    with gzip.GzipFile(path, "wb", compresslevel=9, mtime=0) as f:
        f.write(buf.getvalue().encode())
