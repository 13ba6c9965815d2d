"""All calculations for one molecule, returned as one JSON-serialisable result.

Train and test: graph (SMILES mapped onto the B3LYP coordinates), PM6 minimum from the B3LYP
geometry (graph and stereo must survive), GFN2 energy+forces at the PM6 minimum and at the
thermal frames. Test only, additionally: GFN2 minimum from the PM6 minimum (graph must survive),
GFN2 energy+forces there and at the B3LYP geometry, and (statistics only) the GFN2 minimum
started from the B3LYP geometry.

Molecule-level failures give status "failed" with a reason code; frame-level failures are listed
in "frame_failures" and the molecule is kept with fewer frames.
"""
import time

from rdkit import Chem

import config
import frames
import mopac
import xtb
from graph import GraphError, check_same_graph, graph_in_xyz_order, set_positions
from mopac import CalcError


def compute(mol_rec, split):
    idx = mol_rec["index"]
    symbols = mol_rec["symbols"]
    b3lyp = mol_rec["xyz"]
    res = {"fingerprint": config.FINGERPRINT, "qm9_index": idx, "name": config.mol_name(idx),
           "split": split, "smiles": mol_rec["smiles"], "symbols": symbols, "b3lyp_pos": b3lyp,
           "status": "ok", "frame_failures": [], "timings_s": {}}
    t_all = time.perf_counter()

    def timed(key, fn, *a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            res["timings_s"][key] = res["timings_s"].get(key, 0.0) + time.perf_counter() - t

    try:
        mol = timed("graph", graph_in_xyz_order, mol_rec["smiles"], symbols, b3lyp)
        pm6_pos, pm6_info = timed("pm6_opt", mopac.optimise, symbols, b3lyp)
        res["pm6_info"] = pm6_info
        check_same_graph(mol, symbols, pm6_pos, "pm6_opt")
        res["pm6_pos"] = pm6_pos
        e, f = timed("gfn2_sp", xtb.energy_forces, symbols, pm6_pos, "gfn2_sp")
        res["pm6_min"] = {"energy": e, "forces": f}
        set_positions(mol, pm6_pos)
        res["molblock"] = Chem.MolToMolBlock(mol)   # graph + PM6 coordinates, QM9 atom order

        if split == "test":
            g_pos, g_info = timed("gfn2_opt", xtb.optimise, symbols, pm6_pos, "gfn2_opt")
            check_same_graph(mol, symbols, g_pos, "gfn2_opt")
            e, f = timed("gfn2_sp", xtb.energy_forces, symbols, g_pos, "gfn2_sp")
            res["gfn2_min"] = {"pos": g_pos, "energy": e, "forces": f, **g_info}
            e, f = timed("gfn2_sp", xtb.energy_forces, symbols, b3lyp, "gfn2_sp")
            res["b3lyp"] = {"energy": e, "forces": f}
            if config.GFN2_FROM_B3LYP:   # statistics only; a failure here is recorded, not fatal
                try:
                    gb_pos, _ = timed("gfn2_opt", xtb.optimise, symbols, b3lyp, "gfn2_opt_from_b3lyp")
                    check_same_graph(mol, symbols, gb_pos, "gfn2_opt_from_b3lyp")
                    e, _ = timed("gfn2_sp", xtb.energy_forces, symbols, gb_pos, "gfn2_sp")
                    res["gfn2_min_from_b3lyp"] = {"pos": gb_pos, "energy": e}
                except (CalcError, GraphError) as err:
                    res["gfn2_min_from_b3lyp"] = {"failed": err.reason, "detail": err.detail}

        res["frames"] = []
        for rms, pos, tries in frames.thermal_frames(idx, symbols, pm6_pos):
            if pos is None:
                res["frame_failures"].append({"config": "thermal", "rms": rms, "reason": "close_contact",
                                              "detail": f"{tries} draws below {config.MIN_DIST} Å"})
                continue
            try:
                e, f = timed("gfn2_sp", xtb.energy_forces, symbols, pos, "gfn2_sp_frame")
            except CalcError as err:
                res["frame_failures"].append({"config": "thermal", "rms": rms, "reason": err.reason,
                                              "detail": err.detail})
                continue
            res["frames"].append({"config": "thermal", "rms": rms, "pos": pos, "energy": e, "forces": f})
    except (GraphError, CalcError) as err:
        res["status"] = "failed"
        res["reason"] = err.reason
        res["detail"] = err.detail
    res["timings_s"]["total"] = time.perf_counter() - t_all
    return res
