"""Does the committee's disagreement flag the frames the potential gets wrong? (issue #16)

For every organic test frame (data/organic-gfn2/test/<group>/<class>.extxyz.gz) the committee's
largest per-atom force deviation (max_devi_f, DeePMD-kit's definition, through the C ABI) is set
against the first model's largest per-atom force error against GFN2-xTB. Reports per class the
medians of both, their Spearman rank correlation over all frames, and how well a threshold on
max_devi_f separates frames whose largest error exceeds 1 eV/Å. Writes a scatter plot.

Usage: python scripts/eval/committee.py --model M0 --model M1 [--model M2 ...] [--out DIR]
(needs CONCORD_LIB_DIR, as `make eval-potential` sets it)
"""
import argparse
import json
import sys
from pathlib import Path

import ase.io
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "plugins" / "lammps" / "tests"))
from concord_c import Model, deviation  # noqa: E402

CLASSES = ["gfn2_min", "pm6_min", "mmff_min", "noise_0.03", "noise_0.05", "noise_0.08", "noise_0.12"]
BAD = 1.0  # eV/Å: a frame whose largest per-atom force error exceeds this is "wrong"


def ranks(x):
    r = np.empty(len(x))
    r[np.argsort(x)] = np.arange(len(x))
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "eval" / "committee")
    a = ap.parse_args()
    models = [Model(p, precision=32) for p in a.model]
    rows, devi, err, cls_of = [], [], [], []
    for cls in CLASSES:
        d_cls, e_cls = [], []
        for group in ("druglike", "everyday"):
            path = ROOT / "data" / "organic-gfn2" / "test" / group / f"{cls}.extxyz.gz"
            for atoms in ase.io.read(path, ":"):
                dev = deviation(models, atoms.numbers, atoms.positions)
                pred = models[0].compute(atoms.numbers, atoms.positions)["forces"]
                e_cls.append(np.linalg.norm(pred - atoms.get_forces(), axis=1).max())
                d_cls.append(dev["max_devi_f"])
        devi += d_cls
        err += e_cls
        cls_of += [cls] * len(d_cls)
        rows.append((cls, len(d_cls), float(np.median(d_cls)), float(np.median(e_cls))))
    devi, err = np.array(devi), np.array(err)
    rho = float(np.corrcoef(ranks(devi), ranks(err))[0, 1])
    bad = err > BAD
    # The threshold that flags as many wrong frames as possible while flagging at most 10 % of
    # the right ones.
    thr = float(np.quantile(devi[~bad], 0.9)) if (~bad).any() else float("nan")
    caught = float((devi[bad] > thr).mean()) if bad.any() else float("nan")
    a.out.mkdir(parents=True, exist_ok=True)
    lines = [f"committee of {len(models)}: " + ", ".join(a.model), "",
             "| frames | n | median max_devi_f (eV/Å) | median largest force error (eV/Å) |", "|---|---|---|---|"]
    lines += [f"| {c} | {n} | {d:.3f} | {e:.3f} |" for c, n, d, e in rows]
    lines += ["", f"Spearman rank correlation of max_devi_f and the largest error over {len(devi)} frames: {rho:.2f}.",
              f"Frames with a largest error above {BAD} eV/Å: {int(bad.sum())}; a threshold max_devi_f > {thr:.3f} eV/Å "
              f"(flags 10 % of the others) catches {100 * caught:.0f} % of them."]
    text = "\n".join(lines) + "\n"
    (a.out / "committee.md").write_text(text)
    (a.out / "committee.json").write_text(json.dumps({"models": a.model, "classes": rows, "spearman": rho,
                                                      "threshold": thr, "caught": caught}, indent=1) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for cls in CLASSES:
        m = np.array(cls_of) == cls
        ax.scatter(devi[m], err[m], s=8, label=cls)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhline(BAD, color="k", lw=0.6, ls="--")
    ax.axvline(thr, color="r", lw=0.6, ls="--")
    ax.set_xlabel("committee max_devi_f (eV/Å)")
    ax.set_ylabel("largest per-atom force error vs GFN2 (eV/Å)")
    ax.set_title(f"organic test frames, Spearman {rho:.2f}", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.out / "committee.png", dpi=110)
    print(text)


if __name__ == "__main__":
    main()
