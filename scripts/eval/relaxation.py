"""Relaxation on a Concord potential from RDKit structures, against GFN2-xTB (issue #16's goal).

For every organic test molecule, `concord optimize` (L-BFGS, fmax 0.01 eV/Å) starts from the
ETKDG+MMFF structure (test/<group>/mmff_min) and the result is compared with the GFN2 minimum
reached from the same start (test/<group>/gfn2_min): all-atom Kabsch RMSD (fixed atom order),
and the bond graph and stereo of the relaxed structure (the data pipeline's check). Goal: within
0.05 Å for at least 90 % of molecules, and no relaxed structure with a changed graph.

Also reported, as the floor of any start: the GFN2 minimum itself relaxed on the potential, i.e.
how far the potential's own minimum lies from GFN2-xTB's (`floor_*` in the JSON). And, with one
GFN2-xTB single point per relaxed structure, what the potential's minimum is worth on the
reference surface: its GFN2 gap, E_GFN2(relaxed) - E_GFN2(the GFN2 minimum from the same start),
and the potential's energy error there, E_Concord(relaxed) - E_GFN2(relaxed) (negative: the
potential has a hole, a false minimum below the reference), both in eV per molecule.

Usage: python scripts/eval/relaxation.py --model PATH [--out DIR]
"""
import argparse
import gzip
import json
import statistics
import subprocess
from pathlib import Path

import ase.io
from rdkit import Chem

import common  # noqa: F401  (makes scripts/data importable)
from graph import GraphError, check_same_graph
from stats import rmsd_pair
import xtb

ROOT = common.ROOT
ORGANIC = ROOT / "data" / "organic-gfn2"
CONCORD = ROOT / "target" / "release" / "concord"
GOAL_RMSD = 0.05


def graphs():
    with gzip.open(ORGANIC / "test_structures.sdf.gz") as fh:
        return {m.GetProp("_Name"): m for m in Chem.ForwardSDMolSupplier(fh, removeHs=False)}


def relax(model, start, out):
    res = subprocess.run([str(CONCORD), "optimize", "--json", "--model", str(model), "--in", str(start),
                          "--out", str(out)], check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def evaluate_group(model, group, mols, out_dir):
    start = ORGANIC / "test" / group / "mmff_min.extxyz.gz"
    minima = ORGANIC / "test" / group / "gfn2_min.extxyz.gz"
    ref = {a.info["mol"]: a for a in ase.io.read(minima, ":")}
    begin = {a.info["mol"]: a for a in ase.io.read(start, ":")}
    relaxed_path = out_dir / f"{group}_relaxed.extxyz"
    runs = relax(model, start, relaxed_path)
    floor_path = out_dir / f"{group}_gfn2_min_relaxed.extxyz"
    relax(model, minima, floor_path)
    floor = {a.info["mol"]: a for a in ase.io.read(floor_path, ":")}
    records = []
    for a, run in zip(ase.io.read(relaxed_path, ":"), runs):
        name = a.info["mol"]
        heavy, rmsd = rmsd_pair(a.positions, ref[name].positions, a.get_chemical_symbols())
        start_rmsd = rmsd_pair(begin[name].positions, ref[name].positions, a.get_chemical_symbols())[1]
        floor_rmsd = rmsd_pair(floor[name].positions, ref[name].positions, a.get_chemical_symbols())[1]
        gfn2 = xtb.energy_forces(a.get_chemical_symbols(), a.positions)[0]
        try:
            check_same_graph(mols[name], a.get_chemical_symbols(), a.positions, "relaxed")
            problem = ""
        except GraphError as err:
            problem = err.reason
        records.append({"mol": name, "rmsd_all": rmsd, "rmsd_heavy": heavy, "start_rmsd_all": start_rmsd,
                        "floor_rmsd_all": floor_rmsd,
                        "gfn2_gap": gfn2 - ref[name].get_potential_energy(), "energy_error": run["energy"] - gfn2,
                        "converged": run["converged"], "steps": run["steps"],
                        "graph_problem": problem})
    return records


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, type=Path)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "eval" / "relaxation")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    mols = graphs()
    summary = {}
    for group in ("druglike", "everyday"):
        recs = evaluate_group(a.model, group, mols, a.out)
        rmsd = [r["rmsd_all"] for r in recs]
        summary[group] = {
            "molecules": len(recs),
            "within_goal": sum(x <= GOAL_RMSD for x in rmsd) / len(recs),
            "median_rmsd": statistics.median(rmsd),
            "median_rmsd_heavy": statistics.median(r["rmsd_heavy"] for r in recs),
            "median_start_rmsd": statistics.median(r["start_rmsd_all"] for r in recs),
            "floor_within_goal": sum(r["floor_rmsd_all"] <= GOAL_RMSD for r in recs) / len(recs),
            "median_floor_rmsd": statistics.median(r["floor_rmsd_all"] for r in recs),
            "median_gfn2_gap": statistics.median(r["gfn2_gap"] for r in recs),
            "median_energy_error": statistics.median(r["energy_error"] for r in recs),
            "graph_changed": sum(bool(r["graph_problem"]) for r in recs),
            "not_converged": sum(not r["converged"] for r in recs),
            "records": recs,
        }
        s = summary[group]
        print(f"{group}: {s['molecules']} molecules, {100 * s['within_goal']:.0f} % within {GOAL_RMSD} Å of the "
              f"GFN2 minimum (median all-atom RMSD {s['median_rmsd']:.3f} Å, heavy atoms {s['median_rmsd_heavy']:.3f} Å; "
              f"the MMFF start: {s['median_start_rmsd']:.3f} Å), {s['graph_changed']} with a changed "
              f"graph or stereo, {s['not_converged']} not converged; from the GFN2 minimum itself: "
              f"{100 * s['floor_within_goal']:.0f} % within, median {s['median_floor_rmsd']:.3f} Å; "
              f"median GFN2 gap of the relaxed structure {s['median_gfn2_gap']:.3f} eV, the potential's energy "
              f"error there {s['median_energy_error']:+.3f} eV")
    (a.out / "relaxation.json").write_text(json.dumps({"model": str(a.model), **summary}, indent=1) + "\n")


if __name__ == "__main__":
    main()
