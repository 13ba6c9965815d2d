"""Builds libconcord.so (the runtime-only library: no libtorch) with cargo and puts it into the
`concord` package before setuptools collects it. Everything else is in pyproject.toml."""
import os
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithLibrary(build_py):
    """build_py that first compiles the cdylib (target/runtime-only, shared with `make`)."""

    def run(self):
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "runtime-only"
        subprocess.run(["cargo", "build", "--release", "--lib", "--no-default-features",
                        "--target-dir", str(target)], cwd=ROOT, check=True)
        shutil.copy2(target / "release" / "libconcord.so", ROOT / "python" / "concord" / "libconcord.so")
        super().run()


class BinaryDistribution(Distribution):
    """The package carries a native library: the wheel is platform-specific, not `any`."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
