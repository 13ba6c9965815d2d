#!/usr/bin/env python3
"""Learning curve (PNG) of consecutive GPU trainer runs (scripts/gpu/train.py), each continuing
from the previous one's model: the denoising loss against structure-data molecules seen, or for
potential runs (no denoising) the validation force MAE (meV/Å) and, when the runs fit relative
energies, the relative-energy MAE (meV per molecule) against frames seen.

Usage: python scripts/gpu/plot_runs.py RUN_DIR [RUN_DIR ...] --out curve.png
(each RUN_DIR holds metrics.jsonl and best.safetensors, whose metadata gives the batch sizes)."""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_io import read_safetensors  # noqa: E402


def draw_denoising(ax, runs, title):
    """Training and validation denoising loss against molecules seen."""
    seen = 0.0
    for i, (record, recs) in enumerate(runs):
        batch = record["batch_molecules"]
        recs = [r for r in recs if "train_denoise" in r]
        for r in recs:  # the first runs' key
            r.setdefault("validation_denoise", r.get("validation_denoise_ema"))
        x = [(seen + r["step"] * batch) / 1e6 for r in recs]
        ax.plot(x, [r["train_denoise"] for r in recs], "o-", color="C0", alpha=0.6,
                label="training (mean since last point)" if i == 0 else None)
        ax.plot(x, [r["validation_denoise"] for r in recs], "s-", color="C1",
                label="validation (EMA parameters)" if i == 0 else None)
        if i:
            ax.axvline(seen / 1e6, color="grey", lw=0.8, ls=":")
        seen += recs[-1]["step"] * batch
    ax.set_xlabel("molecules seen (millions)")
    ax.set_ylabel("EDM denoising loss")
    ax.set_title(title)


def draw_potential(ax, runs, title):
    """Validation force MAE (and relative-energy MAE on a second axis, returned) against frames
    seen."""
    seen, twin = 0.0, None
    for i, (record, recs) in enumerate(runs):
        batch = record["args"]["frame_batch"]
        recs = [r for r in recs if "validation_force_mae" in r]
        x = [(seen + r["step"] * batch) / 1e6 for r in recs]
        ax.plot(x, [1000 * r["validation_force_mae"] for r in recs], "s-", color="C1",
                label="validation force MAE (EMA parameters)" if i == 0 else None)
        if any("validation_relative_mae" in r for r in recs):
            twin = twin or ax.twinx()
            twin.plot(x, [1000 * r.get("validation_relative_mae", float("nan")) for r in recs], "o--",
                      color="C2", label="validation relative-energy MAE" if i == 0 else None)
            twin.set_ylabel("relative-energy MAE (meV per molecule)", color="C2")
        if i:
            ax.axvline(seen / 1e6, color="grey", lw=0.8, ls=":")
        seen += recs[-1]["step"] * batch
    ax.set_xlabel("frames seen (millions)")
    ax.set_ylabel("force MAE (meV/Å)", color="C1")
    ax.set_title(title)
    return twin


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--title", default="GPU training runs")
    a = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = []
    for run in a.runs:
        _, meta = read_safetensors(str(run / "best.safetensors"))
        record = json.loads(meta["concord_training"])
        recs = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
        runs.append((record, recs))
    potential = not any("train_denoise" in r for _, recs in runs for r in recs)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    twin = draw_potential(ax, runs, a.title) if potential else draw_denoising(ax, runs, a.title)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    if twin is not None:
        more = twin.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, loc="upper right")
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"-> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
