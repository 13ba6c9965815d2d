"""Shared fixtures of the OpenMM plugin tests: model paths, test molecules, and the Concord C ABI
(libconcord.so through ctypes) as the reference the plugin must reproduce."""

import ctypes
import os
import pathlib
import re

import numpy as np
import openmm as mm
import pytest
from openmm import unit
from openmmconcord import ConcordForce, atomic_numbers, read_sdf

ROOT = pathlib.Path(__file__).resolve().parents[3]
POTENTIAL = ROOT / "examples/models/concord-qm9-gfn2.concord"
GENERATOR = ROOT / "examples/models/concord-qm9-gfn2-multitask.concord"
STRUCTURES = ROOT / "data/qm9-gfn2/tiny/test_structures.sdf.gz"

#: kJ/mol per eV, as concord.h defines it for the plugin.
EV = float(re.search(r"#define CONCORD_KJ_PER_MOL_PER_EV ([0-9.e+-]+)",
                     (ROOT / "include" / "concord.h").read_text()).group(1))


class Reference:
    """concord_compute through the C ABI at float64: energy (eV) and forces (eV/Å)."""

    def __init__(self, library, path):
        self.lib = library
        self.model = ctypes.c_void_p()
        status = self.lib.concord_model_load(str(path).encode(), b"cpu", 64, ctypes.byref(self.model))
        assert status == 0, self.lib.concord_last_error().decode()

    def compute(self, numbers, positions_angstrom, cell_angstrom=None):
        z = np.ascontiguousarray(numbers, dtype=np.int32)
        x = np.ascontiguousarray(positions_angstrom, dtype=np.float64)
        cell = None if cell_angstrom is None else np.ascontiguousarray(cell_angstrom, dtype=np.float64)
        energy = ctypes.c_double()
        forces = np.zeros_like(x)
        status = self.lib.concord_compute(
            self.model,
            ctypes.c_int64(len(z)),
            z.ctypes.data_as(ctypes.c_void_p),
            x.ctypes.data_as(ctypes.c_void_p),
            None if cell is None else cell.ctypes.data_as(ctypes.c_void_p),
            None,
            ctypes.byref(energy),
            forces.ctypes.data_as(ctypes.c_void_p),
            None,
            None,
            None,
        )
        assert status == 0, self.lib.concord_last_error().decode()
        return energy.value, forces


@pytest.fixture(scope="session")
def reference():
    lib_dir = os.environ.get("CONCORD_LIB_DIR")
    if not lib_dir:
        pytest.fail("CONCORD_LIB_DIR must name the directory of libconcord.so (make test-openmm sets it)")
    library = ctypes.CDLL(os.path.join(lib_dir, "libconcord.so"))
    library.concord_last_error.restype = ctypes.c_char_p
    return Reference(library, POTENTIAL)


@pytest.fixture(scope="session")
def molecules():
    """The first three test molecules: (name, Topology, positions in nm)."""
    return [read_sdf(STRUCTURES, index) for index in range(3)]


def make_system(topology, force=None, precision=64):
    """A System of the topology's atoms (element masses) with a ConcordForce (or `force`)."""
    system = mm.System()
    for atom in topology.atoms():
        system.addParticle(atom.element.mass)
    system.addForce(force or ConcordForce(str(POTENTIAL), atomic_numbers(topology), precision))
    return system


def evaluate(system, positions, platform="Reference", box=None, groups=-1):
    """Potential energy (kJ/mol) and forces (kJ/mol/nm, numpy [N, 3]) of `positions`."""
    context = mm.Context(system, mm.VerletIntegrator(0.0005), mm.Platform.getPlatformByName(platform))
    if box is not None:
        context.setPeriodicBoxVectors(*box)
    context.setPositions(positions)
    state = context.getState(getEnergy=True, getForces=True, groups=groups)
    energy = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    return energy, np.asarray(forces)


_MEASURED = []


@pytest.fixture
def report():
    """Call report(text) to print a measured number in the summary at the end of the run."""
    return _MEASURED.append


def pytest_terminal_summary(terminalreporter):
    if _MEASURED:
        terminalreporter.section("measured")
        for line in _MEASURED:
            terminalreporter.write_line(line)
