"""A minimal reader of MDL molfiles (SDF, V2000) into an OpenMM Topology with bond orders."""

import gzip

from openmm import Vec3, unit
from openmm.app import Aromatic, Double, Element, Single, Topology, Triple

_TYPE_OF_ORDER = {1: Single, 2: Double, 3: Triple, 4: Aromatic}


def read_sdf(path, index=0):
    """The `index`-th molecule (0-based) of a V2000 SDF file (plain or .gz) as
    (name, Topology, positions): one chain and one residue "MOL", atoms named by element and
    number (C1, H2, ...), formal charges from the `M  CHG` lines as Atom.formalCharge, bonds with
    Bond.type and Bond.order from the file, and the file's coordinates as a Quantity in nm. Raises ValueError for a missing molecule, a V3000 block or
    an unknown element symbol."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as handle:
        blocks = handle.read().split("$$$$\n")
    blocks = [b for b in blocks if b.strip()]
    if index >= len(blocks):
        raise ValueError(f"{path} holds {len(blocks)} molecules, no molecule {index}")
    lines = blocks[index].splitlines()
    if "V2000" not in lines[3]:
        raise ValueError(f"{path}: molecule {index} is not a V2000 molfile")
    n_atoms, n_bonds = int(lines[3][0:3]), int(lines[3][3:6])
    topology = Topology()
    residue = topology.addResidue("MOL", topology.addChain())
    atoms, positions = [], []
    for i, line in enumerate(lines[4 : 4 + n_atoms]):
        fields = line.split()
        symbol = fields[3]
        try:
            element = Element.getBySymbol(symbol)
        except KeyError:
            raise ValueError(f"{path}: molecule {index} atom {i + 1} has unknown element '{symbol}'") from None
        atoms.append(topology.addAtom(f"{symbol}{i + 1}", element, residue))
        positions.append(Vec3(*(float(v) / 10.0 for v in fields[:3])))
    for line in lines[4 + n_atoms : 4 + n_atoms + n_bonds]:
        a, b, order = int(line[0:3]), int(line[3:6]), int(line[6:9])
        topology.addBond(atoms[a - 1], atoms[b - 1], type=_TYPE_OF_ORDER.get(order), order=order)
    for line in lines[4 + n_atoms + n_bonds :]:
        if line.startswith("M  END"):
            break
        if line.startswith("M  CHG"):
            fields = line.split()[3:]
            for atom, charge in zip(fields[0::2], fields[1::2]):
                atoms[int(atom) - 1].formalCharge = int(charge)
    return lines[0].strip(), topology, unit.Quantity(positions, unit.nanometer)
