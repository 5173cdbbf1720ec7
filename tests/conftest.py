"""Shared test fixtures: small scenarios that render in about a second."""
from __future__ import annotations

import textwrap

import pytest

TLE_2012_03_25 = """
1 25544U 98067A   12085.20387446  .00017924  00000-0  22587-3 0  2432
2 25544  51.6423 183.0335 0016084 193.8608 250.6436 15.59550052764921
"""


def small_scenario_text(duration="60 s", mag_limit=4.5, extra="", attitude=None, width=320, height=214,
                        pixel_pitch="100 um", focal_length="12.5 mm") -> str:
    """A Pettit-like LVLH scenario at thumbnail size (same 104° x 81° field as the 14 mm D3S frame)."""
    attitude = attitude or 'mode = "lvlh"\nazimuth = "0 deg"\nelevation = "0 deg"\nroll = "0 deg"'
    return textwrap.dedent(f"""\
[scenario]
name = "small-test"
seed = 1

[time]
start = "2012-03-25T01:15:00"

[orbit]
tle = \"\"\"{TLE_2012_03_25}\"\"\"

[attitude]
{attitude}

[camera]
width = {width}
height = {height}
pixel_pitch = "{pixel_pitch}"
focal_length = "{focal_length}"
f_number = 2.8
psf_sigma = "0.8 pix"

[exposure]
duration = "{duration}"

[sky]
mag_limit = {mag_limit}
""") + extra


@pytest.fixture
def small_scenario_file(tmp_path):
    """Path of a small valid scenario file."""
    path = tmp_path / "small.toml"
    path.write_text(small_scenario_text())
    return path
