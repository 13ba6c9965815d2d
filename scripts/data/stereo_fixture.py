"""Writes tests/data/stereo_rdkit.sdf: RDKit 3D structures of SMILES with stereo marks, the
independent reference tests/stereo.rs checks Concord's SMILES and SDF stereo against, and
tests/data/stereo_rdkit_2d.sdf: the same molecules as RDKit's 2D depictions (z = 0, parities).

Each record is Chem.AddHs(Chem.MolFromSmiles(s)) embedded with ETKDGv3 (seed 7), titled by its
SMILES: heavy atoms in the order of the string, then the hydrogens after them in the order of
their heavy atoms (Concord's order too). RDKit writes 3D coordinates and atom parities.

Usage: .deps/venv/bin/python scripts/data/stereo_fixture.py
"""
from pathlib import Path

from rdkit import Chem
from rdkit.Chem import AllChem

SMILES = [
    "F[C@H](Cl)Br", "F[C@@H](Cl)Br", "[C@@H](F)(Cl)Br", "[C@H](F)(Cl)Br",
    "C[C@H](N)C(=O)O", "N[C@@H](C)C(=O)O", "C[C@@H](O)CC", "O[C@@H]1CC[C@H](C)CC1",
    "C[C@]12CC[C@H](C1)C2(C)C", "C[C@@H]1CCCC[C@H]1O", "OC[C@H]1O[C@@H](O)[C@H](O)[C@@H](O)[C@@H]1O",
    "F/C=C/F", "F/C=C\\F", "C(/F)=C/F", "C/C=C/C(=O)O", "C/C=N/O", "C/C=C\\C[C@H](C)O",
    "CC/C(C)=C(\\C)CC", "N[C@@H](Cc1ccccc1)C(=O)O", "C[C@H]1C[C@@H](C)C[C@@H](C)C1",
    # Ring cis/trans (pseudo-asymmetric and relative centres).
    "C[C@H]1CC[C@H](C)CC1", "C[C@H]1CC[C@@H](C)CC1", "C[C@]1(O)[C@H](O)[C@@H]1O",
    "C1CC[C@H]2CCCC[C@@H]2C1", "C1CC[C@H]2CCCC[C@H]2C1", "C#C[C@]1(C)C[C@H](C=O)C1",
]


def main():
    out = Path(__file__).resolve().parents[2] / "tests" / "data" / "stereo_rdkit.sdf"
    w = Chem.SDWriter(str(out))
    for s in SMILES:
        m = Chem.AddHs(Chem.MolFromSmiles(s))
        p = AllChem.ETKDGv3()
        p.randomSeed = 7
        assert AllChem.EmbedMolecule(m, p) == 0, s
        m.SetProp("_Name", s)
        chiral = Chem.FindMolChiralCenters(m, includeUnassigned=True, useLegacyImplementation=False)
        m.SetProp("rdkit_centres", " ".join(f"{i}{c}" for i, c in chiral))
        w.write(m)
    w.close()
    w2 = Chem.SDWriter(str(out.with_name("stereo_rdkit_2d.sdf")))
    for s in SMILES:
        m = Chem.AddHs(Chem.MolFromSmiles(s))
        AllChem.Compute2DCoords(m)
        m.SetProp("_Name", s)
        w2.write(m)
    w2.close()
    print(f"{len(SMILES)} molecules -> {out} and its 2D twin")


if __name__ == "__main__":
    main()
