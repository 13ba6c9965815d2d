"""GFN2-xTB energy + gradient timings with tblite, in process, one thread, for the molecules of
an extended-XYZ file (Å). Prints one JSON list: the median seconds per call of each molecule.
Called by benches/potential.rs (make bench) so both are measured in one run."""
import json
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np  # noqa: E402
from ase.io import read  # noqa: E402
from tblite.interface import Calculator  # noqa: E402

BOHR = 1.0 / 0.529177210903


def main():
    frames = read(sys.argv[1], ":")
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    out = []
    for atoms in frames:
        calc = Calculator("GFN2-xTB", atoms.numbers, atoms.positions * BOHR)
        calc.set("verbosity", 0)
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            res = calc.singlepoint()
            res.get("gradient")
            times.append(time.perf_counter() - t)
        out.append(statistics.median(times))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
