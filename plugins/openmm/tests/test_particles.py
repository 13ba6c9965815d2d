"""ConcordForce on some particles of a System (setParticles): a molecule treated by the model
among particles that only other forces act on."""

import numpy as np
import openmm as mm
import pytest
from conftest import EV, POTENTIAL, evaluate
from openmm import unit
from openmmconcord import ConcordForce, atomic_numbers


def mixed_system(topology, force):
    """Two argon atoms, then the molecule's atoms, then one more argon; the argon atoms are
    held by a harmonic restraint (a CustomExternalForce in group 1)."""
    system = mm.System()
    restraint = mm.CustomExternalForce("100*(x^2+y^2+z^2)")
    restraint.setForceGroup(1)
    system.addForce(restraint)
    for _ in range(2):
        restraint.addParticle(system.addParticle(39.9), [])
    for atom in topology.atoms():
        system.addParticle(atom.element.mass)
    restraint.addParticle(system.addParticle(39.9), [])
    system.addForce(force)
    return system


@pytest.mark.parametrize("platform", ["Reference", "CPU"])
def test_force_on_a_subset_equals_the_c_abi(reference, molecules, platform):
    _name, topology, positions = molecules[0]
    n = topology.getNumAtoms()
    force = ConcordForce(str(POTENTIAL), atomic_numbers(topology), 64)
    force.setParticles(list(range(2, 2 + n)))
    assert list(force.getParticles()) == list(range(2, 2 + n))
    x = np.array(positions.value_in_unit(unit.nanometer))
    argon = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    all_positions = np.vstack([argon[:2], x, argon[2:]])
    energy, forces = evaluate(mixed_system(topology, force), all_positions, platform, groups={0})
    e_ref, f_ref = reference.compute(atomic_numbers(topology), x * 10.0)
    assert energy == pytest.approx(e_ref * EV, rel=1e-12)
    np.testing.assert_allclose(forces[2 : 2 + n], f_ref * EV * 10.0, rtol=0, atol=1e-9)
    assert np.all(forces[[0, 1, n + 2]] == 0.0)


def test_errors_name_system_particles(molecules):
    """Concord names atoms by their index in the force; the message adds the System's."""
    _name, topology, positions = molecules[0]
    n = topology.getNumAtoms()
    force = ConcordForce(str(POTENTIAL), atomic_numbers(topology), 64)
    force.setParticles(list(range(2, 2 + n)))
    x = np.array(positions.value_in_unit(unit.nanometer))
    x[1] = np.nan
    argon = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    with pytest.raises(mm.OpenMMException) as error:
        evaluate(mixed_system(topology, force), np.vstack([argon[:2], x, argon[2:]]))
    assert "non-finite coordinate (NaN or inf) on atom 1 (System particles 3)" in str(error.value)


def test_subset_order_follows_the_indices(reference, molecules):
    _name, topology, positions = molecules[1]
    n = topology.getNumAtoms()
    order = np.random.default_rng(0).permutation(n)  # atom i of the model is particle order[i]
    numbers = atomic_numbers(topology)
    force = ConcordForce(str(POTENTIAL), numbers, 64)
    force.setParticles([int(i) for i in order])
    x = np.array(positions.value_in_unit(unit.nanometer))
    shuffled = np.empty_like(x)
    shuffled[order] = x
    system = mm.System()
    for i in range(n):
        system.addParticle(1.0)
    system.addForce(force)
    energy, forces = evaluate(system, shuffled)
    e_ref, f_ref = reference.compute(numbers, x * 10.0)
    assert energy == pytest.approx(e_ref * EV, rel=1e-12)
    np.testing.assert_allclose(forces[order], f_ref * EV * 10.0, rtol=0, atol=1e-9)


def test_subset_survives_serialization(molecules):
    _name, topology, _positions = molecules[0]
    force = ConcordForce(str(POTENTIAL), atomic_numbers(topology), 64)
    force.setParticles(list(range(2, 2 + topology.getNumAtoms())))
    restored = mm.XmlSerializer.deserialize(mm.XmlSerializer.serialize(force))  # owns the force
    assert ConcordForce.cast(restored).getParticles() == force.getParticles()
    everything = mm.XmlSerializer.clone(ConcordForce(str(POTENTIAL), atomic_numbers(topology), 64))
    assert ConcordForce.cast(everything).getParticles() == ()


def test_bad_particle_lists_are_refused(molecules):
    _name, topology, _positions = molecules[0]
    force = ConcordForce(str(POTENTIAL), [6, 1, 1, 1, 1])
    with pytest.raises(mm.OpenMMException, match="3 particle indices given for 5 atomic numbers"):
        force.setParticles([0, 1, 2])
    with pytest.raises(mm.OpenMMException, match="particle 3 is listed twice"):
        force.setParticles([0, 3, 2, 3, 4])
    with pytest.raises(mm.OpenMMException, match="negative particle index -1"):
        force.setParticles([0, 1, 2, 3, -1])
    force.setParticles([0, 1, 2, 3, 40])
    with pytest.raises(mm.OpenMMException, match="particle index 40 is beyond the System's 19 particles"):
        mm.Context(mixed_system(topology, force), mm.VerletIntegrator(0.001))


def test_committee_deviation_equals_the_c_abi(reference, molecules):
    """computeDeviation: the force's model plus committee members, at the Context's positions
    of the force's particles, equals concord_model_deviation (converted to kJ/mol/nm)."""
    import ctypes
    from conftest import ROOT
    other = ROOT / "examples/models/candidates/concord-qm9-gfn2-long.concord"
    _name, topology, positions = molecules[0]
    n = topology.getNumAtoms()
    force = ConcordForce(str(POTENTIAL), atomic_numbers(topology), 64)
    force.setParticles(list(range(2, 2 + n)))
    system = mixed_system(topology, force)
    x = np.array(positions.value_in_unit(unit.nanometer))
    argon = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    context = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
    context.setPositions(np.vstack([argon[:2], x, argon[2:]]))
    with pytest.raises(mm.OpenMMException, match="no committee"):
        force.computeDeviation(context)
    force.addCommitteeModel(str(other))
    assert force.getNumCommitteeModels() == 1
    dev = force.computeDeviation(context)

    lib = reference.lib
    handles = []
    for path in (POTENTIAL, other):
        h = ctypes.c_void_p()
        assert lib.concord_model_load(str(path).encode(), b"cpu", 64, ctypes.byref(h)) == 0
        handles.append(h.value)
    ref, atom = (ctypes.c_double * 7)(), np.zeros(n)
    z = np.ascontiguousarray(atomic_numbers(topology), dtype=np.int32)
    xa = np.ascontiguousarray(x * 10.0)
    status = lib.concord_model_deviation((ctypes.c_void_p * 2)(*handles), ctypes.c_int64(2), ctypes.c_int64(n),
                                         z.ctypes.data_as(ctypes.c_void_p), xa.ctypes.data_as(ctypes.c_void_p),
                                         None, None, ref, atom.ctypes.data_as(ctypes.c_void_p))
    assert status == 0, lib.concord_last_error().decode()
    f = EV * 10.0
    assert dev.energyStd == pytest.approx(EV * ref[0], rel=1e-9)
    assert dev.maxForceDeviation == pytest.approx(f * ref[1], rel=1e-9)
    np.testing.assert_allclose(np.array(dev.atomForceDeviations), f * atom, rtol=1e-9)
    with pytest.raises(mm.OpenMMException, match="missing.concord"):
        force.addCommitteeModel("missing.concord")
