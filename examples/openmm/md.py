"""Molecular dynamics of a QM9 molecule with the Concord potential in OpenMM.

    python examples/openmm/md.py MODEL [--molecule 0] [--steps 400] [--platform CPU]

Reads a molecule (topology with bonds, PM6 coordinates) from the bundled SDF file, adds a
ConcordForce to an empty System, minimises, then runs Langevin dynamics at 300 K with a 0.5 fs
step, printing energies and writing the trajectory to runs/openmm/md.pdb."""

import argparse
import pathlib
import sys

import openmm as mm
from openmm import app, unit
from openmmconcord import ConcordForce, atomic_numbers, read_sdf

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="Concord model file (.concord)")
    parser.add_argument("--sdf", default=ROOT / "data/qm9-gfn2/tiny/test_structures.sdf.gz")
    parser.add_argument("--molecule", type=int, default=0, help="index of the molecule in the SDF file")
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--platform", default="CPU", choices=["Reference", "CPU", "CUDA", "OpenCL"])
    parser.add_argument("--out", default=ROOT / "runs/openmm/md.pdb")
    args = parser.parse_args()

    name, topology, positions = read_sdf(args.sdf, args.molecule)
    system = mm.System()
    for atom in topology.atoms():
        system.addParticle(atom.element.mass)
    system.addForce(ConcordForce(args.model, atomic_numbers(topology), 32))

    integrator = mm.LangevinMiddleIntegrator(300 * unit.kelvin, 1 / unit.picosecond, 0.5 * unit.femtosecond)
    simulation = app.Simulation(topology, system, integrator, mm.Platform.getPlatformByName(args.platform))
    simulation.context.setPositions(positions)
    start = simulation.context.getState(getEnergy=True).getPotentialEnergy()
    simulation.minimizeEnergy(tolerance=1.0 * unit.kilojoule_per_mole / unit.nanometer)
    minimum = simulation.context.getState(getEnergy=True).getPotentialEnergy()
    print(f"{name}: {topology.getNumAtoms()} atoms, {args.model}, platform {args.platform}")
    print(f"minimised from {start} to {minimum}")
    simulation.context.setVelocitiesToTemperature(300 * unit.kelvin, 1)

    pathlib.Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    interval = max(1, args.steps // 10)
    simulation.reporters.append(app.PDBReporter(str(args.out), interval))
    simulation.reporters.append(
        app.StateDataReporter(
            sys.stdout,
            interval,
            step=True,
            time=True,
            potentialEnergy=True,
            kineticEnergy=True,
            totalEnergy=True,
            temperature=True,
            speed=True,
        )
    )
    simulation.step(args.steps)
    print(f"trajectory: {args.out}")


if __name__ == "__main__":
    main()
