"""Concord from Python: a learned potential and structure generator through the C ABI.

    from concord import ConcordCalculator
    atoms.calc = ConcordCalculator("concord-qm9-gfn2.concord")

`Model` computes energies/forces/virials, relaxes and generates; `deviation` measures a
committee's disagreement; `check_structure` is the sanity check of a structure for its bond
graph; `structures.generate` / `structures.relax` turn SMILES or RDKit molecules into
`ase.Atoms`. Errors are `ConcordError` with Concord's message.
"""
from ._abi import ConcordError
from .calculator import ConcordCalculator
from .model import Model, check_structure, deviation, element_number
from . import structures

__all__ = ["ConcordCalculator", "ConcordError", "Model", "check_structure", "deviation", "element_number", "structures"]
