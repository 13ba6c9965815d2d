"""XmlSerializer round trip of ConcordForce: same settings, same energies and forces."""

import copy
import shutil

import numpy as np
import openmm as mm
import pytest
from conftest import GENERATOR, POTENTIAL, ROOT, evaluate, make_system
from openmmconcord import ConcordForce, atomic_numbers


def test_xml_round_trip_gives_the_same_energy(molecules):
    _name, topology, positions = molecules[2]
    force = ConcordForce(str(POTENTIAL), atomic_numbers(topology), 64)
    force.setForceGroup(5)
    force.setName("learned potential")
    system = make_system(topology, force)
    xml = mm.XmlSerializer.serialize(system)
    restored = mm.XmlSerializer.deserialize(xml)
    copied = ConcordForce.cast(restored.getForce(0))
    assert ConcordForce.isinstance(restored.getForce(0))
    assert list(copied.getAtomicNumbers()) == atomic_numbers(topology)
    assert (copied.getModelPath(), copied.getPrecision(), copied.getDevice()) == (str(POTENTIAL), 64, "cpu")
    assert (copied.getForceGroup(), copied.getName()) == (5, "learned potential")
    assert not copied.usesPeriodicBoundaryConditions()
    energy, forces = evaluate(system, positions)
    energy2, forces2 = evaluate(restored, positions)
    assert energy2 == energy
    np.testing.assert_array_equal(forces2, forces)
    assert mm.XmlSerializer.serialize(restored) == xml


def test_periodic_flag_survives_serialization_and_deepcopy(molecules):
    _name, topology, _positions = molecules[0]
    force = ConcordForce(str(POTENTIAL), atomic_numbers(topology), 32)
    force.setUsesPeriodicBoundaryConditions(True)
    restored = mm.XmlSerializer.deserialize(mm.XmlSerializer.serialize(force))
    assert ConcordForce.cast(restored).usesPeriodicBoundaryConditions()
    system = copy.deepcopy(make_system(topology, force))
    assert ConcordForce.cast(system.getForce(0)).usesPeriodicBoundaryConditions()


def test_unknown_serialization_version_is_refused(molecules):
    _name, topology, _positions = molecules[0]
    xml = mm.XmlSerializer.serialize(ConcordForce(str(POTENTIAL), atomic_numbers(topology)))
    with pytest.raises(Exception, match="unsupported serialization version 2"):
        mm.XmlSerializer.deserialize(xml.replace('version="1"', 'version="2"'))


def test_a_replaced_model_file_is_refused_on_deserialization(molecules, tmp_path):
    _name, topology, _positions = molecules[0]
    model = tmp_path / "model.concord"
    shutil.copy(POTENTIAL, model)
    xml = mm.XmlSerializer.serialize(ConcordForce(str(model), atomic_numbers(topology)))
    assert 'modelChecksum="sha256:' in xml
    mm.XmlSerializer.deserialize(xml)  # the same file: fine
    shutil.copy(GENERATOR, model)  # another model at the stored path
    with pytest.raises(Exception, match="is not the one this force was serialised with"):
        mm.XmlSerializer.deserialize(xml)


def test_committee_members_survive_serialization(molecules, tmp_path):
    """The committee's model files and checksums are stored; the restored force reports the
    same deviation, and a replaced member file is refused like the main model."""
    _name, topology, positions = molecules[1]
    member = tmp_path / "member.concord"
    shutil.copy(ROOT / "examples/models/candidates/concord-qm9-gfn2-long.concord", member)
    force = ConcordForce(str(POTENTIAL), atomic_numbers(topology), 64)
    force.addCommitteeModel(str(member))
    system = make_system(topology, force)
    xml = mm.XmlSerializer.serialize(system)
    restored = mm.XmlSerializer.deserialize(xml)
    copied = ConcordForce.cast(restored.getForce(0))
    assert copied.getNumCommitteeModels() == 1
    assert copied.getCommitteeModelPath(0) == str(member)
    assert copied.getCommitteeModelChecksum(0).startswith("sha256:")
    with pytest.raises(Exception, match="committee member 1 does not exist"):
        copied.getCommitteeModelPath(1)
    deviations = []
    for s, f in ((system, force), (restored, copied)):
        context = mm.Context(s, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
        context.setPositions(positions)
        deviations.append(f.computeDeviation(context))
    assert deviations[1].maxForceDeviation == deviations[0].maxForceDeviation > 0
    assert deviations[1].energyStd == deviations[0].energyStd
    assert mm.XmlSerializer.serialize(restored) == xml
    shutil.copy(GENERATOR, member)
    with pytest.raises(Exception, match="member.concord is not the one this force was serialised with"):
        mm.XmlSerializer.deserialize(xml)
