"""GFN2-xTB (Debian package `xtb`) energy+gradient and geometry optimisation, one call per temp dir.

Energies are returned in eV and forces in eV/Å (forces = -gradient), converted from Hartree and
Hartree/Bohr with the constants in config.py.
"""
import os
import re
import subprocess
import tempfile

import numpy as np

import config
from graph import xyz_block
from mopac import CalcError, single_thread_env


def version() -> str:
    out = subprocess.run(["xtb", "--version"], capture_output=True, text=True).stdout
    m = re.search(r"xtb version (\S+)", out)
    return m.group(1) if m else "unknown"


def _run(args, d, what):
    try:
        p = subprocess.run(["xtb", "mol.xyz"] + args, cwd=d, env=single_thread_env(),
                           capture_output=True, text=True, timeout=config.CALL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CalcError(f"{what}_timeout", f"> {config.CALL_TIMEOUT_S} s")
    if p.returncode != 0 or "normal termination of xtb" not in (p.stdout + p.stderr):
        err = [l.strip() for l in (p.stdout + p.stderr).splitlines() if "ERROR" in l or "error" in l]
        raise CalcError(f"{what}_error", "; ".join(err[:3]) or f"exit {p.returncode}")
    return p.stdout


def _parse_gradient(path, n):
    """Last cycle of a Turbomole-style `gradient` file: (energy/Eh, gradient/(Eh/Bohr) [n,3])."""
    lines = open(path).read().replace("D", "E").splitlines()
    starts = [i for i, l in enumerate(lines) if "cycle =" in l]
    if not starts:
        raise CalcError("gfn2_error", "empty gradient file")
    s = starts[-1]
    energy = float(re.search(r"SCF energy =\s+(\S+)", lines[s]).group(1))
    grad = np.array([[float(v) for v in l.split()] for l in lines[s + 1 + n: s + 1 + 2 * n]])
    if grad.shape != (n, 3):
        raise CalcError("gfn2_error", "malformed gradient file")
    return energy, grad


def energy_forces(symbols, pos, what="gfn2_sp"):
    """GFN2 single point at `pos` (Å): (energy/eV, forces/(eV/Å) as nested lists)."""
    n = len(symbols)
    with tempfile.TemporaryDirectory(prefix="concord_xtb_") as d:
        with open(os.path.join(d, "mol.xyz"), "w") as f:
            f.write(xyz_block(symbols, pos))
        _run(config.XTB_SP_ARGS, d, what)
        e_h, g = _parse_gradient(os.path.join(d, "gradient"), n)
    energy = e_h * config.HARTREE_EV
    forces = -g * (config.HARTREE_EV / config.BOHR_ANG)
    if not np.isfinite(energy) or not np.all(np.isfinite(forces)):
        raise CalcError(f"{what}_nonfinite")
    return energy, forces.tolist()


def optimise(symbols, pos, what="gfn2_opt"):
    """GFN2 minimum (`--opt tight`) from `pos`: (positions/Å, info). Raises CalcError if
    xtb does not report convergence (no `.xtboptok`)."""
    with tempfile.TemporaryDirectory(prefix="concord_xtb_") as d:
        with open(os.path.join(d, "mol.xyz"), "w") as f:
            f.write(xyz_block(symbols, pos))
        stdout = _run(config.XTB_OPT_ARGS, d, what)
        if not os.path.exists(os.path.join(d, ".xtboptok")):
            raise CalcError(f"{what}_not_converged")
        lines = open(os.path.join(d, "xtbopt.xyz")).read().splitlines()
    n = int(lines[0])
    sym = [l.split()[0] for l in lines[2: 2 + n]]
    new_pos = [[float(v) for v in l.split()[1:4]] for l in lines[2: 2 + n]]
    if [s.capitalize() for s in sym] != list(symbols):
        raise CalcError(f"{what}_error", "atom order of output differs from input")
    m = re.search(r"CONVERGED AFTER\s+(\d+)\s+ITERATIONS", stdout)
    return new_pos, {"iterations": int(m.group(1)) if m else None}


AMU_ME = 1822.888486209       # electron masses per atomic mass unit (CODATA 2018)
KB_HARTREE = 3.166811563e-6   # Boltzmann constant, Hartree/K
MD_MASSES = {"H": 1.008, "C": 12.011, "N": 14.007, "O": 15.999, "F": 18.998}


def md(symbols, pos, temperature, ps, dump_fs, seed, step_fs=0.5):
    """GFN2-xTB Born-Oppenheimer MD (xtb --md, Berendsen thermostat at `temperature` K, no SHAKE,
    `step_fs` fs) for `ps` ps from `pos` (Å), with Maxwell-Boltzmann velocities drawn from `seed`
    (written to xtb's mdrestart, so a seed reproduces the run): the snapshots every `dump_fs` fs,
    [(time/ps, positions/Å [N, 3])]."""
    rng = np.random.default_rng(seed)
    x = np.asarray(pos, dtype=float) / config.BOHR_ANG
    m = np.array([MD_MASSES[s] for s in symbols]) * AMU_ME
    v = rng.normal(size=x.shape) * np.sqrt(KB_HARTREE * temperature / m)[:, None]
    v -= (m[:, None] * v).sum(0) / m.sum()  # no drift of the centre of mass
    settings = (f"$md\n   temp={temperature}\n   time={ps}\n   step={step_fs}\n   shake=0\n"
                f"   hmass=1\n   dump={dump_fs}\n   restart=true\n$end\n")
    with tempfile.TemporaryDirectory(prefix="concord_xtb_md_") as d:
        with open(os.path.join(d, "mol.xyz"), "w") as f:
            f.write(xyz_block(symbols, pos))
        with open(os.path.join(d, "md.inp"), "w") as f:
            f.write(settings)
        with open(os.path.join(d, "mdrestart"), "w") as f:
            f.write(" -1.0\n")
            for xi, vi in zip(x, v):
                f.write(" ".join(f"{a: .14E}" for a in [*xi, *vi]) + "\n")
        _run(["--gfn", "2", "--md", "--input", "md.inp", "--chrg", "0", "--uhf", "0"], d, "gfn2_md")
        lines = open(os.path.join(d, "xtb.trj")).read().splitlines()
    n = len(symbols)
    frames = [lines[k:k + n + 2] for k in range(0, len(lines) - n - 1, n + 2)]
    out = []
    for k, fr in enumerate(frames, 1):
        xyz = np.array([[float(v) for v in l.split()[1:4]] for l in fr[2:]])
        if xyz.shape != (n, 3) or not np.all(np.isfinite(xyz)):
            raise CalcError("gfn2_md_error", f"malformed trajectory frame {k}")
        out.append((round(k * dump_fs / 1000.0, 6), xyz))
    return out
