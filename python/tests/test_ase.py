"""The `concord` Python package with real ASE: the calculator agrees with the CLI and with
finite differences, ASE's optimiser and MD run on it, committees report their deviation,
SMILES become structures with their stereo, and errors are ConcordError with Concord's message."""
import pickle
import subprocess
from pathlib import Path

import ase.io
import numpy as np
import pytest
from ase import Atoms, units
from ase.build import molecule
from ase.calculators.calculator import PropertyNotImplementedError
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS

import concord
from concord import ConcordCalculator, ConcordError

ROOT = Path(__file__).resolve().parents[2]
POTENTIAL = ROOT / "examples" / "models" / "concord-qm9-gfn2.concord"
OTHER = ROOT / "examples" / "models" / "candidates" / "concord-qm9-gfn2-long.concord"
GENERATOR = ROOT / "examples" / "models" / "concord-qm9-gfn2-multitask.concord"
SHIPPED_GENERATOR = ROOT / "examples" / "models" / "concord-generator.concord"
CLI = ROOT / "target" / "release" / "concord"


def ethanol():
    a = molecule("CH3CH2OH")
    a.positions += np.random.default_rng(0).normal(scale=0.03, size=a.positions.shape)
    return a


def water_box():
    """Four water molecules in a periodic 6 Å triclinic cell."""
    w = molecule("H2O")
    parts = [w.positions + off for off in ([0, 0, 0], [3, 0, 0], [0, 3, 0.3], [3, 3, 2.9])]
    a = Atoms("OH2" * 4, positions=np.vstack(parts), cell=[[6, 0, 0], [0.4, 6, 0], [0.2, 0.3, 6]], pbc=True)
    return a


def test_energy_and_forces_equal_the_cli(tmp_path):
    ase.io.write(tmp_path / "in.extxyz", ethanol())
    a = ase.io.read(tmp_path / "in.extxyz")  # the positions exactly as the CLI reads them
    a.calc = ConcordCalculator(POTENTIAL)
    subprocess.run([CLI, "optimize", "--model", POTENTIAL, "--in", tmp_path / "in.extxyz", "--out",
                    tmp_path / "out.extxyz", "--max-steps", "0"], check=True, capture_output=True)
    ref = ase.io.read(tmp_path / "out.extxyz")
    assert a.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=1e-9)
    np.testing.assert_allclose(a.get_forces(), ref.get_forces(), atol=1e-9)
    assert a.get_potential_energies().sum() == pytest.approx(a.get_potential_energy(), abs=1e-6)
    assert a.calc.get_property("free_energy") == a.get_potential_energy()
    with pytest.raises(PropertyNotImplementedError):
        a.get_stress()  # an open system has no stress


def test_forces_and_stress_match_finite_differences():
    a = water_box()
    a.calc = ConcordCalculator(POTENTIAL, precision=64)
    np.testing.assert_allclose(a.get_forces(), a.calc.calculate_numerical_forces(a, d=1e-4), atol=2e-5)
    np.testing.assert_allclose(a.get_stress(), a.calc.calculate_numerical_stress(a, d=1e-5), atol=2e-5)
    m = molecule("CH4")
    m.calc = ConcordCalculator(POTENTIAL, precision=64)
    np.testing.assert_allclose(m.get_forces(), m.calc.calculate_numerical_forces(m, d=1e-4), atol=2e-5)


def test_ase_optimiser_and_md_run_on_it():
    a = ethanol()
    a.calc = ConcordCalculator(POTENTIAL, precision=64)
    e0 = a.get_potential_energy()
    assert BFGS(a, logfile=None).run(fmax=0.01, steps=300)
    assert a.get_potential_energy() < e0
    assert np.abs(a.get_forces()).max() < 0.01
    MaxwellBoltzmannDistribution(a, temperature_K=300, rng=np.random.default_rng(1))
    md = VelocityVerlet(a, timestep=0.25 * units.fs, logfile=None)
    energies = []
    md.attach(lambda: energies.append(a.get_total_energy()), interval=10)
    md.run(400)
    assert np.ptp(energies) < 2e-3  # eV over 100 fs: energy is conserved


def test_committee_reports_its_deviation():
    a = ethanol()
    a.calc = ConcordCalculator([POTENTIAL, OTHER])
    single = ConcordCalculator(POTENTIAL)
    assert a.get_potential_energy() == single.get_potential_energy(ethanol())  # the first drives
    std = a.calc.get_property("forces_std")
    assert std.shape == (len(a),) and std.max() > 0
    assert a.calc.get_property("max_devi_f") == pytest.approx(std.max())
    assert a.calc.get_property("energy_std") > 0
    same = concord.deviation([single.models[0], single.models[0]], a.numbers, a.positions)
    assert same["max_devi_f"] == 0.0 and same["energy"] == 0.0


def test_a_loaded_model_is_shared_between_calculators():
    m = concord.Model(str(POTENTIAL), precision=64)
    first, second = ConcordCalculator(m), ConcordCalculator([m, str(OTHER)])
    assert first.models[0] is m and second.models[0] is m
    by_path = ConcordCalculator(POTENTIAL, precision=64)
    a = ethanol()
    assert first.get_potential_energy(a) == by_path.get_potential_energy(a)
    assert second.get_potential_energy(a) == by_path.get_potential_energy(a)


def test_generate_from_smiles_and_relax():
    structures = concord.structures.generate(GENERATOR, "CC(=O)O", samples=3, seed=1)
    assert [s.info["rank"] for s in structures] == [0, 1, 2]
    best = structures[0]
    assert best.get_chemical_formula() == "C2H4O2" and best.info["sane"] and best.info["relaxed"]
    start = ethanol()
    relaxed = concord.structures.relax(POTENTIAL, start, fmax=0.01)
    assert relaxed.info["converged"] and relaxed.info["energy"] < ConcordCalculator(POTENTIAL).get_potential_energy(start)
    with pytest.raises(ValueError, match="cannot parse"):
        concord.structures.generate(GENERATOR, "C1CC(")


def test_smiles_stereo_is_honoured():
    """The SMILES's centres and double bonds (a ring's cis/trans too) reach the generator: RDKit
    perceives every sane sample's configuration from its coordinates as the SMILES gives it."""
    from rdkit import Chem

    def perceived(smiles, atoms):
        mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
        conf = Chem.Conformer(mol.GetNumAtoms())
        for i, p in enumerate(atoms.positions):
            conf.SetAtomPosition(i, p.tolist())
        mol.AddConformer(conf, assignId=True)
        Chem.AssignStereochemistryFrom3D(mol)
        return Chem.MolToSmiles(Chem.RemoveHs(mol))

    assert concord.structures.stereo("C[C@H](N)C(=O)O") == ([(1, (0, 2, 3, 9), True)], [])
    assert concord.structures.stereo("F/C=C\\O") == ([], [((1, 2), (0, 3), True)])
    for smiles in ("C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "F/C=C/O", "F/C=C\\O", "O[C@@H]1CC[C@H](N)CC1",
                   "O[C@H]1CC[C@H](N)CC1"):
        structures = concord.structures.generate(SHIPPED_GENERATOR, smiles, samples=4, seed=0, potential=POTENTIAL)
        sane = [s for s in structures if s.info["sane"]]
        assert sane, smiles
        want = Chem.MolToSmiles(Chem.MolFromSmiles(smiles))
        assert [perceived(smiles, s) for s in sane] == [want] * len(sane), smiles


def test_aromatic_rdkit_bonds_reach_the_generator_kekulized():
    """RDKit gives aromatic bonds (order 4); the library kekulizes them as the generator's training
    data are: raw samples of fused and substituted aromatics keep their graph (before, every
    aspirin sample broke a bond and naphthalene's fusion carbons were refused at valence 4.5)."""
    for smiles in ("c1ccc2ccccc2c1", "CC(=O)Oc1ccccc1C(=O)O", "Cn1c(=O)c2c(ncn2C)n(C)c1=O"):
        numbers, bonds = concord.structures.graph(smiles)
        assert any(order == 4 for _, _, order in bonds), smiles
        structures = concord.structures.generate(SHIPPED_GENERATOR, smiles, samples=2, seed=0, relax=False)
        assert all(s.info["sane"] for s in structures), (smiles, [s.info["problem"] for s in structures])


def test_charge_separated_molecules_are_generated_and_net_charges_refused():
    """Nitrobenzene's formal charges (N+, O-) reach the pipeline from RDKit: sane samples keep the
    nitro group (two N-O bonds of about 1.2 Å); a net charge is refused with the library's message."""
    structures = concord.structures.generate(SHIPPED_GENERATOR, "O=[N+]([O-])c1ccccc1", samples=2, seed=0,
                                             potential=POTENTIAL)
    best = structures[0]
    assert best.get_chemical_formula() == "C6H5NO2" and best.info["sane"]
    no = [best.get_distance(1, 0), best.get_distance(1, 2)]
    assert all(1.1 < d < 1.35 for d in no), no
    with pytest.raises(concord.ConcordError, match="net charge \\+1"):
        concord.structures.generate(SHIPPED_GENERATOR, "C[N+](C)(C)C", samples=1, potential=POTENTIAL)


def test_generate_relaxed_on_another_potential():
    """Relaxed on POTENTIAL to the default threshold of generated structures (0.05 eV/Å) or
    to the one given."""
    calc = ConcordCalculator(POTENTIAL)
    for fmax, threshold in ((None, 0.05), (0.01, 0.01)):
        structures = concord.structures.generate(GENERATOR, "CC(=O)O", samples=2, seed=1, potential=POTENTIAL,
                                                 fmax=fmax)
        for s in structures:
            assert s.info["relaxed"] and s.info["converged"]
            atoms = s.copy()
            atoms.calc = calc
            assert abs(atoms.get_potential_energy() - s.info["energy"]) < 1e-6
            assert np.linalg.norm(atoms.get_forces(), axis=1).max() <= threshold * 1.01


def test_sanity_check_of_a_structure_for_its_graph():
    """A sane ethanol passes; a hydrogen moved onto an unbonded atom is a clash naming both."""
    a = ethanol()
    numbers, bonds = concord.structures.graph("CCO")
    # ase's ethanol lists C, C, O, then the hydrogens; RDKit's graph lists the same heavy atoms
    # first, so map the hydrogens by their nearest heavy atom.
    heavy = a.positions[:3]
    order = [0, 1, 2] + sorted(range(3, 9), key=lambda i: np.linalg.norm(heavy - a.positions[i], axis=1).argmin())
    pos = a.positions[order]
    assert [a.numbers[i] for i in order] == numbers
    assert concord.check_structure(numbers, bonds, pos) == (0, "")
    h_on_oxygen = next(j for i, j, _ in bonds if i == 2 and numbers[j] == 1)
    broken = pos.copy()
    broken[h_on_oxygen] = pos[0] + [0.0, 0.0, 1.05]  # 1.05 Å from C0 as well
    n, message = concord.check_structure(numbers, bonds, broken)
    assert n >= 1 and message, message
    with pytest.raises(ConcordError, match="bond"):
        concord.check_structure(numbers, [(0, 99, 1)], pos)


def test_errors_are_concord_errors_with_its_message(tmp_path):
    a = ethanol()
    a.positions[1] = a.positions[0] + [0.1, 0, 0]
    a.calc = ConcordCalculator(POTENTIAL)
    with pytest.raises(ConcordError, match="overlap") as err:
        a.get_potential_energy()
    assert err.value.status == 10 and err.value.atoms == [0, 1]
    # Picklable, as an error raised in a multiprocessing worker must be.
    back = pickle.loads(pickle.dumps(err.value))
    assert (back.status, str(back), back.atoms) == (10, str(err.value), [0, 1])
    with pytest.raises(ConcordError, match="not one of the model's elements|element"):
        ConcordCalculator(POTENTIAL).get_potential_energy(Atoms("SiH4", positions=molecule("CH4").positions))
    nan = ethanol()
    nan.positions[3, 1] = np.nan
    with pytest.raises(ConcordError, match="non-finite") as err:
        ConcordCalculator(POTENTIAL).get_potential_energy(nan)
    assert err.value.atoms == [3]
    with pytest.raises(ValueError, match="shape"):
        concord.Model(POTENTIAL).compute([6, 1], np.zeros((3, 3)))
    with pytest.raises(ConcordError, match="at least 2 models"):
        concord.deviation([concord.Model(POTENTIAL)], [6], np.zeros((1, 3)))
    with pytest.raises(ConcordError, match="missing.concord"):
        ConcordCalculator(tmp_path / "missing.concord")
    with pytest.raises(ConcordError, match="no structure generator"):
        concord.structures.generate(POTENTIAL, "CCO")
