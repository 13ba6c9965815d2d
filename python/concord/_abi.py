"""The Concord C ABI (include/concord.h) through ctypes: the library, its signatures, errors.

The library is the `libconcord.so` shipped inside this package (a wheel built with
`pip wheel .`), or the one in `$CONCORD_LIB_DIR` when that is set (a development checkout).
"""
import ctypes
import os
from pathlib import Path

import numpy as np

#: The ABI version this module was written against (CONCORD_ABI_VERSION of the header).
ABI_VERSION = 3
#: Length of `concord_sample_t.problem` (CONCORD_PROBLEM_LENGTH).
PROBLEM_LENGTH = 160
#: The sampler churn that asks for the generator's own setting (CONCORD_DEFAULT_CHURN).
DEFAULT_CHURN = -1.0

F64 = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
I32 = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS")
PTR = ctypes.c_void_p  # NULL-able arrays


class ConcordError(RuntimeError):
    """A failed Concord call: `status` is the C status code, the message is Concord's own, and
    `atoms` lists the atoms (0-based) the error is about, when there are any."""

    def __init__(self, status: int, message: str, atoms=()):
        super().__init__(message)
        self.status = status
        self.atoms = list(atoms)

    def __reduce__(self):
        # Picklable (e.g. raised in a multiprocessing worker): rebuilt from the same arguments.
        return (type(self), (self.status, str(self), self.atoms))


class Deviation(ctypes.Structure):
    """concord_deviation_t."""
    _fields_ = [(k, ctypes.c_double) for k in ("energy", "max_devi_f", "min_devi_f", "avg_devi_f",
                                                "max_devi_v", "min_devi_v", "avg_devi_v")]


class OptimizeOptions(ctypes.Structure):
    """concord_optimize_options_t."""
    _fields_ = [("fmax", ctypes.c_double), ("max_steps", ctypes.c_int64), ("max_step", ctypes.c_double),
                ("method", ctypes.c_int32), ("memory", ctypes.c_int32)]


class OptimizeResult(ctypes.Structure):
    """concord_optimize_result_t."""
    _fields_ = [("status", ctypes.c_int), ("converged", ctypes.c_int32), ("steps", ctypes.c_int64),
                ("force_calls", ctypes.c_int64), ("energy", ctypes.c_double),
                ("initial_energy", ctypes.c_double), ("max_force", ctypes.c_double)]


class Sample(ctypes.Structure):
    """concord_sample_t."""
    _fields_ = [("rank", ctypes.c_int32), ("sane", ctypes.c_int32), ("n_problems", ctypes.c_int32),
                ("relaxed", ctypes.c_int32), ("relax_status", ctypes.c_int), ("converged", ctypes.c_int32),
                ("steps", ctypes.c_int64), ("force_calls", ctypes.c_int64), ("energy", ctypes.c_double),
                ("max_force", ctypes.c_double), ("problem", ctypes.c_char * PROBLEM_LENGTH)]


class StereoCentre(ctypes.Structure):
    """concord_stereocentre_t: `neighbors` [4], `anticlockwise` seen from `neighbors[0]`
    (SMILES `@`, RDKit CHI_TETRAHEDRAL_CCW with the atom's bonds in order)."""
    _fields_ = [("centre", ctypes.c_int32), ("neighbors", ctypes.c_int32 * 4),
                ("anticlockwise", ctypes.c_int32)]


class DoubleBondStereo(ctypes.Structure):
    """concord_double_bond_t: the bond's `atoms`, one substituent of each end (`refs`), `cis`."""
    _fields_ = [("atoms", ctypes.c_int32 * 2), ("refs", ctypes.c_int32 * 2), ("cis", ctypes.c_int32)]


def _path() -> Path:
    lib_dir = os.environ.get("CONCORD_LIB_DIR")
    return Path(lib_dir) / "libconcord.so" if lib_dir else Path(__file__).with_name("libconcord.so")


def _declare(lib):
    lib.concord_version.restype = ctypes.c_char_p
    lib.concord_last_error.restype = ctypes.c_char_p
    lib.concord_last_error_atoms.argtypes = [PTR, ctypes.c_int64]
    lib.concord_last_error_atoms.restype = ctypes.c_int64
    lib.concord_check_abi_version.argtypes = [ctypes.c_uint32]
    lib.concord_model_load.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32,
                                       ctypes.POINTER(ctypes.c_void_p)]
    lib.concord_model_free.argtypes = [ctypes.c_void_p]
    lib.concord_model_elements.argtypes = [ctypes.c_void_p, PTR, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
    lib.concord_model_has_generator.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32)]
    lib.concord_model_cutoff.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double)]
    lib.concord_model_metadata_json.argtypes = [ctypes.c_void_p, PTR, ctypes.c_size_t,
                                                ctypes.POINTER(ctypes.c_size_t)]
    lib.concord_compute.argtypes = [ctypes.c_void_p, ctypes.c_int64, I32, F64, PTR, PTR, PTR, PTR, PTR, PTR, PTR]
    lib.concord_model_deviation.argtypes = [PTR, ctypes.c_int64, ctypes.c_int64, I32, F64, PTR, PTR,
                                            ctypes.POINTER(Deviation), PTR]
    lib.concord_optimize_options_default.restype = OptimizeOptions
    lib.concord_generate_relax_options_default.restype = OptimizeOptions
    lib.concord_optimize.argtypes = [ctypes.c_void_p, ctypes.c_int64, I32, F64, PTR, PTR,
                                     ctypes.POINTER(OptimizeOptions), ctypes.POINTER(OptimizeResult)]
    lib.concord_generate_structures_stereo.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, I32, PTR, ctypes.c_int64, PTR, PTR, PTR, ctypes.c_int64, PTR,
        ctypes.c_int64, PTR, ctypes.c_int64, ctypes.c_uint64, ctypes.c_int32, ctypes.c_double, ctypes.c_int32, PTR,
        F64, PTR]
    lib.concord_check_structure.argtypes = [ctypes.c_int64, I32, ctypes.c_int64, PTR, PTR, PTR, F64,
                                            ctypes.POINTER(ctypes.c_int64), ctypes.c_char_p, ctypes.c_size_t]
    lib.concord_element_number.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int32)]
    lib.concord_element_symbol.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_char_p)]
    return lib


_LIB = None


def lib():
    """The loaded library (loaded once), checked against ABI_VERSION."""
    global _LIB
    if _LIB is None:
        path = _path()
        if not path.exists():
            raise ConcordError(-1, f"libconcord.so not found at {path} (set CONCORD_LIB_DIR, or "
                                   "install the package with `pip install .` from a Concord checkout)")
        _LIB = _declare(ctypes.CDLL(str(path)))
        check(_LIB.concord_check_abi_version(ABI_VERSION))
    return _LIB


def check(status: int) -> None:
    """Raises ConcordError with the library's message and atoms unless `status` is success."""
    if status == 0:
        return
    l = lib() if _LIB is None else _LIB
    message = l.concord_last_error().decode()
    atoms = np.zeros(16, dtype=np.int64)
    n = l.concord_last_error_atoms(atoms.ctypes.data, len(atoms))
    raise ConcordError(status, message, atoms[:max(0, min(n, 16))].tolist())


def ptr(a):
    """The data pointer of an array, or None (NULL)."""
    return None if a is None else a.ctypes.data
