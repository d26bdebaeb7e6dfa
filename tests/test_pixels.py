"""lab_utils.pixels (lesson 01): compute functions, widgets driven headlessly, and the checks
tested with right answers (written here with library functions) and typical wrong answers."""

import numpy as np
import pytest
from skimage import color

from lab_utils import data, exercises, pixels

RNG = np.random.default_rng(0)
PHOTO = RNG.integers(0, 256, (40, 50, 3), dtype=np.uint8)


# --- reading the numbers ----------------------------------------------------------------------


def test_zoom_region_is_moved_inside_the_image():
    image = np.arange(100, dtype=np.uint8).reshape(10, 10)
    np.testing.assert_array_equal(pixels.zoom_region(image, 2, 3, 2), [[23, 24], [33, 34]])
    assert pixels.zoom_region(image, 9, 9, 4).shape == (4, 4)  # clamped
    np.testing.assert_array_equal(pixels.zoom_region(image, 9, 9, 4), image[6:, 6:])


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.zeros((4, 4), np.uint8), 4, 0, 2), ValueError, "row must be at most 3"),
        ((np.zeros((4, 4), np.uint8), 0, 0, 0), ValueError, "size must be at least 1"),
        ((np.zeros((4, 4), np.uint8), 0.5, 0, 2), TypeError, "row must be a whole number"),
        ((np.zeros(4, np.uint8), 0, 0, 2), ValueError, "shape"),
    ],
)
def test_zoom_region_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        pixels.zoom_region(*args)


def test_pixel_table_html_has_one_cell_per_pixel_with_its_values():
    gray = pixels.pixel_table_html(np.array([[0, 255]], np.uint8))
    assert gray.count("<td") == 2 and ">255</td>" in gray and "rgb(0,0,0)" in gray
    rgb = pixels.pixel_table_html(np.array([[[10, 20, 30]]], np.uint8))
    assert "10<br>20<br>30" in rgb


@pytest.mark.parametrize(
    "block, error, message",
    [
        (np.zeros((2, 2)), TypeError, "must be uint8"),
        (np.zeros((30, 2), np.uint8), ValueError, "at most 24x24"),
        ([[1, 2]], TypeError, "uint8 \\(0-255\\) or float"),
    ],
)
def test_pixel_table_html_bad_input(block, error, message):
    with pytest.raises(error, match=message):
        pixels.pixel_table_html(block)


def test_locate_region_draws_a_red_frame_around_the_block():
    framed = pixels.locate_region(np.zeros((60, 60), np.uint8), 20, 20, 10)
    assert framed.shape == (60, 60, 3)
    assert (framed[19, 25] == [255, 0, 0]).all() and (framed[25, 25] == 0).all()


def test_pixel_explorer_follows_its_controls():
    photos = {"a": PHOTO, "b": np.zeros((20, 30), np.uint8)}
    explorer = pixels.pixel_explorer(photos, size=4)
    explorer.controls["row"].value = 5
    explorer.controls["column"].value = 7
    np.testing.assert_array_equal(explorer.state["block"], PHOTO[5:9, 7:11])
    explorer.controls["photo"].value = "b"
    assert explorer.state["block"].shape == (4, 4)
    # Sliders follow the new photo's size; row/column are the block's top-left pixel, so
    # they stop where the block touches the border (the slider shows the position in use).
    assert (explorer.controls["row"].max, explorer.controls["column"].max) == (16, 26)
    explorer.controls["row"].value = 16
    explorer.controls["size"].value = 10  # a bigger block moves the slider
    assert explorer.controls["row"].value == 10 == explorer.state["top"]
    np.testing.assert_array_equal(explorer.state["block"], photos["b"][10:, 7:17])
    assert "rows 10-19, columns 7-16" in explorer.layout.children[2].value


def test_pixel_table_html_numbers_rows_and_columns_when_given_the_position():
    table = pixels.pixel_table_html(np.zeros((2, 3), np.uint8), top=40, left=7)
    assert table.count("<td") == 6 and table.count("<tr") == 3
    for number in (40, 41, 7, 8, 9):
        assert f">{number}</th>" in table
    with pytest.raises(TypeError, match="both top and left"):
        pixels.pixel_table_html(np.zeros((2, 3), np.uint8), top=4)
    with pytest.raises(ValueError, match="top must be at least 0"):
        pixels.pixel_table_html(np.zeros((2, 3), np.uint8), top=-1, left=0)


def test_locate_region_at_display_width_keeps_a_small_block_visible():
    image = np.zeros((400, 1200), np.uint8)
    framed = pixels.locate_region(image, 100, 600, 2, display_width=300)
    assert framed.shape == (100, 300, 3)
    red = np.argwhere((framed == [255, 0, 0]).all(axis=-1))
    # a 2x2 block is half a display pixel wide; its frame still spans 9 pixels or more
    assert red[:, 0].max() - red[:, 0].min() >= 9 and red[:, 1].max() - red[:, 1].min() >= 9
    assert red[:, 0].min() <= 25 <= red[:, 0].max() and red[:, 1].min() <= 150 <= red[:, 1].max()


@pytest.mark.parametrize(
    "photos, error, message",
    [
        ({}, TypeError, "non-empty dict"),
        ([PHOTO], TypeError, "non-empty dict"),
        ({"a": np.zeros((3, 3, 2))}, ValueError, r"photos\['a'\] must have shape"),
    ],
)
def test_pixel_explorer_bad_input(photos, error, message):
    with pytest.raises(error, match=message):
        pixels.pixel_explorer(photos)


# --- variations -------------------------------------------------------------------------------


@pytest.mark.parametrize("variation", pixels.VARIATIONS)
def test_each_variation_keeps_shape_and_changes_the_pixels(variation):
    faces = [RNG.random((25, 25)) for _ in range(3)]
    texture = RNG.integers(0, 256, (64, 64), dtype=np.uint8)
    varied = pixels.apply_variation(PHOTO, variation, 0.8, clutter=texture, class_examples=faces)
    assert varied.shape == PHOTO.shape and varied.dtype == np.uint8
    assert np.abs(varied.astype(int) - PHOTO).mean() > 5


@pytest.mark.parametrize(
    "variation",
    ["viewpoint", "scale", "deformation", "occlusion", "illumination", "clutter", "intra-class"],
)
def test_strength_zero_leaves_the_photo_unchanged(variation):
    varied = pixels.apply_variation(
        PHOTO, variation, 0.0, clutter=PHOTO, class_examples=[PHOTO[::-1]]
    )
    assert np.abs(varied.astype(int) - PHOTO).max() <= 1


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            {"variation": "blur", "strength": 0.5},
            ValueError,
            "variation must be one of 'viewpoint'",
        ),
        ({"variation": "scale", "strength": 1.5}, ValueError, "strength must be at most 1"),
        ({"variation": "clutter", "strength": 0.5}, ValueError, "needs a texture"),
        ({"variation": "intra-class", "strength": 0.5}, ValueError, "needs other members"),
        ({"variation": "scale", "strength": "high"}, TypeError, "strength must be a number"),
    ],
)
def test_apply_variation_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        pixels.apply_variation(PHOTO, **kwargs)


def test_variation_explorer_recomputes_when_driven():
    explorer = pixels.variation_explorer(PHOTO, clutter=PHOTO, class_examples=[PHOTO[::-1]])
    explorer.controls["variation"].value = "occlusion"
    explorer.controls["strength"].value = 0.0
    assert explorer.state["distance"] == 0
    explorer.controls["strength"].value = 1.0
    assert explorer.state["distance"] > 0
    assert explorer.state["image"].shape == PHOTO.shape


# --- perturbations and the nearest-neighbour measurement -----------------------------------


def test_perturb_each_kind():
    images = np.zeros((3, 9, 9))
    images[:, 4, 4] = 1.0
    assert np.allclose(pixels.perturb(images, "shift", 0), images)
    assert pixels.perturb(images, "shift", 2)[:, 4, 4].max() < 1  # the dot has moved
    assert np.allclose(pixels.perturb(images, "scale", 1.0), images)
    assert np.allclose(pixels.perturb(images, "rotation", 0), images)
    assert pixels.perturb(np.ones((2, 8, 8)), "occlusion", 0.5).sum() == 2 * (64 - 16)
    noisy = pixels.perturb(images, "noise", 0.1, seed=1)
    assert 0 <= noisy.min() and noisy.max() <= 1
    np.testing.assert_array_equal(noisy, pixels.perturb(images, "noise", 0.1, seed=1))


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.zeros((8, 8)), "shift", 1), ValueError, r"shape \(N, height, width\)"),
        ((np.full((1, 8, 8), 16.0), "shift", 1), ValueError, "floats in \\[0, 1\\]"),
        ((np.zeros((1, 8, 8)), "flip", 1), ValueError, "perturbation must be one of"),
        ((np.zeros((1, 8, 8)), "scale", 0), ValueError, "scale factor of 0"),
        ((np.zeros((1, 8, 8)), "noise", -1), ValueError, "strength must be at least 0"),
    ],
)
def test_perturb_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        pixels.perturb(*args)


def test_nearest_neighbour_accuracy_falls_as_digits_shift():
    digits = data.load_dataset("digits")
    accuracy = pixels.nearest_neighbour_sweep(
        digits.images / 16, digits.labels, {"shift": [0, 2]}, seed=0
    )
    assert accuracy["shift"][0] > 0.95 and accuracy["shift"][1] < 0.5


def test_nearest_neighbour_sweep_bad_input():
    with pytest.raises(ValueError, match="one label each"):
        pixels.nearest_neighbour_sweep(np.zeros((4, 8, 8)), np.zeros(3), {"shift": [0]})
    with pytest.raises(TypeError, match="NumPy array"):
        pixels.nearest_neighbour_sweep("digits", np.zeros(3), {"shift": [0]})
    with pytest.raises(ValueError, match="one label each"):
        pixels.nearest_neighbour_sweep(np.zeros((4, 64)), np.zeros(4), {"shift": [0]})


# --- exercise checks: right answers pass, typical wrong answers get specific messages -------


def _unsolved(*args):
    raise NotImplementedError()


# Right answers are written independently of the library the check compares with (a check
# that passed its own reference would prove nothing, and the checks now reject it: below).


def test_check_to_grayscale_right_answers_pass(capsys):
    weights = np.array([0.2125, 0.7154, 0.0721])
    pixels.check_to_grayscale(lambda image: image @ weights)
    pixels.check_to_grayscale(lambda image: np.einsum("...c,c->...", image, weights))
    pixels.check_to_grayscale(lambda image: sum(image[..., c] * w for c, w in enumerate(weights)))
    assert capsys.readouterr().out.count("✔ to_grayscale passed 3 tests.") == 3


@pytest.mark.parametrize(
    "wrong, error, message",
    [
        (_unsolved, exercises.ExerciseNotStarted, "not written yet"),
        (lambda image: image.mean(axis=-1), exercises.ExerciseIncorrect, "plain average"),
        (
            lambda image: image[..., ::-1] @ np.array([0.2125, 0.7154, 0.0721]),
            exercises.ExerciseIncorrect,
            "reverse order",
        ),
        (
            lambda image: image @ np.array([0.299, 0.587, 0.114]),
            exercises.ExerciseIncorrect,
            "Rec. 601",
        ),
        (
            lambda image: image,
            exercises.ExerciseIncorrect,
            r"has shape \(4, 5, 3\); expected \(4, 5\)",
        ),
        (lambda image: None, exercises.ExerciseIncorrect, "returned None"),
        (color.rgb2gray(np.ones((2, 2, 3))), exercises.ExerciseIncorrect, "should be a function"),
    ],
)
def test_check_to_grayscale_wrong_answers(wrong, error, message):
    with pytest.raises(error, match=message):
        pixels.check_to_grayscale(wrong)


def test_check_normalise_right_answers_pass(capsys):
    pixels.check_normalise(lambda image: image / 255.0)
    pixels.check_normalise(lambda image: image.astype(np.float32) / np.float32(255))
    pixels.check_normalise(lambda image: np.true_divide(image, 255, dtype=np.float64))
    assert capsys.readouterr().out.count("✔ normalise passed 3 tests.") == 3


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda image: image / 256, "divides by 256"),
        (lambda image: (image - image.min()) / (image.max() - image.min()), "its own minimum"),
        (lambda image: image // 255, "has dtype uint8; expected a float"),
        (lambda image: image.astype(float), r"differs from the expected values"),
    ],
)
def test_check_normalise_wrong_answers(wrong, message):
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        pixels.check_normalise(wrong)


def test_check_pixel_distance_right_answers_pass(capsys):
    pixels.check_pixel_distance(
        lambda a, b: float(np.sqrt(np.sum((a.astype(float) - b.astype(float)) ** 2)))
    )
    pixels.check_pixel_distance(lambda a, b: np.linalg.norm(np.subtract(a, b, dtype=float)))
    pixels.check_pixel_distance(
        lambda a, b: sum((float(x) - float(y)) ** 2 for x, y in zip(a.ravel(), b.ravel())) ** 0.5
    )
    assert capsys.readouterr().out.count("✔ pixel_distance passed 3 tests.") == 3


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda a, b: float(np.sqrt(np.sum((a - b).astype(float) ** 2))), "wraps around to 246"),
        (lambda a, b: float(np.sum((a.astype(float) - b) ** 2)), "squared distance"),
        (lambda a, b: float(np.abs(a.astype(float) - b).sum()), "sum of absolute differences"),
        (lambda a, b: a.astype(float) - b, "expected a single number"),
        (_unsolved, "not written yet"),
    ],
)
def test_check_pixel_distance_wrong_answers(wrong, message):
    with pytest.raises((exercises.ExerciseIncorrect, exercises.ExerciseNotStarted), match=message):
        pixels.check_pixel_distance(wrong)


def test_check_pixel_distance_recognises_int_casts_of_float_images():
    def int_cast(a, b):
        return float(np.sqrt(np.sum((a.astype(np.int16) - b.astype(np.int16)) ** 2.0)))

    with pytest.raises(exercises.ExerciseIncorrect, match="integer type turns them into 0"):
        pixels.check_pixel_distance(int_cast)


def test_check_pixel_distance_recognises_a_fully_uint8_computation():
    with pytest.raises(exercises.ExerciseIncorrect, match="wraps around to 246"):
        pixels.check_pixel_distance(lambda a, b: float(np.sqrt(np.sum((a - b) ** 2))))


def test_variation_and_sweep_arguments_of_the_wrong_kind_are_explained():
    with pytest.raises(TypeError, match="class_examples must be a list of images"):
        pixels.apply_variation(PHOTO, "intra-class", 0.5, class_examples=PHOTO)
    with pytest.raises(TypeError, match="strengths must be a dict"):
        pixels.nearest_neighbour_sweep(np.zeros((4, 8, 8)), np.zeros(4), [0, 1])
