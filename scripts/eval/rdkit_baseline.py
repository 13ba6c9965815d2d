"""RDKit baseline: ETKDG v3 embedding + MMFF94 relaxation from the test graph.

The molecule is the test SDF graph itself (explicit H, QM9 atom order, stereo from the SDF's 3D
coordinates), so atom order matches the references; its coordinates are not used by the
embedding. Seeded (`randomSeed`), single-threaded, so the structures are reproducible. k > 1
embeds k conformers (EmbedMultipleConfs, default RMS pruning off). Failures (embedding gives
fewer than k conformers, MMFF94 has no parameters) are recorded per structure; MMFF runs that
hit the iteration limit are kept and counted in `notes`.
"""
from rdkit import Chem, rdBase
from rdkit.Chem import AllChem

from inputs import CandidateSet

MMFF_MAX_ITERS = 2000


def conformers(mol, k, seed, energies=None):
    """(list of [n,3] arrays or None per sample, reason or None, number not converged). With a
    list `energies`, the MMFF94 energy (kcal/mol) of each returned conformer is appended to it."""
    m = Chem.Mol(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    params.numThreads = 1
    ids = list(AllChem.EmbedMultipleConfs(m, numConfs=k, params=params))
    if not ids:
        return [None] * k, "etkdg_embed_failed", 0
    if not AllChem.MMFFHasAllMoleculeParams(m):
        return [None] * k, "mmff94_no_parameters", 0
    res = AllChem.MMFFOptimizeMoleculeConfs(m, numThreads=1, maxIters=MMFF_MAX_ITERS, mmffVariant="MMFF94")
    not_conv = sum(1 for c, _ in res if c != 0)
    if energies is not None:
        energies.extend(e for _, e in res)
    out = [m.GetConformer(i).GetPositions() for i in ids]
    reason = "etkdg_embed_failed" if len(out) < k else None
    return out + [None] * (k - len(out)), reason, not_conv


def candidates(refs, k=1, seed=42, name="rdkit"):
    c = CandidateSet(name, f"RDKit {rdBase.rdkitVersion} ETKDGv3 + MMFF94, seed {seed}", k)
    c.notes["mmff_not_converged"] = 0
    for r in refs:
        confs, reason, nc = conformers(r.mol, k, seed)
        c.notes["mmff_not_converged"] += nc
        for s, p in enumerate(confs):
            if p is None:
                c.failures[(r.name, s)] = reason
            else:
                c.structures[(r.name, s)] = p
    return c
