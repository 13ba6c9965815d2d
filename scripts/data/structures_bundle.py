"""The committed files of the structure set (data/qm9-pm6/) and back.

`assemble()` writes, from the per-molecule results (config.STRUCT_RESULTS_DIR, gitignored):
train_structures_<k>.sdf.gz (molecules k*STRUCT_SHARD .. (k+1)*STRUCT_SHARD - 1 of the selection
that succeeded, in selection order; SDF V2000, explicit H; title `qm9_<index>`, fields `smiles`,
`qm9_index`), failures.tsv, provenance.json and README.md. `restore()` rebuilds the results a
fresh machine lacks from those files, so a run only computes molecules the bundle does not hold.
"""
import csv
import gzip
import json
import platform
import time

from rdkit import Chem
import rdkit

import config
import qm9
import store
import writers


def shard_path(k):
    return config.STRUCT_DIR / f"train_structures_{k + 1}.sdf.gz"


def restore():
    """Writes a result for every bundled molecule or failure without a local one; returns the count."""
    n = 0
    for path in sorted(config.STRUCT_DIR.glob("train_structures_*.sdf.gz")):
        with gzip.open(path, "rb") as handle:
            for mol in Chem.ForwardSDMolSupplier(handle, removeHs=False):
                if mol is None:
                    continue
                idx = int(mol.GetProp("qm9_index"))
                n += _restore_one({"qm9_index": idx, "smiles": mol.GetProp("smiles"), "status": "ok",
                                   "molblock": Chem.MolToMolBlock(mol)})
    failures = config.STRUCT_DIR / "failures.tsv"
    if failures.exists():
        with open(failures, newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                n += _restore_one({"qm9_index": int(row["qm9_index"]), "smiles": row["smiles"],
                                   "status": "failed", "reason": row["reason"], "detail": row["detail"]})
    return n


def _restore_one(res):
    idx = res["qm9_index"]
    if store.load(idx, config.STRUCT_RESULTS_DIR, config.STRUCT_FINGERPRINT) is not None:
        return 0
    res.update(fingerprint=config.STRUCT_FINGERPRINT, name=config.mol_name(idx), restored=True)
    store.save(res, config.STRUCT_RESULTS_DIR)
    return 1


def assemble(n_selected):
    """Writes the bundle from the results of the first `n_selected` molecules of the selection."""
    selection = qm9.structure_selection(n_selected)
    results = [store.load(config.mol_name(i), config.STRUCT_RESULTS_DIR, config.STRUCT_FINGERPRINT)
               for i in selection]
    config.STRUCT_DIR.mkdir(parents=True, exist_ok=True)
    counts = []
    for k in range(0, len(selection), config.STRUCT_SHARD):
        chunk = [r for r in results[k: k + config.STRUCT_SHARD] if r and r["status"] == "ok"]
        if chunk:
            writers.write_sdf_gz(shard_path(k // config.STRUCT_SHARD),
                                 [writers.sdf_mol(r["molblock"], r["name"], r["smiles"], r["qm9_index"])
                                  for r in chunk])
            counts.append(len(chunk))
    failed = [r for r in results if r and r["status"] != "ok"]
    with open(config.STRUCT_DIR / "failures.tsv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["qm9_index", "smiles", "reason", "detail"])
        for r in failed:
            w.writerow([r["qm9_index"], r["smiles"], r["reason"], str(r.get("detail", ""))[:200]])
    prov = provenance(results, counts, failed)
    (config.STRUCT_DIR / "provenance.json").write_text(json.dumps(prov, indent=1) + "\n")
    (config.STRUCT_DIR / "README.md").write_text(readme(prov))
    return prov


def provenance(results, counts, failed):
    done = [r for r in results if r]
    timed = [r["timings_s"]["total"] for r in done if "timings_s" in r]
    reasons = {}
    for r in failed:
        reasons[r["reason"]] = reasons.get(r["reason"], 0) + 1
    return {
        "set": "structures",
        "description": "PM6 minima with bond graphs of QM9 molecules disjoint from data/qm9-gfn2 (structure "
                       "data for the generator); started from RDKit ETKDGv3 + MMFF94, no B3LYP geometry used",
        "fingerprint": config.STRUCT_FINGERPRINT,
        "source": "PyPI qm9pack 1.0.3 (SMILES only)",
        "selection": {"seed": config.SELECTION_SEED, "method": "positions N_TEST + N_TRAIN .. + STRUCT_N of "
                      "the permutation that selects data/qm9-gfn2 (qm9.structure_selection)",
                      "n_selected": len(results), "n_computed": len(done)},
        "commands": {"embed": f"RDKit ETKDGv3 randomSeed = {config.STRUCT_SEED} + position (retried with "
                              "useRandomCoords when it fails), MMFF94 "
                              f"maxIters {config.MMFF_MAX_ITERS}; stereo perceived at the MMFF minimum",
                     "pm6_opt": f"mopac ({config.MOPAC_KEYWORDS}) from the MMFF minimum; graph and stereo "
                                "must survive (scripts/data/graph.py check_same_graph)"},
        "versions": {"rdkit": rdkit.__version__, "python": platform.python_version()},
        "counts": {"structures": sum(counts), "per_file": counts, "failed": len(failed),
                   "failures_by_reason": reasons},
        "timing_s": {"computed_here": len(timed),
                     "median": sorted(timed)[len(timed) // 2] if timed else None},
        "assembled": time.strftime("%Y-%m-%d"),
    }


def readme(prov):
    c = prov["counts"]
    return f"""# QM9 PM6 structure set (issue #15)

Generated by `make data-structures` with scripts/data/structures*.py; see docs/data.md.
PM6 minima with bond graphs of {c['structures']} QM9 molecules (of {prov['selection']['n_computed']} computed;
{c['failed']} failed, listed in failures.tsv), disjoint from data/qm9-gfn2's train and test molecules.
Structure data only (no energies): SMILES -> RDKit ETKDGv3 + MMFF94 -> MOPAC PM6 minimum, graph and
stereo checked. QM9's B3LYP geometries are not used.

| file | content |
|---|---|
| `train_structures_<k>.sdf.gz` | SDF V2000, explicit H, RDKit atom order; title `qm9_<index>`, fields `smiles`, `qm9_index`; molecules {config.STRUCT_SHARD} x (k-1) .. {config.STRUCT_SHARD} x k - 1 of the selection |
| `failures.tsv` | molecules left out, with reason |
| `provenance.json` | versions, commands, seeds, counts, timings |
"""
