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
