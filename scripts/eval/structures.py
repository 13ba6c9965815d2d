"""Evaluate 3D structures of the test molecules against GFN2-xTB and the QM9 B3LYP minima.

For each method (a file of candidate structures, or a built-in baseline) and each structure:
Kabsch RMSD to the GFN2 and B3LYP minima (all atoms, heavy atoms), the GFN2 energy gap to the
minimum xtb relaxes it into and to the reference GFN2 minimum, the max GFN2 force, and whether the
bond graph perceived from the coordinates is the test graph (see metrics.py and
docs/evaluation.md). Writes OUT/results.json (everything, per structure), OUT/table.md and PNGs.

xtb results are cached by a hash of the structure (--cache, default runs/eval-cache), so rerunning
with more methods or more molecules only computes what is new; an interrupted run resumes.

Methods:
  --method NAME=FILE   extended XYZ (ASE style, info `mol=qm9_XXXXXX`, optional `sample=j`),
                       atoms in test-set order, e.g. from `concord generate`; repeatable
  --method pm6         the PM6 minima of the test set (the structures the generator trains on)
  --method rdkit       RDKit ETKDG v3 + MMFF94 from the test graph (seeded; k conformers)
  --method gfn2        the GFN2 minima themselves (sanity check: RMSD 0, gap ~0)
  --method b3lyp       the QM9 B3LYP minima
Default: pm6 and rdkit.

Example:
  python scripts/eval/structures.py --method pm6 --method rdkit \\
      --method gen=runs/x/gen.extxyz --molecules 100 --samples 5 --out runs/eval/x
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import inputs  # noqa: E402
import metrics  # noqa: E402
import report  # noqa: E402
import xtbcache  # noqa: E402

BUILTIN = {"pm6": "pm6_min", "gfn2": "gfn2_min", "b3lyp": "b3lyp"}

# Set in the parent before forking the pool; read by the workers.
_REFS = {}
_CACHE = None


def _init(nice):
    common.nice_worker(nice)


def _job(item):
    """One structure: geometry metrics + xtb (sp, opt, sp at relaxed). Returns the record and
    the relaxed positions (for --relax-check)."""
    method, mol, sample, pos = item
    ref = _REFS[mol]
    m = metrics.geometry_metrics(ref, pos)
    res = xtbcache.evaluate(_CACHE, ref.symbols, pos)
    em, errors = metrics.energy_metrics(ref, res)
    m.update(em)
    calls = [v for v in res.values() if v is not None]
    rec = {"method": method, "mol": mol, "sample": sample,
           "status": "ok" if not errors else "xtb_failed", "xtb_errors": errors, "metrics": m,
           "opt_iterations": res["opt"].get("iterations"),
           "xtb_time_s": round(sum(v["time_s"] for v in calls), 3),  # as computed (also if cached now)
           "cached": all(v["cached"] for v in calls)}
    relaxed = res["opt"]["pos"] if res["opt"]["ok"] else None
    return rec, relaxed


def build_methods(a, refs):
    sets = []
    for spec in a.method or ["pm6", "rdkit"]:
        if "=" in spec:
            name, path = spec.split("=", 1)
            if not os.path.exists(path):
                raise SystemExit(f"--method {spec}: no such file")
            sets.append(inputs.from_file(path, refs, name, a.samples))
        elif spec == "rdkit":
            import rdkit_baseline
            sets.append(rdkit_baseline.candidates(refs, a.samples or 1, a.seed))
        elif spec in BUILTIN:
            sets.append(inputs.from_reference(refs, BUILTIN[spec], spec))
        else:
            raise SystemExit(f"--method {spec}: expected NAME=FILE or one of rdkit, {', '.join(BUILTIN)}")
    names = [c.name for c in sets]
    if len(set(names)) != len(names):
        raise SystemExit(f"duplicate method names: {names}")
    return sets


def run_pass(pool, sets, label):
    """Evaluate all structures of `sets`; returns ({method: records}, {(method, mol, sample):
    relaxed positions}, timing dict)."""
    items = [(c.name, mol, s, pos) for c in sets for (mol, s), pos in c.structures.items()]
    records = {c.name: [] for c in sets}
    for c in sets:
        for (mol, s), reason in c.failures.items():
            records[c.name].append({"method": c.name, "mol": mol, "sample": s, "status": "no_structure",
                                    "failure": reason, "metrics": {}, "xtb_errors": {}})
    relaxed = {}
    t0, n_fresh, xtb_s, xtb_all = time.time(), 0, 0.0, 0.0
    step = max(1, len(items) // 10)
    print(f"[{label}] {len(items)} structures of {len(sets)} method(s)", flush=True)
    for i, (rec, rpos) in enumerate(pool.imap_unordered(_job, items, chunksize=1), 1):
        records[rec["method"]].append(rec)
        relaxed[(rec["method"], rec["mol"], rec["sample"])] = rpos
        xtb_all += rec["xtb_time_s"]
        if not rec["cached"]:
            n_fresh += 1
            xtb_s += rec["xtb_time_s"]
        if i % step == 0 or i == len(items):
            el = time.time() - t0
            print(f"  {i}/{len(items)}  {el:.0f} s, {n_fresh} computed (rest cached)", flush=True)
    wall = time.time() - t0
    order = {r: i for i, r in enumerate(_REFS)}
    for v in records.values():
        v.sort(key=lambda r: (order[r["mol"]], r["sample"]))
    timing = {"structures": len(items), "computed": n_fresh, "cached": len(items) - n_fresh,
              "wall_s": round(wall, 1), "xtb_cpu_s": round(xtb_s, 1),
              "xtb_s_per_computed_structure": round(xtb_s / n_fresh, 3) if n_fresh else None,
              "wall_s_per_computed_structure": round(wall / n_fresh, 3) if n_fresh else None,
              "xtb_s_per_structure_incl_cached": round(xtb_all / len(items), 3) if items else None}
    return records, relaxed, timing


def relaxed_sets(sets, relaxed):
    out = []
    for c in sets:
        r = inputs.CandidateSet(f"{c.name}+relaxed", f"{c.name} after xtb --opt tight", c.k)
        for (mol, s) in list(c.structures) + list(c.failures):
            p = relaxed.get((c.name, mol, s))
            if p is None:
                r.failures[(mol, s)] = c.failures.get((mol, s), "xtb_relaxation_failed")
            else:
                r.structures[(mol, s)] = p
        out.append(r)
    return out


def summarise(c, recs):
    by = lambda status: [r for r in recs if r["status"] == status]
    reasons = {}
    for r in recs:
        for why in ([r["failure"]] if r["status"] == "no_structure" else r["xtb_errors"].values()):
            reasons[why] = reasons.get(why, 0) + 1
    return {"source": c.source, "k": c.k, "notes": c.notes,
            "molecules": len({r["mol"] for r in recs}), "expected": len(recs),
            "molecules_ok": len({r["mol"] for r in recs if r["status"] == "ok"}),
            "structures": len(recs) - len(by("no_structure")), "no_structure": len(by("no_structure")),
            "xtb_failed": len(by("xtb_failed")), "failure_reasons": reasons,
            "summary": metrics.aggregate([r for r in recs if r["status"] != "no_structure"], c.k)}


def versions(xtb_version):
    import numpy
    from rdkit import rdBase
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=common.ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = None
    return {"xtb": xtb_version, "rdkit": rdBase.rdkitVersion, "numpy": numpy.__version__,
            "python": platform.python_version(), "git_commit": commit}


def main(argv=None):
    global _CACHE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", action="append", metavar="NAME=FILE|pm6|rdkit|gfn2|b3lyp")
    ap.add_argument("--molecules", type=int, help="first N test molecules (default all)")
    ap.add_argument("--samples", type=int, help="k samples per molecule (files: default all found; rdkit: 1)")
    ap.add_argument("--relax-check", action="store_true",
                    help="also evaluate the structures after xtb relaxation (their gap should be ~0)")
    ap.add_argument("--out", required=True, help="output directory (results.json, table.md, *.png)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--data", default="full", help="full, tiny or a directory with the test files")
    ap.add_argument("--cache", default=str(common.DEFAULT_CACHE), help="xtb result cache directory")
    ap.add_argument("--seed", type=int, default=42, help="RDKit embedding seed")
    ap.add_argument("--nice", type=int, default=5, help="niceness of the worker processes")
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args(argv)
    if a.samples is not None and a.samples < 1:
        ap.error("--samples must be >= 1")

    t_start = time.time()
    import xtb
    xv = xtb.version()
    refs = inputs.load_references(a.data, a.molecules)
    _REFS.clear()
    _REFS.update({r.name: r for r in refs})
    _CACHE = xtbcache.Cache(a.cache, xv)
    t0 = time.time()
    sets = build_methods(a, refs)
    t_build = time.time() - t0
    print(f"{len(refs)} test molecules ({a.data}); methods: "
          + ", ".join(f"{c.name} (k={c.k}, {len(c.structures)} structures, {len(c.failures)} missing)"
                      for c in sets), flush=True)

    timings = {"build_candidates_s": round(t_build, 1)}
    with mp.get_context("fork").Pool(a.workers, initializer=_init, initargs=(a.nice,)) as pool:
        records, relaxed, timings["structures"] = run_pass(pool, sets, "structures")
        all_sets = list(sets)
        if a.relax_check:
            rsets = relaxed_sets(sets, relaxed)
            rrec, _, timings["relax_check"] = run_pass(pool, rsets, "relax-check")
            records.update(rrec)
            all_sets += rsets
    timings["total_wall_s"] = round(time.time() - t_start, 1)

    result = {"command": " ".join([os.path.relpath(sys.argv[0], common.ROOT)] + (argv or sys.argv[1:])),
              "data": str(common.data_dir(a.data)), "molecules": len(refs), "workers": a.workers,
              "xtb_args": {"sp": common.config.XTB_SP_ARGS, "opt": common.config.XTB_OPT_ARGS},
              "below_ref_threshold_eV": metrics.BELOW_REF_EV, "units": {"rmsd": "Angstrom",
              "energy": "eV", "force": "eV/Angstrom"}, "versions": versions(xv), "timings": timings,
              "methods": {c.name: summarise(c, records[c.name]) for c in all_sets},
              "records": [r for c in all_sets for r in records[c.name]]}
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    table = report.markdown(result)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(table)
    if not a.no_plots:
        report.plots(result, [r.name for r in refs], a.out)
    print()
    print(table)
    print(f"wrote {a.out}/results.json, table.md" + ("" if a.no_plots else ", *.png"))
    return result


if __name__ == "__main__":
    main()
