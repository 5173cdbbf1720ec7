"""The whole render, Earth at night included, is bit-identical for any number of Numba threads (README Speed):
the parallel kernels split work so that no sum depends on the threads' order."""
from __future__ import annotations

import numba
import numpy as np
import pytest

from simulator.bench import DEFAULT_SCENARIO, warmup_scenario
from simulator.config import load_scenario
from simulator.render.exposure import render_exposure


def _small_pettit():
    """The Pettit scenario (limb optics, airglow, city lights, lightning, D3S colour, two-Gaussian PSF) on 1/12
    of its pixels each way, 60 s, V <= 6: the bench's warm-up scene."""
    return warmup_scenario(load_scenario(DEFAULT_SCENARIO))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one thread only on this machine")
def test_render_with_the_earth_is_bit_identical_for_one_and_two_threads():
    scenario = _small_pettit()
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = render_exposure(scenario)
        numba.set_num_threads(2)
        two = render_exposure(scenario)
    finally:
        numba.set_num_threads(before)
    # the Earth sources are there (at the time of writing: 1,711 limb knots, 219 city-light cells, 21 of 221
    # flashes in the frame)
    assert one.limb["knots"]["t"].size > 100 and one.city_lights["electrons"][0].sum() > 0
    assert one.lightning["visible"][0].sum() > 0
    np.testing.assert_array_equal(one.signal, two.signal)
    np.testing.assert_array_equal(one.electrons_per_channel, two.electrons_per_channel)
    for key, value in one.limb["knots"].items():
        np.testing.assert_array_equal(value, two.limb["knots"][key], err_msg=key)
    for key in ("transmission", "refraction_arcsec", "transmission_per_channel"):
        np.testing.assert_array_equal(one.limb[key], two.limb[key], err_msg=key)
    for name in ("city_lights", "lightning"):
        for key, (value, _, _) in ((k, v) for k, v in getattr(one, name).items() if k != "attrs"):
            np.testing.assert_array_equal(value, getattr(two, name)[key][0], err_msg=f"{name}/{key}")
