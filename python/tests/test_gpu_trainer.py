"""The PyTorch trainer (scripts/gpu/train.py) against the Rust model: export -> a few
multi-task training steps on the CPU (denoising, energies, forces, relative energies) -> import,
and the refusal to train when the two implementations disagree. Needs PyTorch (present on the GPU
machines; skipped without it)."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "target" / "release" / "concord"
TRAINER = ROOT / "scripts" / "gpu" / "train.py"
INIT = ROOT / "examples" / "models" / "candidates" / "generator-phase-a.concord"


def config(tmp_path, init):
    text = (ROOT / "configs" / "tiny-generator.toml").read_text()
    text = text.replace('"../data/', f'"{ROOT}/data/')
    text = text.replace("checkpoint_minutes = 0.05", f'checkpoint_minutes = 0.05\ninit = "{init}"')
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def export(tmp_path, init):
    out = tmp_path / "export.safetensors.gz"
    subprocess.run(
        [CLI, "export-data", "--config", config(tmp_path, init), "--out", out, "--reference", "4"],
        check=True,
    )
    return out


def train(data, init, out, *extra):
    return subprocess.run(
        [sys.executable, TRAINER, "--data", data, "--init", init, "--out", out, "--device", "cpu",
         "--batch", "4", "--frame-batch", "4", "--max-steps", "3", "--minutes", "5",
         "--energy-weight", "1000", "--force-weight", "10", "--fresh-energy-head", *extra],
        capture_output=True, text=True,
    )


def test_trains_from_an_export_and_imports_back(tmp_path):
    data = export(tmp_path, INIT)
    run = train(data, INIT, tmp_path / "out")
    assert run.returncode == 0, run.stderr
    deviation = float(run.stdout.split("max deviation ")[1].split()[0])
    assert deviation < 1e-12
    for name in ["best.safetensors", "last.safetensors", "metrics.jsonl"]:
        assert (tmp_path / "out" / name).exists()
    last = json.loads((tmp_path / "out" / "metrics.jsonl").read_text().splitlines()[-1])
    for key in ["validation_denoise", "validation_energy_mae", "validation_force_mae"]:
        assert last[key] > 0
    model = tmp_path / "trained.concord"
    subprocess.run([CLI, "import-parameters", "--model", INIT, "--parameters",
                    tmp_path / "out" / "last.safetensors", "--out", model], check=True)
    info = json.loads(subprocess.run([CLI, "inspect", model], capture_output=True,
                                     text=True, check=True).stdout)
    assert info["training"]["external"]["step"] == 3

    # The export's reference outputs belong to its init model: another model is refused.
    other = train(data, model, tmp_path / "other")
    assert other.returncode == 1
    assert "disagrees with Concord's" in other.stderr
    assert not (tmp_path / "other" / "best.safetensors").exists()


def test_trains_with_the_relative_energy_term(tmp_path):
    data = export(tmp_path, INIT)
    run = train(data, INIT, tmp_path / "out", "--relative-energy-weight", "1000")
    assert run.returncode == 0, run.stderr
    # The check covers the relative-energy MSE of the reference frames' pairs too.
    assert float(run.stdout.split("max deviation ")[1].split()[0]) < 1e-12
    last = json.loads((tmp_path / "out" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["validation_relative_mae"] > 0
    assert last["validation_relative_mse"] > 0
    assert last["validation_loss"] > 1000 * last["validation_relative_mse"]


def squeezed_frame(tmp_path):
    """The tiny set's first frame with its last hydrogen pulled to 0.5 Å of its nearest atom
    (inside the ZBL core, where the network is still smooth), as a file."""
    with gzip.open(ROOT / "data" / "qm9-gfn2" / "tiny" / "train_forces.extxyz.gz", "rt") as fh:
        lines = fh.read().splitlines()
    n = int(lines[0])
    rows = [line.split() for line in lines[2 : 2 + n]]
    x = [[float(v) for v in r[1:4]] for r in rows]
    h = max(i for i, r in enumerate(rows) if r[0] == "H")
    dist = lambda i: sum((x[i][k] - x[h][k]) ** 2 for k in range(3)) ** 0.5  # noqa: E731
    j = min((i for i in range(n) if i != h), key=dist)
    x[h] = [x[j][k] + 0.5 * (x[h][k] - x[j][k]) / dist(j) for k in range(3)]
    atoms = [" ".join([r[0], *(f"{v:.8f}" for v in x[i]), *r[4:7]]) for i, r in enumerate(rows)]
    path = tmp_path / "squeezed.extxyz"
    path.write_text("\n".join([str(n), lines[1].replace("mol=", "mol=squeezed_", 1), *atoms]) + "\n")
    return path


def test_the_zbl_core_is_part_of_the_checked_energy(tmp_path):
    init = ROOT / "examples" / "models" / "concord-qm9-gfn2.concord"  # has the ZBL core
    text = (ROOT / "configs" / "tiny.toml").read_text().replace('"../data/', f'"{ROOT}/data/')
    text = text.replace("checkpoint_minutes = 0.05", f'checkpoint_minutes = 0.05\ninit = "{init}"')
    text += (f'\n[[dataset]]\nname = "squeezed"\npath = "{squeezed_frame(tmp_path)}"\n'
             'level = "GFN2-xTB"\ntasks = ["energy", "forces"]\n')
    (tmp_path / "config.toml").write_text(text)
    data = tmp_path / "export.safetensors.gz"
    subprocess.run([CLI, "export-data", "--config", tmp_path / "config.toml", "--out", data,
                    "--reference", "2"], check=True)
    run = subprocess.run(
        [sys.executable, TRAINER, "--data", data, "--init", init, "--out", tmp_path / "out",
         "--device", "cpu", "--frame-batch", "4", "--max-steps", "2", "--minutes", "5",
         "--denoise-weight", "0", "--energy-weight", "1000", "--force-weight", "10"],
        capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr
    # The squeezed frame is among the reference frames: with the core left out of train.py's
    # energies this check refuses to train.
    assert float(run.stdout.split("max deviation ")[1].split()[0]) < 1e-12
