"""A Concord model file loaded through the C ABI: energies, forces, virials, committee
deviation, relaxation and structure generation, with NumPy arrays in eV and Å."""
import ctypes
import json

import numpy as np

from . import _abi
from ._abi import F64, check, ptr


def element_number(symbol: str) -> int:
    """Atomic number of an element symbol (Concord's element table)."""
    z = ctypes.c_int32()
    check(_abi.lib().concord_element_number(symbol.encode(), ctypes.byref(z)))
    return z.value


class Model:
    """A loaded model file. `precision` 32 (float32, the MD default) or 64; `device` "cpu"
    (the native runtime), "cuda" or "cuda:N" (a build with libtorch)."""

    def __init__(self, path, precision: int = 32, device: str = "cpu"):
        self.path = str(path)
        self.precision = precision
        self._lib = _abi.lib()
        self._handle = ctypes.c_void_p()
        check(self._lib.concord_model_load(self.path.encode(), device.encode(), precision,
                                           ctypes.byref(self._handle)))

    def __del__(self):
        if getattr(self, "_handle", None):
            self._lib.concord_model_free(self._handle)
            self._handle = None

    @property
    def handle(self):
        """The C handle (owned by this object)."""
        return self._handle

    @property
    def elements(self) -> list:
        """Atomic numbers of the elements the model knows."""
        n = ctypes.c_size_t()
        check(self._lib.concord_model_elements(self._handle, None, 0, ctypes.byref(n)))
        z = np.zeros(n.value, dtype=np.int32)
        check(self._lib.concord_model_elements(self._handle, z.ctypes.data, n.value, ctypes.byref(n)))
        return z.tolist()

    @property
    def cutoff(self) -> float:
        """Cutoff of one layer, Å."""
        c = ctypes.c_double()
        check(self._lib.concord_model_cutoff(self._handle, ctypes.byref(c)))
        return c.value

    @property
    def has_generator(self) -> bool:
        """Whether the model file carries a structure generator."""
        v = ctypes.c_int32()
        check(self._lib.concord_model_has_generator(self._handle, ctypes.byref(v)))
        return bool(v.value)

    @property
    def metadata(self) -> dict:
        """The model file's metadata."""
        n = ctypes.c_size_t()
        check(self._lib.concord_model_metadata_json(self._handle, None, 0, ctypes.byref(n)))
        buf = ctypes.create_string_buffer(n.value)
        check(self._lib.concord_model_metadata_json(self._handle, ctypes.addressof(buf), n.value,
                                                    ctypes.byref(n)))
        return json.loads(buf.value.decode())

    def compute(self, numbers, positions, cell=None, pbc=None, atom_energies=False, atom_virial=False):
        """Energy (eV), forces (eV/Å, [N, 3]), virial W = sum r (x) f (eV, [3, 3]) and optionally
        atomic energies ([N]) and per-atom virials ([N, 3, 3]) of a whole system. `cell` (rows =
        lattice vectors, Å) with `pbc` (3 bools, default all True) makes it periodic."""
        z, x = _inputs(numbers, positions)
        n = len(z)
        out = {"energy": np.zeros(1), "forces": np.zeros((n, 3)), "virial": np.zeros((3, 3)),
               "atom_energies": np.zeros(n) if atom_energies else None,
               "atom_virial": np.zeros((n, 3, 3)) if atom_virial else None}
        c, p = _cell(cell, pbc)
        check(self._lib.concord_compute(self._handle, n, z, x, ptr(c), ptr(p), ptr(out["energy"]),
                                        ptr(out["forces"]), ptr(out["atom_energies"]), ptr(out["virial"]),
                                        ptr(out["atom_virial"])))
        out["energy"] = float(out["energy"][0])
        return {k: v for k, v in out.items() if v is not None}

    def optimize(self, numbers, positions, cell=None, pbc=None, fmax=0.01, max_steps=500, method="lbfgs"):
        """Relaxes `positions` on the model's potential (`method` "lbfgs", "lbfgs_precon" or
        "fire"): (positions [N, 3] Å, result dict with converged, steps, force_calls, energy,
        initial_energy, max_force)."""
        z, x = _inputs(numbers, positions)
        x = x.copy()
        opts = self._lib.concord_optimize_options_default()
        opts.fmax, opts.max_steps = fmax, max_steps
        opts.method = {"lbfgs": 0, "fire": 1, "lbfgs_precon": 2}[method]
        res = _abi.OptimizeResult()
        c, p = _cell(cell, pbc)
        check(self._lib.concord_optimize(self._handle, len(z), z, x, ptr(c), ptr(p), ctypes.byref(opts),
                                         ctypes.byref(res)))
        return x, {k: getattr(res, k) for k, _ in res._fields_ if k != "status"}

    def generate_structures(self, numbers, bonds, samples=4, seed=0, relax=True, fmax=None, potential=None,
                            stereo=None, charges=None):
        """The generation pipeline: `samples` structures of the molecular graph (`bonds` = (i, j,
        order) with order 1, 2, 3 or 4 = aromatic), relaxed when `relax` on the model or on
        `potential` (another Model, whose energies then rank the samples) with the library's
        settings for generated structures (preconditioned L-BFGS to `fmax` eV/Å, None: 0.05), screened and ranked
        (best first). `stereo`: the configurations the structures must have, (centres, double
        bonds) with centres (centre, (n0, n1, n2, n3), anticlockwise seen from n0) and double bonds
        ((p, q), (s, t), cis with s on p and t on q) (`concord.structures.stereo` reads them from
        RDKit); a sample still wrong is not sane. `charges`: the atoms' formal charges [N] (None:
        neutral), summing to zero (nitro groups, N-oxides). Returns a list of dicts: positions [N, 3] Å,
        rank, sane, problem, relaxed, converged, energy (eV), max_force."""
        z = np.ascontiguousarray(numbers, dtype=np.int32)
        q = None if charges is None else np.ascontiguousarray(charges, dtype=np.int32)
        if q is not None and q.shape != z.shape:
            raise ValueError(f"{q.size} formal charges for {z.size} atoms")
        first, second, order = _bond_arrays(bonds)
        centres, double_bonds = stereo or ((), ())
        c = (_abi.StereoCentre * max(len(centres), 1))(
            *[_abi.StereoCentre(a, (ctypes.c_int32 * 4)(*nb), int(bool(acw))) for a, nb, acw in centres])
        d = (_abi.DoubleBondStereo * max(len(double_bonds), 1))(
            *[_abi.DoubleBondStereo((ctypes.c_int32 * 2)(*pq), (ctypes.c_int32 * 2)(*st), int(bool(cis)))
              for pq, st, cis in double_bonds])
        n = len(z)
        pos = np.zeros((samples, n, 3))
        info = (_abi.Sample * samples)()
        opts = self._lib.concord_generate_relax_options_default()
        if fmax is not None:
            opts.fmax = fmax
        check(self._lib.concord_generate_structures_stereo(
            self._handle, None if potential is None else potential.handle, n, z, ptr(q), len(first), ptr(first),
            ptr(second), ptr(order), len(centres), ctypes.addressof(c), len(double_bonds), ctypes.addressof(d), samples, seed, 0,
            _abi.DEFAULT_CHURN, 1 if relax else 0, ctypes.addressof(opts), pos, ctypes.addressof(info)))
        out = [{"positions": pos[k], "rank": s.rank, "sane": bool(s.sane), "problem": s.problem.decode(),
                "relaxed": bool(s.relaxed), "converged": bool(s.converged), "energy": s.energy,
                "max_force": s.max_force} for k, s in enumerate(info)]
        return sorted(out, key=lambda s: s["rank"])

def deviation(models, numbers, positions, cell=None, pbc=None):
    """How much a committee of `models` (at least two) disagrees on a system (DeePMD-kit's model
    deviation): dict with energy (eV std), max/min/avg_devi_f (eV/Å), max/min/avg_devi_v (eV)
    and atom_forces ([N] eV/Å)."""
    z, x = _inputs(numbers, positions)
    handles = (ctypes.c_void_p * len(models))(*[m.handle.value for m in models])
    d = _abi.Deviation()
    atom = np.zeros(len(z))
    c, p = _cell(cell, pbc)
    check(_abi.lib().concord_model_deviation(ctypes.addressof(handles), len(models), len(z), z, x, ptr(c),
                                             ptr(p), ctypes.byref(d), ptr(atom)))
    return {**{k: getattr(d, k) for k, _ in d._fields_}, "atom_forces": atom}


def check_structure(numbers, bonds, positions):
    """Concord's sanity check of a structure for its bond graph (`bonds` = (i, j, order), order
    1, 2, 3 or 4 = aromatic), the one that screens generated structures: every bond length
    plausible for its order, no clash of unbonded atoms. Returns (number of problems, a
    description of the first one; "" when sane)."""
    z, x = _inputs(numbers, positions)
    first, second, order = _bond_arrays(bonds)
    count = ctypes.c_int64()
    message = ctypes.create_string_buffer(512)
    check(_abi.lib().concord_check_structure(len(z), z, len(first), ptr(first), ptr(second), ptr(order), x,
                                             ctypes.byref(count), message, len(message)))
    return count.value, message.value.decode()


def _bond_arrays(bonds):
    """(first, second, order) int32 arrays of bonds given as (i, j, order) triples."""
    b = np.asarray(bonds, dtype=np.int32).reshape(-1, 3).T
    return tuple(np.ascontiguousarray(r) for r in b)


def _inputs(numbers, positions):
    z = np.ascontiguousarray(numbers, dtype=np.int32)
    x = np.ascontiguousarray(positions, dtype=np.float64)
    if x.shape != (len(z), 3):
        raise ValueError(f"positions have shape {x.shape}, expected ({len(z)}, 3) for {len(z)} atoms")
    return z, x


def _cell(cell, pbc):
    """(cell [3, 3] or None, periodic flags [3] int32 or None) for the C ABI."""
    if pbc is not None and any(pbc) and cell is None:
        raise ValueError("periodic boundaries need a cell")
    if cell is None or (pbc is not None and not any(pbc)):
        return None, None
    c = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3)
    p = None if pbc is None else np.ascontiguousarray([1 if v else 0 for v in pbc], dtype=np.int32)
    return c, p
