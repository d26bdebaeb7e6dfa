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
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()
