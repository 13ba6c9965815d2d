"""Build the bundled files of a set from the complete per-molecule results.

Reads data/work/results/, writes data/qm9-gfn2/ (full) or data/qm9-gfn2/tiny/ (tiny):
structure SDFs, force/energy extended XYZ files, failures.tsv, provenance.json, README.md.
Refuses to run while results of the set are missing (unless --allow-missing, which records
the missing molecules as failures with reason `not_computed`).

Usage: python scripts/data/assemble.py --set {tiny,full} [--allow-missing]
"""
import argparse
import collections
import json
import os
import platform
import statistics
import sys
from importlib import metadata

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import config  # noqa: E402
import graph  # noqa: E402
import mopac  # noqa: E402
import qm9  # noqa: E402
import store  # noqa: E402
import writers  # noqa: E402
import xtb  # noqa: E402

FILES = {
    "train_structures.sdf.gz": "PM6 minima of the training molecules with their bond graphs (SDF V2000, "
                               "explicit H, QM9 atom order; title `qm9_<index>`, fields `smiles`, `qm9_index`).",
    "train_forces.extxyz.gz": "GFN2-xTB energy and forces of the training molecules at the PM6 minimum "
                              "(`config=pm6_min`) and at thermal-like displaced frames (`config=thermal`).",
    "test_structures.sdf.gz": "PM6 minima + bond graphs of the held-out test molecules (same format as train).",
    "test_pm6_min.extxyz.gz": "Test molecules at their PM6 minimum, with GFN2 energy and forces there.",
    "test_gfn2_min.extxyz.gz": "Test molecules at their GFN2 minimum (xtb --opt tight from the PM6 minimum), "
                               "with GFN2 energy and forces there (forces ~0).",
    "test_b3lyp.extxyz.gz": "Test molecules at the QM9 B3LYP/6-31G(2df,p) minimum, with GFN2 energy and forces there.",
    "test_forces.extxyz.gz": "GFN2 energy and forces of the test molecules at thermal-like displaced frames.",
}


def package_versions():
    v = {p: metadata.version(p) for p in ("qm9pack", "rdkit", "numpy", "ase")}
    v["python"] = platform.python_version()
    v["mopac"] = mopac.version()
    v["xtb"] = xtb.version()
    return v


def frames_of(res):
    out = [writers.frame_atoms(res["symbols"], f["pos"], f["energy"], f["forces"], res["name"], f["config"])
           for f in res["frames"]]
    return out


def summary(xs):
    return {"median": statistics.median(xs), "mean": statistics.fmean(xs), "max": max(xs)} if xs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["tiny", "full"], default="full")
    ap.add_argument("--allow-missing", action="store_true")
    a = ap.parse_args()
    sel = qm9.tiny_selection() if a.set == "tiny" else qm9.selection()
    out_dir = config.TINY_DIR if a.set == "tiny" else config.OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)

    results, failures = {"train": [], "test": []}, []
    missing = []
    for split in ("train", "test"):
        for idx in sel[split]:
            res = store.load(idx)
            if res is None:
                missing.append(idx)
                failures.append((idx, split, "molecule", "-", "not_computed", "no current result file"))
                continue
            if res["status"] != "ok":
                failures.append((idx, split, "molecule", "-", res["reason"], res.get("detail", "")))
                continue
            for ff in res["frame_failures"]:
                failures.append((idx, split, "frame", f"{ff['config']} rms={ff['rms']}", ff["reason"], ff["detail"]))
            gb = res.get("gfn2_min_from_b3lyp", {})
            if "failed" in gb:
                failures.append((idx, split, "optional", "gfn2_min_from_b3lyp", gb["failed"], gb.get("detail", "")))
            results[split].append(res)
    if missing and not a.allow_missing:
        sys.exit(f"assemble[{a.set}]: {len(missing)} molecules have no current result "
                 f"(run scripts/data/run.py --set {a.set} first, or pass --allow-missing)")
    all_res = results["train"] + results["test"]
    train_ids = {r["qm9_index"] for r in results["train"]}
    assert not train_ids & {r["qm9_index"] for r in results["test"]}, "molecule in both train and test"

    sdf = lambda rs: [writers.sdf_mol(r["molblock"], r["name"], r["smiles"], r["qm9_index"]) for r in rs]
    fa = writers.frame_atoms
    writers.write_sdf_gz(out_dir / "train_structures.sdf.gz", sdf(results["train"]))
    train_frames = []
    for r in results["train"]:
        train_frames.append(fa(r["symbols"], r["pm6_pos"], r["pm6_min"]["energy"], r["pm6_min"]["forces"],
                               r["name"], "pm6_min"))
        train_frames += frames_of(r)
    writers.write_extxyz_gz(out_dir / "train_forces.extxyz.gz", train_frames)
    t = results["test"]
    writers.write_sdf_gz(out_dir / "test_structures.sdf.gz", sdf(t))
    writers.write_extxyz_gz(out_dir / "test_pm6_min.extxyz.gz", [
        fa(r["symbols"], r["pm6_pos"], r["pm6_min"]["energy"], r["pm6_min"]["forces"], r["name"], "pm6_min")
        for r in t])
    writers.write_extxyz_gz(out_dir / "test_gfn2_min.extxyz.gz", [
        fa(r["symbols"], r["gfn2_min"]["pos"], r["gfn2_min"]["energy"], r["gfn2_min"]["forces"], r["name"], "gfn2_min")
        for r in t])
    writers.write_extxyz_gz(out_dir / "test_b3lyp.extxyz.gz", [
        fa(r["symbols"], r["b3lyp_pos"], r["b3lyp"]["energy"], r["b3lyp"]["forces"], r["name"], "b3lyp")
        for r in t])
    test_frames = [f for r in t for f in frames_of(r)]
    writers.write_extxyz_gz(out_dir / "test_forces.extxyz.gz", test_frames)

    failures.sort(key=lambda f: (f[1], f[0]))
    with open(out_dir / "failures.tsv", "w") as f:
        f.write("qm9_index\tname\tsplit\tlevel\tconfig\treason\tdetail\n")
        for idx, split, level, cfg, reason, detail in failures:
            detail = str(detail).replace("\t", " ").replace("\n", " ")
            f.write(f"{idx}\t{config.mol_name(idx)}\t{split}\t{level}\t{cfg}\t{reason}\t{detail}\n")

    by_reason = collections.defaultdict(collections.Counter)
    for idx, split, level, cfg, reason, detail in failures:
        by_reason[level][f"{split}:{reason}"] += 1
    timings = collections.defaultdict(list)
    for r in all_res:
        timings[r["split"]].append(r["timings_s"]["total"])
    logs = ["tiny"] + (["full"] if a.set == "full" else [])   # the full run reuses the tiny results
    run_logs = {k: config.WORK_DIR / f"run_{k}.json" for k in logs}
    prov = {
        "set": a.set,
        "description": "GFN2-xTB energies/forces at PM6 minima of QM9 molecules (GFN2//PM6), "
                       "with a held-out test split carrying PM6, GFN2 and B3LYP minima",
        "pipeline_fingerprint": config.FINGERPRINT,
        "package_versions": package_versions(),
        "sources": {"qm9": f"PyPI qm9pack {metadata.version('qm9pack')}: qm9pack/data/"
                           f"{{{','.join(qm9.CSV_FILES)}}} ({qm9.n_molecules()} molecules), columns SMILES, "
                           "Elements, XYZ_Ang (B3LYP/6-31G(2df,p) minima)"},
        "selection": {"seed": config.SELECTION_SEED, "method": "numpy default_rng(seed).permutation over the "
                      "sorted QM9 indices; test = first N_TEST, train = next N_TRAIN; tiny = first "
                      f"{config.TINY_TEST} test and first {config.TINY_TRAIN} train of those",
                      "n_test_selected": len(sel["test"]), "n_train_selected": len(sel["train"])},
        "graph": {"method": "RDKit mol from the QM9 SMILES with explicit H, matched onto the connectivity of "
                            "the B3LYP coordinates (bonded if d < f (r_i + r_j), Cordero covalent radii) by a "
                            "full graph isomorphism, then renumbered to the QM9 atom order",
                  "bond_factor": graph.BOND_FACTOR,
                  "graph_changed_if": f"a bond longer than {graph.LOST_FACTOR} (r_i+r_j) or a new contact "
                                      f"shorter than {graph.FORMED_FACTOR} (r_i+r_j), or stereo (from 3D) differs",
                  "covalent_radii": graph.COVALENT_RADII},
        "commands": {
            "pm6_opt": f"mopac mol.mop  (keywords: {config.MOPAC_KEYWORDS}; all coordinates optimised, "
                       "start: QM9 B3LYP geometry; converged iff output says GEOMETRY OPTIMISED)",
            "gfn2_sp": "xtb mol.xyz " + " ".join(config.XTB_SP_ARGS),
            "gfn2_opt": "xtb mol.xyz " + " ".join(config.XTB_OPT_ARGS) + "  (start: PM6 minimum; converged iff "
                        ".xtboptok; then gfn2_sp at xtbopt.xyz)",
            "gfn2_opt_from_b3lyp": "same as gfn2_opt from the B3LYP geometry; statistics only, not bundled",
            "environment": "OMP_NUM_THREADS=1 per call, one temp dir per call",
        },
        "frames": {"config": "thermal", "seed": config.FRAME_SEED,
                   "method": "per-atom Gaussian / sqrt(mass), net translation removed, rescaled to all-atom "
                             "RMS displacement; rng = numpy default_rng([seed, qm9_index, k])",
                   "rms_angstrom": config.THERMAL_RMS, "min_distance_angstrom": config.MIN_DIST,
                   "max_draws": config.FRAME_TRIES},
        "units": {"energy": "eV", "positions": "Angstrom", "forces": "eV/Angstrom",
                  "hartree_ev": config.HARTREE_EV, "bohr_angstrom": config.BOHR_ANG,
                  "forces_from": "-gradient"},
        "precision": f"positions, forces and energies rounded to {config.DECIMALS} decimals; "
                     "SDF coordinates 4 decimals (V2000)",
        "counts": {
            "train_molecules": len(results["train"]), "test_molecules": len(t),
            "train_frames": len(train_frames), "test_frames": len(test_frames),
            "train_thermal_frames": len(train_frames) - len(results["train"]),
            "failed_molecules": sum(v for v in by_reason["molecule"].values()),
            "failed_frames": sum(v for v in by_reason["frame"].values()),
        },
        "failures_by_reason": {k: dict(v) for k, v in by_reason.items()},
        "timing_s": {"per_molecule_train": summary(timings["train"]),
                     "per_molecule_test": summary(timings["test"]),
                     "cpu_total": sum(r["timings_s"]["total"] for r in all_res),
                     "run_sessions": {k: json.loads(p.read_text()) for k, p in run_logs.items() if p.exists()}},
        "files": FILES,
    }
    (out_dir / "provenance.json").write_text(json.dumps(prov, indent=2) + "\n")
    write_readme(out_dir, a.set, prov)
    print(f"assemble[{a.set}]: {len(results['train'])} train / {len(t)} test molecules, "
          f"{len(train_frames)} train frames, {len(test_frames)} test frames, "
          f"{len(failures)} failure rows -> {out_dir}")


def write_readme(out_dir, which, prov):
    c = prov["counts"]
    lines = [f"# QM9 GFN2//PM6 reference data ({which} set)", "",
             "Generated by `make data` (full) / `make data-tiny` (tiny) with scripts/data/; see docs/data.md.",
             "Units: eV, Å, eV/Å. Molecule names `qm9_<6-digit QM9 index>` (`mol=` in the XYZ files, "
             "SDF title line). All files of a split list molecules in the same order; atoms are in the "
             "QM9 order everywhere.", "",
             f"Molecules: {c['train_molecules']} train, {c['test_molecules']} test (disjoint). "
             f"Frames: {c['train_frames']} train, {c['test_frames']} test off-equilibrium.", "",
             "| file | content |", "|---|---|"]
    lines += [f"| `{k}` | {v} |" for k, v in FILES.items()]
    lines += ["| `failures.tsv` | every molecule or frame left out, with level, reason and detail |",
              "| `provenance.json` | versions, commands, seeds, counts, failures by reason, timings |", ""]
    (out_dir / "README.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
