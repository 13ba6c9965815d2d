"""ConcordForce against the Concord C ABI: same energy and forces after unit conversion on the
Reference and CPU platforms, isolated and periodic; finite differences; force groups."""

import numpy as np
import openmm as mm
import pytest
from conftest import EV, POTENTIAL, evaluate, make_system
from openmm import unit
from openmmconcord import ConcordForce, atomic_numbers


@pytest.mark.parametrize("platform", ["Reference", "CPU"])
def test_energy_and_forces_equal_the_c_abi(reference, molecules, platform):
    for name, topology, positions in molecules:
        energy, forces = evaluate(make_system(topology), positions, platform)
        e_ref, f_ref = reference.compute(atomic_numbers(topology), positions.value_in_unit(unit.angstrom))
        assert energy == pytest.approx(e_ref * EV, rel=1e-12), name
        np.testing.assert_allclose(forces, f_ref * EV * 10.0, rtol=0, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("platform", ["Reference", "CPU"])
def test_periodic_box_is_the_model_cell(reference, molecules, platform):
    _name, topology, positions = molecules[0]
    force = ConcordForce(str(POTENTIAL), atomic_numbers(topology), 64)
    force.setUsesPeriodicBoundaryConditions(True)
    assert force.usesPeriodicBoundaryConditions()
    # A triclinic box (OpenMM reduced form) small enough for images to interact.
    box = [mm.Vec3(0.8, 0, 0), mm.Vec3(0.2, 0.75, 0), mm.Vec3(-0.1, 0.3, 0.78)] * unit.nanometer
    system = make_system(topology, force)
    system.setDefaultPeriodicBoxVectors(*box)
    energy, forces = evaluate(system, positions, platform, box=box)
    cell = np.array(box.value_in_unit(unit.angstrom))
    e_ref, f_ref = reference.compute(atomic_numbers(topology), positions.value_in_unit(unit.angstrom), cell)
    assert energy == pytest.approx(e_ref * EV, rel=1e-12)
    np.testing.assert_allclose(forces, f_ref * EV * 10.0, rtol=0, atol=1e-9)
    # The images are seen: they move the forces (by ~0.03 eV/Å here; the energy change is
    # model-dependent and can be small by chance).
    e_open, f_open = reference.compute(atomic_numbers(topology), positions.value_in_unit(unit.angstrom))
    change = np.abs(np.asarray(f_ref) - np.asarray(f_open)).max()
    assert change > 1e-3 and e_ref != e_open, "the images should change the forces in so small a box"


def test_forces_are_minus_the_energy_gradient(molecules):
    name, topology, positions = molecules[1]
    system = make_system(topology)
    x = np.array(positions.value_in_unit(unit.nanometer))
    _, forces = evaluate(system, x)
    rng = np.random.default_rng(7)
    h = 1e-5  # nm
    for _ in range(4):
        direction = rng.normal(size=x.shape)
        direction /= np.linalg.norm(direction)
        e_plus, _ = evaluate(system, x + h * direction)
        e_minus, _ = evaluate(system, x - h * direction)
        numeric = -(e_plus - e_minus) / (2 * h)
        assert numeric == pytest.approx(np.sum(forces * direction), rel=1e-5, abs=1e-4), name


def test_force_groups_are_honoured(molecules):
    _name, topology, positions = molecules[0]
    concord = ConcordForce(str(POTENTIAL), atomic_numbers(topology), 64)
    concord.setForceGroup(3)
    system = make_system(topology, concord)
    bonds = mm.HarmonicBondForce()
    bonds.addBond(0, 1, 0.1, 1000.0)
    system.addForce(bonds)
    alone, _ = evaluate(make_system(topology), positions)
    total, _ = evaluate(system, positions)
    only_concord, forces_concord = evaluate(system, positions, groups={3})
    only_bonds, _ = evaluate(system, positions, groups={0})
    assert only_concord == pytest.approx(alone, rel=1e-12)
    assert only_bonds == pytest.approx(total - alone, rel=1e-9)
    assert only_bonds > 0.0
    assert np.abs(forces_concord).max() > 1.0


def test_float32_model_is_close_to_float64(molecules):
    _name, topology, positions = molecules[0]
    e64, f64 = evaluate(make_system(topology, precision=64), positions, "CPU")
    e32, f32 = evaluate(make_system(topology, precision=32), positions, "CPU")
    assert e32 == pytest.approx(e64, abs=0.05)  # kJ/mol, of about 6.6e4
    np.testing.assert_allclose(f32, f64, atol=0.5)  # kJ/mol/nm


def test_getters_report_the_construction(molecules):
    _name, topology, _positions = molecules[0]
    force = ConcordForce(str(POTENTIAL), [a.element.symbol for a in topology.atoms()], 64, "cpu")
    assert list(force.getAtomicNumbers()) == atomic_numbers(topology)
    assert force.getNumParticles() == topology.getNumAtoms()
    assert force.getModelPath() == str(POTENTIAL)
    assert (force.getPrecision(), force.getDevice()) == (64, "cpu")
    assert list(force.getModelElements()) == [1, 6, 7, 8, 9]
    assert force.getReceptiveField() == pytest.approx(1.5)  # nm: 3 layers x 5 Å
    assert not force.usesPeriodicBoundaryConditions()
    assert ConcordForce(str(POTENTIAL), np.array(atomic_numbers(topology))).getPrecision() == 32
