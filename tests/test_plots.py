"""lab_utils.plots: figures are returned (never shown) and bad input is explained."""

import numpy as np
import pytest
from matplotlib.figure import Figure

from lab_utils import plots


def test_show_images_returns_one_panel_per_image_with_titles():
    figure = plots.show_images(
        [np.zeros((4, 4), np.uint8), np.ones((4, 4, 3))], ["a", "b"], columns=1
    )
    assert isinstance(figure, Figure)
    visible = [axis for axis in figure.axes if axis.images]
    assert [axis.get_title() for axis in visible] == ["a", "b"]


def test_show_pixel_grid_writes_every_number():
    values = np.array([[0, 255], [261, 7]])
    figure = plots.show_pixel_grid(values, title="t")
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert texts == ["0", "255", "261", "7"]
    assert figure.axes[0].get_title() == "t"


def test_plot_curves_and_panels():
    figure = plots.plot_curves(
        [0, 1, 2], {"a": [1, 0.5, 0.2], "b": [1, 0.9, 0.8]}, xlabel="x", ylabel="y"
    )
    assert len(figure.axes[0].lines) == 2
    panels = plots.plot_panels(
        {"shift": [0, 1], "scale": [1, 0.5]},
        {"shift": {"nn": [1, 0.5]}, "scale": {"nn": [1, 0.2]}},
        ylabel="accuracy",
    )
    assert len(panels.axes) == 2


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: plots.show_images(np.zeros((4, 4))), TypeError, r"wrap a single image in a list"),
        (lambda: plots.show_images([]), ValueError, "at least one image"),
        (
            lambda: plots.show_images([np.zeros((4, 4))], ["a", "b"]),
            ValueError,
            "one entry per image",
        ),
        (
            lambda: plots.show_images([np.full((2, 2), 3.0)]),
            ValueError,
            r"images\[0\] is a float image",
        ),
        (lambda: plots.show_pixel_grid(np.zeros((2, 2, 3))), ValueError, "2-D grid"),
        (lambda: plots.show_pixel_grid(np.zeros((50, 50))), ValueError, "crop it to at most 40x40"),
        (lambda: plots.show_pixel_grid("grid"), TypeError, "NumPy array"),
        (
            lambda: plots.plot_curves([0, 1], {}, xlabel="x", ylabel="y"),
            TypeError,
            "non-empty dict",
        ),
        (
            lambda: plots.plot_curves([0, 1], {"a": [1]}, xlabel="x", ylabel="y"),
            ValueError,
            "has 1 values but x has 2",
        ),
        (lambda: plots.plot_panels({"a": [0]}, {"b": {}}, ylabel="y"), ValueError, "same panels"),
        (lambda: plots.hex_colour("green"), ValueError, "unknown colour 'green'; choose one"),
        (lambda: plots.series_style(-1), ValueError, "index"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- colours and line widths (issue 21 item 5; the colour-vision tests: tests/test_palette.py) --


def test_hex_colour_and_series_style():
    assert plots.hex_colour("vermillion") == "#d55e00"
    assert plots.hex_colour("grey") == "#808080"
    assert plots.hex_colour((0, 114, 178)) == "#0072b2"
    assert plots.series_style(0) == {
        "color": "#0072b2",
        "linestyle": "-",
        "linewidth": plots.LINE_WIDTH,
        "marker": "o",
    }
    assert plots.series_style(6) == plots.series_style(0)  # six styles, then again


def _lesson_figures() -> dict:
    """One figure of each plot that draws several series, with small made-up data."""
    from lab_utils import detection, faces, perceptrons

    rng = np.random.default_rng(0)
    same = np.arange(40) % 3 == 0
    distances = rng.random(40) + np.where(same, 0.0, 0.5)
    roc = faces.verification_roc(distances, same)
    curve = {"recall_points": np.linspace(0, 1, 101), "precision_50": np.linspace(1, 0.2, 101)}
    return {
        "plots.plot_curves": plots.plot_curves(
            [0, 1, 2], {"a": [1, 2, 3], "b": [2, 3, 1], "c": [3, 1, 2]}, xlabel="x", ylabel="y"
        ),
        "plots.plot_panels": plots.plot_panels(
            {"p": [0, 1]}, {"p": {"a": [1, 2], "b": [2, 1]}}, ylabel="y"
        ),
        "faces.plot_roc": faces.plot_roc({"pixels": roc, "embedding": roc}),
        "detection.plot_precision_recall": detection.plot_precision_recall(
            {"a": {**curve, "map_50": 0.5}, "b": {**curve, "map_50": 0.4}}
        ),
        "perceptrons.plot_activations": perceptrons.plot_activations(names=["sigmoid"]),
    }


def test_lesson_plots_draw_series_at_least_two_pixels_wide_with_their_own_style():
    """Every data line is at least 2 points wide (2 pixels at 72 dpi, more at the usual
    100), and the series of one axis differ in colour AND line style (told apart in grey
    print and by every colour vision). Grey guides (zero axes, the chance diagonal) are
    meant to recede and are left out."""
    grey = {plots.hex_colour("grey"), "gray", "grey"}
    for name, figure in _lesson_figures().items():
        for axis in figure.axes:
            series = [line for line in axis.lines if len(line.get_xdata()) > 1]
            series = [line for line in series if line.get_color() not in grey]
            assert series, name
            for line in series:
                assert line.get_linewidth() >= 2, (name, line.get_label())
            colours = {line.get_color() for line in series}
            styles = {str(line.get_linestyle()) for line in series}
            assert len(colours) == len(series) and len(styles) == len(series), name
            okabe_ito = {plots.hex_colour(c) for c in plots.OKABE_ITO}
            assert colours <= okabe_ito, (name, colours - okabe_ito)
