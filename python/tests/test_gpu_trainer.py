"""The PyTorch trainer (scripts/gpu/train.py) against the Rust model: export -> a few
multi-task training steps on the CPU (denoising, energies, forces) -> import, and the refusal to
train when the two implementations disagree. Needs PyTorch (present on the GPU machines; skipped
without it)."""

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
