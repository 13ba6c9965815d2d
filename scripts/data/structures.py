"""One molecule of the structure set (issue #15): a PM6 minimum with its bond graph.

QM9 SMILES -> RDKit ETKDGv3 embedding (seeded; strained cages that ETKDG cannot embed are retried
from random coordinates, RDKit's advice for them) -> MMFF94 minimum (stereo perceived there
becomes the reference graph) -> PM6 minimum (MOPAC from the MMFF minimum; graph and stereo must
survive).
No B3LYP geometry is read. Molecules with a net charge are refused (the models know neutral
molecules); charge-separated neutral ones (nitro groups, QM9's zwitterions) are computed since
2026-12-05, when the generator learned to take formal charges (the 134 refused before were
recomputed then: their results replaced the "charged" failures). Failures give status "failed"
with a reason code.
"""
import time

from rdkit import Chem

import config
import mopac
from graph import GraphError, check_same_graph, set_positions
from mopac import CalcError
from organic import embed


def compute(rec, seed):
    """Result of QM9 molecule `rec` (qm9.load_all() record); `seed` seeds the embedding."""
    idx = rec["index"]
    res = {"fingerprint": config.STRUCT_FINGERPRINT, "qm9_index": idx, "name": config.mol_name(idx),
           "smiles": rec["smiles"], "seed": seed, "status": "ok", "timings_s": {}}
    t0 = time.perf_counter()
    try:
        parsed = Chem.MolFromSmiles(rec["smiles"])
        if parsed is None:
            raise GraphError("smiles_unreadable", rec["smiles"])
        if Chem.GetFormalCharge(parsed) != 0:
            raise GraphError("charged", rec["smiles"])
        mol, symbols, mmff_pos = embed(rec["smiles"], seed, retry_random_coords=True)
        t1 = time.perf_counter()
        res["timings_s"]["embed"] = t1 - t0
        pos, info = mopac.optimise(symbols, mmff_pos)
        res["timings_s"]["pm6_opt"] = time.perf_counter() - t1
        check_same_graph(mol, symbols, pos, "pm6_opt")
        set_positions(mol, pos)
        res["pm6_info"] = info
        res["molblock"] = Chem.MolToMolBlock(mol)   # graph + PM6 minimum, RDKit atom order
    except (GraphError, CalcError) as err:
        res["status"] = "failed"
        res["reason"] = err.reason
        res["detail"] = err.detail
    res["timings_s"]["total"] = time.perf_counter() - t0
    return res
