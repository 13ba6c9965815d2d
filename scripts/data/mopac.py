"""MOPAC PM6 geometry optimisation (Debian package `mopac`), one call in a private temp dir."""
import os
import re
import subprocess
import tempfile

import config


GNORM = float(re.search(r"GNORM=([\d.]+)", config.MOPAC_KEYWORDS).group(1))


class CalcError(Exception):
    """A failed quantum-chemistry call; `reason` is a short failure code."""

    def __init__(self, reason, detail=""):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def single_thread_env():
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_STACKSIZE="512M")
    return env


def version() -> str:
    """MOPAC version string, read from the output of a tiny H2 optimisation."""
    return optimise(["H", "H"], [[0, 0, 0], [0, 0, 0.8]])[1]["version"]


def optimise(symbols, pos):
    """PM6 minimum from `pos` (Å). Returns (positions, info) or raises CalcError.

    Convergence: the output must report "GEOMETRY OPTIMISED", or "HERBERTS TEST WAS SATISFIED"
    (BFGS stopped because the energy cannot be lowered further, common for molecules of 20+
    heavy atoms) with a final gradient norm within GNORM; and a final SCF. The final gradient
    norm (kcal/mol/Å) and heat of formation are returned in `info`.
    """
    with tempfile.TemporaryDirectory(prefix="concord_mopac_") as d:
        with open(os.path.join(d, "mol.mop"), "w") as f:
            f.write(f"{config.MOPAC_KEYWORDS}\nconcord\n\n")
            for s, (x, y, z) in zip(symbols, pos):
                f.write(f"{s:2s} {x:14.8f} 1 {y:14.8f} 1 {z:14.8f} 1\n")
        try:
            subprocess.run(["mopac", "mol.mop"], cwd=d, env=single_thread_env(), capture_output=True,
                           timeout=config.CALL_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise CalcError("pm6_timeout", f"> {config.CALL_TIMEOUT_S} s")
        out_path = os.path.join(d, "mol.out")
        if not os.path.exists(out_path):
            raise CalcError("pm6_error", "no output file")
        out = open(out_path).read()
    gnorm = re.findall(r"GRADIENT NORM\s+=\s+([-\d.]+)", out)
    herbert = "HERBERTS TEST WAS SATISFIED" in out and gnorm and float(gnorm[-1]) <= GNORM
    if "GEOMETRY OPTIMISED" not in out and not herbert:
        msg = [l.strip() for l in out.splitlines()
               if re.search(r"FAIL|TOO LARGE|EXCESS|ERROR|NOT ENOUGH|UNABLE", l)]
        raise CalcError("pm6_not_converged", "; ".join(msg[:3]) or "no GEOMETRY OPTIMISED")
    if "SCF FIELD WAS ACHIEVED" not in out:
        raise CalcError("pm6_scf_failed")
    blocks = out.split("CARTESIAN COORDINATES")
    if len(blocks) < 2:
        raise CalcError("pm6_error", "no final coordinates")
    new_pos, new_sym = [], []
    for line in blocks[-1].strip().splitlines():
        parts = line.split()
        if len(parts) != 5 or not parts[0].isdigit():
            break
        new_sym.append(parts[1])
        new_pos.append([float(v) for v in parts[2:5]])
    if new_sym != list(symbols):
        raise CalcError("pm6_error", "atom order of output differs from input")
    heat = re.findall(r"FINAL HEAT OF FORMATION =\s+([-\d.]+)", out)
    ver = re.search(r"MOPAC (v\S+)", out)
    info = {"version": ver.group(1) if ver else "unknown",
            "gnorm_kcal_mol_ang": float(gnorm[-1]) if gnorm else None,
            "heat_of_formation_kcal_mol": float(heat[-1]) if heat else None}
    return new_pos, info
