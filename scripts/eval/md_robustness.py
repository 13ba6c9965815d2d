"""Robust dynamics (issue #16): MD of drug-like test molecules in LAMMPS with a Concord potential.

For each of `--molecules` drug-like test molecules from the `--first`-th (data/organic-gfn2, GFN2
minimum as the start) and each ensemble (NVE, NVT with a Nosé-Hoover chain, 0.1 ps damping) at 300 and 600 K:
`--ps` picoseconds of 0.5 fs steps, float64, with the structure dumped every picosecond and checked
(1) by the data pipeline's graph check (every bond within 1.3 (r_i + r_j), no new contact under
1.05 (r_i + r_j), stereo unchanged: no bond broken or formed) and (2) by Concord's sanity check for
the molecule's bond graph (`concord.check_structure`, the check that screens generated structures:
bond lengths plausible for their order at a minimum, no clash of unbonded atoms: a hydrogen shared
between two atoms fails it). The sanity check's bounds are those of minima, which a hot molecule
leaves for a moment (an aromatic N-O bond of an oxadiazole reaches 1.52 Å at 600 K for 0.3 eV), so
a frame failing it is quenched (relaxed on the model to 0.05 eV/Å): if the quench passes, the frame
is a thermal excursion (counted, not a failure); if not, the atoms collapsed or the model has a
false minimum there. Reports the first picosecond at which a check fails, with GFN2-xTB's and the
model's energy of that frame above the start and the frame relaxed on the model (a failure where
the model's energy is far below GFN2-xTB's, or whose relaxation stays broken, is a hole in the
potential, not chemistry), and, for NVE, the total-energy drift (linear fit, meV/ps).

Usage: python scripts/eval/md_robustness.py --model PATH [--molecules 3] [--first 0] [--ps 20] [--out DIR]
       [--ensembles nve,nvt] [--temperatures 300,600] [--recheck]
       [--starts FILE.extxyz --smiles FILE.smi]
(`--starts` and `--smiles` replace the drug-like test molecules: start frames whose `mol` names a
molecule of the SMILES file, atoms in RDKit's order with explicit hydrogens, e.g. the GFN2 minima
`scripts/eval/large_potential.py` writes for scripts/eval/large.smi.)
(`--first K` starts at the K-th molecule: two processes with different `--first` and `--out` share
the work of several molecules on two cores. `--recheck` checks the trajectories already in
`--out` again instead of running LAMMPS.)
"""
import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import ase.io
import numpy as np
from rdkit import Chem

import common

sys.path.insert(0, str(common.ROOT / "plugins" / "lammps" / "tests"))
sys.path.insert(0, str(common.ROOT / "python"))
import concord  # noqa: E402
import xtb  # noqa: E402  (scripts/data/xtb.py)
from graph import GraphError, check_same_graph, concord_bonds  # noqa: E402
from harness import lammps, write_data  # noqa: E402

ORGANIC = common.ROOT / "data" / "organic-gfn2"
STEPS_PER_PS = 2000  # 0.5 fs


def run_md(model, atoms, ensemble, temperature, ps, workdir):
    """Runs one trajectory; returns (frames [ps+1][n][3] in input order, time/ps, etotal/eV)."""
    symbols = atoms.get_chemical_symbols()
    types = sorted(set(symbols))
    x = atoms.positions - atoms.positions.mean(0)
    write_data(workdir / "mol.data", symbols, x, [-30.0] * 3, [30.0] * 3, types)
    fix = ("fix 1 all nve" if ensemble == "nve"
           else f"fix 1 all nvt temp {temperature} {temperature} 0.1")
    script = f"""
units metal
boundary f f f
atom_style atomic
read_data mol.data
pair_style concord {model} precision 64
pair_coeff * * {' '.join(types)}
velocity all create {temperature} 4928 mom yes rot yes dist gaussian
timestep 0.0005
{fix}
thermo_style custom step time temp etotal
thermo_modify format float %.15g
thermo 200
dump 1 all custom {STEPS_PER_PS} traj.dump id x y z
dump_modify 1 sort id
run {ps * STEPS_PER_PS}
"""
    run = lammps(script, workdir, check=False, timeout=3600)
    frames, t, e = read_run(workdir, len(symbols), run.output)
    return frames, t, e, "" if run.returncode == 0 else run.error()


def read_run(workdir, n, output=None):
    """(frames [ps+1][n][3], time/ps, etotal/eV) of a run in `workdir` (thermo rows from
    `output`, or from its log.lammps)."""
    if output is None:
        log = workdir / "log.lammps"
        output = log.read_text() if log.exists() else ""
    rows = [line.split() for line in output.splitlines()
            if len(line.split()) == 4 and line.split()[0].isdigit()]
    table = np.array([[float(v) for v in r] for r in rows]) if rows else np.zeros((0, 4))
    frames = []
    if (workdir / "traj.dump").exists():
        lines = (workdir / "traj.dump").read_text().splitlines()
        for k, line in enumerate(lines):
            if line.startswith("ITEM: ATOMS"):
                frames.append(np.array([[float(v) for v in l.split()[1:4]] for l in lines[k + 1:k + 1 + n]]))
    return frames, table[:, 1], table[:, 3]


def first_failure(model, mol, symbols, frames):
    """({"ps", "reason", "detail"} of the first failing frame or None, the thermal excursions).

    A frame fails the graph check (a bond stretched past 1.3 (r_i + r_j), a new contact, stereo
    changed: a bond broken or formed), or fails the sanity check and still fails it after a quench
    (the frame relaxed on the model to 0.05 eV/Å: a collapse or a false minimum). A frame that
    fails the sanity check (whose bounds are those of minima) but whose quench passes it is a
    thermal excursion: listed as {"ps", "detail"}, not a failure."""
    numbers = [a.GetAtomicNum() for a in mol.GetAtoms()]
    bonds = concord_bonds(mol)
    m, excursions = None, []
    for k, pos in enumerate(frames):
        try:
            check_same_graph(mol, symbols, pos, "md")
        except GraphError as err:
            return {"ps": k, "reason": err.reason, "detail": err.detail[:200]}, excursions
        problems, message = concord.check_structure(numbers, bonds, pos)
        if not problems:
            continue
        m = m or concord.Model(model, precision=64)
        quenched, _ = m.optimize(numbers, pos, fmax=0.05, max_steps=2000)
        if concord.check_structure(numbers, bonds, quenched)[0]:
            return {"ps": k, "reason": "md_sanity", "detail": message[:200]}, excursions
        excursions.append({"ps": k, "detail": message[:200]})
    return None, excursions


def diagnose(model, mol, symbols, frames, k):
    """Is the failure at frame `k` a hole in the potential? Energies (eV) of frame `k` above frame
    0 by GFN2-xTB and by the model (float64); and frame `k` relaxed on the model (L-BFGS to 0.01
    eV/Å): whether it still fails the sanity check (then the model has a false minimum there),
    its model energy above the start relaxed on the model, and GFN2-xTB's energy of the same two
    geometries."""
    numbers = [concord.element_number(s) for s in symbols]
    bonds = concord_bonds(mol)
    m = concord.Model(model, precision=64)
    energy = lambda x: m.compute(numbers, x)["energy"]  # noqa: E731
    gfn2 = lambda x: xtb.energy_forces(symbols, x)[0]  # noqa: E731
    start, _ = m.optimize(numbers, frames[0], fmax=0.01, max_steps=2000)
    relaxed, _ = m.optimize(numbers, frames[k], fmax=0.01, max_steps=2000)
    problems, message = concord.check_structure(numbers, bonds, relaxed)
    r = lambda v: round(float(v), 3)  # noqa: E731
    return {"above_start": {"gfn2_eV": r(gfn2(frames[k]) - gfn2(frames[0])),
                            "model_eV": r(energy(frames[k]) - energy(frames[0]))},
            "relaxed_on_model": {"sane": problems == 0, "problem": message[:200],
                                 "model_eV_above_relaxed_start": r(energy(relaxed) - energy(start)),
                                 "gfn2_eV_above_relaxed_start": r(gfn2(relaxed) - gfn2(start))}}


def sdf_molecules():
    """{name: RDKit molecule with hydrogens} of the organic test set."""
    with gzip.open(ORGANIC / "test_structures.sdf.gz") as fh:
        return {m.GetProp("_Name"): m for m in Chem.ForwardSDMolSupplier(fh, removeHs=False)}


def smiles_molecules(path, starts):
    """{name: RDKit molecule with explicit hydrogens at its start frame's positions} of the
    SMILES file `path` ('SMILES name' lines) for the molecules of `starts`."""
    smiles = {name: smi for smi, name in common.read_smiles_file(path)}
    out = {}
    for atoms in starts:
        name = atoms.info["mol"]
        mol = Chem.AddHs(Chem.MolFromSmiles(smiles[name]))
        if [a.GetSymbol() for a in mol.GetAtoms()] != atoms.get_chemical_symbols():
            raise SystemExit(f"md_robustness: {name}: the start frame's atoms are not in RDKit's order")
        conf = Chem.Conformer(mol.GetNumAtoms())
        for i, p in enumerate(atoms.positions):
            conf.SetAtomPosition(i, p.tolist())
        mol.AddConformer(conf, assignId=True)
        Chem.AssignStereochemistryFrom3D(mol)
        out[name] = mol
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--molecules", type=int, default=3)
    ap.add_argument("--first", type=int, default=0, help="index of the first molecule")
    ap.add_argument("--ps", type=int, default=20)
    ap.add_argument("--out", type=Path, default=common.ROOT / "runs" / "eval" / "md")
    ap.add_argument("--recheck", action="store_true", help="check the runs already in --out again")
    ap.add_argument("--ensembles", default="nve,nvt", help="comma-separated subset of nve,nvt")
    ap.add_argument("--temperatures", default="300,600", help="comma-separated, K")
    ap.add_argument("--starts", type=Path, help="start frames (extended XYZ, `mol` info key)")
    ap.add_argument("--smiles", type=Path, help="'SMILES name' per line: the start frames' graphs")
    a = ap.parse_args()
    if not set(a.ensembles.split(",")) <= {"nve", "nvt"}:
        raise SystemExit(f"md_robustness: --ensembles {a.ensembles!r}: expected a subset of nve,nvt")
    model = a.model.resolve()
    if (a.starts is None) != (a.smiles is None):
        raise SystemExit("md_robustness: --starts and --smiles go together")
    starts_file = a.starts or ORGANIC / "test" / "druglike" / "gfn2_min.extxyz.gz"
    starts = ase.io.read(starts_file, f"{a.first}:{a.first + a.molecules}")
    mols = smiles_molecules(a.smiles, starts) if a.smiles else sdf_molecules()
    records = []
    saved = a.out / "md_robustness.json"
    earlier = ({(r["mol"], r["ensemble"], r["T"]): r["wall_s"] for r in json.loads(saved.read_text())["records"]}
               if a.recheck and saved.exists() else {})
    for atoms in starts:
        name = atoms.info["mol"]
        for ensemble in a.ensembles.split(","):
            for temperature in (int(t) for t in a.temperatures.split(",")):
                t0 = time.time()
                work = a.out / f"{name}_{ensemble}_{temperature}"
                symbols = atoms.get_chemical_symbols()
                if a.recheck:
                    frames, t, e = read_run(work, len(atoms))
                    error = "" if frames else f"no trajectory in {work}"
                else:
                    frames, t, e, error = run_md(model, atoms, ensemble, temperature, a.ps, work)
                broken, excursions = first_failure(model, mols[name], symbols, frames)
                if broken:
                    broken.update(diagnose(model, mols[name], symbols, frames, broken["ps"]))
                drift = float(np.polyfit(t, e, 1)[0] * 1e3) if ensemble == "nve" and len(t) > 2 else None
                rec = {"mol": name, "atoms": len(atoms), "ensemble": ensemble, "T": temperature,
                       "ps_run": float(t[-1]) if len(t) else 0.0, "lammps_error": error,
                       "first_failed_check": broken, "thermal_excursions": excursions,
                       "nve_drift_meV_per_ps": drift,
                       "wall_s": round(time.time() - t0, 1)}
                records.append(rec)
                status = "ok" if not broken and not error else f"FAILED {broken or error}"
                if excursions:
                    status += f" ({len(excursions)} thermal excursions, first at {excursions[0]['ps']} ps)"
                if a.recheck:  # the wall time of the run, not of the check
                    rec["wall_s"] = earlier.get((name, ensemble, temperature))
                print(f"{name} ({len(atoms)} atoms) {ensemble} {temperature} K: {rec['ps_run']:.0f} ps, {status}"
                      + (f", drift {drift:+.3f} meV/ps" if drift is not None else "")
                      + f" ({rec['wall_s']} s)", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps({"model": str(model), "ps": a.ps,
                                                          "records": records}, indent=1) + "\n")


if __name__ == "__main__":
    main()
