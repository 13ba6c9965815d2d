"""Bond graphs of the smallest molecules (symbols, bonds as 0-based (i, j, order)) and a LAMMPS
data file holding them, each molecule's atoms piled near its centre (atom_style full)."""

from pathlib import Path

import numpy as np

from harness import write_data

MOLECULES = {
    "water": (["O", "H", "H"], [(0, 1, 1), (0, 2, 1)]),
    "ammonia": (["N", "H", "H", "H"], [(0, 1, 1), (0, 2, 1), (0, 3, 1)]),
    "methane": (["C", "H", "H", "H", "H"], [(0, k, 1) for k in range(1, 5)]),
    "methanol": (["C", "O", "H", "H", "H", "H"],
                 [(0, 1, 1), (0, 2, 1), (0, 3, 1), (0, 4, 1), (1, 5, 1)]),
    "ethane": (["C", "C", "H", "H", "H", "H", "H", "H"],
               [(0, 1, 1), (0, 2, 1), (0, 3, 1), (0, 4, 1), (1, 5, 1), (1, 6, 1), (1, 7, 1)]),
    "formaldehyde": (["C", "O", "H", "H"], [(0, 1, 2), (0, 2, 1), (0, 3, 1)]),
}
TYPES = ["C", "H", "N", "O"]


def write_molecules(path: Path, names: list, spacing: float = 12.0, seed: int = 0):
    """Writes the named molecules on a line `spacing` Å apart (random starting positions within
    0.5 Å of each centre; only the centre matters to concord_generate). Bond type k = order k.
    Returns the box length along x and the list of (name, first atom ID)."""
    rng = np.random.default_rng(seed)
    symbols, x, ids, bonds, starts = [], [], [], [], []
    for m, name in enumerate(names):
        s, b = MOLECULES[name]
        starts.append((name, len(symbols) + 1))
        bonds += [(order, len(symbols) + i + 1, len(symbols) + j + 1) for i, j, order in b]
        centre = np.array([(m + 0.5) * spacing, spacing / 2, spacing / 2])
        x += list(centre + rng.uniform(-0.5, 0.5, size=(len(s), 3)))
        symbols += s
        ids += [m + 1] * len(s)
    length = spacing * len(names)
    write_data(path, symbols, np.array(x), [0.0] * 3, [length, spacing, spacing], TYPES,
               molecule_ids=ids, bonds=bonds)
    # Declare bond types 1-3 even when only single bonds occur (bondorder 1 2 3).
    text = path.read_text().replace(f"{max(b[0] for b in bonds)} bond types", "3 bond types")
    path.write_text(text)
    return starts
