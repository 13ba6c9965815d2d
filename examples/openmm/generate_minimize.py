"""Positions for a molecule from its bonds alone: the Concord structure generator proposes them,
OpenMM minimises them on a Concord potential.

    python examples/openmm/generate_minimize.py MODEL [--molecule 0] [--seed 0] [--samples 8]

Takes the topology (atoms and bonds with orders) of a molecule of the bundled SDF file, ignores
its coordinates, generates positions with the shipped generator (relaxed and ranked on MODEL),
minimises them with LocalEnergyMinimizer on MODEL and compares the result with the
file's PM6 minimum (RMSD after optimal superposition). Writes runs/openmm/generated.pdb."""

import argparse
import pathlib

import numpy as np
import openmm as mm
from openmm import app, unit
from openmmconcord import ConcordForce, atomic_numbers, generate_positions, read_sdf

ROOT = pathlib.Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "examples/models/concord-generator.concord"


def rmsd(a, b):
    """RMSD of two [N, 3] arrays after centring and the optimal rotation (Kabsch)."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    u, _s, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, 1.0, d]) @ vt
    return float(np.sqrt(np.mean(np.sum((a @ rotation - b) ** 2, axis=1))))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="Concord potential used for the minimisation (.concord)")
    parser.add_argument("--generator", default=GENERATOR, help="Concord model with a structure generator")
    parser.add_argument("--sdf", default=ROOT / "data/qm9-gfn2/tiny/test_structures.sdf.gz")
    parser.add_argument("--molecule", type=int, default=0, help="index of the molecule in the SDF file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--out", default=ROOT / "runs/openmm/generated.pdb")
    args = parser.parse_args()

    name, topology, pm6 = read_sdf(args.sdf, args.molecule)
    positions = generate_positions(topology, args.generator, seed=args.seed, samples=args.samples,
                                   potential_path=args.model)

    system = mm.System()
    for atom in topology.atoms():
        system.addParticle(atom.element.mass)
    system.addForce(ConcordForce(args.model, atomic_numbers(topology), 64))
    context = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("CPU"))
    context.setPositions(positions)
    generated = context.getState(getEnergy=True).getPotentialEnergy()
    mm.LocalEnergyMinimizer.minimize(context, 1.0)
    state = context.getState(getEnergy=True, getPositions=True)
    context.setPositions(pm6)
    at_pm6 = context.getState(getEnergy=True).getPotentialEnergy()

    x = np.array(state.getPositions().value_in_unit(unit.angstrom))
    reference = np.array(pm6.value_in_unit(unit.angstrom))
    print(f"{name}: {topology.getNumAtoms()} atoms, {topology.getNumBonds()} bonds; generator {args.generator}")
    print(f"energy on {args.model}: generated {generated}, minimised {state.getPotentialEnergy()}")
    print(f"energy at the PM6 minimum of the file: {at_pm6}")
    heavy = [a.index for a in topology.atoms() if a.element.symbol != "H"]
    print(f"RMSD of the minimised structure to the PM6 minimum: heavy atoms {rmsd(x[heavy], reference[heavy]):.3f} Å, "
          f"all atoms {rmsd(x, reference):.3f} Å (fixed atom order, so equivalent hydrogens count as misplaced)")
    below = (at_pm6 - state.getPotentialEnergy()).value_in_unit(unit.kilojoule_per_mole)
    if below > 0:
        print(f"the minimised structure lies {below:.1f} kJ/mol below the PM6 minimum on this model: "
              "a conformer the model prefers, not a failed minimisation")
    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w") as handle:
        app.PDBFile.writeFile(topology, state.getPositions(), handle)
    print(f"structure: {args.out}")


if __name__ == "__main__":
    main()
