"""Dynamics and minimisation with ConcordForce: NVE energy conservation with VerletIntegrator,
and LocalEnergyMinimizer converging from a distorted structure."""

import numpy as np
import openmm as mm
import pytest
from conftest import make_system
from openmm import unit


@pytest.mark.parametrize("precision", [64, 32])
def test_nve_energy_drift_is_small(molecules, report, precision):
    name, topology, positions = molecules[0]
    step = 0.5 * unit.femtosecond
    integrator = mm.VerletIntegrator(step)
    context = mm.Context(make_system(topology, precision=precision), integrator, mm.Platform.getPlatformByName("CPU"))
    context.setPositions(positions)
    context.setVelocitiesToTemperature(300 * unit.kelvin, 1)
    times, totals = [], []
    for block in range(1, 101):  # 1000 steps = 0.5 ps
        integrator.step(10)
        state = context.getState(getEnergy=True)
        times.append(block * 10 * step.value_in_unit(unit.picosecond))
        totals.append((state.getPotentialEnergy() + state.getKineticEnergy()).value_in_unit(unit.kilojoule_per_mole))
    drift = np.polyfit(times, totals, 1)[0]
    spread = np.std(totals)
    kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
    report(
        f"NVE {name} ({topology.getNumAtoms()} atoms, float{precision}, Verlet 0.5 fs, 0.5 ps from 300 K): "
        f"drift {drift:+.3f} kJ/mol/ps, total-energy std {spread:.3f} kJ/mol, final kinetic {kinetic:.1f} kJ/mol"
    )
    assert kinetic > 5.0, "the molecule should keep moving"
    assert abs(drift) < 0.5  # kJ/mol/ps; kT = 2.5 kJ/mol
    assert spread < 0.3  # kJ/mol


# Molecule 0 from its PM6 minimum: the minimiser's first trial step puts two atoms onto each
# other, so this also checks that an overlap (infinite energy) makes it step back.
@pytest.mark.parametrize("platform, index, noise", [("Reference", 1, 0.01), ("CPU", 1, 0.01), ("CPU", 0, 0.0)])
def test_local_energy_minimizer_converges(molecules, report, platform, index, noise):
    name, topology, positions = molecules[index]
    context = mm.Context(make_system(topology), mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName(platform))
    rng = np.random.default_rng(3)
    start = np.array(positions.value_in_unit(unit.nanometer)) + rng.normal(
        scale=noise, size=(topology.getNumAtoms(), 3)
    )
    context.setPositions(start)
    before = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    tolerance = 1.0  # kJ/mol/nm, RMS of the force components
    mm.LocalEnergyMinimizer.minimize(context, tolerance, 2000)
    state = context.getState(getEnergy=True, getForces=True)
    after = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer)
    rms = float(np.sqrt(np.mean(np.square(forces))))
    report(
        f"LocalEnergyMinimizer {name} on {platform} (start: PM6 minimum + {noise} nm noise): "
        f"{before:.2f} -> {after:.2f} kJ/mol, RMS force {rms:.3f} kJ/mol/nm"
    )
    assert after < before - 5.0
    assert rms <= tolerance * 1.01
