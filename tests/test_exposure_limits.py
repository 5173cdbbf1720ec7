"""Guards of the exposure loop: memory budget and WCS pixel-scale warning."""
from __future__ import annotations

import pytest

import simulator.render.exposure as exposure
from simulator.config import parse_scenario
from simulator.errors import ScenarioError

from .conftest import small_scenario_text


def test_truth_that_would_not_fit_in_memory_is_refused_with_advice(monkeypatch):
    monkeypatch.setattr(exposure, "_memory_budget_bytes", lambda: 1e5)
    scenario = parse_scenario(small_scenario_text(duration="10 min"))
    with pytest.raises(ScenarioError) as err:
        exposure.render_exposure(scenario)
    assert str(err.value).startswith("exposure.duration:") and "mag_limit" in str(err.value)
