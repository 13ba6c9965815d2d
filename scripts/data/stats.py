"""Statistics of the test split: how far PM6 minima and B3LYP geometries are from GFN2 minima.

Reads the bundled test files (test_pm6_min / test_gfn2_min / test_b3lyp, same molecule and atom
order) and reports, over the test molecules:
  - RMSD after optimal superposition (Kabsch, no atom matching: the atom order is identical),
    heavy atoms and all atoms, of PM6 minima and B3LYP geometries to the GFN2 minima, and of
    PM6 and GFN2 minima to the B3LYP minima;
  - the GFN2 energy gap E_GFN2(structure) - E_GFN2(GFN2 minimum) of PM6 minima and B3LYP geometries;
  - the largest GFN2 force component at each geometry.
If the per-molecule results are present (data/work/), it adds the GFN2 minima started from the
B3LYP geometry (the protocol of DESIGN.md §1). Writes stats.json next to the data and prints a
Markdown table.

Usage: python scripts/data/stats.py [--set {full,tiny}]
"""
import argparse
import gzip
import io
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import config  # noqa: E402


def kabsch_rmsd(p, q):
    """RMSD between p and q ([n,3]) after optimal rotation + translation of p onto q."""
    p = p - p.mean(0)
    q = q - q.mean(0)
    u, s, vt = np.linalg.svd(p.T @ q)
    d = np.sign(np.linalg.det(u @ vt))
    s[-1] *= d
    e = (p ** 2).sum() + (q ** 2).sum() - 2 * s.sum()
    return float(np.sqrt(max(e, 0.0) / len(p)))


def rmsd_pair(a, b, symbols):
    heavy = np.array([s != "H" for s in symbols])
    return kabsch_rmsd(a[heavy], b[heavy]) if heavy.sum() > 1 else 0.0, kabsch_rmsd(a, b)


def describe(xs):
    xs = np.asarray(xs, float)
    return {"n": int(len(xs)), "median": float(np.median(xs)), "mean": float(xs.mean()),
            "p90": float(np.percentile(xs, 90)), "max": float(xs.max())}


def main():
    import ase.io
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["tiny", "full"], default="full")
    a = ap.parse_args()
    d = config.TINY_DIR if a.set == "tiny" else config.OUT_DIR
    def read(name):  # decompress first: ASE seeks per frame, quadratic on a gzip stream
        with gzip.open(d / name, "rt") as fh:
            return ase.io.read(io.StringIO(fh.read()), ":", format="extxyz")
    pm6, gfn2, b3 = read("test_pm6_min.extxyz.gz"), read("test_gfn2_min.extxyz.gz"), read("test_b3lyp.extxyz.gz")
    assert len(pm6) == len(gfn2) == len(b3)
    rows = {k: [] for k in ("pm6_to_gfn2", "b3lyp_to_gfn2", "pm6_to_b3lyp", "gfn2_to_b3lyp")}
    gap = {"pm6": [], "b3lyp": []}
    fmax = {"pm6_min": [], "b3lyp": [], "gfn2_min": []}
    for x, y, z in zip(pm6, gfn2, b3):
        assert x.info["mol"] == y.info["mol"] == z.info["mol"]
        sym = x.get_chemical_symbols()
        P, G, B = x.positions, y.positions, z.positions
        rows["pm6_to_gfn2"].append(rmsd_pair(P, G, sym))
        rows["b3lyp_to_gfn2"].append(rmsd_pair(B, G, sym))
        rows["pm6_to_b3lyp"].append(rmsd_pair(P, B, sym))
        rows["gfn2_to_b3lyp"].append(rmsd_pair(G, B, sym))
        eg = y.get_potential_energy()
        gap["pm6"].append(x.get_potential_energy() - eg)
        gap["b3lyp"].append(z.get_potential_energy() - eg)
        for k, at in (("pm6_min", x), ("b3lyp", z), ("gfn2_min", y)):
            fmax[k].append(np.abs(at.get_forces()).max())
    out = {"set": a.set, "n_test_molecules": len(pm6), "units": {"rmsd": "Angstrom", "energy": "eV",
                                                                  "force": "eV/Angstrom"},
           "rmsd_heavy": {k: describe([r[0] for r in v]) for k, v in rows.items()},
           "rmsd_all": {k: describe([r[1] for r in v]) for k, v in rows.items()},
           "gfn2_gap_to_gfn2_min": {k: describe(v) for k, v in gap.items()},
           "gfn2_max_force_component": {k: describe(v) for k, v in fmax.items()}}

    # Optional: GFN2 minima started from B3LYP (DESIGN.md §1 protocol), from the per-molecule results.
    extra_r, extra_g, extra_same = [], [], []
    for x, z in zip(pm6, b3):
        p = config.RESULTS_DIR / f"{x.info['mol']}.json"
        if not p.exists():
            continue
        res = json.loads(p.read_text())
        gb = res.get("gfn2_min_from_b3lyp", {})
        if "pos" not in gb:
            continue
        sym = z.get_chemical_symbols()
        extra_r.append(rmsd_pair(np.array(gb["pos"]), z.positions, sym))
        extra_g.append(z.get_potential_energy() - gb["energy"])
        extra_same.append(rmsd_pair(np.array(gb["pos"]), np.array(res["gfn2_min"]["pos"]), sym))
    if extra_r:
        out["gfn2_min_from_b3lyp"] = {
            "rmsd_heavy_to_b3lyp": describe([r[0] for r in extra_r]),
            "rmsd_all_to_b3lyp": describe([r[1] for r in extra_r]),
            "gfn2_gap_b3lyp_to_this_min": describe(extra_g),
            "rmsd_all_to_gfn2_min_from_pm6": describe([r[1] for r in extra_same]),
        }
    (d / "stats.json").write_text(json.dumps(out, indent=2) + "\n")
    print_table(out)


def print_table(s):
    f = lambda x: f"{x['median']:.3f} / {x['mean']:.3f}"
    print(f"Test split ({s['set']}, {s['n_test_molecules']} molecules); median / mean")
    print()
    print("| quantity | heavy atoms | all atoms |")
    print("|---|---|---|")
    names = {"pm6_to_gfn2": "RMSD PM6 min -> GFN2 min (Å)", "b3lyp_to_gfn2": "RMSD B3LYP min -> GFN2 min (Å)",
             "pm6_to_b3lyp": "RMSD PM6 min -> B3LYP min (Å)", "gfn2_to_b3lyp": "RMSD GFN2 min -> B3LYP min (Å)"}
    for k, n in names.items():
        print(f"| {n} | {f(s['rmsd_heavy'][k])} | {f(s['rmsd_all'][k])} |")
    if "gfn2_min_from_b3lyp" in s:
        e = s["gfn2_min_from_b3lyp"]
        print(f"| RMSD GFN2 min (from B3LYP) -> B3LYP min (Å) | {f(e['rmsd_heavy_to_b3lyp'])} | "
              f"{f(e['rmsd_all_to_b3lyp'])} |")
    print()
    print("| GFN2 energy gap E(structure) - E(GFN2 min) | median / mean (eV) |")
    print("|---|---|")
    print(f"| PM6 minimum | {f(s['gfn2_gap_to_gfn2_min']['pm6'])} |")
    print(f"| B3LYP minimum | {f(s['gfn2_gap_to_gfn2_min']['b3lyp'])} |")
    if "gfn2_min_from_b3lyp" in s:
        print(f"| B3LYP minimum, vs GFN2 min started from B3LYP | "
              f"{f(s['gfn2_min_from_b3lyp']['gfn2_gap_b3lyp_to_this_min'])} |")
    print()
    print("| GFN2 max force component at | median / mean (eV/Å) |")
    print("|---|---|")
    for k, n in (("pm6_min", "PM6 minimum"), ("b3lyp", "B3LYP minimum"), ("gfn2_min", "GFN2 minimum")):
        print(f"| {n} | {f(s['gfn2_max_force_component'][k])} |")


if __name__ == "__main__":
    main()
