"""An ASE calculator for Concord potentials (like DeePMD-kit's `DP` or MACE's `MACECalculator`)."""
import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from .model import Model, deviation


class ConcordCalculator(Calculator):
    """Energy, atomic energies, forces and stress of a Concord model file for `ase.Atoms`.

    `model`: a path, a loaded `concord.Model` (used as it is: its precision and device; share
    one between calculators to load a file once) or a list of them. With several, the first drives (its energy, forces and
    stress are the results) and the committee's disagreement is added (DeePMD-kit's model
    deviation): `energy_std` (eV), `forces_std` (per-atom force deviation, eV/Å, [N]) and
    `max_devi_f` (eV/Å). `precision`: 32 (default, as in MD) or 64. Atoms with a cell and any
    periodic direction are periodic along the directions `atoms.pbc` marks.
    """

    implemented_properties = ["energy", "free_energy", "energies", "forces", "stress",
                              "energy_std", "forces_std", "max_devi_f"]

    def __init__(self, model, precision: int = 32, device: str = "cpu", **kwargs):
        super().__init__(**kwargs)
        single = isinstance(model, (str, bytes, Model)) or not hasattr(model, "__iter__")
        items = [model] if single else list(model)
        self.models = [m if isinstance(m, Model) else Model(m, precision=precision, device=device)
                       for m in items]

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        a = self.atoms
        periodic = bool(a.pbc.any())
        cell = np.asarray(a.cell.array) if periodic else None
        pbc = list(map(bool, a.pbc)) if periodic else None
        r = self.models[0].compute(a.numbers, a.positions, cell, pbc, atom_energies=True)
        self.results = {"energy": r["energy"], "free_energy": r["energy"], "energies": r["atom_energies"],
                        "forces": r["forces"]}
        if periodic:
            # Virial W = sum r (x) f; stress = -W / V, in ASE's Voigt order xx yy zz yz xz xy.
            s = -r["virial"] / a.get_volume()
            self.results["stress"] = np.array([s[0, 0], s[1, 1], s[2, 2], s[1, 2], s[0, 2], s[0, 1]])
        if len(self.models) > 1:
            d = deviation(self.models, a.numbers, a.positions, cell, pbc)
            self.results.update(energy_std=d["energy"], forces_std=d["atom_forces"], max_devi_f=d["max_devi_f"])
