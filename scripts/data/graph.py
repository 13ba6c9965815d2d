"""Bond graphs: RDKit molecule from the QM9 SMILES, renumbered to the atom order of the coordinates.

The SMILES graph (with explicit hydrogens) is matched onto the connectivity perceived from the
B3LYP coordinates (RDKit rdDetermineBonds.DetermineConnectivity, covalent radii). The match must
be a full graph isomorphism (same elements, same number of bonds); otherwise the molecule is a
logged failure. Bond orders and formal charges come from the SMILES.
"""
import numpy as np
from ase.data import atomic_numbers, covalent_radii
from rdkit import Chem
from rdkit.Geometry import Point3D


class GraphError(Exception):
    """A molecule whose graph cannot be verified; `reason` is a short failure code."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def xyz_block(symbols, pos) -> str:
    lines = [str(len(symbols)), ""]
    lines += [f"{s} {x:.8f} {y:.8f} {z:.8f}" for s, (x, y, z) in zip(symbols, pos)]
    return "\n".join(lines) + "\n"


# Covalent radii (Å), Cordero et al., Dalton Trans. 2008, 2832, as ASE tabulates them (the values
# of Concord's src/elements.rs); bonded if d < BOND_FACTOR (r_i + r_j). Elements of the data only.
COVALENT_RADII = {s: float(covalent_radii[atomic_numbers[s]]) for s in ("H", "C", "N", "O", "F")}
# Perception on the QM9 B3LYP geometries: on 3300 molecules bonded pairs have d/(r_i+r_j) <= 1.12
# and non-bonded pairs >= 1.167 (1,3 contacts in strained cages), so the cut is set between them.
BOND_FACTOR = 1.145
# After an optimisation the graph counts as changed only if a bond stretched beyond LOST_FACTOR
# or a non-bonded pair came closer than FORMED_FACTOR (hysteresis: no flip-flop at the cut).
LOST_FACTOR = 1.30
FORMED_FACTOR = 1.05


def _ratios(symbols, pos):
    try:
        r = np.array([COVALENT_RADII[s] for s in symbols])
    except KeyError as e:
        raise GraphError("unsupported_element", str(e))
    p = np.asarray(pos, dtype=float)
    return np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1) / (r[:, None] + r[None, :])


def connectivity(symbols, pos, factor=None) -> set:
    """Bond set {(i, j), i < j} perceived from coordinates: d_ij < BOND_FACTOR * (r_i + r_j).

    (RDKit's DetermineConnectivity connect-the-dots default bonds 1,3 carbons at 1.96 Å in
    strained QM9 cages, so a plain covalent-radius criterion is used instead.)"""
    q = _ratios(symbols, pos)
    i, j = np.nonzero(np.triu(q < (factor or BOND_FACTOR), k=1))
    return {(int(a), int(b)) for a, b in zip(i, j)}


def set_positions(mol, pos):
    """Replace (or add) the single conformer of `mol` by `pos` (Å)."""
    mol.RemoveAllConformers()
    conf = Chem.Conformer(mol.GetNumAtoms())
    for i, p in enumerate(pos):
        conf.SetAtomPosition(i, Point3D(*map(float, p)))
    conf.Set3D(True)
    mol.AddConformer(conf, assignId=True)
    return mol


def graph_in_xyz_order(smiles, symbols, pos):
    """RDKit mol from `smiles` with explicit H, atoms renumbered to the order of `symbols`/`pos`.

    Raises GraphError(reason) on: unparsable SMILES, non-zero total charge, different composition,
    or a SMILES graph that is not isomorphic to the connectivity of the coordinates.
    """
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise GraphError("smiles_parse_failed", smiles)
    mol = Chem.AddHs(mol)
    charge = Chem.GetFormalCharge(mol)
    if charge != 0:
        raise GraphError("charged", f"total formal charge {charge}")
    if any(a.GetNumRadicalElectrons() for a in mol.GetAtoms()):
        raise GraphError("radical", smiles)
    elem_smiles = sorted(a.GetSymbol() for a in mol.GetAtoms())
    if elem_smiles != sorted(symbols):
        raise GraphError("composition_mismatch", f"{smiles} vs {''.join(symbols)}")

    # Target: the xyz connectivity as a graph with single bonds and neutral atoms.
    bonds = connectivity(symbols, pos)
    target = Chem.RWMol()
    for s in symbols:
        target.AddAtom(Chem.Atom(s))
    for i, j in bonds:
        target.AddBond(i, j, Chem.BondType.SINGLE)
    target = target.GetMol()
    target.UpdatePropertyCache(strict=False)

    # Query: the SMILES graph stripped to elements + adjacency.
    query = Chem.RWMol(mol)
    for a in query.GetAtoms():
        a.SetFormalCharge(0)
        a.SetIsAromatic(False)
        a.SetNoImplicit(True)
        a.SetNumExplicitHs(0)
        a.SetChiralTag(Chem.ChiralType.CHI_UNSPECIFIED)
    for b in query.GetBonds():
        b.SetBondType(Chem.BondType.SINGLE)
        b.SetIsAromatic(False)
        b.SetStereo(Chem.BondStereo.STEREONONE)
    query = query.GetMol()
    query.UpdatePropertyCache(strict=False)

    if query.GetNumBonds() != target.GetNumBonds():
        raise GraphError("graph_mismatch",
                         f"{query.GetNumBonds()} bonds in SMILES, {target.GetNumBonds()} from xyz")
    match = target.GetSubstructMatch(query, useChirality=False)
    if len(match) != mol.GetNumAtoms():
        raise GraphError("graph_mismatch", "SMILES graph not isomorphic to xyz connectivity")
    # match[j] = xyz index of SMILES atom j; new order lists SMILES indices by xyz position.
    order = [0] * len(match)
    for j, i in enumerate(match):
        order[i] = j
    out = Chem.RenumberAtoms(mol, order)
    assert [a.GetSymbol() for a in out.GetAtoms()] == list(symbols)
    out_bonds = {tuple(sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))) for b in out.GetBonds()}
    if out_bonds != bonds:
        raise GraphError("graph_mismatch", "renumbered bonds differ from xyz connectivity")
    set_positions(out, pos)
    Chem.AssignStereochemistryFrom3D(out)
    return out


CONCORD_ORDERS = {Chem.BondType.SINGLE: 1, Chem.BondType.DOUBLE: 2, Chem.BondType.TRIPLE: 3,
                  Chem.BondType.AROMATIC: 4}


def concord_bonds(mol) -> list:
    """[(i, j, order)] of an RDKit molecule in Concord's convention (order 4 = aromatic)."""
    return [(b.GetBeginAtomIdx(), b.GetEndAtomIdx(), CONCORD_ORDERS[b.GetBondType()]) for b in mol.GetBonds()]


HBOND_MAX = 2.4  # Å, hydrogen to acceptor of an intramolecular hydrogen bond


def hydrogen_bonds(symbols, positions, bonds) -> list:
    """[(hydrogen, donor, acceptor)] of the intramolecular hydrogen bonds: an N-H or O-H hydrogen
    within HBOND_MAX of an N or O atom three or more bonds away (the first such acceptor by index;
    `bonds` = (i, j, order))."""
    n = len(symbols)
    hops = np.full((n, n), n, dtype=int)
    np.fill_diagonal(hops, 0)
    for i, j, _ in bonds:
        hops[i, j] = hops[j, i] = 1
    for k in range(n):  # Floyd-Warshall: fine for molecules of tens of atoms
        hops = np.minimum(hops, hops[:, k:k + 1] + hops[k:k + 1, :])
    x = np.asarray(positions)
    polar = [i for i, s in enumerate(symbols) if s in ("N", "O")]
    out = []
    for h in (i for i, s in enumerate(symbols) if s == "H"):
        donors = [p for p in polar if hops[h, p] == 1]
        near = [p for p in polar if hops[h, p] >= 3 and np.linalg.norm(x[h] - x[p]) < HBOND_MAX]
        if donors and near:
            out.append((h, donors[0], near[0]))
    return out


def bond_set(mol) -> set:
    return {tuple(sorted((b.GetBeginAtomIdx(), b.GetEndAtomIdx()))) for b in mol.GetBonds()}


def stereo_smiles(mol, pos) -> str:
    """Isomeric canonical SMILES of `mol`'s graph with stereo perceived from `pos`."""
    m = Chem.Mol(mol)
    set_positions(m, pos)
    Chem.AssignStereochemistryFrom3D(m)
    return Chem.MolToSmiles(Chem.RemoveHs(m))


def check_same_graph(mol, symbols, pos, what):
    """Raise GraphError(f"{what}_graph_changed") if a bond of `mol` is longer than LOST_FACTOR
    (r_i + r_j) or a non-bonded pair shorter than FORMED_FACTOR (r_i + r_j) at `pos`,
    or f"{what}_stereo_changed" if the stereo perceived from `pos` differs from `mol`'s."""
    ref = bond_set(mol)
    q = _ratios(symbols, pos)
    lost = sorted(b for b in ref if q[b] > LOST_FACTOR)
    new = sorted(b for b in connectivity(symbols, pos, FORMED_FACTOR) if b not in ref)
    if lost or new:
        raise GraphError(f"{what}_graph_changed", f"lost {lost} new {new}")
    ref_smi = Chem.MolToSmiles(Chem.RemoveHs(mol))
    got_smi = stereo_smiles(mol, pos)
    if got_smi != ref_smi:
        raise GraphError(f"{what}_stereo_changed", f"{ref_smi} -> {got_smi}")


def min_distance(pos) -> float:
    p = np.asarray(pos)
    d = np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)
    d[np.diag_indices(len(p))] = np.inf
    return float(d.min())
