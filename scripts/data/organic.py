"""All calculations for one molecule of the organic set, returned as one JSON-serialisable result.

SMILES -> RDKit ETKDGv3 embedding (seeded) -> MMFF94 minimum (stereo perceived there becomes the
reference graph) -> GFN2 minimum (`xtb --opt tight` from the MMFF minimum; graph and stereo must
survive) -> GFN2 energy+forces at the MMFF minimum, the GFN2 minimum and noisy frames around it.
Test molecules additionally get the PM6 minimum (MOPAC from the MMFF minimum) and GFN2 there
(a frame failure, not a molecule failure, if MOPAC does not converge or the graph changes).

Molecule-level failures give status "failed" with a reason code; frame-level failures are listed
in "frame_failures".
"""
import time

import numpy as np
from rdkit import Chem
from rdkit.Chem import AllChem

import config
import mopac
import xtb
from graph import GraphError, check_same_graph, min_distance, set_positions
from mopac import CalcError


def embed(smiles, seed, retry_random_coords=False):
    """(mol with explicit H and stereo from 3D, symbols, MMFF94 minimum [n, 3] Å). With
    `retry_random_coords`, a molecule ETKDG cannot embed (strained cages) is retried from random
    coordinates, RDKit's advice for them."""
    mol = Chem.AddHs(Chem.MolFromSmiles(smiles))
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True
        if not retry_random_coords or AllChem.EmbedMolecule(mol, params) != 0:
            raise GraphError("embed_failed", smiles)
    if AllChem.MMFFOptimizeMolecule(mol, maxIters=config.MMFF_MAX_ITERS) != 0:
        raise GraphError("mmff_not_converged", smiles)
    Chem.AssignStereochemistryFrom3D(mol)
    pos = mol.GetConformer().GetPositions().tolist()
    return mol, [a.GetSymbol() for a in mol.GetAtoms()], pos


def noisy_frames(pos, sigmas, draws, seed):
    """Yield (sigma, positions or None, tries): `pos` plus N(0, sigma^2) on every coordinate, net
    translation removed; rng = default_rng([ORGANIC_SEED, seed, k]) for the k-th frame."""
    p0 = np.asarray(pos, dtype=float)
    k = 0
    for sigma in sigmas:
        for _ in range(draws):
            rng = np.random.default_rng([config.ORGANIC_SEED, seed, k])
            k += 1
            for t in range(1, config.FRAME_TRIES + 1):
                d = rng.normal(0.0, sigma, p0.shape)
                p = p0 + d - d.mean(0)
                if min_distance(p) >= config.MIN_DIST:
                    yield sigma, p.tolist(), t
                    break
            else:
                yield sigma, None, config.FRAME_TRIES


def compute(rec, split, seed):
    """Result of molecule `rec` (a selection record) of `split`; `seed` seeds embedding and frames."""
    res = {"fingerprint": config.ORGANIC_FINGERPRINT, **rec, "split": split, "seed": seed,
           "status": "ok", "frame_failures": [], "frames": [], "timings_s": {}}
    t_all = time.perf_counter()

    def timed(key, fn, *a):
        t = time.perf_counter()
        try:
            return fn(*a)
        finally:
            res["timings_s"][key] = res["timings_s"].get(key, 0.0) + time.perf_counter() - t

    def labelled(key, pos, **info):
        e, f = timed("gfn2_sp", xtb.energy_forces, symbols, pos, "gfn2_sp")
        res["frames"].append({"config": key, "pos": pos, "energy": e, "forces": f, **info})

    try:
        mol, symbols, mmff_pos = timed("embed", embed, rec["smiles"], seed)
        res["symbols"] = symbols
        labelled("mmff_min", mmff_pos)
        g_pos, g_info = timed("gfn2_opt", xtb.optimise, symbols, mmff_pos, "gfn2_opt")
        check_same_graph(mol, symbols, g_pos, "gfn2_opt")
        labelled("gfn2_min", g_pos, **g_info)
        set_positions(mol, g_pos)
        res["molblock"] = Chem.MolToMolBlock(mol)   # graph + GFN2 minimum
        if split == "test":
            try:   # one evaluation class among several: a failure here is recorded, not fatal
                p_pos, _ = timed("pm6_opt", mopac.optimise, symbols, mmff_pos)
                check_same_graph(mol, symbols, p_pos, "pm6_opt")
                labelled("pm6_min", p_pos)
            except (CalcError, GraphError) as err:
                res["frame_failures"].append({"config": "pm6_min", "reason": err.reason, "detail": err.detail})
            sigmas, draws = config.ORGANIC_TEST_SIGMA, 1
        else:
            sigmas, draws = config.ORGANIC_TRAIN_SIGMA, config.ORGANIC_TRAIN_DRAWS
        for sigma, pos, tries in noisy_frames(g_pos, sigmas, draws, seed):
            if pos is None:
                res["frame_failures"].append({"config": "noise", "sigma": sigma, "reason": "close_contact",
                                              "detail": f"{tries} draws below {config.MIN_DIST} Å"})
                continue
            try:
                labelled("noise", pos, sigma=sigma)
            except CalcError as err:
                res["frame_failures"].append({"config": "noise", "sigma": sigma, "reason": err.reason,
                                              "detail": err.detail})
    except (GraphError, CalcError) as err:
        res["status"] = "failed"
        res["reason"] = err.reason
        res["detail"] = err.detail
    res["timings_s"]["total"] = time.perf_counter() - t_all
    return res
