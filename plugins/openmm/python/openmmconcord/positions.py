"""Positions for an OpenMM Topology from the structure generator of a Concord model."""

import math
import warnings

from openmm import Vec3, unit
from openmm.app import Amide, Aromatic, Double, Single, Triple

from .native import generateStructures

# Bond.type -> the generator's bond orders (1 single, 2 double, 3 triple, 4 aromatic); an
# amide C-N bond is drawn as single in a Lewis structure.
_ORDER_OF_TYPE = {Single: 1, Double: 2, Triple: 3, Aromatic: 4, Amide: 1}


def atomic_numbers(topology):
    """The atomic number of each atom of an openmm.app.Topology, in atom order.

    Raises ValueError for an atom without an element (e.g. a virtual site or an unknown PDB
    atom name)."""
    numbers = []
    for atom in topology.atoms():
        if atom.element is None:
            raise ValueError(f"atom {atom.index} ({atom.name} of residue {atom.residue.name}) has no element")
        numbers.append(atom.element.atomic_number)
    return numbers


def formal_charges(topology):
    """The formal charge of each atom of a Topology (Atom.formalCharge, None counted as 0), or
    an empty list when all are 0 (a neutral graph)."""
    charges = [getattr(atom, "formalCharge", None) or 0 for atom in topology.atoms()]
    return charges if any(charges) else []


def bond_graph(topology, missing_order=None):
    """The bonds of a Topology as three lists: first atoms, second atoms, orders.

    A bond's order is Bond.order when set, otherwise taken from Bond.type (Single 1, Double 2,
    Triple 3, Aromatic 4, Amide 1). A bond with neither (e.g. from PDB CONECT records) gets
    `missing_order` when it is given, and raises ValueError otherwise."""
    first, second, orders = [], [], []
    for bond in topology.bonds():
        order = bond.order if bond.order is not None else _ORDER_OF_TYPE.get(bond.type, missing_order)
        if order is None:
            raise ValueError(
                f"bond {bond.atom1.index}-{bond.atom2.index} ({bond.atom1.name}-{bond.atom2.name}) has "
                "no order or type: set Bond.order/type (e.g. from an SDF file, see read_sdf) or pass "
                "missing_order=1 to treat unknown bonds as single"
            )
        first.append(bond.atom1.index)
        second.append(bond.atom2.index)
        orders.append(int(order))
    return first, second, orders


def generate_positions(
    topology,
    model_path,
    seed=0,
    samples=8,
    minimize=True,
    fmax=None,
    missing_order=None,
    potential_path=None,
):
    """Proposes 3D positions for a molecule given as a Topology with bonds.

    The structure generator of the Concord model at `model_path` samples `samples` structures
    from the bond graph (seeded: the same seed gives the same structures); with `minimize`
    each is relaxed on the model's potential until the largest force is below `fmax` (a
    Quantity in force units, or a number in kJ/mol/nm; None: Concord's default for generated
    structures, 0.05 eV/Å = 48.2 kJ/mol/nm, with the preconditioned L-BFGS). With `potential_path`, that Concord
    model relaxes the samples and its energies rank them (e.g. a generator trained for
    structures only beside the default potential). The result is the best sample by
    Concord's generation pipeline (GeneratedStructure.rank 0): the lowest energy among the
    chemically sane ones (GeneratedStructure.sane: bond lengths plausible for their orders, no
    clash of unbonded atoms), since a learned potential can have spurious minima, e.g. two
    hydrogens 0.09 nm apart, that lowest energy alone would pick. When no sample is sane, the
    lowest-energy one is returned with a warning naming its problem. Positions come back as a Quantity: a list of Vec3 in nm,
    centred at the origin, in atom order.

    Raises openmm.OpenMMException when the model has no generator or rejects the molecule
    (unknown element, invalid graph), ValueError for atoms without elements or bonds without
    orders (see bond_graph) and RuntimeError when no sample is sane and none gave a finite
    energy."""
    if fmax is None:
        fmax = 0.0  # the library's default
    else:
        if unit.is_quantity(fmax):
            fmax = fmax.value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
        if not fmax > 0.0:
            raise ValueError(f"fmax = {fmax} kJ/mol/nm must be positive")
    numbers = atomic_numbers(topology)
    first, second, orders = bond_graph(topology, missing_order)
    structures = generateStructures(
        str(model_path), numbers, first, second, orders, samples, seed, minimize, fmax, 64,
        "" if potential_path is None else str(potential_path), formal_charges(topology),
    )
    best = next(s for s in structures if s.rank == 0)
    # A generator without a trained energy head gives no energies (NaN) when nothing relaxes
    # its samples: they are ranked by sanity alone, and a sane one is a valid answer.
    if not best.sane and not math.isfinite(best.energy):
        raise RuntimeError(
            f"none of the {samples} generated structures has a finite energy (atoms placed onto "
            "each other): try more samples or another seed"
        )
    if not best.sane:
        warnings.warn(
            f"none of the {samples} generated structures is chemically sane; returning the "
            f"lowest-energy one ({best.problem}); try more samples or another seed",
            stacklevel=2,
        )
    x = best.positions
    return unit.Quantity([Vec3(*x[3 * i : 3 * i + 3]) for i in range(len(numbers))], unit.nanometer)
