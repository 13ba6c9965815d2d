"""False minima at hydrogen bonds (issue #16): where does a potential put a proton shared with its
hydrogen-bond acceptor?

For every test molecule of the organic set (drug-like and everyday) and every N-H or O-H hydrogen
with an N or O acceptor three or more bonds away within 2.4 Å at the GFN2 minimum (scripts/data/graph.py
`hydrogen_bonds`, the rule active learning's round 2 selects molecules by), the hydrogen is put at
the midpoint of donor and acceptor and the structure relaxed (L-BFGS to 0.01 eV/Å, float64) on
each model and with GFN2-xTB (`xtb --opt tight`). A relaxed structure that fails Concord's sanity
check for the molecule's graph kept the proton off its donor; when the model also puts it below the
GFN2 minimum relaxed on the same model, the model's lowest structure of that molecule is wrong (a
false minimum). GFN2-xTB returns the proton to its donor from these starts.

Usage: python scripts/eval/hbond_probe.py --model NAME=PATH [--model NAME=PATH ...] [--out runs/eval/hbond]
Writes probe.json (one record per hydrogen bond) and table.md.
"""
import argparse
import gzip
import json
import sys

import ase.io
import numpy as np
from rdkit import Chem

import common

sys.path.insert(0, str(common.ROOT / "python"))
import concord  # noqa: E402
import xtb  # noqa: E402
from graph import concord_bonds, hydrogen_bonds  # noqa: E402

ORGANIC = common.ROOT / "data" / "organic-gfn2"
def probe(models, mol, atoms):
    """Records of one molecule's hydrogen bonds, each relaxed from the shared position."""
    symbols, x, z = atoms.get_chemical_symbols(), atoms.positions, [int(v) for v in atoms.numbers]
    bonds = concord_bonds(mol)
    records, minima = [], {}
    for h, donor, acceptor in hydrogen_bonds(symbols, x, bonds):
        if not minima:  # the GFN2 minimum relaxed on each model, once per molecule
            minima = {name: m.compute(z, m.optimize(z, x, fmax=0.01, max_steps=3000)[0])["energy"]
                      for name, m in models.items()}
        start = x.copy()
        start[h] = 0.5 * (x[donor] + x[acceptor])
        rec = {"mol": atoms.info["mol"], "h": h, "donor": donor, "acceptor": acceptor}
        for name, m in models.items():
            relaxed, _ = m.optimize(z, start, fmax=0.01, max_steps=3000)
            problems, message = concord.check_structure(z, bonds, relaxed)
            rec[name] = {"sane": problems == 0, "problem": message[:120],
                         "eV_above_minimum": round(m.compute(z, relaxed)["energy"] - minima[name], 3),
                         "h_donor": round(float(np.linalg.norm(relaxed[h] - relaxed[donor])), 3)}
        g, _ = xtb.optimise(symbols, start)
        rec["gfn2"] = {"sane": concord.check_structure(z, bonds, np.array(g))[0] == 0,
                       "h_donor": round(float(np.linalg.norm(np.array(g)[h] - np.array(g)[donor])), 3)}
        records.append(rec)
    return records


def table(names, records):
    lines = ["| relaxed on | hydrogen bonds | proton back on its donor (sane) | off it, above the minimum | "
             "off it, below the minimum (false minimum) |", "|---|---|---|---|---|"]
    for name in names:
        off = [r[name] for r in records if not r[name]["sane"]]
        below = [o for o in off if o["eV_above_minimum"] < 0]
        lines.append(f"| {name} | {len(records)} | {len(records) - len(off)} | {len(off) - len(below)} | "
                     f"{len(below)}" + (f" (median {np.median([o['eV_above_minimum'] for o in below]):+.2f} eV)" if below else "")
                     + " |")
    sane = sum(r["gfn2"]["sane"] for r in records)
    lines.append(f"| GFN2-xTB | {len(records)} | {sane} | {len(records) - sane} | |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH (repeatable)")
    ap.add_argument("--out", default=str(common.ROOT / "runs" / "eval" / "hbond"))
    a = ap.parse_args()
    models = {}
    for spec in a.model:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"hbond_probe: --model {spec!r}: expected NAME=PATH")
        models[name] = concord.Model(path, precision=64)
    with gzip.open(ORGANIC / "test_structures.sdf.gz") as fh:
        mols = {m.GetProp("_Name"): m for m in Chem.ForwardSDMolSupplier(fh, removeHs=False)}
    records = []
    for group in ("druglike", "everyday"):
        for atoms in ase.io.read(ORGANIC / "test" / group / "gfn2_min.extxyz.gz", ":"):
            records += probe(models, mols[atoms.info["mol"]], atoms)
        print(f"{group}: {len(records)} hydrogen bonds so far", flush=True)
    out = common.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe.json").write_text(json.dumps(records, indent=1) + "\n")
    text = table(list(models), records)
    (out / "table.md").write_text(text)
    print(text, end="")


if __name__ == "__main__":
    main()
