"""lab_utils.widgets: the Interactive pattern and the image encoders, driven headlessly."""

import io

import ipywidgets
import numpy as np
import pytest
from PIL import Image

from lab_utils import widgets


def _counter_widget():
    controls = {"a": ipywidgets.IntSlider(1, 0, 10), "b": ipywidgets.IntSlider(2, 0, 10)}
    return widgets.Interactive(
        controls,
        lambda values: {"sum": values["a"] + values["b"]},
        ipywidgets.HBox(list(controls.values())),
    )


def test_interactive_renders_once_at_build_and_on_every_change():
    widget = _counter_widget()
    assert widget.state == {"sum": 3} and widget.render_count == 1
    widget.controls["a"].value = 5
    assert widget.state == {"sum": 7} and widget.render_count == 2
    assert widget.last_render_seconds >= 0


def test_hold_batches_several_changes_into_one_render():
    widget = _counter_widget()
    with widget.hold():
        widget.controls["a"].value = 4
        widget.controls["b"].value = 6
        assert widget.render_count == 1  # nothing rendered inside the block
    assert widget.render_count == 2 and widget.state == {"sum": 10}


def test_interactive_displays_as_its_layout():
    bundle = _counter_widget()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


@pytest.mark.parametrize("image_format", ["jpeg", "png"])
def test_encode_round_trips_through_pillow(image_format):
    image = np.zeros((6, 8, 3), np.uint8)
    image[:, 4:] = 255
    decoded = np.asarray(Image.open(io.BytesIO(widgets.encode(image, image_format))))
    assert decoded.shape == (6, 8, 3)
    assert abs(int(decoded[0, 7, 0]) - 255) < 10 and decoded[0, 0, 0] < 10


def test_to_uint8_and_upscale():
    assert widgets.to_uint8(np.array([[0.0, 1.0]])).tolist() == [[0, 255]]
    assert widgets.upscale(np.array([[1, 2]]), 2).tolist() == [[1, 1, 2, 2], [1, 1, 2, 2]]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: widgets.encode(np.zeros((4, 4)), "gif"), ValueError, "'jpeg', 'png'"),
        (lambda: widgets.encode(np.full((4, 4), 2.0)), ValueError, r"\[0, 1\]"),
        (lambda: widgets.to_uint8(np.zeros((2, 2, 4))), ValueError, "shape"),
        (lambda: widgets.upscale(np.zeros((2, 2)), 0), ValueError, "factor must be at least 1"),
        (lambda: widgets.upscale("image", 2), TypeError, "NumPy array"),
        (lambda: widgets.upscale(np.zeros((2, 2)), 1.5), TypeError, "whole number"),
    ],
)
def test_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_interactive_shows_a_render_error_in_the_widget_and_recovers():
    import ipywidgets

    from lab_utils import widgets

    slider = ipywidgets.IntSlider(value=1, min=-1, max=3)

    def render(values):
        if values["n"] < 0:
            raise ValueError("n must be at least 0, but got -1.")
        return {"n": values["n"]}

    w = widgets.Interactive({"n": slider}, render, ipywidgets.VBox([slider]))
    assert w.error.layout.display == "none"
    slider.value = -1
    assert w.state == {"error": "Cannot show this setting: n must be at least 0, but got -1."}
    assert "n must be at least 0" in w.error.value and w.error.layout.display is None
    slider.value = 2  # still usable: the next good value renders
    assert w.state == {"n": 2} and w.error.layout.display == "none"
