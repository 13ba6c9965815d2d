#!/usr/bin/env python3
"""Learning curve (PNG) of consecutive GPU trainer runs (scripts/gpu/train.py), each continuing
from the previous one's model: denoising loss against structure-data molecules seen.

Usage: python scripts/gpu/plot_runs.py RUN_DIR [RUN_DIR ...] --out curve.png
(each RUN_DIR holds metrics.jsonl and best.safetensors, whose metadata gives the batch size)."""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_io import read_safetensors  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--title", default="generator denoising loss (GPU runs)")
    a = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    seen = 0.0
    for i, run in enumerate(a.runs):
        _, meta = read_safetensors(str(run / "best.safetensors"))
        batch = json.loads(meta["concord_training"])["batch_molecules"]
        recs = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines() if l.strip()]
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
    ax.set_title(a.title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    print(f"-> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
