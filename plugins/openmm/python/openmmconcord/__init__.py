"""Concord for OpenMM: the learned potential as a Force, and positions for a Topology from the
structure generator.

    from openmmconcord import ConcordForce
    force = ConcordForce("model.concord", atomic_numbers(topology))   # or element symbols
    system.addForce(force)

Units are OpenMM's (nm, kJ/mol, kJ/mol/nm); the model's eV and Å are converted at the boundary.
C++ errors are raised as openmm.OpenMMException with the library's message. Importing this
package loads the plugin library, which registers ConcordForce with XmlSerializer.
"""

from .native import ConcordDeviation, ConcordForce, GeneratedStructure, generateStructures
from .positions import atomic_numbers, bond_graph, generate_positions
from .sdf import read_sdf

__all__ = [
    "ConcordDeviation",
    "ConcordForce",
    "GeneratedStructure",
    "atomic_numbers",
    "bond_graph",
    "generateStructures",
    "generate_positions",
    "read_sdf",
]
