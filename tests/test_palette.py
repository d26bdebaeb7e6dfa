"""The kit's colours stay apart for the common colour-vision deficiencies (issue 21 item 5).

Each colour is passed through the simulation of Machado, Oliveira and Fernandes (2009), "A
physiologically-based model for simulation of color vision deficiency" (IEEE TVCG 15(6)), at
severity 1.0 (protanopia, deuteranopia, tritanopia): a 3x3 matrix applied to linear RGB. The
difference between two simulated colours is the CIEDE2000 colour difference (scikit-image's
``deltaE_ciede2000``; about 2 is just noticeable, above 10 two colours are clearly different
at a glance). Pairs that appear in one picture must keep at least ``FLOOR``.

Measured with this file (CIEDE2000, normal / protanopia / deuteranopia / tritanopia):
the former truth green (40, 220, 60) against the former prediction red (255, 60, 40):
79 / 30 / 10 / 75; the former truth against the former "kept" yellow: 36 / 1 / 9 / 51. The
Okabe-Ito roles now: truth (sky blue) against prediction (vermillion) 52 / 52 / 53 / 63,
truth against kept (orange) 54 / 51 / 54 / 54, and no pair below 20 (the smallest:
truth against the grey of suppressed boxes, 25 / 25 / 24 / 28).
"""

import itertools

import numpy as np
import pytest
from skimage.color import deltaE_ciede2000, rgb2lab

from lab_utils import boxes, plots

#: Machado et al. (2009), Table 1 at severity 1.0: linear RGB -> simulated linear RGB.
MACHADO_2009 = {
    "protanopia": np.array(
        [
            [0.152286, 1.052583, -0.204868],
            [0.114503, 0.786281, 0.099216],
            [-0.003882, -0.048116, 1.051998],
        ]
    ),
    "deuteranopia": np.array(
        [
            [0.367322, 0.860646, -0.227968],
            [0.280085, 0.672501, 0.047413],
            [-0.011820, 0.042940, 0.968881],
        ]
    ),
    "tritanopia": np.array(
        [
            [1.255528, -0.076749, -0.178779],
            [-0.078411, 0.930809, 0.147602],
            [0.004733, 0.691367, 0.303900],
        ]
    ),
}
VISIONS = ["normal", *MACHADO_2009]

#: Smallest CIEDE2000 difference allowed between colours that must be told apart.
FLOOR = 20.0


def _to_linear(rgb) -> np.ndarray:
    """sRGB 0-255 -> linear RGB 0-1 (the IEC 61966-2-1 transfer curve)."""
    values = np.asarray(rgb, dtype=np.float64) / 255
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear) -> np.ndarray:
    """Linear RGB 0-1 -> sRGB 0-1, clipped to the displayable range first."""
    linear = np.clip(linear, 0, 1)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def simulate(rgb, vision: str) -> np.ndarray:
    """How ``rgb`` (0-255) looks with ``vision``, as sRGB in [0, 1]."""
    linear = _to_linear(rgb)
    if vision != "normal":
        linear = MACHADO_2009[vision] @ linear
    return _to_srgb(linear)


def difference(first, second, vision: str) -> float:
    """CIEDE2000 difference of two 0-255 colours as seen with ``vision``."""
    lab = [rgb2lab(simulate(c, vision).reshape(1, 1, 3))[0, 0] for c in (first, second)]
    return float(deltaE_ciede2000(*lab))


def test_the_simulation_matches_the_published_figures():
    """Sanity checks of the simulation itself: grey stays grey for every vision, and the
    deuteranopia matrix maps pure red and pure green close together (their known confusion),
    blue and yellow apart."""
    for vision in VISIONS:
        assert np.allclose(simulate((128, 128, 128), vision), 128 / 255, atol=0.01), vision
    assert difference((255, 0, 0), (0, 255, 0), "normal") > 80
    assert difference((255, 0, 0), (0, 255, 0), "deuteranopia") < 20
    assert difference((0, 0, 255), (255, 255, 0), "deuteranopia") > 60


#: Box roles drawn in one picture (boxes.COLOURS): detector views, NMS before and after.
BOX_PAIRS = [
    ("truth", "prediction"),
    ("truth", "kept"),
    ("truth", "dropped"),
    ("kept", "dropped"),
    ("prediction", "dropped"),
    ("truth", "other"),
    ("prediction", "other"),
]


@pytest.mark.parametrize("vision", VISIONS)
@pytest.mark.parametrize("first, second", BOX_PAIRS)
def test_box_colours_stay_apart_for_every_colour_vision(first, second, vision):
    found = difference(boxes.COLOURS[first], boxes.COLOURS[second], vision)
    assert found >= FLOOR, f"{first} vs {second} with {vision}: CIEDE2000 {found:.1f}"


def test_the_former_box_colours_fail_the_same_test():
    """The colours before issue 21 (measured there: green against red 79 -> 10 with
    deuteranopia; truth against kept indistinguishable with protanopia)."""
    green, red, yellow = (40, 220, 60), (255, 60, 40), (255, 200, 0)
    assert difference(green, red, "normal") == pytest.approx(79, abs=1)
    assert difference(green, red, "deuteranopia") == pytest.approx(10, abs=1)
    assert difference(green, yellow, "protanopia") < 2
    assert min(difference(green, red, vision) for vision in VISIONS) < FLOOR


def test_the_box_colours_are_okabe_ito_or_grey():
    allowed = set(plots.OKABE_ITO.values()) | {plots.GREY}
    assert set(boxes.COLOURS.values()) <= allowed
    assert boxes.COLOURS is plots.BOX_COLOURS  # one home for the palette
    assert set(plots.BOX_COLOUR_NAMES) == set(plots.BOX_COLOURS)


@pytest.mark.parametrize("vision", VISIONS)
def test_right_and_wrong_and_the_faces_strip_stay_apart(vision):
    assert difference(plots.RIGHT, plots.WRONG, vision) >= FLOOR
    same, different = plots.OKABE_ITO["blue"], plots.OKABE_ITO["orange"]
    assert difference(same, different, vision) >= FLOOR


def test_series_differ_by_style_as_well_as_colour():
    """A plot's series: no two share a line style or a marker, and their colours keep a
    difference of at least 10 for every vision (the styles carry the rest)."""
    styles = [plots.series_style(index) for index in range(len(plots.SERIES_COLOURS))]
    assert len({str(style["linestyle"]) for style in styles}) == len(styles)
    assert len({style["marker"] for style in styles}) == len(styles)
    assert all(style["linewidth"] >= 2 for style in styles)
    for first, second in itertools.combinations(plots.SERIES_COLOURS, 2):
        for vision in VISIONS:
            found = difference(plots.OKABE_ITO[first], plots.OKABE_ITO[second], vision)
            assert found >= 10, f"{first} vs {second} with {vision}: {found:.1f}"
    assert "marker" not in plots.series_style(0, marker=False)


def _stroke_widths(picture: np.ndarray, colour: tuple) -> list[int]:
    """Lengths of the runs of ``colour`` along every row and column of ``picture``
    that cross a vertical or horizontal side (runs shorter than the picture's side)."""
    mask = np.all(picture == np.array(colour, np.uint8), axis=2)
    widths = []
    for lines in (mask, mask.T):
        for line in lines:
            padded = np.concatenate([[False], line, [False]]).astype(int)
            starts = np.flatnonzero(np.diff(padded) == 1)
            ends = np.flatnonzero(np.diff(padded) == -1)
            widths += [int(end - start) for start, end in zip(starts, ends)]
    return widths


def test_draw_boxes_draws_lines_two_pixels_wide_in_the_role_colours():
    image = np.full((40, 40), 0.5)
    picture = boxes.draw_boxes(
        image,
        [[4, 4, 20, 20], [14, 14, 20, 20]],
        roles=["truth", "prediction"],
    )
    for role in ("truth", "prediction"):
        widths = _stroke_widths(picture, boxes.COLOURS[role])
        # crossing a side gives the line's width; running along a side gives its length
        assert widths and min(widths) >= 2, (role, sorted(set(widths)))
        assert 2 in widths, role  # exactly the default thickness across each side


def _side_runs(picture: np.ndarray, colour: tuple, row: int, columns: slice) -> int:
    """How many separate runs of ``colour`` lie along ``row`` between ``columns``."""
    line = np.all(picture[row, columns] == np.array(colour, np.uint8), axis=1).astype(int)
    return int(np.sum(np.diff(np.concatenate([[0], line])) == 1))


def test_truth_is_dashed_and_predictions_solid_so_they_differ_without_colour():
    """Issue 21 item 5: the roles differ by line style as well as colour. Along the top side
    of a 30-pixel box the truth's outline is several dashes, a prediction's one run; the
    corners of the dashed outline are drawn, and a grey-scale copy of the picture still
    tells the two apart (the dashes are there whatever the colours become)."""
    image = np.full((40, 80), 0.5)
    picture = boxes.draw_boxes(
        image, [[5, 5, 30, 30], [45, 5, 30, 30]], roles=["truth", "prediction"], thickness=2
    )
    truth, prediction = boxes.COLOURS["truth"], boxes.COLOURS["prediction"]
    assert _side_runs(picture, truth, 5, slice(0, 40)) >= 3
    assert _side_runs(picture, prediction, 5, slice(40, 80)) == 1
    for row, column in [(5, 5), (5, 34), (34, 5), (34, 34)]:
        assert tuple(picture[row, column]) == truth, (row, column)  # square corners, drawn
    grey = picture.mean(axis=2)
    assert np.count_nonzero(np.diff(grey[5, 0:40] != grey[0, 0])) > np.count_nonzero(
        np.diff(grey[5, 40:80] != grey[0, 0])
    )
    assert (
        plots.BOX_LINE_STYLES["truth"] == "dashed" and "dashed" in plots.BOX_COLOUR_NAMES["truth"]
    )
    assert set(plots.BOX_LINE_STYLES) == set(plots.BOX_COLOURS)


def test_the_lessons_draw_truth_dashed_in_their_pictures():
    """The IoU explorer (lesson 05) draws box A as the truth: dashed, B solid."""
    from lab_utils.detection import compute

    view = compute.iou_view(np.array([[2, 2, 12, 12]]), np.array([[8, 8, 12, 12]]), 24, 3)
    picture = view["picture"]
    assert _side_runs(picture, boxes.COLOURS["truth"], 2 * 3, slice(0, 24 * 3)) >= 3
    assert _side_runs(picture, boxes.COLOURS["prediction"], 8 * 3, slice(0, 24 * 3)) == 1


def test_the_lessons_box_pictures_use_two_pixel_lines():
    """The IoU explorer's picture (lesson 05) at its widget scale: both boxes at least 2
    pixels wide, in the truth and prediction colours (B inside A, so that no outline cuts a
    dash of the other into a 1-pixel piece)."""
    from lab_utils.detection import compute

    view = compute.iou_view(np.array([[2, 2, 16, 16]]), np.array([[6, 6, 6, 6]]), 24, 3)
    for role in ("truth", "prediction"):
        widths = _stroke_widths(view["picture"], boxes.COLOURS[role])
        assert widths and min(widths) >= 2, role


def test_lesson_03_class_colours_stay_apart():
    """The playground's class colours (boundary pictures and their squares): the two classes
    of most examples keep the box floor; with up to six classes no pair falls below 10 (the
    former colours: class 0 against class 2 fell to 4, class 1 against class 3 to 1, with
    protanopia). Measured minimum over the visions for the first three classes: 12.4."""
    from lab_utils.perceptrons import CLASS_COLOURS

    colours = [tuple(int(v) for v in colour) for colour in CLASS_COLOURS]
    assert set(colours) <= set(plots.OKABE_ITO.values())
    assert min(difference(colours[0], colours[1], vision) for vision in VISIONS) >= FLOOR
    for first, second in itertools.combinations(colours, 2):
        assert min(difference(first, second, vision) for vision in VISIONS) >= 10
    former = [(245, 147, 34), (8, 119, 189), (46, 160, 44), (148, 103, 189)]
    assert difference(former[0], former[2], "protanopia") < 5
    assert difference(former[1], former[3], "protanopia") < 2
