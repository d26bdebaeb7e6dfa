"""Lesson 01 "Pixels": images are arrays of numbers, and why they are hard to analyse.

Which file holds what:

* ``compute``: the pure functions (a zoomed block, the framed overview, the slide's sources of
  variation, the perturbations that lesson 04 reuses for its robustness sweep, and the
  nearest-neighbour measurement);
* ``widgets``: the pixel explorer and the variation explorer (and the pixel table's HTML);
* ``plots``: none (this lesson's figures come from ``lab_utils.plots``);
* ``checks``: the checks of the lesson's exercises (``check_to_grayscale``, ...).

Everything a notebook uses is re-exported here: ``pixels.perturb``, ``pixels.check_normalise``.
"""

from lab_utils.pixels.checks import check_normalise, check_pixel_distance, check_to_grayscale
from lab_utils.pixels.compute import (
    PERTURBATIONS,
    VARIATIONS,
    apply_variation,
    locate_region,
    nearest_neighbour_sweep,
    perturb,
    zoom_region,
)
from lab_utils.pixels.widgets import (
    OVERVIEW_WIDTH,
    pixel_explorer,
    pixel_table_html,
    variation_explorer,
)

__all__ = [
    "OVERVIEW_WIDTH",
    "PERTURBATIONS",
    "VARIATIONS",
    "apply_variation",
    "check_normalise",
    "check_pixel_distance",
    "check_to_grayscale",
    "locate_region",
    "nearest_neighbour_sweep",
    "perturb",
    "pixel_explorer",
    "pixel_table_html",
    "variation_explorer",
    "zoom_region",
]
