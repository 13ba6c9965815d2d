"""Bad input gives a Python exception with a clear message, never a crash."""

import sys

import numpy as np
import openmm as mm
import pytest
from conftest import GENERATOR, POTENTIAL, ROOT, evaluate, make_system
from openmm import app, unit
from openmmconcord import ConcordForce, atomic_numbers, bond_graph, generate_positions, generateStructures

sys.path.insert(0, str(ROOT / "tests" / "python"))
from model_file import edit_and_resign  # noqa: E402


def test_particle_count_mismatch(molecules):
    _name, topology, _positions = molecules[0]
    system = make_system(topology, ConcordForce(str(POTENTIAL), [6, 1, 1, 1, 1]))
    with pytest.raises(mm.OpenMMException, match="the force has 5 atomic numbers but the System has 16 particles"):
        mm.Context(system, mm.VerletIntegrator(0.001))


def test_unknown_element_symbol():
    with pytest.raises(mm.OpenMMException, match="'Qq' is not a chemical element symbol"):
        ConcordForce(str(POTENTIAL), ["C", "Qq"])


def test_element_the_model_does_not_know():
    with pytest.raises(
        mm.OpenMMException,
        match=r"particle 1 has atomic number 17, which the model .* does not know \(its elements: 1, 6, 7, 8, 9\)",
    ):
        ConcordForce(str(POTENTIAL), ["C", "Cl"])


def test_missing_model_file(tmp_path):
    missing = tmp_path / "nothing.concord"
    with pytest.raises(mm.OpenMMException, match=f"{missing}: No such file or directory"):
        ConcordForce(str(missing), [6])


def test_corrupt_model_file(tmp_path):
    corrupt = tmp_path / "corrupt.concord"
    corrupt.write_bytes(b"not a model at all")
    with pytest.raises(mm.OpenMMException, match="concord_model_load"):
        ConcordForce(str(corrupt), [6])


def test_invalid_precision_and_device():
    with pytest.raises(mm.OpenMMException, match="precision"):
        ConcordForce(str(POTENTIAL), [6], 16)
    with pytest.raises(mm.OpenMMException, match="device"):
        ConcordForce(str(POTENTIAL), [6], 32, "abacus")


@pytest.mark.parametrize("platform", ["Reference", "CPU"])
def test_overlapping_atoms_have_infinite_energy_and_stop_dynamics(molecules, platform):
    _name, topology, positions = molecules[0]
    x = np.array(positions.value_in_unit(unit.nanometer))
    x[1] = x[0] + [0.015, 0.0, 0.0]
    energy, forces = evaluate(make_system(topology), x, platform)
    assert energy == np.inf
    assert np.isnan(forces).all()
    integrator = mm.VerletIntegrator(0.0005)
    context = mm.Context(make_system(topology), integrator, mm.Platform.getPlatformByName(platform))
    context.setPositions(x)
    with pytest.raises(mm.OpenMMException, match="NaN") as error:
        integrator.step(3)
    if platform == "Reference":  # the CPU platform stops first, with OpenMM's own NaN message
        assert (
            "the previous evaluation had overlapping atoms: concord_compute: invalid input: atoms 0 and 1 "
            "overlap" in str(error.value)
        )
        assert "(System particles 0 1)" in str(error.value)
    energy, _ = evaluate(make_system(topology), positions)  # the process goes on
    assert np.isfinite(energy)


@pytest.mark.parametrize("precision", [32, 64])
def test_a_non_finite_result_is_an_exception_naming_the_model(molecules, tmp_path, precision):
    # Changed on purpose and signed again: the model loads, and its energies overflow.
    bad = tmp_path / "overflowing.concord"
    edit_and_resign(POTENTIAL, bad, "energy.scale", 1e308)
    _name, topology, positions = molecules[0]
    force = ConcordForce(str(bad), atomic_numbers(topology), precision)
    with pytest.raises(mm.OpenMMException) as error:
        evaluate(make_system(topology, force), positions)
    assert "overflowing.concord" in str(error.value) and "gave non-finite" in str(error.value)


def test_generation_needs_a_generator():
    with pytest.raises(mm.OpenMMException, match="has no structure generator"):
        generateStructures(str(POTENTIAL), [8, 1, 1], [0, 0], [1, 2], [1, 1])


def test_generation_rejects_an_invalid_graph():
    with pytest.raises(mm.OpenMMException, match="generateStructures: .*invalid input"):
        generateStructures(str(GENERATOR), [8, 1, 1], [0, 0], [1, 1], [1, 1])
    with pytest.raises(mm.OpenMMException, match="same length"):
        generateStructures(str(GENERATOR), [8, 1, 1], [0, 0], [1, 2], [1])


def test_bonds_without_order_need_missing_order():
    topology = app.Topology()
    residue = topology.addResidue("HOH", topology.addChain())
    o = topology.addAtom("O", app.element.oxygen, residue)
    for name in ("H1", "H2"):
        topology.addBond(o, topology.addAtom(name, app.element.hydrogen, residue))
    with pytest.raises(ValueError, match="bond 0-1 \\(O-H1\\) has no order or type"):
        generate_positions(topology, GENERATOR)
    assert bond_graph(topology, missing_order=1) == ([0, 0], [1, 2], [1, 1])


def test_atoms_without_element():
    topology = app.Topology()
    topology.addAtom("EP", None, topology.addResidue("X", topology.addChain()))
    with pytest.raises(ValueError, match="atom 0 \\(EP of residue X\\) has no element"):
        atomic_numbers(topology)
