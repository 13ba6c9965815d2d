"""Robust dynamics (issue #16): MD of drug-like test molecules in LAMMPS with a Concord potential.

For each of `--molecules` drug-like test molecules from the `--first`-th (data/organic-gfn2, GFN2
minimum as the start) and each ensemble (NVE, NVT with a Nosé-Hoover chain, 0.1 ps damping) at 300 and 600 K:
`--ps` picoseconds of 0.5 fs steps, float64, with the structure dumped every picosecond and checked
by the data pipeline's graph check (every bond within 1.3 (r_i + r_j), no new contact under
1.05 (r_i + r_j), stereo unchanged). Reports the first picosecond at which a check fails and,
for NVE, the total-energy drift (linear fit, meV/ps).

Usage: python scripts/eval/md_robustness.py --model PATH [--molecules 3] [--first 0] [--ps 20] [--out DIR]
(`--first K` starts at the K-th molecule: two processes with different `--first` and `--out` share
the work of several molecules on two cores.)
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
from graph import GraphError, check_same_graph  # noqa: E402
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
    rows = [line.split() for line in run.output.splitlines()
            if len(line.split()) == 4 and line.split()[0].isdigit()]
    table = np.array([[float(v) for v in r] for r in rows]) if rows else np.zeros((0, 4))
    frames = []
    if (workdir / "traj.dump").exists():
        lines = (workdir / "traj.dump").read_text().splitlines()
        n = len(symbols)
        for k, line in enumerate(lines):
            if line.startswith("ITEM: ATOMS"):
                frames.append(np.array([[float(v) for v in l.split()[1:4]] for l in lines[k + 1:k + 1 + n]]))
    error = "" if run.returncode == 0 else run.error()
    return frames, table[:, 1], table[:, 3], error


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--molecules", type=int, default=3)
    ap.add_argument("--first", type=int, default=0, help="index of the first molecule")
    ap.add_argument("--ps", type=int, default=20)
    ap.add_argument("--out", type=Path, default=common.ROOT / "runs" / "eval" / "md")
    a = ap.parse_args()
    model = a.model.resolve()
    starts = ase.io.read(ORGANIC / "test" / "druglike" / "gfn2_min.extxyz.gz", f"{a.first}:{a.first + a.molecules}")
    with gzip.open(ORGANIC / "test_structures.sdf.gz") as fh:
        mols = {m.GetProp("_Name"): m for m in Chem.ForwardSDMolSupplier(fh, removeHs=False)}
    records = []
    for atoms in starts:
        name = atoms.info["mol"]
        for ensemble in ("nve", "nvt"):
            for temperature in (300, 600):
                t0 = time.time()
                work = a.out / f"{name}_{ensemble}_{temperature}"
                frames, t, e, error = run_md(model, atoms, ensemble, temperature, a.ps, work)
                broken = None
                for k, pos in enumerate(frames):
                    try:
                        check_same_graph(mols[name], atoms.get_chemical_symbols(), pos, "md")
                    except GraphError as err:
                        broken = {"ps": k, "reason": err.reason, "detail": err.detail[:200]}
                        break
                drift = float(np.polyfit(t, e, 1)[0] * 1e3) if ensemble == "nve" and len(t) > 2 else None
                rec = {"mol": name, "atoms": len(atoms), "ensemble": ensemble, "T": temperature,
                       "ps_run": float(t[-1]) if len(t) else 0.0, "lammps_error": error,
                       "first_failed_check": broken, "nve_drift_meV_per_ps": drift,
                       "wall_s": round(time.time() - t0, 1)}
                records.append(rec)
                status = "ok" if not broken and not error else f"FAILED {broken or error}"
                print(f"{name} ({len(atoms)} atoms) {ensemble} {temperature} K: {rec['ps_run']:.0f} ps, {status}"
                      + (f", drift {drift:+.3f} meV/ps" if drift is not None else "")
                      + f" ({rec['wall_s']} s)", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "md_robustness.json").write_text(json.dumps({"model": str(model), "ps": a.ps,
                                                          "records": records}, indent=1) + "\n")


if __name__ == "__main__":
    main()
