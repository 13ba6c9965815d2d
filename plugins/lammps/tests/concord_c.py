"""The Concord C ABI through ctypes (libconcord.so in $CONCORD_LIB_DIR): the reference the
LAMMPS results are compared with."""

import ctypes
import os
import re
from pathlib import Path

import numpy as np

_HEADER = (Path(__file__).resolve().parents[3] / "include" / "concord.h").read_text()


def header_constant(name: str) -> float:
    """A numeric `#define` of concord.h (what a C caller is compiled with)."""
    return float(re.search(rf"#define {name} ([0-9.e+-]+)", _HEADER).group(1))


_ABI_VERSION = int(header_constant("CONCORD_ABI_VERSION"))
_F64 = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
_I32 = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS")


def _library() -> ctypes.CDLL:
    lib_dir = os.environ.get("CONCORD_LIB_DIR")
    if not lib_dir:
        raise RuntimeError("set CONCORD_LIB_DIR to the directory of libconcord.so (make does)")
    lib = ctypes.CDLL(str(Path(lib_dir) / "libconcord.so"))
    lib.concord_last_error.restype = ctypes.c_char_p
    lib.concord_check_abi_version.argtypes = [ctypes.c_uint32]
    lib.concord_model_load.argtypes = [
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p)]
    lib.concord_model_free.argtypes = [ctypes.c_void_p]
    out = ctypes.c_void_p  # NULL-able output arrays are passed as raw pointers
    lib.concord_compute.argtypes = [
        ctypes.c_void_p, ctypes.c_int64, _I32, _F64, out, out, out, out, out, out, out]
    lib.concord_model_deviation.argtypes = [
        ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, _I32, _F64, out, out, out, out]
    lib.concord_element_number.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_int32)]
    lib.concord_element_mass.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_double)]
    return lib


def element_number(symbol: str) -> int:
    """The atomic number of an element symbol, from Concord's table (concord_element_number)."""
    lib, z = _library(), ctypes.c_int32()
    if lib.concord_element_number(symbol.encode(), ctypes.byref(z)) != 0:
        raise ValueError(lib.concord_last_error().decode())
    return z.value


def element_mass(symbol: str) -> float:
    """The standard atomic mass (g/mol) of an element, from Concord's table."""
    lib, m = _library(), ctypes.c_double()
    if lib.concord_element_mass(element_number(symbol), ctypes.byref(m)) != 0:
        raise ValueError(lib.concord_last_error().decode())
    return m.value


class Model:
    """A model loaded through the C ABI (float64 unless told otherwise)."""

    def __init__(self, path: str | Path, precision: int = 64):
        self._lib = _library()
        self._check(self._lib.concord_check_abi_version(_ABI_VERSION))
        self._handle = ctypes.c_void_p()
        self._check(self._lib.concord_model_load(
            str(path).encode(), b"cpu", precision, ctypes.byref(self._handle)))

    def __del__(self):
        if getattr(self, "_handle", None):
            self._lib.concord_model_free(self._handle)

    def _check(self, status: int) -> None:
        if status != 0:
            raise RuntimeError(self._lib.concord_last_error().decode())

    def compute(self, numbers, positions, cell=None):
        """Energy (eV), forces (eV/Å), atomic energies (eV), virial and per-atom virials (eV,
        W = r (x) f) of a whole system; `cell` (rows = lattice vectors, Å) makes it periodic."""
        z = np.ascontiguousarray(numbers, dtype=np.int32)
        x = np.ascontiguousarray(positions, dtype=np.float64)
        n = len(z)
        energy = np.zeros(1)
        forces = np.zeros((n, 3))
        atom_energies = np.zeros(n)
        virial = np.zeros((3, 3))
        atom_virial = np.zeros((n, 3, 3))
        c = None if cell is None else np.ascontiguousarray(cell, dtype=np.float64)

        def ptr(a):
            return None if a is None else a.ctypes.data

        self._check(self._lib.concord_compute(
            self._handle, n, z, x, ptr(c), None, ptr(energy), ptr(forces),
            ptr(atom_energies), ptr(virial), ptr(atom_virial)))
        return {"energy": energy[0], "forces": forces, "atom_energies": atom_energies,
                "virial": virial, "atom_virial": atom_virial}


class Deviation(ctypes.Structure):
    """concord_deviation_t."""
    _fields_ = [(k, ctypes.c_double) for k in ("energy", "max_devi_f", "min_devi_f", "avg_devi_f",
                                                "max_devi_v", "min_devi_v", "avg_devi_v")]


def deviation(models, numbers, positions, cell=None):
    """concord_model_deviation of `models` (Model objects) on a whole system: the fields of
    concord_deviation_t as a dict, plus "atom" (per-atom force deviation, eV/Å)."""
    lib = _library()
    handles = (ctypes.c_void_p * len(models))(*[m._handle.value for m in models])
    z = np.ascontiguousarray(numbers, dtype=np.int32)
    x = np.ascontiguousarray(positions, dtype=np.float64)
    c = None if cell is None else np.ascontiguousarray(cell, dtype=np.float64)
    d, atom = Deviation(), np.zeros(len(z))
    status = lib.concord_model_deviation(ctypes.addressof(handles), len(models), len(z), z, x,
                                         None if c is None else c.ctypes.data, None,
                                         ctypes.addressof(d), atom.ctypes.data)
    if status != 0:
        raise RuntimeError(lib.concord_last_error().decode())
    return {**{k: getattr(d, k) for k, _ in d._fields_}, "atom": atom}
