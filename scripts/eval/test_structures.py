"""End-to-end test of scripts/eval/structures.py on the tiny test set (6 molecules).

Runs the tool with the gfn2 (reference itself), pm6 and rdkit baselines and a method file made by
perturbing the GFN2 minima (2 samples; one sample missing, one exploded structure that xtb
cannot compute), with --relax-check, into a temporary directory with a fresh xtb cache, then
checks that the metrics are sane and that a rerun is served entirely from the cache.

Run: python scripts/eval/test_structures.py   (or pytest scripts/eval/test_structures.py)
About 30 s on 2 cores.
"""
import json
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import inputs  # noqa: E402
import structures  # noqa: E402

NOISE = 0.02  # Å per Cartesian component


def write_perturbed(path, refs):
    """GFN2 minima + seeded Gaussian noise, samples 0 and 1; molecule 0 lacks sample 1;
    molecule 1 sample 1 is blown up 10x (xtb fails on it)."""
    import ase
    import ase.io
    rng = np.random.default_rng(0)
    frames = []
    for i, r in enumerate(refs):
        for s in (0, 1):
            if i == 0 and s == 1:
                continue
            pos = r.pos["gfn2_min"] + rng.normal(0, NOISE, r.pos["gfn2_min"].shape)
            if i == 1 and s == 1:
                pos = 10 * r.pos["gfn2_min"]
            a = ase.Atoms(r.symbols, positions=pos)
            a.info.update(mol=r.name, sample=s)
            frames.append(a)
    ase.io.write(path, frames, format="extxyz")


def check(res, refs):
    m = res["methods"]
    n = len(refs)
    s = lambda name, key="all": m[name]["summary"][key]

    # The reference itself: RMSD 0, no gap, small forces, valid graph.
    g = s("gfn2")
    assert m["gfn2"]["structures"] == n and m["gfn2"]["xtb_failed"] == 0
    assert g["rmsd_gfn2_all"]["max"] < 1e-5 and g["rmsd_gfn2_sym"]["max"] < 1e-5
    assert abs(g["gap_ref"]["max"]) < 1e-4 and g["gap_relax"]["max"] < 2e-3, g["gap_relax"]
    assert g["fmax"]["max"] < 0.05
    assert g["graph_valid"]["fraction"] == 1 and g["stereo_valid"]["fraction"] == 1
    assert g["rmsd_b3lyp_all"]["median"] > 0.01

    # PM6 minima: positive gaps (0.2 eV scale), relaxing back to the GFN2 minimum.
    p = s("pm6")
    assert p["gap_relax"]["min"] > 0.01 and p["gap_ref"]["min"] > 0.01, p["gap_relax"]
    assert 0.05 < p["gap_relax"]["median"] < 1.0
    assert 0.02 < p["rmsd_gfn2_all"]["median"] < 0.5 and p["fmax"]["median"] > 0.1
    assert p["graph_valid"]["fraction"] == 1
    assert abs(p["gap_relax"]["median"] - p["gap_ref"]["median"]) < 0.01  # relaxes to the reference min
    assert s("pm6+relaxed")["gap_relax"]["max"] < 2e-3
    assert s("pm6+relaxed")["rmsd_gfn2_all"]["median"] < 0.02

    # RDKit: all embedded, valid graph and stereo, positive gaps, larger RMSD than PM6 (heavy atoms).
    r = s("rdkit")
    assert m["rdkit"]["structures"] == n and m["rdkit"]["xtb_failed"] == 0
    assert r["graph_valid"]["fraction"] == 1 and r["stereo_valid"]["fraction"] == 1
    assert r["gap_relax"]["min"] > 0 and r["rmsd_gfn2_heavy"]["median"] > p["rmsd_gfn2_heavy"]["median"]
    assert r["rmsd_gfn2_sym"]["median"] <= r["rmsd_gfn2_all"]["median"] + 1e-9
    assert s("rdkit+relaxed")["gap_relax"]["max"] < 2e-3

    # Perturbed minima: RMSD ~ sqrt(3) * noise, small positive gaps; failures counted, not dropped.
    q = m["pert"]
    assert q["k"] == 2 and q["expected"] == 2 * n
    assert q["no_structure"] == 1 and q["failure_reasons"].get("missing_in_file") == 1
    assert q["xtb_failed"] == 1 and q["failure_reasons"].get("gfn2_sp_error") == 1, q["failure_reasons"]
    recs = [x for x in res["records"] if x["method"] == "pert" and x["status"] == "ok"]
    assert len(recs) == 2 * n - 2
    for x in recs:
        mm = x["metrics"]
        assert 0.5 * NOISE < mm["rmsd_gfn2_all"] < 3 * NOISE, mm
        assert 0 < mm["gap_relax"] < 1.0 and abs(mm["gap_relax"] - mm["gap_ref"]) < 0.01, mm
        assert mm["graph_valid"]
    best, pooled = q["summary"]["best_of_k"], q["summary"]["all"]
    assert best["rmsd_gfn2_all"]["mean"] <= q["summary"]["per_molecule_mean"]["rmsd_gfn2_all"]["mean"] + 1e-12
    assert best["rmsd_gfn2_all"]["n"] == n and pooled["gap_relax"]["n"] == 2 * n - 2
    assert s("pert+relaxed")["gap_relax"]["max"] < 2e-3


def test_structures():
    with tempfile.TemporaryDirectory(prefix="concord_eval_test_") as d:
        refs = inputs.load_references("tiny")
        f = os.path.join(d, "pert.extxyz")
        write_perturbed(f, refs)
        args = ["--data", "tiny", "--method", "gfn2", "--method", "pm6", "--method", "rdkit",
                "--method", f"pert={f}", "--relax-check", "--cache", os.path.join(d, "cache"),
                "--out", os.path.join(d, "out"), "--workers", "2"]
        t0 = time.time()
        res = structures.main(args)
        t1 = time.time()
        check(res, refs)
        for name in ("results.json", "table.md", "energy_gaps.png", "rmsd.png", "energy_per_molecule.png"):
            assert os.path.getsize(os.path.join(d, "out", name)) > 0, name
        assert json.load(open(os.path.join(d, "out", "results.json")))["molecules"] == len(refs)
        # Rerun: everything from the cache, same numbers.
        res2 = structures.main(args + ["--no-plots"])
        assert res2["timings"]["structures"]["computed"] == 0
        assert res2["timings"]["relax_check"]["computed"] == 0
        assert res2["methods"]["pm6"]["summary"] == res["methods"]["pm6"]["summary"]
        print(f"test_structures: ok (first run {t1 - t0:.1f} s, cached rerun {time.time() - t1:.1f} s)")


if __name__ == "__main__":
    test_structures()
