"""Off-equilibrium frames: thermal-like random Cartesian displacements around a minimum.

Each atom is displaced by an isotropic Gaussian scaled by 1/sqrt(mass) (light atoms move more, as
in a thermal ensemble), the net mass-weighted translation is removed, and the displacement is
rescaled to the requested all-atom RMS. A draw with two atoms closer than config.MIN_DIST is
rejected and redrawn (up to config.FRAME_TRIES). The generator is seeded per molecule and frame,
so frames do not depend on worker scheduling.
"""
import numpy as np
from ase.data import atomic_masses, atomic_numbers

import config
from graph import min_distance


def thermal_frames(index, symbols, pos):
    """Yield (rms, positions or None, tries) for each amplitude in config.THERMAL_RMS."""
    p0 = np.asarray(pos, dtype=float)
    m = np.array([atomic_masses[atomic_numbers[s]] for s in symbols])
    for k, rms in enumerate(config.THERMAL_RMS):
        rng = np.random.default_rng([config.FRAME_SEED, index, k])
        for t in range(1, config.FRAME_TRIES + 1):
            d = rng.standard_normal(p0.shape) / np.sqrt(m)[:, None]
            d -= (m[:, None] * d).sum(0) / m.sum()
            d *= rms / np.sqrt((d ** 2).sum(1).mean())
            p = p0 + d
            if min_distance(p) >= config.MIN_DIST:
                yield rms, p.tolist(), t
                break
        else:
            yield rms, None, config.FRAME_TRIES
