"""Concord as an openmm-ml potential: `MLPotential('concord', modelPath=...)`.

Registered under the entry-point group `openmmml.potentials` (name `concord`), so with the
`openmmml` package installed:

    from openmmml import MLPotential
    potential = MLPotential("concord", modelPath="concord-qm9-gfn2.concord")
    system = potential.createSystem(topology)                       # everything with Concord
    mixed = potential.createMixedSystem(topology, mm_system, ml_atoms, interpolate=True)

Keyword arguments of createSystem / createMixedSystem: `modelPath` (required, also accepted by
the constructor), `precision` (32, default, or 64) and `device` ("cpu", "cuda", "cuda:N").
The Force is a ConcordForce on the ML atoms (setParticles), periodic when the Topology has a
periodic box; the ML/MM embeddings are openmm-ml's own (mechanical by default).
"""
try:
    from openmmml.mlpotential import MLPotentialImpl, MLPotentialImplFactory
except ImportError as err:  # openmm-ml is optional for openmmconcord itself
    raise ImportError("openmmconcord.mlpotential needs the openmmml package (pip install openmmml)") from err

from .native import ConcordForce
from .positions import atomic_numbers


class ConcordPotentialImplFactory(MLPotentialImplFactory):
    """Creates ConcordPotentialImpl for MLPotential('concord', ...)."""

    def createImpl(self, name, modelPath=None, precision=32, device="cpu", **args):
        return ConcordPotentialImpl(modelPath, precision, device)


class ConcordPotentialImpl(MLPotentialImpl):
    """Adds a ConcordForce for the whole System or for a subset of its atoms."""

    def __init__(self, modelPath, precision=32, device="cpu"):
        self.modelPath = modelPath
        self.precision = precision
        self.device = device

    def getMLLongRange(self):
        return False  # the model's interactions end at its receptive field

    def addForces(self, topology, system, atoms, forceGroup, modelPath=None, precision=None,
                  device=None, **args):
        path = modelPath or self.modelPath
        if path is None:
            raise ValueError("MLPotential('concord') needs modelPath= (a Concord model file)")
        numbers = atomic_numbers(topology)
        particles = list(range(len(numbers))) if atoms is None else list(atoms)
        force = ConcordForce(str(path), [numbers[i] for i in particles], precision or self.precision,
                             device or self.device)
        if atoms is not None:
            force.setParticles(particles)
        force.setUsesPeriodicBoundaryConditions(topology.getPeriodicBoxVectors() is not None)
        force.setForceGroup(forceGroup)
        system.addForce(force)
