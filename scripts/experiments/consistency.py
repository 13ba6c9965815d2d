"""The consistency experiment of docs/results.md, end to end and resumable.

Phase 1 trains one multi-task model (potential + structure generator, no consistency) with
configs/experiments/multitask.toml. Phase 2 continues it with the same data and step budget in
four variants -- multi-task only, +optimality, +score, both -- for several seeds. Every model
generates one structure per test molecule (deterministic sampler, fixed seed); the structure
evaluation tool (scripts/eval/structures.py, real GFN2-xTB) scores them next to the PM6 minima
and RDKit; the variants' metrics are aggregated as mean +- sd over seeds into a Markdown table.

Usage (after `source scripts/env.sh`):
    python scripts/experiments/consistency.py [--seeds 1 2 3] [--steps 300] [--molecules 299]
        [--parallel 2] [--out runs/experiments]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The concord binary (CONCORD_BIN overrides it, e.g. a copy that a rebuild cannot replace mid-run).
BIN = Path(os.environ.get("CONCORD_BIN", ROOT / "target" / "release" / "concord"))
PHASE1 = ROOT / "configs" / "experiments" / "multitask.toml"

VARIANTS = {
    # name: (optimality_weight, score_weight)
    "multitask": (0.0, 0.0),
    "optimality": (1.0, 0.0),
    "score": (0.0, 0.1),
    "both": (1.0, 0.1),
}

METRICS = [
    ("gap_relax", "median", "GFN2 gap, median (eV)"),
    ("gap_relax", "mean", "GFN2 gap, mean (eV)"),
    ("rmsd_gfn2_sym", "median", "RMSD to GFN2 min, median (Å)"),
    ("rmsd_gfn2_heavy", "median", "heavy-atom RMSD to GFN2 min, median (Å)"),
    ("rmsd_b3lyp_sym", "median", "RMSD to B3LYP min, median (Å)"),
    ("fmax", "median", "max GFN2 force, median (eV/Å)"),
]


def run(cmd, log):
    """Runs `cmd`, appending its output to `log`; raises with the log's tail on failure."""
    with open(log, "a") as f:
        f.write("$ " + " ".join(map(str, cmd)) + "\n")
        f.flush()
        r = subprocess.run(list(map(str, cmd)), stdout=f, stderr=subprocess.STDOUT, cwd=ROOT)
    if r.returncode != 0:
        tail = Path(log).read_text()[-2000:]
        raise RuntimeError(f"{cmd[0]} failed (see {log}):\n{tail}")


def phase2_config(out, variant, seed, steps, init):
    """Writes the phase-2 config of `variant` and `seed`; returns its path and output folder."""
    text = PHASE1.read_text()
    w_opt, w_score = VARIANTS[variant]
    name = f"{variant}-s{seed}"
    folder = out / name
    repl = {
        'output = "../../runs/experiments/multitask"': f'output = "{folder}"',
        "seed = 1\n": f"seed = {seed}\n",
        "epochs = 3\n": f"epochs = 1\nsteps_per_epoch = {steps}\ninit = \"{init}\"\n",
        "learning_rate = 2e-3\n": "learning_rate = 4e-4\n",
        "final_learning_rate = 4e-4\n": "final_learning_rate = 1e-4\n",
        "optimality_weight = 0.0\n": f"optimality_weight = {w_opt}\n",
        "score_weight = 0.0\n": f"score_weight = {w_score}\n",
        '"../../data/': f'"{ROOT}/data/',
    }
    for a, b in repl.items():
        assert a in text, a
        text = text.replace(a, b)
    path = out / "configs" / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path, folder


def train_and_generate(config, folder, log):
    """Trains (resumable; skipped once the final model exists) and generates one structure
    per test molecule."""
    if not (folder / "model.concord").exists():
        run([BIN, "train", "--config", config], log)
    gen = folder / "gen.extxyz"
    if not gen.exists():
        run([BIN, "generate", "--model", folder / "model.concord", "--graphs",
             ROOT / "data/qm9-gfn2/test_structures.sdf.gz", "--out", gen, "--samples", "1", "--seed", "0"], log)
    return gen


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, default=300, help="phase-2 steps (batches) per variant")
    ap.add_argument("--molecules", type=int, default=299)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "experiments")
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    log = out / "experiment.log"

    print("phase 1: multi-task training", file=sys.stderr)
    p1 = out / "multitask"
    p1_config = out / "configs" / "phase1.toml"
    p1_config.parent.mkdir(parents=True, exist_ok=True)
    p1_config.write_text(PHASE1.read_text().replace('output = "../../runs/experiments/multitask"', f'output = "{p1}"')
                         .replace('"../../data/', f'"{ROOT}/data/'))
    methods = {"phase1": train_and_generate(p1_config, p1, log)}

    print(f"phase 2: {len(VARIANTS)} variants x seeds {args.seeds}, {args.steps} steps each", file=sys.stderr)
    jobs = []
    for seed in args.seeds:
        for variant in VARIANTS:
            config, folder = phase2_config(out, variant, seed, args.steps, p1 / "model.concord")
            jobs.append((f"{variant}-s{seed}", config, folder))
    with ThreadPoolExecutor(args.parallel) as pool:
        futures = {name: pool.submit(train_and_generate, c, f, out / f"{name}.log") for name, c, f in jobs}
        for name, fut in futures.items():
            methods[name] = fut.result()
            print(f"  {name} done", file=sys.stderr)

    print("evaluation with GFN2-xTB", file=sys.stderr)
    eval_out = out / "eval"
    cmd = [sys.executable, ROOT / "scripts/eval/structures.py", "--method", "pm6", "--method", "rdkit",
           "--molecules", args.molecules, "--workers", args.parallel, "--out", eval_out]
    for name, path in methods.items():
        cmd += ["--method", f"{name}={path}"]
    run(cmd, log)
    results = json.loads((eval_out / "results.json").read_text())["methods"]

    def metric(name, key, stat):
        return results[name]["summary"]["all"][key][stat]

    rows = []
    header = "| method | seeds | " + " | ".join(m[2] for m in METRICS) + " | graph valid |"
    rows.append(header)
    rows.append("|" + "---|" * (len(METRICS) + 3))
    for base in ["pm6", "rdkit", "phase1"]:
        vals = [f"{metric(base, k, s):.3f}" for k, s, _ in METRICS]
        ok = results[base]["summary"]["all"]["graph_valid"]["fraction"]
        rows.append(f"| {base} | - | " + " | ".join(vals) + f" | {'' if ok is None else f'{100 * ok:.0f}%'} |")
    summary = {}
    for variant in VARIANTS:
        cells = []
        for k, s, _ in METRICS:
            v = [metric(f"{variant}-s{seed}", k, s) for seed in args.seeds]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append(f"{statistics.mean(v):.3f} ± {sd:.3f}")
            summary.setdefault(variant, {})[f"{k}_{s}"] = v
        ok = [results[f"{variant}-s{seed}"]["summary"]["all"]["graph_valid"]["fraction"] for seed in args.seeds]
        okc = f"{100 * statistics.mean(ok):.0f}%" if all(o is not None for o in ok) else ""
        rows.append(f"| {variant} | {len(args.seeds)} | " + " | ".join(cells) + f" | {okc} |")
    table = "\n".join(rows) + "\n"
    (out / "table.md").write_text(table)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(table)


if __name__ == "__main__":
    main()
