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


# --- issue 21: every widget fits a projector, its pictures describe themselves, and every
# --- slider step changes the picture ------------------------------------------------------


def test_display_size_keeps_the_aspect_and_never_enlarges():
    assert widgets.display_size((64, 64)) == (64, 64)
    assert widgets.display_size((1000, 500), 720, 400) == (200, 400)
    assert widgets.display_size((300, 1064), 720, 400) == (720, 203)


def test_show_sizes_the_picture_in_css_pixels_and_describes_it():
    picture = widgets.picture_widget("png")
    widgets.show(picture, np.zeros((300, 1064, 3), np.uint8), "a black band")
    assert (picture.image.layout.width, picture.image.layout.height) == ("720px", "203px")
    assert bytes(picture.image.value).startswith(b"\x89PNG")
    # The text is for screen readers (announced on change), escaped, and not drawn.
    widgets.show(picture, np.zeros((4, 4)), "a <small> black square")
    assert widgets.description_of(picture) == "a <small> black square"
    assert 'aria-live="polite"' in picture.description.value
    assert "&lt;small&gt;" in picture.description.value and "clip:" in picture.description.value
    assert not picture.image.tooltip  # an Image with a tooltip is not drawn (ipywidgets 8.1)
    with pytest.raises(TypeError, match="what the picture shows"):
        widgets.show(picture, np.zeros((4, 4)), " ")


def test_caption_strip_writes_different_settings_as_different_pixels():
    image = np.zeros((20, 200), np.uint8)
    first = widgets.caption_strip(image, ["IoU threshold 0.50"])
    second = widgets.caption_strip(image, ["IoU threshold 0.55"])
    assert first.shape == second.shape and first.shape[0] > 20 and first.shape[2] == 3
    assert np.array_equal(first[:20], np.zeros((20, 200, 3), np.uint8))  # the image is kept
    assert not np.array_equal(first, second)


def test_fit_controls_gives_labels_their_natural_width():
    slider = ipywidgets.FloatSlider(description="score threshold")
    chosen = ipywidgets.IntSlider(description="x", style={"description_width": "3em"})
    box = ipywidgets.Checkbox(description="show all boxes before NMS")
    buttons = ipywidgets.ToggleButtons(options=["background clutter", "a"])
    widgets.fit_controls({"a": slider, "b": chosen, "c": box, "d": buttons})
    assert slider.style.description_width == "initial" and "px" in slider.layout.width
    assert chosen.style.description_width == "3em"  # a builder's choice is kept
    assert box.indent is False and buttons.style.button_width == "auto"


def _lesson_widgets():
    """Every lesson widget that needs no trained model, built from small inputs (name, widget)."""
    from lab_utils import data, detection, faces, kernels, perceptrons, pixels

    astronaut = data.load_image("astronaut")[::2, ::2]
    scenes = data.load_dataset("digit_scenes", count=4, seed=0)
    rng = np.random.default_rng(0)
    boxes = np.array([[8, 8, 20, 20], [10, 9, 20, 20], [30, 30, 16, 16], [31, 32, 16, 14]], float)
    labels = np.repeat(np.arange(6), 4)
    embeddings = rng.normal(size=(24, 8)) + labels[:, None] * 0.8
    return [
        ("pixel_explorer", pixels.pixel_explorer({"coffee": data.load_image("coffee")})),
        (
            "variation_explorer",
            pixels.variation_explorer(
                astronaut,
                clutter=data.load_image("gravel"),
                class_examples=[data.load_image("camera")[::2, ::2]],
            ),
        ),
        ("convolution_stepper", kernels.convolution_stepper()),
        ("pooling_stepper", kernels.pooling_stepper()),
        ("loss_explorer", perceptrons.loss_explorer()),
        ("playground", perceptrons.playground(dataset="blobs", classes=3, hidden_layers=1)),
        ("scene_viewer", detection.scene_viewer(scenes)),
        ("iou_explorer", detection.iou_explorer()),
        (
            "nms_explorer",
            detection.nms_explorer(
                scenes.images[0], boxes, [0.9, 0.62, 0.8, 0.41], truths=scenes.boxes[0], scale=4
            ),
        ),
        (
            "threshold_explorer",
            faces.threshold_explorer(embeddings, labels, rng.random((24, 64, 64)), examples=4),
        ),
        ("haar_explorer", faces.haar_explorer({"astronaut": astronaut})),
    ]


#: Sliders whose steps change what is shown but not a picture, and why.
_NO_PICTURE_PER_STEP = {
    ("playground", "learning_rate"): "sets the rate of the next training steps (readout beside)",
}


def _pictures(widget) -> list:
    return [value for value in widgets.shown(widget.widget) if isinstance(value, bytes)]


def _slider_values(slider, steps: int = 24) -> list:
    """Single steps from the slider's start, then the last steps before its maximum."""
    if isinstance(slider, ipywidgets.SelectionSlider):
        return list(slider.options)
    values = list(np.arange(slider.min, slider.max + slider.step / 2, slider.step))
    start = int(np.argmin(np.abs(np.array(values) - slider.value)))
    chosen = values[start : start + steps] + values[-4:]
    return [type(slider.value)(round(value, 10)) for value in chosen]


@pytest.mark.slow
def test_every_slider_step_changes_the_picture_and_its_description():
    """Issue 21 item 6: in the threshold explorer 20 single steps never changed the picture.
    Every step of every slider of every picture widget changes the picture's bytes and its
    text description (which a screen reader reads); widgets without pictures change
    their HTML."""
    failures = []
    for name, first_build in _lesson_widgets():
        for control_name, control in first_build.controls.items():
            if (
                not isinstance(
                    control,
                    (ipywidgets.IntSlider, ipywidgets.FloatSlider, ipywidgets.SelectionSlider),
                )
                or control.disabled
            ):
                continue
            # Each slider from the state the lesson starts in (a fresh widget): another
            # slider left at an extreme (box B pushed off the canvas) would hide its effect.
            widget = dict(_lesson_widgets())[name]
            control = widget.controls[control_name]
            previous = control.value
            for value in _slider_values(control):
                if value == previous or control.disabled:
                    continue
                pictures_before, shown_before = _pictures(widget), widgets.shown(widget.widget)
                tooltips_before = [widgets.description_of(box) for box in _images(widget.widget)]
                control.value = value
                if control.value == previous:  # clamped by the widget (e.g. a moving maximum)
                    continue
                previous = control.value
                what = f"{name}: {control_name} -> {value}"
                assert "error" not in widget.state, f"{what}: {widget.state}"
                assert widgets.shown(widget.widget) != shown_before, f"{what}: nothing changed"
                if pictures_before and (name, control_name) not in _NO_PICTURE_PER_STEP:
                    if _pictures(widget) == pictures_before:
                        failures.append(f"{what}: same picture bytes")
                    tooltips = [widgets.description_of(box) for box in _images(widget.widget)]
                    if tooltips == tooltips_before:
                        failures.append(f"{what}: same description")
    assert not failures, "\n".join(failures)


def _images(widget) -> list:
    found, stack = [], [widget]
    while stack:
        node = stack.pop()
        stack += list(getattr(node, "children", ()) or ())
        if widgets.PICTURE_CLASS in getattr(node, "_dom_classes", ()):
            found.append(node)
    return found


def test_every_picture_is_sized_in_css_pixels_and_described():
    """Issue 21 items 5 and 6: no picture stretches to its box (~845 px) or beyond a
    1280 x 720 projector, and each says in words what it shows."""
    for name, widget in _lesson_widgets():
        for picture in _images(widget.widget):
            image = picture.image
            width, height = image.layout.width, image.layout.height
            assert width and width.endswith("px") and height and height.endswith("px"), name
            assert int(width[:-2]) <= widgets.MAX_PICTURE_WIDTH, f"{name}: {width}"
            assert int(height[:-2]) <= widgets.MAX_PICTURE_HEIGHT, f"{name}: {height}"
            assert len(widgets.description_of(picture)) > 20, f"{name}: no text description"
            assert not image.tooltip, f"{name}: ipywidgets 8.1 draws no Image with a tooltip"
        for control in widget.controls.values():
            style = getattr(control, "style", None)
            if isinstance(control, ipywidgets.Checkbox):
                assert control.indent is False, f"{name}: {control.description} may be cut"
            elif (
                getattr(control, "description", "")
                and style is not None
                and ("description_width" in style.keys)
            ):
                assert style.description_width, f"{name}: {control.description} may be cut"


def test_the_threshold_explorer_shows_different_faces_in_each_row():
    """Issue 21 item 6: its bottom row showed the same two faces four times."""
    from lab_utils import faces
    from lab_utils.faces import verification

    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(6), 4)
    images = rng.random((24, 64, 64))
    embeddings = rng.normal(size=(24, 8)) + labels[:, None] * 0.8
    embeddings[1] = embeddings[5] + 1e-3  # one face close to many others
    distances, same = faces.pair_distances(embeddings, labels)
    first, second = np.triu_indices(24, 1)
    shown = verification.hardest_examples(distances, same, images, first, second, 4)
    for row in (shown[:4], shown[4:]):
        used = [int(face) for index, _, _ in row for face in (first[index], second[index])]
        assert len(set(used)) == 8, used
    # Without the rule the closest different-person pairs all contain face 1 or 5.
    closest = np.flatnonzero(~same)[np.argsort(distances[~same])[:4]]
    assert len({int(f) for i in closest for f in (first[i], second[i])}) < 8
