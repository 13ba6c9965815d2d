"""The GPU trainer's reader of `concord export-data` files (scripts/gpu/safetensors_io.py, numpy
only): positions and forces stored as byte planes come back as the arrays the Rust side wrote."""

import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "target" / "release" / "concord"
INIT = ROOT / "examples" / "models" / "candidates" / "generator-phase-a.concord"
sys.path.insert(0, str(ROOT / "scripts" / "gpu"))

from safetensors_io import read_safetensors  # noqa: E402


def export(tmp_path):
    text = (ROOT / "configs" / "tiny-generator.toml").read_text()
    text = text.replace('"../data/', f'"{ROOT}/data/')
    text = text.replace("checkpoint_minutes = 0.05", f'checkpoint_minutes = 0.05\ninit = "{INIT}"')
    config = tmp_path / "config.toml"
    config.write_text(text)
    out = tmp_path / "export.safetensors.gz"
    subprocess.run([CLI, "export-data", "--config", config, "--out", out, "--reference", "4"], check=True)
    return str(out)


def test_byte_planes_decode_to_the_exported_arrays(tmp_path):
    tensors, meta = read_safetensors(export(tmp_path))
    assert "concord_planes" in meta
    ptr = tensors["frame_atom_ptr"]
    pos, forces = tensors["frame_positions"], tensors["frame_forces"]
    assert pos.shape == forces.shape == (ptr[-1], 3)
    assert pos.dtype == np.float64 and forces.dtype == np.float32
    assert np.all(np.isfinite(forces)) and np.abs(forces).max() > 0.1
    # Rounded to 12 mantissa bits: the low 11 bits of every float32 are zero.
    assert not np.any(forces.view(np.uint32) & 0x7FF)
    # The reference frames' float64 positions, to the fixed point's half step (5e-6 Å).
    exact = tensors["frame_reference_positions"]
    got = np.concatenate([pos[ptr[m]:ptr[m + 1]] for m in tensors["frame_reference_mol"]])
    assert got.shape == exact.shape
    assert np.abs(got - exact).max() <= 5.0001e-6
    # Structure positions: centred molecules.
    aptr = tensors["atom_ptr"]
    centroids = [tensors["positions"][aptr[m]:aptr[m + 1]].mean(0) for m in range(len(aptr) - 1)]
    assert np.abs(centroids).max() < 1e-4
