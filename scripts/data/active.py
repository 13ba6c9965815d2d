"""One round of active learning for the potential (issue #16), DP-GEN style.

Explore, select by the committee's disagreement, label with GFN2-xTB:

1. Explore, per training molecule of the organic set (data/organic-gfn2/train_structures.sdf.gz,
   its GFN2 minimum and graph; test molecules are never touched): Langevin MD with the shipped
   potential (ASE, float32, 0.5 fs, friction 0.02/fs, centre of mass fixed) at the round's
   temperatures from the GFN2 minimum, one snapshot every `stride` steps, and raw samples of the
   shipped structure generator (unrelaxed: where generate-and-relax starts). ROUNDS holds each
   round's settings (round 2: 5 ps at 600 K of molecules with an intramolecular hydrogen bond).
2. Select: the committee (shipped potential + examples/models/committee/member2, member3)
   computes each candidate's largest per-atom force deviation `max_devi_f` (DeePMD-kit's model
   deviation); candidates with `trust_lo <= max_devi_f < trust_hi` (eV/Å; ACTIVE_TRUST_HI by
   default) are the frames the potential is unsure of but that are still chemistry (above the
   upper bound they are mostly broken structures), and at most `per_molecule` of them per
   molecule are drawn (seeded).
3. Label: GFN2-xTB energy and forces (scripts/data/xtb.py, the bundled data's settings).

Round 1 explores molecules 0 .. n-1 of a seeded permutation of the training molecules, rounds 2,
3 and 5 the first n with an intramolecular hydrogen bond of a permutation seeded by the round; each with the models
shipped when it runs. Rounds 3 to 5 are not MD and label every frame: round 3 moves
hydrogen-bonded protons (`proton_scan`), round 4 stretches and compresses bonds (`bond_scan`) of
the first n molecules of the round 1 permutation, round 5 relaxes shared protons on the shipped
potential (`shared_relax`), round 6 labels where relaxations on the shipped potential end
(`relax_endpoints`: from the GFN2 minimum, from an ETKDG + MMFF94 start, generated and relaxed
structures), round 7 again on the next block of molecules with the potential trained on round 6
(DP-GEN's iteration), round 8 on the next block (wrapping around to the start of the
permutation, whose molecules rounds 1 and 4 explored differently) with the potential trained on
round 7. Per-molecule results are JSON files
in data/work/active/round<R>/ (atomic, with a settings fingerprint), so an interrupted run
continues; `--assemble` writes the labelled frames to data/organic-gfn2/train_active_<R>.extxyz.gz
(config = the frame's source: md_<T>K, generator, proton_scan_<fraction>, bond_<h|heavy>_<factor>,
shared_kept, shared_back, relax_gfn2, relax_mmff or relax_generated) and
data/organic-gfn2/active_provenance_<R>.json.

Usage: python scripts/data/active.py [--round 1] [--molecules 300] [--workers 2] [--assemble]
(needs CONCORD_LIB_DIR, as `make data-active` sets it)
"""
import argparse
import functools
from dataclasses import dataclass
import gzip
import hashlib
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config  # noqa: E402
import graph  # noqa: E402
import store  # noqa: E402
import writers  # noqa: E402
import xtb  # noqa: E402

sys.path.insert(0, str(config.ROOT / "python"))
import concord  # noqa: E402

MODELS = config.ROOT / "examples" / "models"
POTENTIAL = MODELS / "concord-qm9-gfn2.concord"
COMMITTEE = [POTENTIAL, MODELS / "committee" / "member2.concord", MODELS / "committee" / "member3.concord"]
GENERATOR = MODELS / "concord-generator.concord"
ACTIVE_SEED = 20261205
ACTIVE_TRUST_HI = 2.0             # eV/Å, on max_devi_f: above it, mostly broken structures
ACTIVE_PER_MOLECULE = 6


@dataclass(frozen=True)
class Round:
    """How a round explores and selects.

    temperatures (K) and steps (0.5 fs) of the Langevin MD per temperature, a snapshot every
    `stride` steps; `samples` raw generator samples; frames with trust_lo <= max_devi_f (eV/Å) <
    trust_hi are candidates, at most `per_molecule` labelled. `hbond`: explore only training
    molecules with an intramolecular hydrogen bond at the GFN2 minimum (`graph.hydrogen_bonds`),
    where hot MD on the potential can slide the proton into a shared position GFN2-xTB puts eV
    higher (docs/potential.md, MD robustness).
    `scan`: instead of MD, each hydrogen-bonded proton moved towards its acceptor (`proton_scan`)
    at these fractions of the way; with trust window [0, inf) every frame is labelled, since the
    committee members share the false minimum there (docs/potential.md, eval-hbond).
    `stretch`: instead of MD, one bond to a hydrogen and one between heavy atoms (seeded choice)
    scaled to these factors of their length (`bond_scan`), every frame labelled (asked after a
    600 K run broke on a stretched C-H bond; docs/data.md, round 4).
    `shared`: instead of MD, each hydrogen-bonded proton put halfway to its acceptor and the
    structure relaxed on the shipped potential (`shared_relax`), where a false minimum keeps it.
    `relax`: instead of MD, where relaxations on the shipped potential end (`relax_endpoints`):
    its minima near GFN2's, which the relaxation goal compares (docs/potential.md)."""
    temperatures: tuple
    steps: int
    stride: int
    samples: int
    trust_lo: float
    hbond: bool = False
    trust_hi: float = ACTIVE_TRUST_HI
    per_molecule: int = ACTIVE_PER_MOLECULE
    scan: tuple = ()
    stretch: tuple = ()
    shared: bool = False
    relax: bool = False


ROUNDS = {
    1: Round(temperatures=(600, 900), steps=2000, stride=100, samples=4, trust_lo=0.35),
    2: Round(temperatures=(600,), steps=10000, stride=250, samples=0, trust_lo=0.5, hbond=True),
    3: Round(temperatures=(), steps=0, stride=1, samples=0, trust_lo=0.0, hbond=True, trust_hi=float("inf"),
             per_molecule=15, scan=(0.2, 0.35, 0.5, 0.65, 0.8)),
    4: Round(temperatures=(), steps=0, stride=1, samples=0, trust_lo=0.0, trust_hi=float("inf"),
             per_molecule=6, stretch=(0.88, 1.15, 1.3)),
    5: Round(temperatures=(), steps=0, stride=1, samples=0, trust_lo=0.0, hbond=True, trust_hi=float("inf"),
             per_molecule=9, shared=True),
    # Rounds 6 on: relaxation endpoints, each round the next block of molecules.
    **{r: Round(temperatures=(), steps=0, stride=1, samples=2, trust_lo=0.0, trust_hi=float("inf"),
                per_molecule=6, relax=True) for r in range(6, 13)},
}
SHARED_FMAX = 0.01       # eV/Å: the shared-proton relaxation's convergence (as make eval-hbond)
SHARED_COPIES = 2        # noisy copies (SCAN_NOISE) of each relaxed shared-proton structure
SCAN_ACCEPTOR_H = 1.0   # Å: where the scan ends, the proton this far from its acceptor (transferred)
SCAN_NOISE = 0.03       # Å: Gaussian displacement of every coordinate of a scan frame
RELAX_FMAX = 0.01       # eV/Å: relaxations from the GFN2 minimum and the MMFF start (as make eval-relaxation)
RELAX_MMFF_SEED = 7     # ETKDGv3 seed of the MMFF start

def results_dir(r):
    return config.WORK_DIR / "active" / f"round{r}"


def output(r):
    """The bundled frames and the provenance of round `r`."""
    return (config.ORGANIC_DIR / f"train_active_{r}.extxyz.gz",
            config.ORGANIC_DIR / f"active_provenance_{r}.json")


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


@functools.lru_cache(maxsize=None)
def fingerprint(r):
    """Round `r`'s settings and models, hashed: results with another fingerprint are redone."""
    rs = ROUNDS[r]
    settings = {
        "v": 1, "round": r, "seed": ACTIVE_SEED, "T": rs.temperatures, "steps": rs.steps,
        "stride": rs.stride, "samples": rs.samples, "trust": [rs.trust_lo, rs.trust_hi],
        "per": rs.per_molecule, "models": [_sha(p) for p in COMMITTEE + [GENERATOR]],
        "sp": config.XTB_SP_ARGS,
    }
    if rs.hbond:  # (round 1's fingerprint predates the key)
        settings["hbond"] = graph.HBOND_MAX
    if rs.scan:  # (rounds 1 and 2 predate the key)
        settings["scan"] = [rs.scan, SCAN_ACCEPTOR_H, SCAN_NOISE]
    if rs.stretch:
        settings["stretch"] = [rs.stretch, SCAN_NOISE]
    if rs.shared:
        settings["shared"] = [SHARED_FMAX, SHARED_COPIES, SCAN_NOISE]
    if rs.relax:
        settings["relax"] = [RELAX_FMAX, RELAX_MMFF_SEED, SCAN_NOISE]
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def molecules():
    """[(name, symbols, numbers, positions [N, 3], bonds [(i, j, order)], formal charges [N])] of
    the organic set's training molecules, in file order."""
    from rdkit import Chem
    out = []
    with gzip.open(config.ORGANIC_DIR / "train_structures.sdf.gz") as fh:
        for m in Chem.ForwardSDMolSupplier(fh, removeHs=False, sanitize=False):
            bonds = graph.concord_bonds(m)
            atoms = list(m.GetAtoms())
            out.append((m.GetProp("_Name"), [a.GetSymbol() for a in atoms], [a.GetAtomicNum() for a in atoms],
                        m.GetConformer().GetPositions(), bonds, [a.GetFormalCharge() for a in atoms]))
    return out


def selection(n, r):
    """Round `r`'s `n` training molecules: the (r-1)-th block of `n` of a seeded permutation (the
    first block for a `stretch` round; blocks wrap around the permutation's end), or for a `hbond` round the first `n` molecules with an
    intramolecular hydrogen bond in a permutation seeded by the round."""
    mols = molecules()
    if ROUNDS[r].hbond:
        order = np.random.default_rng([ACTIVE_SEED, r]).permutation(len(mols))
        block = [i for i in order if graph.hydrogen_bonds(mols[i][1], mols[i][3], mols[i][4])][:n]
    else:
        order = np.random.default_rng(ACTIVE_SEED).permutation(len(mols))
        start = 0 if ROUNDS[r].stretch else (r - 1) * n
        block = np.roll(order, -(start % len(order)))[:n]
    if len(block) < n:
        raise SystemExit(f"active: round {r} needs {n} molecules, the training set has {len(block)} to offer")
    return [mols[i] for i in block]


def proton_scan(symbols, positions, bonds, fractions, rng):
    """Frames [(source, positions [N, 3])] with each intramolecularly hydrogen-bonded proton
    (`graph.hydrogen_bonds`) moved along the straight line from its place at the minimum towards
    SCAN_ACCEPTOR_H Å from its acceptor on the acceptor-donor axis, `fractions` of the way (0.5
    is about the shared position), every coordinate then displaced by SCAN_NOISE Å (Gaussian)."""
    x = np.asarray(positions, dtype=float)
    frames = []
    for h, donor, acceptor in graph.hydrogen_bonds(symbols, x, bonds):
        axis = (x[donor] - x[acceptor]) / np.linalg.norm(x[donor] - x[acceptor])
        end = x[acceptor] + SCAN_ACCEPTOR_H * axis
        for f in fractions:
            y = x.copy()
            y[h] = (1 - f) * x[h] + f * end
            frames.append((f"proton_scan_{f:.2f}", y + rng.normal(scale=SCAN_NOISE, size=y.shape)))
    return frames


def bond_scan(symbols, positions, bonds, factors, rng):
    """Frames [(source, positions [N, 3])] with one bond to a hydrogen (the hydrogen moved) and one
    bond between heavy atoms (both ends moved, half each), chosen with `rng`, scaled to `factors`
    of their length along the bond axis, every coordinate then displaced by SCAN_NOISE Å."""
    x = np.asarray(positions, dtype=float)
    to_h = [(i, j) if symbols[j] == "H" else (j, i) for i, j, _ in bonds if "H" in (symbols[i], symbols[j])]
    heavy = [(i, j) for i, j, _ in bonds if "H" not in (symbols[i], symbols[j])]
    frames = []
    for kind, pool in (("h", to_h), ("heavy", heavy)):
        if not pool:
            continue
        a, b = pool[rng.integers(len(pool))]
        v = x[b] - x[a]
        for f in factors:
            y, d = x.copy(), (f - 1) * v
            if kind == "h":
                y[b] += d
            else:
                y[a] -= d / 2
                y[b] += d / 2
            frames.append((f"bond_{kind}_{f:.2f}", y + rng.normal(scale=SCAN_NOISE, size=y.shape)))
    return frames


def shared_relax(symbols, numbers, positions, bonds, model, rng):
    """Frames [(source, positions [N, 3])]: each intramolecularly hydrogen-bonded proton put at the
    midpoint of donor and acceptor, the structure relaxed on `model` (L-BFGS to SHARED_FMAX eV/Å,
    as `make eval-hbond` does on test molecules), and SHARED_COPIES copies displaced by
    SCAN_NOISE Å. `source` says whether Concord's sanity check passes the relaxed structure
    (`shared_back`: the proton returned to its donor) or not (`shared_kept`)."""
    x = np.asarray(positions, dtype=float)
    frames = []
    for h, donor, acceptor in graph.hydrogen_bonds(symbols, x, bonds):
        start = x.copy()
        start[h] = 0.5 * (x[donor] + x[acceptor])
        relaxed, _ = model.optimize(numbers, start, fmax=SHARED_FMAX, max_steps=3000)
        source = "shared_back" if concord.check_structure(numbers, bonds, relaxed)[0] == 0 else "shared_kept"
        frames.append((source, relaxed))
        frames += [(source, relaxed + rng.normal(scale=SCAN_NOISE, size=x.shape)) for _ in range(SHARED_COPIES)]
    return frames


def mmff_start(symbols, bonds, charges, seed):
    """An RDKit ETKDGv3 (seeded) + MMFF94 structure [N, 3] Å of the graph with formal `charges`
    (atoms in its order), or None when RDKit cannot embed or parametrise it."""
    from rdkit import Chem
    from rdkit.Chem import AllChem
    m = Chem.RWMol()
    for s, q in zip(symbols, charges):
        a = Chem.Atom(s)
        a.SetFormalCharge(int(q))
        a.SetNoImplicit(True)
        m.AddAtom(a)
    kinds = {order: kind for kind, order in graph.CONCORD_ORDERS.items()}
    for i, j, order in bonds:
        m.AddBond(int(i), int(j), kinds[int(order)])
    try:
        Chem.SanitizeMol(m)
    except Exception:
        return None
    params = AllChem.ETKDGv3()
    params.randomSeed = seed
    if AllChem.EmbedMolecule(m, params) != 0 or not AllChem.MMFFHasAllMoleculeParams(m):
        return None
    AllChem.MMFFOptimizeMolecule(m, maxIters=2000)
    return m.GetConformer().GetPositions()


def relax_endpoints(symbols, numbers, positions, bonds, charges, models, samples, seed, rng):
    """Frames [(source, positions [N, 3])] where relaxations on the shipped potential end: from
    the GFN2 minimum (`relax_gfn2`) and from an ETKDG + MMFF94 start (`relax_mmff`), L-BFGS to
    RELAX_FMAX eV/Å, each with one copy displaced by SCAN_NOISE Å, and `samples` structures of
    the generation pipeline relaxed on it (`relax_generated`, the library's settings). At the
    potential's false minima GFN2-xTB's forces are what the training needs."""
    model = models["committee"][0]
    x = np.asarray(positions, dtype=float)
    frames = []
    for source, start in (("relax_gfn2", x), ("relax_mmff", mmff_start(symbols, bonds, charges, RELAX_MMFF_SEED))):
        if start is None:
            continue
        relaxed, _ = model.optimize(numbers, start, fmax=RELAX_FMAX, max_steps=2000)
        frames += [(source, relaxed), (source, relaxed + rng.normal(scale=SCAN_NOISE, size=x.shape))]
    if samples:
        made = models["generator"].generate_structures(numbers, bonds, samples=samples, seed=seed, potential=model,
                                                       charges=charges)
        frames += [("relax_generated", np.asarray(s["positions"])) for s in made]
    return frames


def explore(symbols, numbers, positions, bonds, charges, seed, models, rs, r):
    """Candidate frames [(source, positions)] of round `r` (settings `rs`): MD snapshots and raw
    generator samples, or the round's scans (formal `charges` [N]: charge-separated groups such as
    nitro)."""
    if rs.relax:
        rng = np.random.default_rng([ACTIVE_SEED, r, seed])
        return relax_endpoints(symbols, numbers, positions, bonds, charges, models, rs.samples, seed, rng)
    if rs.scan or rs.stretch or rs.shared:
        rng = np.random.default_rng([ACTIVE_SEED, r, seed])
        frames = proton_scan(symbols, positions, bonds, rs.scan, rng) if rs.scan else []
        frames += bond_scan(symbols, positions, bonds, rs.stretch, rng) if rs.stretch else []
        frames += shared_relax(symbols, numbers, positions, bonds, models["committee"][0], rng) if rs.shared else []
        return frames
    from ase import Atoms, units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import thermalize_momenta
    frames = []
    for t in rs.temperatures:
        atoms = Atoms(numbers=numbers, positions=positions)
        atoms.set_constraint(FixCom())
        atoms.calc = concord.ConcordCalculator(models["committee"][0])
        rng = np.random.default_rng([seed, t])
        thermalize_momenta(atoms, temperature_K=t, rng=rng)
        dyn = Langevin(atoms, 0.5 * units.fs, temperature_K=t, friction=0.02 / units.fs, fixcm=False, rng=rng)
        for _ in range(rs.steps // rs.stride):
            dyn.run(rs.stride)
            frames.append((f"md_{t}K", atoms.positions.copy()))
    if rs.samples:
        samples = models["generator"].generate_structures(numbers, bonds, samples=rs.samples, seed=seed,
                                                          relax=False, potential=models["committee"][0],
                                                          charges=charges)
        frames += [("generator", np.asarray(s["positions"])) for s in samples]
    return frames


def compute(mol, seed, models, r):
    """Explore, select and label one molecule in round `r`: the result record."""
    rs, fp = ROUNDS[r], fingerprint(r)
    name, symbols, numbers, positions, bonds, charges = mol
    t0 = time.time()
    res = {"name": name, "fingerprint": fp, "status": "ok", "frames": [], "candidates": 0}
    try:
        frames = explore(symbols, numbers, positions, bonds, charges, seed, models, rs, r)
    except Exception as e:  # a model error (e.g. a non-finite result in hot MD) is a result too
        return dict(res, status="failed", reason=f"explore: {e}", timings_s={"total": time.time() - t0})
    devi = []
    for _, x in frames:
        try:
            devi.append(concord.deviation(models["committee"], numbers, x)["max_devi_f"])
        except concord.ConcordError as e:  # e.g. overlapping atoms in a hot frame: not a candidate
            devi.append(float("inf"))
            res.setdefault("refused", []).append(str(e)[:200])
    inside = [k for k, d in enumerate(devi) if rs.trust_lo <= d < rs.trust_hi]
    res["candidates"], res["explored"] = len(inside), len(frames)
    rng = np.random.default_rng([ACTIVE_SEED, seed])
    chosen = sorted(rng.choice(inside, size=min(len(inside), rs.per_molecule), replace=False).tolist())
    for k in chosen:
        source, x = frames[k]
        try:
            energy, forces = xtb.energy_forces(symbols, x)
        except xtb.CalcError as e:
            res.setdefault("label_failures", []).append({"frame": k, "reason": str(e)})
            continue
        res["frames"].append({"source": source, "max_devi_f": devi[k], "symbols": symbols,
                              "positions": np.asarray(x).tolist(), "energy": energy, "forces": forces})
    res["timings_s"] = {"total": time.time() - t0}
    return res


_MODELS = {}


def _job(args):
    mol, seed, r = args
    if not _MODELS:  # one set of models per worker process
        _MODELS["committee"] = [concord.Model(str(p), precision=32) for p in COMMITTEE]
        _MODELS["generator"] = concord.Model(str(GENERATOR), precision=32)
    res = compute(mol, seed, _MODELS, r)
    store.save(res, results_dir(r))
    return res["name"], res["status"], res.get("reason"), len(res["frames"]), res["timings_s"]["total"]


def run(n, workers, r):
    mols = selection(n, r)
    todo = [(m, seed, r) for seed, m in enumerate(mols, start=(r - 1) * n)
            if store.load(m[0], results_dir(r), fingerprint(r)) is None]
    print(f"active round {r}: {n} molecules, {n - len(todo)} done, {len(todo)} to explore on {workers} "
          f"workers (fingerprint {fingerprint(r)})", flush=True)
    t0, labelled = time.time(), 0
    with mp.get_context("fork").Pool(workers) as pool:
        for k, (name, status, reason, frames, dt) in enumerate(pool.imap(_job, todo, chunksize=1), 1):
            labelled += frames
            if status != "ok":
                print(f"  {name}: {reason}", flush=True)
            if k % 10 == 0 or k == len(todo):
                el = time.time() - t0
                print(f"  {k}/{len(todo)} molecules, {labelled} frames labelled, {el:.0f} s elapsed, "
                      f"~{el / k * (len(todo) - k):.0f} s left", flush=True)


def assemble(n, rnd):
    """The bundled file and the provenance of round `rnd` from the results of its `n` molecules."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    mols = selection(n, rnd)
    out, provenance_out = output(rnd)
    results = [store.load(m[0], results_dir(rnd), fingerprint(rnd)) for m in mols]
    missing = [m[0] for m, r in zip(mols, results) if r is None]
    if missing:
        raise SystemExit(f"active: {len(missing)} selected molecules have no result (run first): {missing[:5]}")
    frames, sources, failed = [], {}, []
    for r in sorted(results, key=lambda r: r["name"]):
        if r["status"] != "ok":
            failed.append({"mol": r["name"], "reason": r["reason"]})
        for f in r["frames"]:
            a = Atoms(symbols=f["symbols"], positions=f["positions"])
            a.info.update(mol=r["name"], config=f["source"], max_devi_f=round(f["max_devi_f"], 4))
            a.calc = SinglePointCalculator(a, energy=f["energy"], forces=np.array(f["forces"]))
            frames.append(a)
            sources[f["source"]] = sources.get(f["source"], 0) + 1
    writers.write_extxyz_gz(out, frames)
    explored = sum(r.get("explored", 0) for r in results)
    provenance = {
        "what": f"active-learning round {rnd} (scripts/data/active.py): "
                + ("hydrogen-bonded protons moved towards their acceptors" if ROUNDS[rnd].scan
                   else "bonds stretched and compressed" if ROUNDS[rnd].stretch
                   else "shared hydrogen-bond protons relaxed on the potential" if ROUNDS[rnd].shared
                   else "where relaxations on the potential end" if ROUNDS[rnd].relax
                   else "frames where the committee disagrees") + ", labelled with GFN2-xTB",
        "round": rnd, "molecules": n, "seed": ACTIVE_SEED, "fingerprint": fingerprint(rnd),
        "explore": {"md_temperatures_K": ROUNDS[rnd].temperatures, "md_steps": ROUNDS[rnd].steps, "timestep_fs": 0.5,
                    "snapshot_every": ROUNDS[rnd].stride, "generator_samples": ROUNDS[rnd].samples,
                    "molecules_with_intramolecular_hbond_only": ROUNDS[rnd].hbond},
        "committee": [str(p.relative_to(config.ROOT)) for p in COMMITTEE],
        "generator": str(GENERATOR.relative_to(config.ROOT)),
        "model_sha256_16": {str(p.relative_to(config.ROOT)): _sha(p) for p in COMMITTEE + [GENERATOR]},
        "trust_max_devi_f_eV_per_A": [ROUNDS[rnd].trust_lo,
                                      ROUNDS[rnd].trust_hi if np.isfinite(ROUNDS[rnd].trust_hi) else None],
        "per_molecule": ROUNDS[rnd].per_molecule, "proton_scan": ROUNDS[rnd].scan and {
            "fractions": ROUNDS[rnd].scan, "acceptor_h_A": SCAN_ACCEPTOR_H, "noise_A": SCAN_NOISE},
        "bond_scan": ROUNDS[rnd].stretch and {"factors": ROUNDS[rnd].stretch, "noise_A": SCAN_NOISE},
        "shared_relax": ROUNDS[rnd].shared and {"fmax_eV_per_A": SHARED_FMAX, "noisy_copies": SHARED_COPIES,
                                                "noise_A": SCAN_NOISE},
        "relax_endpoints": ROUNDS[rnd].relax and {"fmax_eV_per_A": RELAX_FMAX, "mmff_etkdg_seed": RELAX_MMFF_SEED,
                                                  "noise_A": SCAN_NOISE, "generated_samples": ROUNDS[rnd].samples},
        "explored_frames": explored, "candidates": sum(r.get("candidates", 0) for r in results),
        "labelled_frames": len(frames), "by_source": sources, "failed_molecules": failed,
        "xtb": xtb.version(), "xtb_args": config.XTB_SP_ARGS,
        "seconds": round(sum(r["timings_s"]["total"] for r in results), 1),
    }
    writers.write_json(provenance_out, provenance)
    print(f"active round {rnd}: {len(frames)} frames of {n} molecules ({sources}) -> {out}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--round", type=int, default=1, help="round R: molecules and output files of its own")
    ap.add_argument("--molecules", type=int, default=300)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--assemble", action="store_true", help="write the bundled file from the results")
    a = ap.parse_args()
    if a.round not in ROUNDS:
        raise SystemExit(f"active: --round must be one of {sorted(ROUNDS)} (scripts/data/active.py ROUNDS)")
    if a.assemble:
        assemble(a.molecules, a.round)
    else:
        run(a.molecules, a.workers, a.round)


if __name__ == "__main__":
    main()
