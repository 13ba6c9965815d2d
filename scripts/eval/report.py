"""Markdown table and PNG figures of an evaluation result (the dict written to results.json).

Run as a script to redraw them from an existing result: python scripts/eval/report.py OUT_DIR
"""
import json
import os
import sys

import numpy as np

import common  # noqa: F401  (sys.path for scripts/data)
from metrics import fmt

HEADER = ("| method | k | ok / expected | RMSD→GFN2 min, all atoms: median / mean (Å) | heavy atoms: median (Å) "
          "| all atoms, symmetry-corrected: median (Å) "
          "| RMSD→B3LYP min, all atoms: median (Å) | GFN2 gap to relaxed: median / mean (eV) "
          "| E − E(GFN2 min): median (eV) | max GFN2 force: median (eV/Å) | graph valid | stereo valid "
          "| relaxed below ref. min |")


def _pct(s):
    f = s["fraction"]
    if f is None:
        return "–"
    return f"{100 * f:.0f}%" if f in (0, 1) else f"{100 * f:.1f}%"


def _row(label, k, ok, expected, s):
    return (f"| {label} | {k} | {ok} / {expected} "
            f"| {fmt(s['rmsd_gfn2_all']['median'])} / {fmt(s['rmsd_gfn2_all']['mean'])} "
            f"| {fmt(s['rmsd_gfn2_heavy']['median'])} | {fmt(s['rmsd_gfn2_sym']['median'])} "
            f"| {fmt(s['rmsd_b3lyp_all']['median'])} "
            f"| {fmt(s['gap_relax']['median'])} / {fmt(s['gap_relax']['mean'])} "
            f"| {fmt(s['gap_ref']['median'])} | {fmt(s['fmax']['median'])} "
            f"| {_pct(s['graph_valid'])} | {_pct(s['stereo_valid'])} | {_pct(s['relaxed_below_ref'])} |")


def markdown(result):
    """One row per method (for k > 1: all samples pooled, and best of k per molecule)."""
    lines = [f"Test molecules: {result['molecules']}. \"ok\" = structures with every xtb call successful; "
             "statistics are over the structures where each quantity is defined.", "",
             HEADER, "|" + "---|" * (HEADER.count("|") - 1)]
    for name, m in result["methods"].items():
        ok = m["structures"] - m["xtb_failed"]
        if m["k"] > 1:
            lines.append(_row(f"{name} (all samples)", m["k"], ok, m["expected"], m["summary"]["all"]))
            lines.append(_row(f"{name} (best of {m['k']})", m["k"], m["molecules_ok"], m["molecules"],
                              m["summary"]["best_of_k"]))
        else:
            lines.append(_row(name, m["k"], ok, m["expected"], m["summary"]["all"]))
    notes = []
    for name, m in result["methods"].items():
        if m["failure_reasons"]:
            notes.append(f"- {name}: " + ", ".join(f"{k} × {v}" for k, v in sorted(m["failure_reasons"].items())))
        for k, v in m["notes"].items():
            if v:
                notes.append(f"- {name}: {k} = {v}")
    if notes:
        lines += ["", "Failures and notes:"] + notes
    t = result["timings"]["structures"]
    lines += ["", f"xtb time: {t['computed']} structures computed, {t['cached']} from cache; "
              f"{fmt(t['xtb_s_per_computed_structure'], 2)} s of xtb per computed structure (single point + "
              f"relaxation + single point), {fmt(t['wall_s_per_computed_structure'], 2)} s wall per structure "
              f"with {result['workers']} workers ({fmt(t.get('xtb_s_per_structure_incl_cached'), 2)} s of xtb per structure "
              f"including cached ones, as originally computed); total {result['timings']['total_wall_s']:.0f} s.", ""]
    return "\n".join(lines)


def _values(result, method, metric):
    return np.array([r["metrics"][metric] for r in result["records"]
                     if r["method"] == method and r["metrics"].get(metric) is not None], dtype=float)


def _box(ax, data, names, floor):
    """Box plot (25-75 %, whiskers 5-95 %) with the individual values as jittered points;
    values below `floor` are drawn at the floor (for log axes)."""
    data = [np.maximum(d, floor) if len(d) else np.array([np.nan]) for d in data]
    ax.boxplot(data, showfliers=False, whis=(5, 95), widths=0.6, zorder=3,
               medianprops={"color": "black", "linewidth": 2})
    rng = np.random.default_rng(0)
    for i, d in enumerate(data, 1):
        size, alpha = (18, 0.8) if len(d) < 50 else (7, 0.4)
        ax.scatter(i + rng.uniform(-0.22, 0.22, len(d)), d, s=size, alpha=alpha, color=f"C{(i - 1) % 10}",
                   lw=0, zorder=2)
    ax.set_xticks(range(1, len(names) + 1))
    ax.set_xticklabels(names, rotation=20, ha="right")
    ax.grid(axis="y", which="major", alpha=0.4)


def plots(result, mol_order, out):
    """energy_gaps.png (box plots of the two GFN2 gaps per method, log axes), rmsd.png (RMSD box
    plots, to the GFN2 and B3LYP minima, plain and symmetry-corrected), energy_per_molecule.png (E_GFN2(structure) - E_GFN2(GFN2 min) per molecule, the
    analogue of Figure 2 of Ren et al. 2024)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(result["methods"])
    w = max(8, 1.3 * len(names) + 4)

    fig, axes = plt.subplots(1, 2, figsize=(w, 4.8))
    floor = 1e-4
    _box(axes[0], [_values(result, n, "gap_relax") for n in names], names, floor)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("E(structure) − E(relaxed from it)  [eV]")
    axes[0].set_title("GFN2 energy gap to the relaxed structure")
    _box(axes[1], [_values(result, n, "gap_ref") for n in names], names, -np.inf)
    axes[1].set_yscale("symlog", linthresh=1e-2)
    axes[1].axhline(0, color="grey", lw=0.8)
    axes[1].set_ylabel("E(structure) − E(reference GFN2 min)  [eV]")
    axes[1].set_title("GFN2 energy above the reference minimum")
    for ax in axes:
        ax.axhline(0.03, color="red", ls="--", lw=0.8)
    axes[0].text(0.99, 0.03, " 0.03 eV", color="red", fontsize=8, va="bottom", ha="right",
                 transform=axes[0].get_yaxis_transform())
    fig.suptitle(f"GFN2-xTB energies, {result['molecules']} test molecules (gap floor {floor:g} eV on the log axis; "
                 "boxes 25–75%, whiskers 5–95%)", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "energy_gaps.png"), dpi=130)
    plt.close(fig)

    fig, axes = plt.subplots(2, 2, figsize=(w, 8.5), sharey=True)
    floor = 1e-3
    for i, (ref, ref_title) in enumerate((("gfn2", "GFN2 minimum"), ("b3lyp", "B3LYP (QM9) minimum"))):
        for j, (kind, kind_title) in enumerate((("all", "all atoms, atom order as given"),
                                                ("sym", "all atoms, best over symmetry-equivalent atoms"))):
            ax = axes[i, j]
            _box(ax, [_values(result, n, f"rmsd_{ref}_{kind}") for n in names], names, floor)
            ax.set_yscale("log")
            ax.set_title(f"RMSD to the {ref_title}\n({kind_title})", fontsize=10)
        axes[i, 0].set_ylabel(f"Kabsch RMSD [Å] (floor {floor:g})")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "rmsd.png"), dpi=130)
    plt.close(fig)

    # Figure-2 analogue: per molecule, E(structure) - E(GFN2 min); molecules sorted by the first
    # method's value; several samples -> their median; relax-check methods (~0) left out.
    order = list(mol_order)
    names = [n for n in names if not n.endswith("+relaxed")] or names
    per = {}
    for n in names:
        d = {}
        for r in result["records"]:
            if r["method"] == n and r["metrics"].get("gap_ref") is not None:
                d.setdefault(r["mol"], []).append(r["metrics"]["gap_ref"])
        per[n] = {k: float(np.median(v)) for k, v in d.items()}
    first = per[names[0]]
    order.sort(key=lambda m: first.get(m, np.inf))
    x = {m: i for i, m in enumerate(order)}
    fig, ax = plt.subplots(figsize=(max(9, min(16, len(order) / 20 + 7)), 5))
    for i, n in enumerate(names):
        ms = [m for m in order if m in per[n]]
        ax.scatter([x[m] for m in ms], [per[n][m] for m in ms], s=14 if len(order) < 50 else 8, label=n,
                   alpha=0.8, marker="osD^v<>"[i % 7], lw=0, color=f"C{i % 10}")
    ax.set_yscale("symlog", linthresh=1e-2)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_xlabel(f"test molecule (sorted by {names[0]})")
    ax.set_ylabel("E_GFN2(structure) − E_GFN2(GFN2 min)  [eV]")
    ax.set_title("GFN2 energy above the reference GFN2 minimum, per molecule (median over samples)", fontsize=10)
    ax.legend(fontsize=8, markerscale=1.5, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.grid(alpha=0.3, which="major")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "energy_per_molecule.png"), dpi=130)
    plt.close(fig)


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: report.py OUT_DIR  (a directory with results.json)")
    out = sys.argv[1]
    with open(os.path.join(out, "results.json")) as f:
        result = json.load(f)
    order = list(dict.fromkeys(r["mol"] for r in result["records"]))
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write(markdown(result))
    plots(result, order, out)
    print(f"redrew {out}/table.md and *.png")


if __name__ == "__main__":
    main()
