"""Build the bundled files of the organic set (config.ORGANIC_DIR) from the per-molecule results.

Every test molecule must have a result; the training set is every selected training molecule
computed so far (in selection order), so the set grows as later sessions compute more.

Writes: train_structures.sdf.gz, train_forces*.extxyz.gz (config.ORGANIC_TRAIN_SHARDS), test_structures.sdf.gz,
test/<group>/<class>.extxyz.gz, failures.tsv, provenance.json, README.md.

Usage: python scripts/data/organic_assemble.py
"""
import collections
import json
import os
import platform
import statistics
import sys
from importlib import metadata

from rdkit import Chem

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import config  # noqa: E402
import mopac  # noqa: E402
import organic_sources  # noqa: E402
import store  # noqa: E402
import writers  # noqa: E402
import xtb  # noqa: E402


def frame_class(f):
    """File stem of a test frame: its config, or noise_<sigma> for noisy frames."""
    return f"noise_{f['sigma']:.2f}" if f["config"] == "noise" else f["config"]


def atoms_of(res, f):
    a = writers.frame_atoms(res["symbols"], f["pos"], f["energy"], f["forces"], res["name"], f["config"])
    if "sigma" in f:
        a.info["sigma"] = f["sigma"]
    return a


def sdf_mol(res):
    mol = Chem.MolFromMolBlock(res["molblock"], removeHs=False)
    mol.SetProp("_Name", res["name"])
    for key in ("smiles", "source", "group"):
        mol.SetProp(key, res[key])
    return mol


def results(split, records):
    """(ok results, failure rows, missing names) of `records`."""
    ok, failed, missing = [], [], []
    for rec in records:
        res = store.load(rec["name"], config.ORGANIC_RESULTS_DIR, config.ORGANIC_FINGERPRINT)
        if res is None:
            missing.append(rec["name"])
        elif res["status"] != "ok":
            failed.append((split, rec["name"], "molecule", res["reason"], res.get("detail", "")))
        else:
            ok.append(res)
            failed += [(split, rec["name"], "frame", f"{x['config']}:{x['reason']}", x.get("detail", ""))
                       for x in res["frame_failures"]]
    return ok, failed, missing


def write_test(test):
    by_file = collections.defaultdict(list)
    for res in test:
        for f in res["frames"]:
            # Results restored before organic_restore skipped thermal.py's files hold its frames.
            if not frame_class(f).startswith(config.OTHER_TEST_CLASS_PREFIX):
                by_file[(res["group"], frame_class(f))].append(atoms_of(res, f))
    for (group, cls), frames in sorted(by_file.items()):
        d = config.ORGANIC_DIR / "test" / group
        d.mkdir(parents=True, exist_ok=True)
        writers.write_extxyz_gz(d / f"{cls}.extxyz.gz", frames)
    return {f"test/{g}/{c}.extxyz.gz": len(v) for (g, c), v in sorted(by_file.items())}


def write_train(train, selected):
    """Writes the training frames into config.ORGANIC_TRAIN_SHARDS by each molecule's position in
    the selection; a file whose molecules are not computed yet is not written. {file: frames}."""
    position = {rec["name"]: k for k, rec in enumerate(selected)}
    counts, start = {}, 0
    for end, name in config.ORGANIC_TRAIN_SHARDS:
        frames = [atoms_of(r, f) for r in train if start <= position[r["name"]] < end for f in r["frames"]]
        path = config.ORGANIC_DIR / name
        if frames:
            writers.write_extxyz_gz(path, frames)
            counts[name] = len(frames)
        elif path.exists():
            path.unlink()
        start = end
    return counts


def main():
    sel = organic_sources.selection()
    test, fail_test, missing = results("test", sel["test"])
    if missing:
        raise SystemExit(f"organic_assemble: {len(missing)} test molecules not computed yet, e.g. {missing[:3]}")
    train, fail_train, _ = results("train", sel["train"])   # not computed yet: not part of the set
    shared = {r["inchikey14"] for r in train} & {r["inchikey14"] for r in test}
    if shared:
        raise SystemExit(f"organic_assemble: test molecules in the training set: {sorted(shared)[:3]}")
    config.ORGANIC_DIR.mkdir(parents=True, exist_ok=True)
    writers.write_sdf_gz(config.ORGANIC_DIR / "train_structures.sdf.gz", [sdf_mol(r) for r in train])
    writers.write_sdf_gz(config.ORGANIC_DIR / "test_structures.sdf.gz", [sdf_mol(r) for r in test])
    counts = write_test(test)
    counts["train_frames"] = sum(len(r["frames"]) for r in train)
    counts["train_files"] = write_train(train, sel["train"])
    failures = fail_test + fail_train
    with open(config.ORGANIC_DIR / "failures.tsv", "w") as f:
        f.write("split\tname\tlevel\treason\tdetail\n")
        f.writelines("\t".join(map(str, row)) + "\n" for row in failures)
    prov = provenance(test, train, counts, failures)
    (config.ORGANIC_DIR / "provenance.json").write_text(json.dumps(prov, indent=1) + "\n")
    (config.ORGANIC_DIR / "README.md").write_text(readme(prov))
    print(f"organic_assemble: {len(train)} train molecules ({counts['train_frames']} frames), "
          f"{len(test)} test molecules, {len(failures)} failures -> {config.ORGANIC_DIR}")


def timing(train):
    """CPU time of the training molecules. Molecules restored from the committed bundle
    (organic_restore.py) carry no timings: the bundle's own total stands for them, and the median
    is that of the molecules computed in the latest run (the bundle's when there are none)."""
    times = [r["timings_s"]["total"] for r in train if "total" in r["timings_s"]]
    path = config.ORGANIC_DIR / "provenance.json"
    old = json.loads(path.read_text()).get("timing_s", {}) if path.exists() else {}
    restored = any(r.get("restored") for r in train)
    total = sum(times) + (old.get("train_total_cpu", 0.0) if restored else 0.0)
    median = statistics.median(times) if times else old.get("per_train_molecule_median")
    return {"per_train_molecule_median": median, "train_total_cpu": round(total, 1)}


def provenance(test, train, counts, failures):
    heavy = [sum(s != "H" for s in r["symbols"]) for r in test + train]
    return {
        "set": "organic",
        "description": "GFN2-xTB energies and forces of drug-like and everyday molecules (H C N O F, "
                       f"{config.ORGANIC_HEAVY[0]}-{config.ORGANIC_HEAVY[1]} heavy atoms; large training ones "
                       f"{config.ORGANIC_LARGE_HEAVY[0]}-{config.ORGANIC_LARGE_HEAVY[1]}) at MMFF94, GFN2 "
                       "(and, test only, PM6) minima and at noisy frames around the GFN2 minimum",
        "fingerprint": config.ORGANIC_FINGERPRINT,
        "sources": organic_sources.provenance(),
        "versions": {**{p: metadata.version(p) for p in ("rdkit", "numpy", "ase")},
                     "python": platform.python_version(), "xtb": xtb.version(), "mopac": mopac.version()},
        "selection": {"seed": config.ORGANIC_SEED, "test": config.ORGANIC_TEST,
                      "train_selected": config.ORGANIC_TRAIN + config.ORGANIC_LARGE, "train_computed": len(train),
                      "method": "numpy default_rng(seed).permutation of each source's rows; a row is used if its "
                                "largest fragment is neutral, closed-shell, H/C/N/O/F only, within the heavy-atom "
                                "range and its InChIKey skeleton was not drawn before (test groups first, then "
                                "MOSES training, then the large ChEMBL samples, whose skeletons must also differ "
                                "from those of " + str(config.ORGANIC_EXCLUDE_SMILES.relative_to(config.ROOT)) + ")"},
        "commands": {"embed": f"RDKit ETKDGv3 (randomSeed = molecule's position in the run order) + MMFF94, "
                              f"maxIters {config.MMFF_MAX_ITERS}; stereo perceived from the MMFF structure",
                     "gfn2_opt": "xtb mol.xyz " + " ".join(config.XTB_OPT_ARGS) + " (start: MMFF minimum)",
                     "gfn2_sp": "xtb mol.xyz " + " ".join(config.XTB_SP_ARGS),
                     "pm6_opt": f"mopac ({config.MOPAC_KEYWORDS}), test only, start: MMFF minimum",
                     "environment": "OMP_NUM_THREADS=1 per call, one temp dir per call"},
        "frames": {"train_sigma": config.ORGANIC_TRAIN_SIGMA, "train_draws": config.ORGANIC_TRAIN_DRAWS,
                   "test_sigma": config.ORGANIC_TEST_SIGMA, "min_distance_angstrom": config.MIN_DIST,
                   "method": "GFN2 minimum + N(0, sigma^2) on every coordinate, mean displacement removed; "
                             "rng = default_rng([ORGANIC_SEED, molecule seed, frame])"},
        "counts": {"test_molecules": len(test), "train_molecules": len(train), **counts,
                   "failures_by_reason": dict(collections.Counter(f"{r[0]}:{r[3]}" for r in failures)),
                   "heavy_atoms_median": statistics.median(heavy) if heavy else None},
        "timing_s": timing(train),
    }


def readme(prov):
    c = prov["counts"]
    rows = "\n".join(f"| `{k}` | {v} |" for k, v in c.items() if k.startswith("test/"))
    return f"""# Organic GFN2-xTB reference data (drug-like and everyday molecules)

Generated by `make data-organic` with scripts/data/organic_*.py; see docs/data.md. Units: eV, Å, eV/Å.
{prov['description']}.

Molecules: {c['train_molecules']} train (MOSES training split, 10-30 heavy atoms, group `druglike`; then ChEMBL
samples, 26-50 heavy atoms, group `large`), {c['test_molecules']} test (MOSES test split = `druglike`; FreeSolv and
ChEMBL approved drugs = `everyday`). No test molecule's InChIKey skeleton is in train, nor any of the drugs of
scripts/eval/drugs.smi.
Sources and licences: provenance.json (`sources`).

| file | content |
|---|---|
| `train_structures.sdf.gz` | GFN2 minima of the training molecules with their bond graphs (SDF V2000, explicit H; fields `smiles`, `source`, `group`) |
| `train_forces*.extxyz.gz` | {c['train_frames']} frames in {len(c['train_files'])} files (split by the molecules' order, each under 20 MB): `config=mmff_min`, `gfn2_min`, `noise` (`sigma` = Å per coordinate) |
| `test_structures.sdf.gz` | GFN2 minima + bond graphs of the test molecules |
| `test/<group>/<class>.extxyz.gz` | test frames by group and class (frames per file below) |
| `failures.tsv` | every molecule or frame left out, with reason |
| `train_active_<R>.extxyz.gz`, `active_provenance_<R>.json` | active learning, round R (`make data-active ACTIVE_ROUND=R`, scripts/data/active.py; not rebuilt by this script): hot-MD and raw generator frames of training molecules where the committee disagreed, GFN2-labelled; `config=md_600K`, `md_900K`, `generator`, with `max_devi_f` |
| `test/<group>/md_300K.extxyz.gz`, `md_600K`, `thermal_test_provenance.json` | thermal test frames (`make data-thermal-test`, scripts/data/thermal.py; not rebuilt by this script): GFN2-xTB MD snapshots of the first 20 test molecules of each group, GFN2-labelled; `time_ps` |
| `train_thermal.extxyz.gz`, `thermal_train_provenance.json` | the same for training molecules (`make data-thermal-train`), when generated |

| test file | frames |
|---|---|
{rows}
"""


if __name__ == "__main__":
    main()
