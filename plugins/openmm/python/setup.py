"""Packages openmmconcord as built by CMake (the SWIG module and its compiled extension are
already in openmmconcord/); plugins/openmm/build.sh pip-installs this directory."""

from setuptools import setup

setup(
    name="openmmconcord",
    version="0.1.0",
    description="Concord learned potential and structure generator for OpenMM",
    packages=["openmmconcord"],
    package_data={"openmmconcord": ["_native*.so"]},
    python_requires=">=3.9",
    # MLPotential("concord", modelPath=...) in openmm-ml (openmmconcord/mlpotential.py).
    entry_points={"openmmml.potentials": ["concord = openmmconcord.mlpotential:ConcordPotentialImplFactory"]},
)
