"""Molecules to 3D structures with a Concord model: SMILES or RDKit molecules -> `ase.Atoms`.

Reading SMILES needs RDKit (`pip install concord[rdkit]`): it gives the graph with explicit
hydrogens and bond orders (aromatic bonds as order 4, which the library kekulizes); Concord's generator makes
the 3D structure.
"""
from ase import Atoms

from .model import Model


def _with_hydrogens(molecule):
    """The RDKit molecule of a SMILES string or an RDKit molecule, with explicit hydrogens and
    its stereo perceived (from 3D coordinates when it has them)."""
    from rdkit import Chem
    mol = Chem.MolFromSmiles(molecule) if isinstance(molecule, str) else Chem.Mol(molecule)
    if mol is None:
        raise ValueError(f"RDKit cannot parse the SMILES {molecule!r}")
    if mol.GetNumConformers() and mol.GetConformer().Is3D():
        Chem.AssignStereochemistryFrom3D(mol)
    return Chem.AddHs(mol, addCoords=mol.GetNumConformers() > 0)


def graph(molecule):
    """(atomic numbers, bonds (i, j, order)) of a SMILES string or an RDKit molecule, with
    explicit hydrogens."""
    return _graph(_with_hydrogens(molecule))


def _graph(mol):
    from rdkit import Chem
    orders = {Chem.BondType.SINGLE: 1, Chem.BondType.DOUBLE: 2, Chem.BondType.TRIPLE: 3,
              Chem.BondType.AROMATIC: 4}
    bonds = []
    for b in mol.GetBonds():
        if b.GetBondType() not in orders:
            raise ValueError(f"bond {b.GetBeginAtomIdx()}-{b.GetEndAtomIdx()} has type {b.GetBondType()}, "
                             "which Concord does not represent")
        bonds.append((b.GetBeginAtomIdx(), b.GetEndAtomIdx(), orders[b.GetBondType()]))
    return [a.GetAtomicNum() for a in mol.GetAtoms()], bonds


def stereo(molecule):
    """The specified configurations of a SMILES string (`@`, `@@`, `/`, `\\`) or an RDKit
    molecule (its tags, or its 3D coordinates), atoms numbered as `graph` numbers them:
    (centres [(centre, (n0, n1, n2, n3), anticlockwise seen from n0)], double bonds [((p, q),
    (s, t), cis)]), as `Model.generate_structures(stereo=)` takes them."""
    return _stereo(_with_hydrogens(molecule))


def _stereo(mol):
    from rdkit import Chem
    tags = {Chem.ChiralType.CHI_TETRAHEDRAL_CCW: True, Chem.ChiralType.CHI_TETRAHEDRAL_CW: False}
    centres = []
    for a in mol.GetAtoms():
        neighbors = [b.GetOtherAtomIdx(a.GetIdx()) for b in a.GetBonds()]
        if a.GetChiralTag() in tags and len(neighbors) == 4:
            centres.append((a.GetIdx(), tuple(neighbors), tags[a.GetChiralTag()]))
    cis = {Chem.BondStereo.STEREOZ: True, Chem.BondStereo.STEREOCIS: True,
           Chem.BondStereo.STEREOE: False, Chem.BondStereo.STEREOTRANS: False}
    double_bonds = [((b.GetBeginAtomIdx(), b.GetEndAtomIdx()), tuple(b.GetStereoAtoms()), cis[b.GetStereo()])
                    for b in mol.GetBonds() if b.GetStereo() in cis and len(b.GetStereoAtoms()) == 2]
    return centres, double_bonds


def generate(model, molecule, samples=4, seed=0, relax=True, fmax=None, potential=None):
    """3D structures of `molecule` (SMILES or RDKit molecule) from the model's generator, with
    its specified stereocentres and double bonds (`stereo`; a sample still wrong is not sane), best
    first (sane, then lowest energy), as `ase.Atoms` with info `rank`, `sane`, `energy` (eV),
    `relaxed`, `converged` and `problem`. `fmax`: the relaxation's force threshold, eV/Å (None:
    the library's default for generated structures, 0.05). `model`: a Model or a model file path; `potential`
    (likewise, optional): the model that relaxes and ranks the samples instead of `model`."""
    m = model if isinstance(model, Model) else Model(model)
    p = potential if potential is None or isinstance(potential, Model) else Model(potential)
    mol = _with_hydrogens(molecule)
    numbers, bonds = _graph(mol)
    charges = [a.GetFormalCharge() for a in mol.GetAtoms()]
    out = []
    for s in m.generate_structures(numbers, bonds, samples=samples, seed=seed, relax=relax, fmax=fmax,
                                   potential=p, stereo=_stereo(mol), charges=charges):
        a = Atoms(numbers=numbers, positions=s["positions"])
        a.info.update({k: s[k] for k in ("rank", "sane", "energy", "relaxed", "converged", "problem")})
        out.append(a)
    return out


def relax(model, atoms, fmax=0.01, max_steps=500):
    """A copy of `atoms` relaxed on the model's potential (Concord's L-BFGS), with info
    `energy` (eV), `converged` and `steps`."""
    m = model if isinstance(model, Model) else Model(model)
    periodic = bool(atoms.pbc.any())
    pos, res = m.optimize(atoms.numbers, atoms.positions, atoms.cell.array if periodic else None,
                          list(map(bool, atoms.pbc)) if periodic else None, fmax=fmax, max_steps=max_steps)
    out = atoms.copy()
    out.positions = pos
    out.info.update(energy=res["energy"], converged=bool(res["converged"]), steps=res["steps"])
    return out
