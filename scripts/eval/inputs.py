"""Reference test molecules and candidate structures (method files, built-in baselines).

A *reference* is one test molecule: its bond graph (SDF, explicit H, QM9 atom order) and its
PM6, GFN2 and B3LYP minima with GFN2 energies. A *candidate set* maps (molecule, sample) to
positions (or to a failure reason when no structure could be made), for one method.
"""
import gzip
from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem

import common
import graph


@dataclass
class Reference:
    name: str
    symbols: list
    mol: Chem.Mol                 # graph with bond orders and stereo, PM6 coordinates
    bonds: set                    # {(i, j), i < j}
    pos: dict                     # "pm6_min" / "gfn2_min" / "b3lyp" -> [n, 3] Å
    energy: dict                  # GFN2 energy (eV) at each of those
    stereo_smiles: str = ""       # isomeric SMILES with stereo perceived at the GFN2 minimum


@dataclass
class CandidateSet:
    """Structures of one method: `structures[(mol, sample)]` = [n, 3] array, `failures[(mol,
    sample)]` = reason for structures the method did not produce; `k` samples expected per
    molecule; `notes` = free-form counts (e.g. MMFF not converged)."""
    name: str
    source: str
    k: int
    structures: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)


def read_sdf(path):
    with gzip.open(path) if str(path).endswith(".gz") else open(path, "rb") as fh:
        return [m for m in Chem.ForwardSDMolSupplier(fh, removeHs=False, sanitize=True)]


def read_xyz(path):
    import ase.io
    return ase.io.read(str(path), ":")


def load_references(data="full", n=None):
    """The first `n` test molecules (all if None) of the data set `data` (full, tiny or a dir)."""
    d = common.data_dir(data)
    mols = read_sdf(d / common.TEST_FILES["graphs"])
    frames = {k: read_xyz(d / common.TEST_FILES[k]) for k in ("pm6_min", "gfn2_min", "b3lyp")}
    if any(m is None for m in mols):
        raise SystemExit(f"{d}: unreadable molecule in the test SDF")
    refs = []
    for i, m in enumerate(mols[: n or len(mols)]):
        name = m.GetProp("_Name")
        symbols = [a.GetSymbol() for a in m.GetAtoms()]
        pos, energy = {}, {}
        for k, fr in frames.items():
            a = fr[i]
            if a.info.get("mol") != name or a.get_chemical_symbols() != symbols:
                raise SystemExit(f"{d}: {k} frame {i} is not {name} in SDF atom order")
            pos[k] = a.positions.copy()
            energy[k] = float(a.get_potential_energy())
        r = Reference(name, symbols, m, graph.bond_set(m), pos, energy)
        r.stereo_smiles = graph.stereo_smiles(m, pos["gfn2_min"])
        refs.append(r)
    return refs


def load_organic_references(n=None):
    """The first `n` molecules (all if None) of the organic test set (drug-like and everyday
    molecules of 10-30 heavy atoms, never trained on): graph, stereo and GFN2 minimum
    (`pos["gfn2_min"]`) from data/organic-gfn2/test_structures.sdf.gz."""
    path = common.ROOT / "data" / "organic-gfn2" / "test_structures.sdf.gz"
    mols = read_sdf(path)
    if any(m is None for m in mols):
        raise SystemExit(f"{path}: unreadable molecule")
    refs = []
    for m in mols[: n or len(mols)]:
        pos = {"gfn2_min": m.GetConformer().GetPositions()}
        r = Reference(m.GetProp("_Name"), [a.GetSymbol() for a in m.GetAtoms()], m, graph.bond_set(m), pos, {})
        r.stereo_smiles = graph.stereo_smiles(m, pos["gfn2_min"])
        refs.append(r)
    return refs


def from_reference(refs, key, name):
    """A reference geometry as a candidate set (e.g. the PM6 minima baseline), k = 1."""
    c = CandidateSet(name, f"reference {key}", 1)
    for r in refs:
        c.structures[(r.name, 0)] = r.pos[key].copy()
    return c


def from_file(path, refs, name, k=None):
    """Candidate structures from an extended XYZ file (info `mol=qm9_XXXXXX`, optional
    `sample=j`; frames without `sample` are numbered in order of appearance per molecule).

    Only molecules in `refs` are kept. k = number of samples expected per molecule: all samples
    found if None, else samples 0..k-1. Missing samples and frames whose atoms do not match the
    test molecule are recorded as failures."""
    by_name = {r.name: r for r in refs}
    frames = read_xyz(path)
    c = CandidateSet(name, str(path), 0)
    seen_count, ignored = {}, 0
    for a in frames:
        mol = a.info.get("mol")
        if mol not in by_name:
            ignored += 1
            continue
        s = a.info.get("sample")
        s = int(s) if s is not None else seen_count.get(mol, 0)
        seen_count[mol] = seen_count.get(mol, 0) + 1
        if k is not None and s >= k:
            continue
        if (mol, s) in c.structures or (mol, s) in c.failures:
            raise SystemExit(f"{path}: {mol} sample {s} appears twice")
        if a.get_chemical_symbols() != by_name[mol].symbols:
            c.failures[(mol, s)] = "atoms_differ_from_test_molecule"
        elif not np.all(np.isfinite(a.positions)):
            c.failures[(mol, s)] = "non_finite_positions"
        else:
            c.structures[(mol, s)] = a.positions.copy()
    found = {s for _, s in list(c.structures) + list(c.failures)}
    c.k = k if k is not None else (max(found) + 1 if found else 1)
    for r in refs:
        for s in range(c.k):
            if (r.name, s) not in c.structures and (r.name, s) not in c.failures:
                c.failures[(r.name, s)] = "missing_in_file"
    c.notes["frames_not_in_selected_test_molecules"] = ignored
    return c
