"""lab_utils.kernels (lesson 02): compute functions, widgets driven headlessly, and the checks
tested with right answers (written here with SciPy and Keras) and typical wrong answers."""

import sys

import kernel_reference as reference
import numpy as np
import pytest
from scipy import ndimage, signal

from lab_utils import exercises, kernels, plots
from lab_utils.kernels import checks as kernel_checks

RNG = np.random.default_rng(0)
PHOTO = RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8)
GRAY = RNG.random((30, 20))


# --- the kernel table -------------------------------------------------------------------------


def test_classic_kernels_correct_the_slide():
    table = kernels.CLASSIC_KERNELS
    assert all(kernel.shape == (3, 3) and kernel.dtype == np.float64 for kernel in table.values())
    np.testing.assert_array_equal(table["laplacian"], [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    np.testing.assert_array_equal(table["identity"], np.pad([[1.0]], 1))
    np.testing.assert_allclose(table["gaussian blur"] * 16, [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    for name in ("identity", "sharpen", "gaussian blur", "box blur"):
        assert np.isclose(table[name].sum(), 1.0), name
    for name in ("edge (diagonal)", "laplacian", "edge (all directions)", "sobel x", "sobel y"):
        assert np.isclose(table[name].sum(), 0.0), name
    with pytest.raises(ValueError):  # shared by every lesson: read-only
        table["identity"][1, 1] = 5


def test_importing_kernels_does_not_import_tensorflow():
    import subprocess

    code = (
        "import sys, lab_utils.kernels; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "False False"


# --- input checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kernel, error, message",
    [
        (np.ones(3), ValueError, r"2-D array \(rows, columns\).*shape \(3,\)"),
        (np.ones((3, 3, 3)), ValueError, r"2-D array.*shape \(3, 3, 3\)"),
        ("sobel", TypeError, "NumPy array .* but got a str"),
        (np.array([["a", "b"]]), TypeError, "must hold numbers"),
        (np.array([[np.nan, 1.0]]), ValueError, "NaN or infinite"),
        (np.ones((0, 3)), ValueError, "is empty"),
        (np.ones((65, 3)), ValueError, "at most 64x64"),
    ],
)
def test_as_kernel_bad_input(kernel, error, message):
    with pytest.raises(error, match=message):
        kernels.as_kernel(kernel)


def test_as_kernel_odd_requires_a_centre_and_accepts_lists():
    assert kernels.as_kernel([[1, 2], [3, 4]]).dtype == np.float64
    with pytest.raises(ValueError, match=r"odd height and width.*shape \(2, 2\)"):
        kernels.as_kernel(np.ones((2, 2)), odd=True)


@pytest.mark.parametrize(
    "padding, shape, expected",
    [("valid", (3, 3), (0, 0)), ("same", (3, 5), (1, 2)), (2, (2, 2), (2, 2))],
)
def test_padding_amount(padding, shape, expected):
    assert kernels.padding_amount(padding, shape) == expected


@pytest.mark.parametrize(
    "padding, shape, error, message",
    [
        ("full", (3, 3), ValueError, "padding must be one of 'valid', 'same'"),
        ("same", (2, 2), ValueError, r"odd height and width.*\(2, 2\)"),
        (-1, (3, 3), ValueError, "padding must be at least 0"),
        (1.5, (3, 3), TypeError, "'valid', 'same' or a whole number.*float"),
        (True, (3, 3), TypeError, "'valid', 'same' or a whole number.*bool"),
    ],
)
def test_padding_amount_bad_input(padding, shape, error, message):
    with pytest.raises(error, match=message):
        kernels.padding_amount(padding, shape)


# --- convolution step by step -----------------------------------------------------------------


@pytest.mark.parametrize("padding, stride", [("valid", 1), ("same", 1), ("same", 2), (2, 3)])
def test_correlate_matches_scipy(padding, stride):
    kernel = RNG.normal(size=(3, 3))
    amount = kernels.padding_amount(padding, kernel.shape)[0]
    expected = signal.correlate2d(np.pad(GRAY, amount), kernel, mode="valid")[::stride, ::stride]
    np.testing.assert_allclose(kernels.correlate(GRAY, kernel, padding, stride), expected)


def test_correlate_handles_even_kernels_like_keras_valid():
    kernel = RNG.normal(size=(2, 4))
    np.testing.assert_allclose(
        kernels.correlate(GRAY, kernel, 1, 2), reference.conv2d(GRAY, kernel, 2, 1)
    )


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.ones((3, 3, 3)), np.ones((3, 3))), ValueError, r"grid must be a 2-D array"),
        ((np.ones((4, 4)), np.ones(3)), ValueError, r"kernel must be a 2-D array"),
        ((np.ones((4, 4)), np.ones((3, 3)), "valid", 0), ValueError, "stride must be at least 1"),
        ((np.ones((2, 2)), np.ones((3, 3))), ValueError, r"larger than the padded grid \(2x2\)"),
        ((np.ones((4, 4)), np.ones((2, 2)), "same"), ValueError, "odd height and width"),
        (("grid", np.ones((3, 3))), TypeError, "grid must be a NumPy array"),
    ],
)
def test_correlate_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.correlate(*args)


def test_window_positions_one_per_output_pixel_in_reading_order():
    positions = kernels.window_positions((6, 6), (3, 3), "valid", 2)
    assert positions == [(0, 0), (0, 2), (2, 0), (2, 2)]
    assert len(kernels.window_positions((7, 5), (3, 3), "same", 1)) == 35
    assert len(kernels.window_positions((7, 9), (4, 3), 2, 3)) == (
        reference.output_size(7, 4, 3, 2) * reference.output_size(9, 3, 3, 2)
    )


@pytest.mark.parametrize(
    "args, error, message",
    [
        (((6,), (3, 3)), TypeError, r"grid_shape must be a pair \(rows, columns\)"),
        (((6, 6), (3, 0)), ValueError, r"kernel_shape\[1\] must be at least 1"),
        (((6, 6), (3, 3), "valid", 1.0), TypeError, "stride must be a whole number"),
        (("6x6", (3, 3)), TypeError, "grid_shape must be a pair"),
    ],
)
def test_window_positions_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.window_positions(*args)


def test_convolution_step_shows_window_products_and_sum():
    step = kernels.convolution_step(kernels.SLIDE_GRID, np.ones((3, 3)), 5)
    assert step["position"] == (1, 1) and step["output_index"] == (1, 1)
    np.testing.assert_array_equal(step["window"], kernels.SLIDE_GRID[1:4, 1:4])
    assert step["value"] == step["products"].sum() == step["output"][1, 1] == 7
    same = kernels.convolution_step(kernels.SLIDE_GRID, np.ones((3, 3)), 0, "same")
    assert same["padded"].shape == (8, 8) and same["value"] == 3 and same["steps"] == 36


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((kernels.SLIDE_GRID, np.ones((3, 3)), 16), ValueError, "step must be at most 15"),
        ((kernels.SLIDE_GRID, np.ones((3, 3)), -1), ValueError, "step must be at least 0"),
        ((np.ones((20, 20)), np.ones((3, 3)), 0), ValueError, "at most 16x16"),
        ((kernels.SLIDE_GRID, np.ones((3, 3)), "first"), TypeError, "step must be a whole number"),
    ],
)
def test_convolution_step_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.convolution_step(*args)


def test_grid_html_highlights_and_hides_cells():
    page = kernels.grid_html(
        [[1, 2.5], [3, 4]],
        highlight=(0, 0, 1, 1),
        hidden=np.array([[False, False], [False, True]]),
        caption="a<b",
    )
    assert page.count("<td") == 4 and ">2.50</td>" in page and "></td>" in page
    # The highlight is the palette's orange (lab_utils.plots, Okabe-Ito), on the one cell (0, 0).
    highlight = f"background:{plots.hex_colour('orange')}"
    assert page.count(highlight) == 1 and "a&lt;b" in page
    assert page.split("<td", 2)[1].startswith(f' style="{highlight};')
    padded = kernels.grid_html(np.pad(np.ones((1, 1)), 1), border=(1, 1))
    assert padded.count("color:#999") == 8 and padded.count("color:#000") == 1


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((np.ones(3),), {}, ValueError, "values must be a 2-D array"),
        ((np.ones((30, 2)),), {}, ValueError, "at most 24x24"),
        ((np.ones((2, 2)),), {"hidden": np.ones((3, 3))}, ValueError, "same shape as values"),
        (("ab",), {}, TypeError, "NumPy array"),
    ],
)
def test_grid_html_bad_input(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        kernels.grid_html(*args, **kwargs)


def test_convolution_stepper_follows_its_controls():
    stepper = kernels.convolution_stepper()
    assert stepper.state["value"] == 6 and stepper.controls["step"].max == 15
    stepper.controls["step"].value = 15
    assert stepper.state["output_index"] == (3, 3) and stepper.state["value"] == 2
    stepper.controls["padding"].value = "same"
    assert stepper.controls["step"].max == 35 and stepper.state["output"].shape == (6, 6)
    stepper.controls["stride"].value = 2  # 9 positions: the slider is pulled back
    assert stepper.controls["step"].max == 8 and stepper.state["output"].shape == (3, 3)
    assert stepper.state["output_index"] == (2, 2) and stepper.controls["step"].value == 8
    assert "<b>" in stepper.layout.children[-1].value


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.ones((20, 20)),), ValueError, "at most 16x16"),
        ((np.ones((4, 4)), np.ones(3)), ValueError, "kernel must be a 2-D array"),
        (([1, 2, 3],), ValueError, "grid must be a 2-D array"),
    ],
)
def test_convolution_stepper_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.convolution_stepper(*args)


# --- kernels on photos --------------------------------------------------------------------------


def test_normalise_kernel_divides_by_the_sum_unless_it_is_zero():
    np.testing.assert_allclose(
        kernels.normalise_kernel([[1, 2, 1], [2, 4, 2], [1, 2, 1]]),
        kernels.CLASSIC_KERNELS["gaussian blur"],
    )
    laplacian = kernels.CLASSIC_KERNELS["laplacian"]
    np.testing.assert_array_equal(kernels.normalise_kernel(laplacian), laplacian)


@pytest.mark.parametrize(
    "kernel, error, message",
    [
        (np.ones(3), ValueError, "2-D array"),
        ("box", TypeError, "NumPy array"),
        (np.array([[np.inf]]), ValueError, "NaN or infinite"),
    ],
)
def test_normalise_kernel_bad_input(kernel, error, message):
    with pytest.raises(error, match=message):
        kernels.normalise_kernel(kernel)


def test_filter_image_is_zero_padded_cross_correlation_per_channel():
    kernel = RNG.normal(size=(3, 3))
    rgb = kernels.filter_image(PHOTO, kernel)
    assert rgb.shape == PHOTO.shape and rgb.dtype == np.float64
    for channel in range(3):
        np.testing.assert_allclose(
            rgb[..., channel],
            signal.correlate2d(PHOTO[..., channel] / 255.0, kernel, mode="same", boundary="fill"),
        )
    np.testing.assert_allclose(
        kernels.filter_image(GRAY, kernels.CLASSIC_KERNELS["identity"]), GRAY
    )


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.full((4, 4), 2.0), np.ones((3, 3))), ValueError, r"values must lie in \[0, 1\]"),
        ((np.zeros((4, 4), np.int32), np.ones((3, 3))), TypeError, "uint8 \\(0-255\\) or float"),
        ((np.zeros((4, 4, 4), np.uint8), np.ones((3, 3))), ValueError, r"\(height, width, 3\)"),
        ((GRAY, np.ones((2, 2))), ValueError, "odd height and width"),
        ((GRAY, np.ones((3, 3, 3))), ValueError, "kernel must be a 2-D array"),
    ],
)
def test_filter_image_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.filter_image(*args)


def test_to_display_clips_or_rescales_and_clipped_fraction_counts():
    response = np.array([[-1.0, 0.5], [1.0, 3.0]])
    np.testing.assert_allclose(kernels.to_display(response, "clip"), [[0, 0.5], [1, 1]])
    np.testing.assert_allclose(kernels.to_display(response, "rescale"), [[0, 0.375], [0.5, 1]])
    assert (kernels.to_display(np.full((2, 2), 7.0), "rescale") == 0.5).all()
    assert kernels.clipped_fraction(response) == 0.5


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.ones((2, 2)), "stretch"), ValueError, "mode must be one of 'clip', 'rescale'"),
        ((np.ones((2, 2, 4)),), ValueError, r"\(height, width\) or \(height, width, 3\)"),
        ((np.array([[np.nan]]),), ValueError, "NaN"),
        ((np.ones((0, 2)),), ValueError, "empty"),
        (("image",), TypeError, "NumPy array"),
    ],
)
def test_to_display_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.to_display(*args)


@pytest.mark.parametrize(
    "response, error, message",
    [
        ("x", TypeError, "NumPy array"),
        (np.ones(0), ValueError, "empty"),
        (np.array([["a"]]), TypeError, "must hold numbers"),
    ],
)
def test_clipped_fraction_bad_input(response, error, message):
    with pytest.raises(error, match=message):
        kernels.clipped_fraction(response)


@pytest.fixture
def editor():
    return kernels.kernel_editor({"photo": PHOTO, "gray": GRAY}, preset="identity")


def test_kernel_editor_preset_fills_the_grid_and_renders_once(editor):
    np.testing.assert_allclose(editor.state["image"], PHOTO / 255.0)
    count = editor.render_count
    editor.controls["preset"].value = "laplacian"
    assert editor.render_count == count + 1
    np.testing.assert_array_equal(editor.state["kernel"], kernels.CLASSIC_KERNELS["laplacian"])
    assert editor.controls["k11"].value == -4


def test_kernel_editor_cells_normalise_photo_and_display(editor):
    editor.controls["preset"].value = "gaussian blur (no /16)"
    assert editor.state["clipped"] > 0.9 and editor.state["preset"] == "gaussian blur (no /16)"
    editor.controls["normalise"].value = True
    assert np.isclose(editor.state["kernel"].sum(), 1.0) and editor.state["clipped"] == 0
    editor.controls["normalise"].value = False
    editor.controls["display"].value = "rescale"
    assert editor.state["image"].min() == 0 and editor.state["image"].max() == 1
    editor.controls["k00"].value = 5.0  # an edit: no preset matches any more
    assert editor.state["preset"] == "custom" and editor.state["kernel"][0, 0] == 5
    assert editor.controls["preset"].value == "custom"
    editor.controls["photo"].value = "gray"
    assert editor.state["image"].shape == GRAY.shape
    assert "lie outside [0, 1]" in editor.layout.children[1].value


def test_kernel_editor_titles_its_nine_weight_boxes(editor):
    grid = editor.layout.children[0].children[0]
    assert "3x3 weights" in grid.children[0].value
    assert list(grid.children[1].children) == [
        editor.controls[f"k{r}{c}"] for r in range(3) for c in range(3)
    ]


def test_kernel_editor_updates_fast_on_a_512_photo():
    photo = RNG.integers(0, 256, (512, 512), dtype=np.uint8)
    editor = kernels.kernel_editor({"photo": photo})
    seconds = []
    for value in np.linspace(-1, 1, 7):
        editor.controls["k11"].value = float(value)
        seconds.append(editor.last_render_seconds)
    assert np.median(seconds) < 0.25  # ~15 ms here; generous for shared CI machines


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (({},), {}, TypeError, "non-empty dict mapping a name to an image"),
        (([PHOTO],), {}, TypeError, "non-empty dict"),
        (({"a": np.zeros((3, 3), np.int16)},), {}, TypeError, r"photos\['a'\] must be uint8"),
        (({"a": PHOTO},), {"preset": "emboss"}, ValueError, "preset must be one of 'identity'"),
        (({"a": PHOTO},), {"width": 10}, ValueError, "width must be at least 64"),
    ],
)
def test_kernel_editor_bad_input(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        kernels.kernel_editor(*args, **kwargs)


# --- multiple convolutions --------------------------------------------------------------------


def test_receptive_field():
    assert kernels.receptive_field([3]) == 3
    assert kernels.receptive_field([3, 3, 3]) == 7
    assert kernels.receptive_field([3, 3, 3], [2, 1, 1]) == 11
    assert kernels.receptive_field([7, 3], [2, 2]) == 11


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((3,), TypeError, r"non-empty list of whole numbers.*got an int \(3\)"),
        (([],), TypeError, "non-empty list"),
        (([3, 0],), ValueError, r"kernel_sizes\[1\] must be at least 1"),
        (([3, 3], [1]), ValueError, "one stride per layer"),
        (([3, 2.5],), TypeError, r"kernel_sizes\[1\] must be a whole number"),
    ],
)
def test_receptive_field_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.receptive_field(*args)


@pytest.mark.parametrize(
    "function, args",
    [
        (kernels.correlate, (np.ones((4, 4)), np.array([1, 0, -1]))),
        (kernels.filter_image, (np.ones((4, 4)), np.array([1, 0, -1]))),
        (kernels.combine_kernels, (np.ones((3, 3)), np.array([1, 0, -1]))),
        (kernels.convolution_stepper, (np.ones((4, 4)), np.array([1, 0, -1]))),
    ],
)
def test_a_one_dimensional_kernel_gets_kernel_advice(function, args):
    with pytest.raises(
        ValueError,
        match=r"A kernel is 2-D: write a row as "
        r"np\.array\(\[\[1, 0, -1\]\]\)",
    ) as error:
        function(*args)
    assert "colour" not in str(error.value)


def test_combine_kernels_equals_applying_them_in_turn():
    first, second = RNG.normal(size=(3, 3)), RNG.normal(size=(2, 3))
    combined = kernels.combine_kernels(first, second)
    assert combined.shape == (4, 5)
    in_turn = signal.correlate2d(signal.correlate2d(GRAY, first, "valid"), second, "valid")
    np.testing.assert_allclose(signal.correlate2d(GRAY, combined, "valid"), in_turn)


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((), TypeError, "at least one kernel"),
        ((np.ones((3, 3)), np.ones(3)), ValueError, r"kernels\[1\] must be a 2-D array"),
        (("blur",), TypeError, r"kernels\[0\] must be a NumPy array"),
    ],
)
def test_combine_kernels_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.combine_kernels(*args)


# --- pooling ----------------------------------------------------------------------------------


def test_pool_on_the_slide_example_and_leftovers_dropped():
    np.testing.assert_array_equal(kernels.pool(kernels.POOLING_GRID), [[6, 8], [3, 4]])
    np.testing.assert_array_equal(
        kernels.pool(kernels.POOLING_GRID, mode="average"), [[3.25, 5.25], [2, 2]]
    )
    odd = RNG.normal(size=(7, 5))
    np.testing.assert_allclose(kernels.pool(odd, 2, "max"), reference.max_pool2d(odd, 2, 2))


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.ones((4, 4)), 2, "min"), ValueError, "mode must be one of 'max', 'average'"),
        ((np.ones((1, 4)), 2), ValueError, r"smaller than one 2x2 pooling window"),
        ((np.ones((4, 4)), 0), ValueError, "size must be at least 1"),
        ((np.ones(4),), ValueError, "feature_map must be a 2-D array"),
    ],
)
def test_pool_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.pool(*args)


def test_pooling_step_and_stepper():
    step = kernels.pooling_step(kernels.POOLING_GRID, 1)
    assert step["position"] == (0, 2) and step["value"] == 8 and step["steps"] == 4
    stepper = kernels.pooling_stepper()
    stepper.controls["step"].value = 3
    assert stepper.state["value"] == 4 and stepper.state["output_index"] == (1, 1)
    stepper.controls["mode"].value = "average"
    assert stepper.state["value"] == 2.0
    assert "mean(1, 0, 3, 4)" in stepper.layout.children[-1].value


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((kernels.POOLING_GRID, 4), ValueError, "step must be at most 3"),
        ((kernels.POOLING_GRID, 0, 2, "sum"), ValueError, "mode must be one of"),
        ((np.ones((17, 17)), 0), ValueError, "at most 16x16"),
        ((kernels.POOLING_GRID, 0.5), TypeError, "step must be a whole number"),
    ],
)
def test_pooling_step_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.pooling_step(*args)


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.ones((20, 20)),), ValueError, "at most 16x16"),
        ((np.ones((4, 4)), 9), ValueError, "size must be at most 8"),
        ((np.ones((1, 1)), 2), ValueError, "smaller than one 2x2"),
    ],
)
def test_pooling_stepper_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.pooling_stepper(*args)


def test_shift_columns_and_shift_effect():
    image = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(kernels.shift_columns(image, 1)[:, 1:], image[:, :3])
    np.testing.assert_array_equal(kernels.shift_columns(image, -1)[:, :3], image[:, 1:])
    stripes = np.zeros((8, 8))
    stripes[:, 4] = 1.0  # one vertical line
    effect = kernels.shift_effect(stripes, 1, 2)  # moves inside its 2x2 window
    assert effect["none"] > 1.0 and effect["max"] == 0 and effect["unchanged max"] == 1
    assert kernels.shift_effect(stripes, 0)["none"] == 0


@pytest.mark.parametrize(
    "function, args, error, message",
    [
        (kernels.shift_columns, (np.ones(4), 1), ValueError, "image must be a 2-D array"),
        (kernels.shift_columns, (np.ones((2, 4)), 4), ValueError, "shift must be at most 3"),
        (kernels.shift_columns, (np.ones((2, 4)), 1.0), TypeError, "shift must be a whole number"),
        (kernels.shift_effect, (np.zeros((4, 4)),), ValueError, "all zeros"),
        (kernels.shift_effect, (np.ones((4, 4, 3)),), ValueError, "feature_map must be a 2-D"),
        (kernels.shift_effect, (np.ones((4, 4)), 1, 5), ValueError, "smaller than one 5x5"),
    ],
)
def test_shift_bad_input(function, args, error, message):
    with pytest.raises(error, match=message):
        function(*args)


# --- Keras --------------------------------------------------------------------------------------


def test_fixed_conv2d_is_cross_correlation_with_the_given_kernels():
    chosen = [kernels.CLASSIC_KERNELS[name] for name in ("sobel x", "sharpen")]
    layer = kernels.fixed_conv2d(chosen)
    batch = np.stack([GRAY, GRAY[::-1]])[..., None].astype("float32")
    out = np.asarray(layer(batch))
    assert out.shape == (2, 30, 20, 2) and not layer.trainable
    for n in range(2):
        for k, kernel in enumerate(chosen):
            np.testing.assert_allclose(
                out[n, :, :, k],
                ndimage.correlate(batch[n, :, :, 0].astype(float), kernel, mode="constant"),
                atol=kernels.keras_tolerance(kernel, batch),
                rtol=0,
            )


@pytest.mark.parametrize(
    "batch, message",
    [
        (GRAY, r"one image of shape \(30, 20\).*image\[None, :, :, None\]"),
        (GRAY[None], r"shape \(1, 30, 20\).*batch\[\.\.\., None\]"),
        (GRAY[:, :, None], r"shape \(30, 20, 1\).*image\[None\]"),
        (np.ones((1, 30, 20, 3)), "grayscale"),
    ],
)
def test_fixed_conv2d_explains_a_missing_axis(batch, message):
    layer = kernels.fixed_conv2d([kernels.CLASSIC_KERNELS["sobel x"]])
    with pytest.raises(ValueError, match=message):
        layer(batch)


def test_fixed_conv2d_accepts_a_float64_batch_and_shows_the_layer():
    layer = kernels.fixed_conv2d([kernels.CLASSIC_KERNELS["identity"]], padding="valid")
    out = np.asarray(layer(GRAY[None, :, :, None].astype(np.float64)))
    assert out.shape == (1, 28, 18, 1) and layer.kernel.shape == (3, 3, 1, 1)
    np.testing.assert_allclose(out[0, :, :, 0], GRAY[1:-1, 1:-1], atol=1e-6)
    assert "1 filters of 3x3" in repr(layer)


def test_keras_tolerance_scales_with_the_kernel_and_the_values():
    ones = np.ones((3, 3))
    assert kernels.keras_tolerance(ones, np.ones((4, 4))) == pytest.approx(0.018, rel=1e-3)
    assert kernels.keras_tolerance(ones, np.full((2, 2), 2.0)) == pytest.approx(0.036, rel=1e-3)
    exact = kernels.keras_tolerance([[0.0]], np.ones((2, 2)))
    assert exact < 1e-5


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.ones(3), np.ones((2, 2))), ValueError, "kernel must be a 2-D array"),
        ((np.ones((3, 3)), "photo"), TypeError, "image must be a NumPy array"),
        (("k", np.ones((2, 2))), TypeError, "kernel must be a NumPy array"),
    ],
)
def test_keras_tolerance_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.keras_tolerance(*args)


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.ones((3, 3)),), TypeError, "wrap a single kernel in a list"),
        (([],), TypeError, "non-empty list of 2-D kernels"),
        (([np.ones((3, 3)), np.ones((2, 2))],), ValueError, "all kernels must have the same shape"),
        (([np.ones((3, 3))], "full"), ValueError, "padding must be one of 'same', 'valid'"),
        (([np.ones(3)],), ValueError, r"kernels\[0\] must be a 2-D array"),
    ],
)
def test_fixed_conv2d_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        kernels.fixed_conv2d(*args)


# --- exercise checks: right answers written independently, and typical wrong answers ------


def scipy_output_size(input_size, kernel_size, stride=1, padding=0):
    padded = np.zeros(input_size + 2 * padding)
    return len(signal.correlate(padded, np.ones(kernel_size), mode="valid")[::stride])


# Answers given to the checks are written without the library functions the checks compare
# with (the checks reject those at run time): NumPy's sliding windows instead of SciPy.


def numpy_correlate(image, kernel):
    """'valid' cross-correlation with NumPy only."""
    windows = np.lib.stride_tricks.sliding_window_view(image, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def numpy_convolve(image, kernel):
    """The mathematical convolution (flipped kernel), a typical mistake."""
    return numpy_correlate(image, kernel[::-1, ::-1])


def numpy_same(image, kernel):
    """Cross-correlation padded to the input's size."""
    (kh, kw) = kernel.shape
    return numpy_correlate(
        np.pad(image, ((kh // 2, (kh - 1) // 2), (kw // 2, (kw - 1) // 2))), kernel
    )


def scipy_conv2d(image, kernel, stride=1, padding=0):
    return numpy_correlate(np.pad(image, padding), kernel)[::stride, ::stride]


def not_started(*args):
    raise NotImplementedError()


def passes(check, function, capsys):
    check(function)
    assert "passed" in capsys.readouterr().out


def fails(check, function, message):
    with pytest.raises(exercises.ExerciseIncorrect, match=message) as error:
        check(function)
    assert "Hint:" in str(error.value)


@pytest.mark.parametrize("answer", [scipy_output_size, reference.output_size])
def test_check_output_size_accepts_right_answers(answer, capsys):
    passes(kernels.check_output_size, answer, capsys)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda n, k, s=1, p=0: (n + 2 * p - k) // s, r"one too small.*\+ 1"),
        (lambda n, k, s=1, p=0: (n + p - k) // s + 1, "both sides: n \\+ 2p"),
        (lambda n, k, s=1, p=0: n + 2 * p - k + 1, "ignores the stride"),
        (lambda n, k, s=1, p=0: -(-(n + 2 * p - k) // s) + 1, "rounds up"),
        (lambda n, k, s=1, p=0: (n + 2 * p - k) / s + 1, "whole number"),
        (lambda n, k, s=1, p=0: None, "expected a single number"),
        (lambda n, k, s=1, p=0: n, "returned 5; expected 3"),
    ],
)
def test_check_output_size_rejects_wrong_answers(wrong, message):
    fails(kernels.check_output_size, wrong, message)


def test_checks_report_not_started_and_non_functions():
    for check in (
        kernels.check_output_size,
        kernels.check_conv2d_loops,
        kernels.check_conv2d,
        kernels.check_max_pool2d,
        kernels.check_average_pool2d,
    ):
        with pytest.raises(exercises.ExerciseNotStarted):
            check(not_started)
        with pytest.raises(exercises.ExerciseIncorrect, match="should be a function"):
            check(3)


@pytest.mark.parametrize(
    "answer", [lambda image, kernel: scipy_conv2d(image, kernel), reference.conv2d_loops]
)
def test_check_conv2d_loops_accepts_right_answers(answer, capsys):
    passes(kernels.check_conv2d_loops, answer, capsys)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda image, kernel: numpy_convolve(image, kernel), "flips the kernel"),
        (lambda image, kernel: numpy_same(image, kernel), "that is the input's size"),
        (
            lambda image, kernel: reference.conv2d_loops(image, kernel)[:-1, :-1],
            r"one position short.*range\(H - kh \+ 1\)",
        ),
        (
            lambda image, kernel: (
                reference.conv2d_loops(image, kernel.T)
                if kernel.shape[0] == kernel.shape[1]
                else reference.conv2d_loops(image, kernel)
            ),
            "transposed",
        ),
        (
            lambda image, kernel: reference.conv2d_loops(image, kernel).astype(int),
            "dtype int64; expected a float",
        ),
        (lambda image, kernel: reference.conv2d_loops(image, kernel).tolist(), "returned a list"),
    ],
)
def test_check_conv2d_loops_rejects_wrong_answers(wrong, message):
    fails(kernels.check_conv2d_loops, wrong, message)


@pytest.mark.parametrize("answer", [scipy_conv2d, reference.conv2d])
def test_check_conv2d_accepts_right_answers(answer, capsys):
    passes(kernels.check_conv2d, answer, capsys)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (
            lambda image, kernel, stride=1, padding=0: numpy_convolve(
                np.pad(image, padding), kernel
            )[::stride, ::stride],
            "flips the kernel",
        ),
        (
            lambda image, kernel, stride=1, padding=0: scipy_conv2d(image, kernel, stride, 0),
            "the padding is missing",
        ),
        (
            lambda image, kernel, stride=1, padding=0: scipy_conv2d(image, kernel, 1, padding),
            "the stride is missing",
        ),
        # padded correctly, but strided before convolving: the shape equals the unpadded one
        (
            lambda image, kernel, stride=1, padding=0: numpy_correlate(
                np.pad(image, padding)[::stride, ::stride], kernel
            ),
            r"the stride is applied before convolving",
        ),
        (
            lambda image, kernel, stride=1, padding=0: numpy_correlate(
                np.pad(image, padding, mode="edge"), kernel
            )[::stride, ::stride],
            "pad with zeros",
        ),
        (
            lambda image, kernel, stride=1, padding=0: (
                scipy_conv2d(image, kernel, stride, padding)[1:]
                if kernel.shape[0] % 2 == 0
                else scipy_conv2d(image, kernel, stride, padding)
            ),
            r"has shape \(.*\); expected",
        ),
        (
            lambda image, kernel, stride=1, padding=0: (_ for _ in ()).throw(
                ValueError("even kernel")
            ),
            "raised ValueError: even kernel",
        ),
    ],
)
def test_check_conv2d_rejects_wrong_answers(wrong, message):
    fails(kernels.check_conv2d, wrong, message)


def test_check_conv2d_does_not_blame_the_padding_for_a_shape_alone():
    # same shape as the unpadded convolution, but other values: no "padding is missing"
    def shifted(image, kernel, stride=1, padding=0):
        return scipy_conv2d(image, kernel, stride, 0) + 1.0

    with pytest.raises(
        exercises.ExerciseIncorrect, match="shape of a convolution without padding"
    ) as error:
        kernels.check_conv2d(shifted)
    assert "the padding is missing" not in str(error.value)


def test_check_conv2d_rejects_a_correct_but_pixel_loop_version(monkeypatch):
    def pixel_loops(image, kernel, stride=1, padding=0):
        return reference.conv2d_loops(np.pad(image, padding), kernel)[::stride, ::stride]

    monkeypatch.setattr(kernel_checks, "CONV2D_SPEED_LIMIT", 0.02)  # read by the check
    fails(kernels.check_conv2d, pixel_loops, "still loops over pixels")


@pytest.mark.parametrize(
    "answer",
    [reference.max_pool2d, lambda m, size=2, stride=2: windows(m, size, stride).max(axis=(-2, -1))],
)
def test_check_max_pool2d_accepts_right_answers(answer, capsys):
    passes(kernels.check_max_pool2d, answer, capsys)


@pytest.mark.parametrize(
    "answer",
    [
        reference.average_pool2d,
        lambda m, size=2, stride=2: windows(m, size, stride).mean(axis=(-2, -1)),
    ],
)
def test_check_average_pool2d_accepts_right_answers(answer, capsys):
    passes(kernels.check_average_pool2d, answer, capsys)


def windows(feature_map, size, stride):
    return np.lib.stride_tricks.sliding_window_view(feature_map, (size, size))[::stride, ::stride]


POOLING_MISTAKES = [
    (lambda m, size=2, stride=2: windows(m, size, 1).max(axis=(-2, -1)), "the stride is missing"),
    (
        lambda m, size=2, stride=2: windows(m, size, size).max(axis=(-2, -1)),
        "moved by pool_size instead of stride",
    ),
    (
        lambda m, size=2, stride=2: windows(
            np.pad(m, ((0, 1), (0, 1)), constant_values=-9), size, stride
        ).max(axis=(-2, -1)),
        "leftover rows or columns",
    ),
]


def test_check_max_pool2d_rejects_wrong_answers():
    fails(kernels.check_max_pool2d, reference.average_pool2d, "computes average pooling")
    fails(
        kernels.check_max_pool2d,
        lambda m, s=2, t=2: reference.max_pool2d(m, s, t).T,
        "has shape|differs",
    )
    for wrong, message in POOLING_MISTAKES:
        fails(kernels.check_max_pool2d, wrong, message)


def test_check_average_pool2d_rejects_wrong_answers():
    fails(kernels.check_average_pool2d, reference.max_pool2d, "computes max pooling")
    fails(
        kernels.check_average_pool2d,
        lambda m, s=2, t=2: windows(m, s, t).sum(axis=(-2, -1)),
        "differs from the expected",
    )


def shortcut_conv2d_loops(image, kernel):
    return signal.correlate2d(image, kernel, "valid")


def shortcut_max_pool2d(feature_map, pool_size=2, stride=2):
    return kernels.pool(feature_map, pool_size)


def shortcut_output_size(n, k, s=1, p=0):
    return round(len(kernels.window_positions((n, n), (k, k), p, s)) ** 0.5)


@pytest.mark.parametrize(
    "check, function, name",
    [
        (kernels.check_conv2d_loops, shortcut_conv2d_loops, "correlate2d"),
        (kernels.check_max_pool2d, shortcut_max_pool2d, "pool"),
        (kernels.check_output_size, shortcut_output_size, "window_positions"),
    ],
)
def test_checks_refuse_a_library_shortcut_written_in_the_notebook(
    check, function, name, monkeypatch
):
    monkeypatch.setattr(function, "__module__", "__main__")  # as if typed in the notebook
    with pytest.raises(exercises.ExerciseIncorrect, match=f"calls {name}\\(\\)"):
        check(function)


# --- integer inputs: an output made with np.zeros_like(integer input) is rejected (issue 12) --


def loops_with_zeros_like(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros_like(image)[: image.shape[0] - kh + 1, : image.shape[1] - kw + 1]
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def average_pool_keeping_dtype(feature_map, pool_size=2, stride=2):
    rows = (feature_map.shape[0] - pool_size) // stride + 1
    columns = (feature_map.shape[1] - pool_size) // stride + 1
    out = np.zeros_like(feature_map)[:rows, :columns]
    for i in range(rows):
        for j in range(columns):
            out[i, j] = feature_map[
                i * stride : i * stride + pool_size, j * stride : j * stride + pool_size
            ].mean()
    return out


def test_checks_reject_an_integer_output_for_an_integer_input():
    fails(kernels.check_conv2d_loops, loops_with_zeros_like, r"np\.zeros_like\(image\)")
    fails(
        kernels.check_average_pool2d,
        average_pool_keeping_dtype,
        r"int64.*np\.zeros_like\(feature_map\)",
    )


def test_check_max_pool2d_accepts_integer_maxima_for_an_integer_input(capsys):
    def max_pool_keeping_dtype(feature_map, pool_size=2, stride=2):
        return windows(feature_map, pool_size, stride).max(axis=(-2, -1))  # int stays int

    passes(kernels.check_max_pool2d, max_pool_keeping_dtype, capsys)
