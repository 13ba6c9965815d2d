"""MLPotential('concord') with the real openmm-ml package: createSystem agrees with the C ABI,
createMixedSystem(interpolate=True) mixes a Concord water into a TIP3P box as openmm-ml defines
it, and the mixed system runs dynamics."""

import numpy as np
import openmm as mm
import pytest
from conftest import EV, POTENTIAL, evaluate
from openmm import app, unit
from openmmml import MLPotential


def test_registered_and_create_system_equals_the_c_abi(reference, molecules):
    _name, topology, positions = molecules[0]
    potential = MLPotential("concord", modelPath=str(POTENTIAL), precision=64)
    system = potential.createSystem(topology)
    assert "ConcordForce" in mm.XmlSerializer.serialize(system)
    x = np.array(positions.value_in_unit(unit.nanometer))
    energy, forces = evaluate(system, x)
    numbers = [a.element.atomic_number for a in topology.atoms()]
    e_ref, f_ref = reference.compute(numbers, x * 10.0)
    assert energy == pytest.approx(e_ref * EV, rel=1e-12)
    np.testing.assert_allclose(forces, f_ref * EV * 10.0, rtol=0, atol=1e-8)
    with pytest.raises(ValueError, match="modelPath"):
        MLPotential("concord").createSystem(topology)


def water_box():
    """TIP3P water in a 1.4 nm box (flexible, so that no constraint hides the ML water's forces)."""
    forcefield = app.ForceField("amber14/tip3p.xml")
    modeller = app.Modeller(app.Topology(), [])
    modeller.addSolvent(forcefield, boxSize=mm.Vec3(1.4, 1.4, 1.4) * unit.nanometer)
    system = forcefield.createSystem(modeller.topology, nonbondedMethod=app.CutoffPeriodic,
                                     nonbondedCutoff=0.6 * unit.nanometer, constraints=None, rigidWater=False)
    return modeller.topology, modeller.positions, system


def energy_at(system, positions, box, lam=None):
    context = mm.Context(system, mm.VerletIntegrator(0.0005), mm.Platform.getPlatformByName("Reference"))
    context.setPeriodicBoxVectors(*box)
    context.setPositions(positions)
    if lam is not None:
        context.setParameter("lambda_interpolate", lam)
    return context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)


def test_mixed_system_interpolates_between_mm_and_ml(reference):
    topology, positions, mm_system = water_box()
    box = topology.getPeriodicBoxVectors()
    ml_atoms = [a.index for a in next(topology.residues()).atoms()]
    potential = MLPotential("concord", modelPath=str(POTENTIAL), precision=64)
    mixed = potential.createMixedSystem(topology, mm_system, ml_atoms, interpolate=True)
    e_mm = energy_at(mm_system, positions, box)
    e0, e1, e_half = (energy_at(mixed, positions, box, lam) for lam in (0.0, 1.0, 0.5))
    assert e0 == pytest.approx(e_mm, rel=1e-9)  # lambda 0: the conventional force field
    assert e_half == pytest.approx(0.5 * (e0 + e1), rel=1e-9)
    # lambda 1: the ML water's internal MM energy (bond and angle) replaced by Concord's energy.
    x = np.array(positions.value_in_unit(unit.nanometer))[ml_atoms]
    one = app.Topology()
    chain = one.addChain()
    residue = one.addResidue("HOH", chain)
    atoms = [one.addAtom(a.name, a.element, residue) for a in next(topology.residues()).atoms()]
    one.addBond(atoms[0], atoms[1])
    one.addBond(atoms[0], atoms[2])
    single = app.ForceField("amber14/tip3p.xml").createSystem(one, nonbondedMethod=app.NoCutoff,
                                                              constraints=None, rigidWater=False)
    e_internal, _ = evaluate(single, x)
    e_concord, _ = reference.compute([8, 1, 1], x * 10.0)
    assert e1 - e0 == pytest.approx(e_concord * EV - e_internal, abs=1e-6 * abs(e_concord * EV))


def test_mixed_system_runs_dynamics():
    topology, positions, mm_system = water_box()
    ml_atoms = [a.index for a in next(topology.residues()).atoms()]
    mixed = MLPotential("concord", modelPath=str(POTENTIAL)).createMixedSystem(topology, mm_system, ml_atoms)
    integrator = mm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 0.0005 * unit.picoseconds)
    sim = app.Simulation(topology, mixed, integrator, mm.Platform.getPlatformByName("CPU"))
    sim.context.setPositions(positions)
    sim.minimizeEnergy(maxIterations=50)
    sim.step(100)
    state = sim.context.getState(getEnergy=True, getPositions=True)
    assert np.isfinite(state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole))
    x = state.getPositions(asNumpy=True).value_in_unit(unit.angstrom)[ml_atoms]
    assert 0.85 < np.linalg.norm(x[1] - x[0]) < 1.15 and 0.85 < np.linalg.norm(x[2] - x[0]) < 1.15
