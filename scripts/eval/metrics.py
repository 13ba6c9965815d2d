"""Per-structure metrics and their aggregation over molecules and samples.

Per structure (units Å, eV, eV/Å):
  rmsd_gfn2_all / rmsd_gfn2_heavy    Kabsch RMSD (atom order as in the test set, no permutation
                                     search, proper rotations only) to the GFN2 minimum
  rmsd_b3lyp_all / rmsd_b3lyp_heavy  the same to the QM9 B3LYP/6-31G(2df,p) minimum
  rmsd_gfn2_sym / rmsd_b3lyp_sym     all-atom RMSD minimised over the graph's automorphisms
                                     (RDKit rdMolAlign.GetBestRMS, proper rotations): a rotated
                                     methyl group or swapped equivalent atoms do not count
  gap_relax      E_GFN2(structure) - E_GFN2(xtb --opt tight from the structure)
  gap_ref        E_GFN2(structure) - E_GFN2(reference GFN2 minimum of the test set)
  relaxed_below_ref  E_GFN2(relaxed) < E_GFN2(reference minimum) - BELOW_REF_EV: the structure
                 relaxed into a lower minimum (another conformer / stereoisomer / graph)
  fmax           max over atoms of |F_i| (GFN2) at the structure
  graph_valid    bond set perceived from the coordinates (scripts/data/graph.py connectivity,
                 d_ij < 1.145 (r_i + r_j), Cordero covalent radii) equals the test graph
  graph_valid_rdkit  the same with RDKit rdDetermineBonds.DetermineConnectivity (connect-the-dots
                 defaults); it also bonds 1,3 pairs in strained cages, so it rejects some exact
                 reference minima: reported for comparison only
  stereo_valid   graph_valid and the isomeric SMILES with stereo perceived from the coordinates
                 equals the one at the GFN2 minimum (chirality, E/Z)
"""
import math

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdDetermineBonds, rdMolAlign

import common  # noqa: F401  (sys.path for scripts/data)
import graph
from stats import rmsd_pair

BELOW_REF_EV = 1e-3
METRICS = ["rmsd_gfn2_all", "rmsd_gfn2_heavy", "rmsd_gfn2_sym", "rmsd_b3lyp_all", "rmsd_b3lyp_heavy",
           "rmsd_b3lyp_sym",
           "gap_relax", "gap_ref", "fmax", "graph_valid", "graph_valid_rdkit", "stereo_valid",
           "relaxed_below_ref", "relaxed_rmsd_gfn2_all"]
BOOLEAN = {"graph_valid", "graph_valid_rdkit", "stereo_valid", "relaxed_below_ref"}


def rdkit_connectivity(symbols, pos):
    m = Chem.RWMol()
    for s in symbols:
        m.AddAtom(Chem.Atom(s))
    m = m.GetMol()
    graph.set_positions(m, pos)
    rdDetermineBonds.DetermineConnectivity(m, useHueckel=False, charge=0)
    return graph.bond_set(m)


def symmetric_rmsd(mol, pos, ref_pos):
    """All-atom RMSD of `pos` to `ref_pos` (same graph `mol`), best over graph automorphisms."""
    p, q = Chem.Mol(mol), Chem.Mol(mol)
    graph.set_positions(p, pos)
    graph.set_positions(q, ref_pos)
    return float(rdMolAlign.GetBestRMS(p, q))


def geometry_metrics(ref, pos):
    """Metrics that need no xtb: RMSDs and graph checks."""
    pos = np.asarray(pos, dtype=float)
    out = {}
    for k, key in (("gfn2", "gfn2_min"), ("b3lyp", "b3lyp")):
        heavy, all_ = rmsd_pair(pos, ref.pos[key], ref.symbols)
        out[f"rmsd_{k}_all"], out[f"rmsd_{k}_heavy"] = all_, heavy
        out[f"rmsd_{k}_sym"] = symmetric_rmsd(ref.mol, pos, ref.pos[key])
    out["graph_valid"] = graph.connectivity(ref.symbols, pos) == ref.bonds
    out["graph_valid_rdkit"] = rdkit_connectivity(ref.symbols, pos) == ref.bonds
    out["stereo_valid"] = bool(out["graph_valid"] and graph.stereo_smiles(ref.mol, pos) == ref.stereo_smiles)
    return out


def energy_metrics(ref, res):
    """Metrics from the xtb results of `xtbcache.evaluate`; None where a call failed."""
    sp, opt, spr = res["sp"], res["opt"], res["sp_relaxed"]
    e_ref = ref.energy["gfn2_min"]
    out = {k: None for k in ("gap_relax", "gap_ref", "fmax", "relaxed_below_ref", "relaxed_rmsd_gfn2_all")}
    if sp["ok"]:
        out["gap_ref"] = sp["energy"] - e_ref
        out["fmax"] = sp["fmax"]
    if spr is not None and spr["ok"]:
        out["relaxed_below_ref"] = spr["energy"] < e_ref - BELOW_REF_EV
        out["relaxed_rmsd_gfn2_all"] = rmsd_pair(np.asarray(opt["pos"]), ref.pos["gfn2_min"], ref.symbols)[1]
        if sp["ok"]:
            out["gap_relax"] = sp["energy"] - spr["energy"]
    errors = {k: v["reason"] for k, v in res.items() if v is not None and not v["ok"]}
    return out, errors


def describe(xs):
    xs = np.asarray([x for x in xs if x is not None], dtype=float)
    if len(xs) == 0:
        return {"n": 0, "median": None, "mean": None, "p90": None, "max": None, "min": None}
    return {"n": int(len(xs)), "median": float(np.median(xs)), "mean": float(xs.mean()),
            "p90": float(np.percentile(xs, 90)), "max": float(xs.max()), "min": float(xs.min())}


def aggregate(records, k):
    """Summary of one method's per-structure `records` (dicts with mol, sample, status, metrics).

    `all`: over all structures (samples pooled). For k > 1 also `per_molecule_mean` (mean over a
    molecule's samples, then statistics over molecules) and `best_of_k` (per molecule the best
    sample for each metric separately: the smallest RMSD / gap / force; a boolean is true if any
    sample is). Booleans are reported as `fraction` true (of the structures where defined)."""
    def stat(values, name):
        if name in BOOLEAN:  # fraction true (per-molecule means: mean fraction over molecules)
            v = [float(x) for x in values if x is not None]
            return {"n": len(v), "fraction": (sum(v) / len(v)) if v else None}
        return describe(values)

    out = {"all": {m: stat([r["metrics"].get(m) for r in records], m) for m in METRICS}}
    if k > 1:
        by_mol = {}
        for r in records:
            by_mol.setdefault(r["mol"], []).append(r)
        mean_, best = {}, {}
        for m in METRICS:
            per_mean, per_best = [], []
            for rs in by_mol.values():
                v = [float(r["metrics"][m]) for r in rs if r["metrics"].get(m) is not None]
                per_mean.append(sum(v) / len(v) if v else None)
                per_best.append((max(v) if m in BOOLEAN else min(v)) if v else None)
            mean_[m], best[m] = stat(per_mean, m), stat(per_best, m)
        out["per_molecule_mean"], out["best_of_k"] = mean_, best
    return out


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x + 0.0:.{digits}f}" if abs(x) >= 0.5 * 10 ** -digits else f"{0:.{digits}f}"
