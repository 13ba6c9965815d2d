"""Two builds of libconcord.so side by side in one process, calls alternated, so that the
machine's drifting speed (up to 40 % within minutes on a shared VM) cancels out of the ratio.

    python scripts/eval/ab_builds.py generate DIR_A DIR_B [--rounds 3]
    python scripts/eval/ab_builds.py liquid DIR_A DIR_B [--cells 5] [--rounds 20]

`generate`: `concord_generate` (the shipped generator, 4 samples, 32 levels, its default churn)
on the first 48 QM9 test graphs; prints structures/s of each build, the time ratio B/A and
the largest coordinate difference. `liquid`: `concord_compute` (the shipped potential, float32)
on liquid ethanol at 0.79 g/cm3 (`--cells 5`: 1,125 atoms, as LAMMPS's bench); prints µs per
atom and the median of the paired ratios B/A, with the energy and force differences. DIR_A
and DIR_B hold a libconcord.so each (e.g. target/release and a copy of an earlier build).
"""
import argparse
import ctypes
import gzip
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "lammps" / "tests"))
sys.path.insert(0, str(ROOT / "plugins" / "lammps" / "bench"))
MODELS = ROOT / "examples" / "models"
VOIDP = ctypes.c_void_p


def load(lib_dir: str, model: Path):
    """A private copy of `lib_dir`/libconcord.so (two copies load as two libraries) and a
    float32 model handle in it."""
    copy = Path(tempfile.mkdtemp()) / "libconcord.so"
    shutil.copy(Path(lib_dir) / "libconcord.so", copy)
    lib = ctypes.CDLL(str(copy))
    lib.concord_last_error.restype = ctypes.c_char_p
    lib.concord_model_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32,
                                       ctypes.POINTER(VOIDP)]
    lib.concord_compute.argtypes = [VOIDP, ctypes.c_int64] + [VOIDP] * 9
    lib.concord_generate.argtypes = [VOIDP, ctypes.c_int64, VOIDP, ctypes.c_int64, VOIDP, VOIDP,
                                     VOIDP, ctypes.c_int64, ctypes.c_uint64, ctypes.c_int32,
                                     ctypes.c_double, VOIDP]
    handle = VOIDP()
    if lib.concord_model_load(str(model).encode(), b"cpu", 32, ctypes.byref(handle)) != 0:
        raise RuntimeError(lib.concord_last_error().decode())
    return lib, handle


def qm9_graphs(count: int = 48):
    """(atomic numbers, bond first, bond second, bond order) of the first QM9 test graphs."""
    from rdkit import Chem
    orders = {Chem.BondType.SINGLE: 1, Chem.BondType.DOUBLE: 2, Chem.BondType.TRIPLE: 3,
              Chem.BondType.AROMATIC: 4}
    with gzip.open(ROOT / "data" / "qm9-gfn2" / "test_structures.sdf.gz") as f:
        mols = [m for m in Chem.ForwardSDMolSupplier(f, removeHs=False, sanitize=False)][:count]
    arr = lambda xs: np.ascontiguousarray(xs, dtype=np.int32)  # noqa: E731
    return [(arr([a.GetAtomicNum() for a in m.GetAtoms()]),
             arr([b.GetBeginAtomIdx() for b in m.GetBonds()]),
             arr([b.GetEndAtomIdx() for b in m.GetBonds()]),
             arr([orders[b.GetBondType()] for b in m.GetBonds()])) for m in mols]


def generate(builds, rounds: int) -> None:
    """Structures/s of each build on the same graphs and seeds, calls alternated."""
    graphs, k = qm9_graphs(), 4
    spent, first = [0.0, 0.0], [[], []]
    for r in range(rounds):
        for m, (z, b1, b2, order) in enumerate(graphs):
            for which in (0, 1) if (m + r) % 2 == 0 else (1, 0):
                lib, handle = builds[which]
                pos = np.zeros((k, len(z), 3))
                t = time.perf_counter()
                status = lib.concord_generate(handle, len(z), z.ctypes.data, len(b1), b1.ctypes.data,
                                              b2.ctypes.data, order.ctypes.data, k, m, 32, -1.0,
                                              pos.ctypes.data)
                spent[which] += time.perf_counter() - t
                if status != 0:
                    raise RuntimeError(lib.concord_last_error().decode())
                if r == 0:
                    first[which].append(pos)
    n = rounds * len(graphs) * k
    dx = max(float(np.abs(a - b).max()) for a, b in zip(*first))
    print(f"A {n / spent[0]:.1f} structures/s, B {n / spent[1]:.1f} structures/s, "
          f"time B/A {spent[1] / spent[0]:.3f}, largest position difference {dx:.2e} Å")


def liquid(builds, cells: int, rounds: int) -> None:
    """µs per atom of each build on liquid ethanol, calls alternated."""
    from ase.build import molecule
    from ase.data import atomic_numbers
    from bench import ETHANOL_SPACING
    from harness import molecule_box
    symbols, x, _, length = molecule_box([molecule("CH3CH2OH")], cells, ETHANOL_SPACING, seed=2,
                                         min_gap=1.5)
    z = np.ascontiguousarray([atomic_numbers[s] for s in symbols], dtype=np.int32)
    x = np.ascontiguousarray(x, dtype=np.float64)
    cell = np.ascontiguousarray(np.eye(3) * length)
    outs = [(np.zeros(1), np.zeros((len(z), 3))) for _ in builds]
    calls = []
    for (lib, handle), (e, f) in zip(builds, outs):
        args = (handle, len(z), z.ctypes.data, x.ctypes.data, cell.ctypes.data, None,
                e.ctypes.data, f.ctypes.data, None, None, None)
        if lib.concord_compute(*args) != 0:  # warm-up
            raise RuntimeError(lib.concord_last_error().decode())
        calls.append((lib, args))
    times = [[], []]
    for r in range(rounds):
        for which in (0, 1) if r % 2 == 0 else (1, 0):
            lib, args = calls[which]
            t = time.perf_counter()
            lib.concord_compute(*args)
            times[which].append(time.perf_counter() - t)
    a, b = (np.array(t) * 1e6 / len(z) for t in times)
    print(f"{len(z)} atoms: A median {np.median(a):.1f} µs/atom, B median {np.median(b):.1f}; "
          f"median paired ratio B/A {np.median(b / a):.3f}; energy difference "
          f"{outs[1][0][0] - outs[0][0][0]:.2e} eV, largest force difference "
          f"{np.abs(outs[1][1] - outs[0][1]).max():.2e} eV/Å")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=["generate", "liquid"])
    ap.add_argument("dir_a")
    ap.add_argument("dir_b")
    ap.add_argument("--rounds", type=int, help="alternations (generate: 3, liquid: 20)")
    ap.add_argument("--cells", type=int, default=5, help="liquid: ethanol molecules per box edge (5: 1,125 atoms)")
    a = ap.parse_args()
    model = MODELS / ("concord-generator.concord" if a.what == "generate" else "concord-qm9-gfn2.concord")
    builds = [load(a.dir_a, model), load(a.dir_b, model)]
    if a.what == "generate":
        generate(builds, a.rounds or 3)
    else:
        liquid(builds, a.cells, a.rounds or 20)


if __name__ == "__main__":
    main()
