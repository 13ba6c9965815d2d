"""The potential's errors against GFN2-xTB by frame class: issue #16's table for one or more models.

Runs `concord eval --json` (float32, the CPU default) on every class file of the organic test set
(data/organic-gfn2/test/<group>/<class>.extxyz.gz) and on the QM9 test split, and writes a
markdown table (force MAE/RMSE in meV/Å, energy MAE per molecule in eV) per model. The last column,
on the organic classes, is the error of each frame's energy relative to its molecule's GFN2 minimum
(E(frame) − E(minimum), model against label; MAE and mean signed error in eV, through the C ABI,
so it needs CONCORD_LIB_DIR, as `make eval-potential` sets it):
what conformer and MD energies depend on, and, unlike the energy per molecule, untouched by the
per-element reference energies (`concord refit-reference`), which cancel within a molecule.

With `--out`, also draws force parity plots per frame class (`<out stem>_<model>_parity.png`),
computed through the C ABI (needs CONCORD_LIB_DIR, as `make eval-potential` sets it).

With `--by-config FILE` (e.g. an active-learning round, data/organic-gfn2/train_active_<R>.extxyz.gz),
instead the errors on that file's frames per `config` info key: force MAE, energy MAE, the median
signed energy error (model − label; negative: the model's surface is too low there) and the share of
frames more than 1 eV off (float32, through the C ABI; needs CONCORD_LIB_DIR).

Usage: python scripts/eval/potential.py --model NAME=PATH [--model ...] [--out table.md]
       python scripts/eval/potential.py --model NAME=PATH [--model ...] --by-config FILE
"""
import argparse
import gzip
import io
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONCORD = ROOT / "target" / "release" / "concord"
CLASSES = ["gfn2_min", "pm6_min", "mmff_min", "md_300K", "md_600K", "noise_0.03", "noise_0.05", "noise_0.08",
           "noise_0.12"]  # md_*: GFN2-xTB MD snapshots (make data-thermal-test), where present
GROUPS = ["druglike", "everyday"]
QM9 = {"qm9 test: thermal frames": "data/qm9-gfn2/test_forces.extxyz.gz",
       "qm9 test: GFN2 minima": "data/qm9-gfn2/test_gfn2_min.extxyz.gz"}


def files():
    """[(row label, path)] of every evaluated file that exists."""
    out = [(f"{g}: {c}", ROOT / "data" / "organic-gfn2" / "test" / g / f"{c}.extxyz.gz")
           for c in CLASSES for g in GROUPS]
    out += [(k, ROOT / v) for k, v in QM9.items()]
    return [(k, p) for k, p in out if p.exists()]


def frames(path):
    """The frames of an extended-XYZ file (ASE Atoms), read from memory: ASE seeks back to each
    frame, which in a gzip stream means decompressing from the start again."""
    import ase.io
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        text = io.StringIO(f.read())
    return ase.io.iread(text, ":", format="extxyz")


def evaluate(model, paths):
    res = subprocess.run([str(CONCORD), "eval", "--json", "--model", str(model), "--data", *map(str, paths)],
                         check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def parity_plot(name, model, path):
    """Force components, model vs GFN2-xTB, one panel per frame class (both groups pooled)."""
    import sys

    import matplotlib
    import numpy as np
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sys.path.insert(0, str(ROOT / "plugins" / "lammps" / "tests"))
    from concord_c import Model

    m = Model(model, precision=32)
    test = ROOT / "data" / "organic-gfn2" / "test"
    classes = [c for c in CLASSES if any((test / g / f"{c}.extxyz.gz").exists() for g in GROUPS)]
    fig, axes = plt.subplots(1, len(classes), figsize=(3.2 * len(classes), 3.4))
    for ax, cls in zip(axes, classes):
        ref, got = [], []
        for g in GROUPS:
            f = test / g / f"{cls}.extxyz.gz"
            for a in frames(f) if f.exists() else []:
                ref.append(a.get_forces().ravel())
                got.append(m.compute(a.numbers, a.positions)["forces"].ravel())
        ref, got = np.concatenate(ref), np.concatenate(got)
        lim = np.percentile(np.abs(np.concatenate([ref, got])), 99.9) * 1.1
        ax.hexbin(ref, got, gridsize=60, bins="log", extent=(-lim, lim, -lim, lim), cmap="viridis")
        ax.plot([-lim, lim], [-lim, lim], "r-", lw=0.6)
        mae = 1000 * np.abs(got - ref).mean()
        ax.set_title(f"{cls}\nMAE {mae:.0f} meV/Å", fontsize=9)
        ax.set_xlabel("GFN2-xTB force (eV/Å)", fontsize=8)
    axes[0].set_ylabel(f"{name} force (eV/Å)", fontsize=8)
    fig.suptitle(f"{name}: organic test molecules (drug-like + everyday), force components", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def relative_errors(minima, rows):
    """{key: [eV]} of the errors (model − label) of E(frame) − E(its molecule's minimum), for
    `rows` of (key, molecule, model energy, label energy) and `minima` {molecule: (model energy,
    label energy)}; frames of a molecule without a minimum are left out."""
    from collections import defaultdict
    out = defaultdict(list)
    for key, mol, e, ref in rows:
        if mol in minima:
            out[key].append((e - minima[mol][0]) - (ref - minima[mol][1]))
    return out


def relative_energies(model, rows):
    """{row label: (MAE, mean signed error) in eV} of E(frame) − E(the molecule's GFN2 minimum),
    model against label, for the organic classes (float32, through the C ABI)."""
    import sys

    import numpy as np
    sys.path.insert(0, str(ROOT / "plugins" / "lammps" / "tests"))
    from concord_c import Model

    m = Model(model, precision=32)
    out = {}
    for g in GROUPS:
        test = ROOT / "data" / "organic-gfn2" / "test" / g

        def energies(label, path):
            return [(label, a.info["mol"], m.compute(a.numbers, a.positions)["energy"], a.get_potential_energy())
                    for a in frames(path)]

        if not (test / "gfn2_min.extxyz.gz").exists():
            continue
        minima = {mol: (e, ref) for _, mol, e, ref in energies(None, test / "gfn2_min.extxyz.gz")}
        errors = relative_errors(minima, [row for label, path in rows
                                          if path.parent == test and not path.name.startswith("gfn2_min")
                                          for row in energies(label, path)])
        out.update({label: (np.abs(d).mean(), np.mean(d)) for label, d in errors.items()})
    return out


def by_config(name, model, path):
    """Markdown rows of `model`'s errors on the frames of `path`, grouped by their `config`."""
    import sys
    from collections import defaultdict

    import numpy as np
    sys.path.insert(0, str(ROOT / "plugins" / "lammps" / "tests"))
    from concord_c import Model

    m = Model(model, precision=32)
    groups = defaultdict(lambda: ([], []))
    for a in frames(path):
        r = m.compute(a.numbers, a.positions)
        forces, energies = groups[a.info.get("config", "?")]
        forces.append(np.abs(r["forces"] - a.get_forces()).mean())
        energies.append(r["energy"] - a.get_potential_energy())
    lines = []
    for cfg, (forces, energies) in sorted(groups.items()):
        de = np.array(energies)
        lines.append(f"| {name} | {cfg} | {len(de)} | {1000 * np.mean(forces):.0f} | {np.abs(de).mean():.2f} | "
                     f"{np.median(de):+.2f} | {100 * (np.abs(de) > 1).mean():.0f} % |")
    return lines


def table(name, rows, metrics, relative):
    lines = [f"### {name}", "", "| frames | n | force MAE (meV/Å) | force RMSE (meV/Å) | RMSE/MAE | "
             "energy MAE per molecule (eV) | energy relative to the GFN2 minimum: MAE (mean) (eV) |",
             "|---|---|---|---|---|---|---|"]
    for label, path in rows:
        m = metrics[str(path)]
        mae, rmse = 1000 * m["force_mae"], 1000 * m["force_rmse"]
        rel = f"{relative[label][0]:.3f} ({relative[label][1]:+.3f})" if label in relative else ""
        lines.append(f"| {label} | {m['n_energies']} | {mae:.0f} | {rmse:.0f} | {rmse / mae:.1f} | "
                     f"{m['energy_mae']:.3f} | {rel} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True, help="NAME=PATH of a model file")
    ap.add_argument("--out", type=Path, help="markdown file for the tables (default: print)")
    ap.add_argument("--by-config", type=Path, help="errors on this file's frames per `config` instead")
    a = ap.parse_args()
    if a.by_config:
        print(f"{a.by_config}\n\n| model | config | frames | force MAE (meV/Å) | energy MAE (eV) | "
              "median model − label (eV) | more than 1 eV off |\n|---|---|---|---|---|---|---|")
        for spec in a.model:
            name, _, path = spec.partition("=")
            print("\n".join(by_config(name, path, a.by_config)), flush=True)
        return
    rows = files()
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
    text, all_metrics = [], {}
    for spec in a.model:
        name, _, path = spec.partition("=")
        metrics = evaluate(path, [p for _, p in rows])
        relative = relative_energies(path, rows)
        all_metrics[name] = {"model": path, "metrics": metrics,
                             "relative_energy": {k: {"mae": v[0], "mean": v[1]} for k, v in relative.items()}}
        text.append(table(name, rows, metrics, relative))
        if a.out:
            parity_plot(name, path, a.out.parent / f"{a.out.stem}_{name}_parity.png")
    out = "\n".join(text)
    if a.out:
        a.out.write_text(out)
        a.out.with_suffix(".json").write_text(json.dumps(all_metrics, indent=1) + "\n")
    print(out)


if __name__ == "__main__":
    main()
