"""Bad-input battery (issue 13): public functions of lessons 01-04 x hostile inputs.

Each row: the call, the exception type it must raise and a pattern its message must contain
(the message names what was expected). A row fails if the function accepts the input, answers
silently wrong (NaN read as success), or raises a raw library error instead of the kit's own.
Huge images are ``np.broadcast_to`` views: they occupy no memory, so a size check that comes
after an allocation would show up as a slow test or a MemoryError, not as a pass.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from lab_utils import (
    cnns,
    data,
    exercises,
    kernels,
    models,
    perceptrons,
    pixels,
    validation,
    widgets,
)

NAN = float("nan")
RNG = np.random.default_rng(0)
PHOTO = RNG.integers(0, 256, (24, 32, 3), dtype=np.uint8)
GRAY = RNG.random((24, 32))
HUGE_RGB = np.broadcast_to(np.uint8(7), (10000, 10000, 3))  # 300 MB if it were real
HUGE_GRAY = np.broadcast_to(np.float32(0.5), (4097, 4097))
CAST_TO_UINT8 = (RNG.random((24, 32, 3)) > 0.5).astype(np.uint8)  # [0, 1] floats .astype(uint8)
DIGITS = RNG.random((6, 8, 8))
LABELS = np.array([0, 1, 2, 0, 1, 2])
NETWORK = [RNG.normal(size=(2, 3)), np.zeros(3), RNG.normal(size=(3, 2)), np.zeros(2)]
OVERFLOWING = [NETWORK[0] * 1e308, NETWORK[1], NETWORK[2] * 1e308, np.array([1e308, -1e308])]
POINTS = RNG.normal(size=(4, 2))
ONE_HOT = np.eye(2)[[0, 1, 1, 0]]


def dataset(images, labels=None, **options):
    labels = np.arange(len(images)) % 2 if labels is None else labels
    return data.Dataset(np.asarray(images), labels, ["a", "b"], "test", **options)


TWENTY = np.arange(20) % 2

# (id, function, args, kwargs, exception, message pattern)
CASES = [
    # 5. size limits, refused before allocating
    (
        "apply_variation huge",
        pixels.apply_variation,
        (HUGE_RGB, "scale", 0.5),
        {},
        ValueError,
        r"too large: 10000 x 10000 .* at most 16,777,216 pixels",
    ),
    (
        "variation_explorer huge",
        pixels.variation_explorer,
        (HUGE_RGB,),
        {"clutter": PHOTO, "class_examples": [PHOTO]},
        ValueError,
        "too large",
    ),
    (
        "filter_image huge",
        kernels.filter_image,
        (HUGE_RGB, kernels.CLASSIC_KERNELS["sharpen"]),
        {},
        ValueError,
        "too large",
    ),
    (
        "kernel_editor huge",
        kernels.kernel_editor,
        ({"big": HUGE_RGB},),
        {},
        ValueError,
        r"photos\['big'\] is too large",
    ),
    (
        "pixel_explorer huge",
        pixels.pixel_explorer,
        ({"big": HUGE_GRAY},),
        {},
        ValueError,
        "too large",
    ),
    ("to_display huge", kernels.to_display, (HUGE_GRAY,), {}, ValueError, "too large"),
    (
        "as_batch huge",
        models.as_batch,
        (np.broadcast_to(np.float32(0), (2, 5000, 5000)),),
        {},
        ValueError,
        "each image of images is too large",
    ),
    (
        "split_dataset huge",
        cnns.split_dataset,
        (dataset(np.broadcast_to(np.float32(0), (20, 5000, 5000)), TWENTY),),
        {},
        ValueError,
        "too large",
    ),
    # 3. no guessing of scales
    (
        "filter_image 0/1 uint8",
        kernels.filter_image,
        (CAST_TO_UINT8, kernels.CLASSIC_KERNELS["identity"]),
        {},
        ValueError,
        r"only the values 0 and 1.*astype\(np.uint8\)",
    ),
    ("encode 0/1 uint8", widgets.encode, (CAST_TO_UINT8,), {}, ValueError, "shows as black"),
    (
        "apply_variation 0/1 uint8",
        pixels.apply_variation,
        (CAST_TO_UINT8, "scale", 0.5),
        {},
        ValueError,
        "only the values 0 and 1",
    ),
    (
        "to_display raw uint8",
        kernels.to_display,
        (PHOTO,),
        {},
        TypeError,
        r"\[0, 1\] scale.*show white",
    ),
    (
        "split_dataset 0-100",
        cnns.split_dataset,
        (dataset(RNG.random((20, 8, 8)) * 100, TWENTY),),
        {},
        ValueError,
        r"values up to 9\d\.\d*, above the largest gray level 1 .*max_value=",
    ),
    (
        "split_dataset 0-2",
        cnns.split_dataset,
        (dataset(RNG.random((20, 8, 8)) * 2, TWENTY),),
        {},
        ValueError,
        "does not guess the scale",
    ),
    (
        "split_dataset uint16",
        cnns.split_dataset,
        (dataset(RNG.integers(0, 4096, (20, 8, 8)).astype(np.uint16), TWENTY),),
        {},
        TypeError,
        "does not guess: pass max_value=",
    ),
    (
        "split_dataset negative",
        cnns.split_dataset,
        (dataset(RNG.random((20, 8, 8)) - 0.5, TWENTY),),
        {},
        ValueError,
        "negative values",
    ),
    (
        "split_dataset NaN",
        cnns.split_dataset,
        (dataset(np.full((20, 8, 8), NAN), TWENTY),),
        {},
        ValueError,
        "NaN",
    ),
    (
        "split_dataset 0/1 uint8",
        cnns.split_dataset,
        (dataset((RNG.random((20, 8, 8)) > 0.5).astype(np.uint8), TWENTY),),
        {},
        ValueError,
        "holds only 0 and 1",
    ),
    (
        "split_dataset above max_value",
        cnns.split_dataset,
        (dataset(RNG.random((20, 8, 8)) * 20, TWENTY, max_value=16.0),),
        {},
        ValueError,
        r"above the largest gray level 16 \(dataset.max_value\)",
    ),
    (
        "as_batch 0/1 uint8",
        models.as_batch,
        ((RNG.random((2, 8, 8)) > 0.5).astype(np.uint8),),
        {},
        ValueError,
        "holds only 0 and 1",
    ),
    # 2. NaN never reads as success
    (
        "relative_error NaN",
        perceptrons.relative_error,
        ([NAN, 1.0], [1.0, 1.0]),
        {},
        ValueError,
        r"a contains NaN or infinite values \(the first is nan at index 0\)",
    ),
    (
        "relative_error inf",
        perceptrons.relative_error,
        ([1.0, 1.0], [1.0, np.inf]),
        {},
        ValueError,
        "b contains NaN or infinite",
    ),
    (
        "step NaN",
        perceptrons.step,
        (np.array([0.5, NAN]),),
        {},
        ValueError,
        "z contains NaN or infinite values",
    ),
    (
        "network_loss NaN x",
        perceptrons.network_loss,
        (np.where(np.eye(4, 2) > 0, NAN, POINTS), ONE_HOT, *NETWORK),
        {},
        ValueError,
        "x contains NaN",
    ),
    (
        "network_loss NaN y",
        perceptrons.network_loss,
        (POINTS, np.full((4, 2), NAN), *NETWORK),
        {},
        ValueError,
        "y_true contains NaN",
    ),
    (
        "network_loss not one-hot",
        perceptrons.network_loss,
        (POINTS, ONE_HOT * 3, *NETWORK),
        {},
        ValueError,
        "one-hot",
    ),
    (
        "network_loss overflow",
        perceptrons.network_loss,
        (POINTS, ONE_HOT, *OVERFLOWING),
        {},
        ValueError,
        "the loss is nan.*overflow",
    ),
    (
        "autodiff_backward NaN",
        perceptrons.autodiff_backward,
        (np.full((4, 2), NAN), ONE_HOT, *NETWORK),
        {},
        ValueError,
        "x contains NaN",
    ),
    (
        "fit_with_keras NaN",
        perceptrons.fit_with_keras,
        (np.full((4, 2), NAN), ONE_HOT, *NETWORK),
        {"learning_rate": 0.1, "epochs": 2},
        ValueError,
        "x contains NaN",
    ),
    (
        "fit_with_keras diverges",
        perceptrons.fit_with_keras,
        (POINTS, ONE_HOT, *OVERFLOWING),
        {"learning_rate": 0.1, "epochs": 2},
        ValueError,
        "training diverged.*learning rate",
    ),
    (
        "activation_curves NaN",
        perceptrons.activation_curves,
        (np.array([0.0, NAN]),),
        {},
        ValueError,
        "z contains NaN",
    ),
    # 1. widget builders check their arguments up front
    (
        "variation_explorer clutter None",
        pixels.variation_explorer,
        (PHOTO,),
        {"clutter": None, "class_examples": [PHOTO]},
        TypeError,
        "clutter must be an image",
    ),
    (
        "variation_explorer no examples",
        pixels.variation_explorer,
        (PHOTO,),
        {"clutter": PHOTO, "class_examples": []},
        TypeError,
        "non-empty list of images",
    ),
    (
        "variation_explorer bad example",
        pixels.variation_explorer,
        (PHOTO,),
        {"clutter": PHOTO, "class_examples": ["face.png"]},
        TypeError,
        r"class_examples\[0\]",
    ),
    (
        "pixel_explorer non-string name",
        pixels.pixel_explorer,
        ({1: PHOTO},),
        {},
        TypeError,
        r"a name \(a string\)",
    ),
    (
        "convolution_stepper kernel too big",
        kernels.convolution_stepper,
        (np.ones((2, 2)), np.ones((3, 3))),
        {},
        ValueError,
        "larger than the grid",
    ),
    (
        "convolution_stepper even kernel",
        kernels.convolution_stepper,
        (),
        {"kernel": np.ones((2, 2))},
        ValueError,
        "odd height and width",
    ),
    (
        "kernel weight above float32",
        kernels.as_kernel,
        ([[0, 0, 0], [0, 1e39, 0], [0, 0, 0]],),
        {},
        ValueError,
        "weights must lie between -1e\\+06 and 1e\\+06.*row 1, column 1",
    ),
    (
        "kernel weight inf",
        kernels.as_kernel,
        ([[0, 0, 0], [0, np.inf, 0], [0, 0, 0]],),
        {},
        ValueError,
        "NaN or infinite",
    ),
    # 7. small ones: seeds, KeyError / IndexError
    (
        "perturb negative seed",
        pixels.perturb,
        (DIGITS, "shift", 1.0),
        {"seed": -1},
        ValueError,
        "seed must be at least 0",
    ),
    (
        "perturb occlusion > 1",
        pixels.perturb,
        (DIGITS, "occlusion", 2.0),
        {},
        ValueError,
        r"fraction of the image side, in \[0, 1\]",
    ),
    (
        "nearest_neighbour_sweep seed",
        pixels.nearest_neighbour_sweep,
        (DIGITS, LABELS, {"shift": [0]}),
        {"seed": -3},
        ValueError,
        "seed must be at least 0",
    ),
    (
        "nearest_neighbour_sweep unknown",
        pixels.nearest_neighbour_sweep,
        (DIGITS, LABELS, {"blur": [1]}),
        {},
        ValueError,
        "must be one of 'shift'",
    ),
    (
        "nearest_neighbour_sweep number",
        pixels.nearest_neighbour_sweep,
        (DIGITS, LABELS, {"shift": 2}),
        {},
        TypeError,
        "non-empty list of strengths",
    ),
    (
        "nearest_neighbour_sweep one image",
        pixels.nearest_neighbour_sweep,
        (DIGITS[:1], LABELS[:1], {"shift": [0]}),
        {},
        ValueError,
        "at least 2 images",
    ),
    (
        "split_dataset seed",
        cnns.split_dataset,
        (dataset(RNG.random((20, 8, 8)), TWENTY),),
        {"seed": -1},
        ValueError,
        "seed must be at least 0",
    ),
    (
        "train_perceptron seed",
        perceptrons.train_perceptron,
        (POINTS, [0, 1, 1, 0]),
        {"seed": -1},
        ValueError,
        "seed must be at least 0",
    ),
    (
        "chance_similarity seed",
        cnns.chance_similarity,
        (kernels.CLASSIC_KERNELS,),
        {"seed": -1, "trials": 1},
        ValueError,
        "seed must be at least 0",
    ),
    (
        "placed_digits seed",
        data.load_placed_digits,
        (),
        {"seed": -1},
        ValueError,
        "seed must be at least 0",
    ),
    (
        "numerical_gradient too many elements",
        perceptrons.numerical_gradient,
        (lambda array: 0.0, np.broadcast_to(0.0, (1000, 1000))),
        {},
        ValueError,
        "limited to 100,000",
    ),
    (
        "autodiff_backward 3-D x",
        perceptrons.autodiff_backward,
        (HUGE_RGB, ONE_HOT, *NETWORK),
        {},
        ValueError,
        r"matrix of shape \(N, inputs\)",
    ),
    (
        "plot_filters_and_kernels huge",
        cnns.plot_filters_and_kernels,
        (np.broadcast_to(0.0, (9000, 9000, 3)), kernels.CLASSIC_KERNELS),
        {},
        ValueError,
        "1 to 256 filters",
    ),
    ("upscale empty", widgets.upscale, (np.zeros(0), 2), {}, ValueError, "must have shape"),
    (
        "upscale too large",
        widgets.upscale,
        (np.broadcast_to(np.uint8(9), (300, 300)), 64),
        {},
        ValueError,
        "the enlarged image is too large",
    ),
    (
        "plot_imagenet_errors ragged",
        cnns.plot_imagenet_errors,
        ({**data.load_table("imagenet_top5"), "year": [2010]},),
        {},
        ValueError,
        "lengths differ",
    ),
    (
        "plot_imagenet_errors no winner",
        cnns.plot_imagenet_errors,
        ({key: [] for key in data.load_table("imagenet_top5")},),
        {},
        ValueError,
        "no row whose kind is 'winner'",
    ),
    (
        "plot_imagenet_errors text",
        cnns.plot_imagenet_errors,
        (
            {
                **data.load_table("imagenet_top5"),
                "top5_error_percent": ["x"] * len(data.load_table("imagenet_top5")["year"]),
            },
        ),
        {},
        TypeError,
        "must hold numbers",
    ),
    (
        "describe_spec string",
        cnns.describe_spec,
        ("conv",),
        {},
        TypeError,
        "list of layer descriptions",
    ),
    (
        "describe_spec no type",
        cnns.describe_spec,
        ([{"filters": 3}],),
        {},
        TypeError,
        "a dict with a 'type'",
    ),
]


@pytest.mark.parametrize(
    "function, args, kwargs, error, message",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_hostile_input_gets_a_clear_error(function, args, kwargs, error, message):
    with pytest.raises(error, match=message):
        function(*args, **kwargs)


def test_the_documented_size_limit_is_the_one_applied():
    side = int(validation.MAX_IMAGE_PIXELS**0.5)
    assert side * side == validation.MAX_IMAGE_PIXELS == 4096 * 4096
    validation.as_image(np.broadcast_to(np.uint8(9), (side, side, 3)))  # at the limit
    with pytest.raises(ValueError, match="too large"):
        validation.as_image(np.broadcast_to(np.uint8(9), (side, side + 1, 3)))


def test_digits_are_scaled_by_their_stated_maximum_not_their_largest_value():
    digits = data.load_dataset("digits")
    assert digits.max_value == 16
    split = cnns.split_dataset(digits, seed=0)
    assert split.train_images.max() == 1.0  # 16 -> 1
    dim = dataset(np.full((20, 8, 8), 8.0), TWENTY, max_value=16)
    assert cnns.split_dataset(dim).train_images.max() == 0.5  # not stretched to 1
    assert (
        cnns.split_dataset(
            dataset(RNG.random((20, 8, 8)) * 100, TWENTY), max_value=100
        ).train_images.max()
        <= 1
    )


def test_relative_error_still_measures_finite_gradients():
    assert perceptrons.relative_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert perceptrons.relative_error([1.0], [3.0]) == pytest.approx(0.5)


# --------------------------------------------------------------------------------------------
# 4. Keras models with the wrong input shape
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cnn_8x8(keras):
    return models.cnn_classifier((8, 8, 1), 3, filters=(4,), name="small")


def test_wrong_input_shape_is_named_everywhere(cnn_8x8):
    images = RNG.random((3, 12, 12)).astype(np.float32)
    pattern = r"expects images of shape \(8, 8, 1\).*have shape \(12, 12, 1\)"
    for call in [
        lambda: models.predict_probabilities(cnn_8x8, images),
        lambda: models.accuracy(cnn_8x8, images, [0, 1, 2]),
        lambda: cnns.feature_maps(cnn_8x8, images[0]),
        lambda: cnns.robustness_sweep({"cnn": cnn_8x8}, images, [0, 1, 2], {"shift": [0]}),
        lambda: cnns.perturbed_prediction(cnn_8x8, images[0]),
        lambda: cnns.prediction_demo(cnn_8x8, images, [0, 1, 2], ["a", "b", "c"]),
    ]:
        with pytest.raises(ValueError, match=pattern):
            call()
    assert models.predict_probabilities(cnn_8x8, images[:, :8, :8]).shape == (3, 3)


def test_prediction_demo_refuses_a_negative_seed_and_nan_images(cnn_8x8):
    images = RNG.random((3, 8, 8))
    with pytest.raises(ValueError, match="seed must be at least 0"):
        cnns.prediction_demo(cnn_8x8, images, [0, 1, 2], ["a", "b", "c"], seed=-1)
    images[1, 2, 3] = NAN
    with pytest.raises(ValueError, match="NaN"):
        cnns.prediction_demo(cnn_8x8, images, [0, 1, 2], ["a", "b", "c"])


def test_a_corrupt_model_file_is_not_called_missing(tmp_path, keras):
    path = tmp_path / "broken.keras"
    path.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="exists but is not a readable .keras model"):
        models.load(path)
    with pytest.raises(FileNotFoundError, match="there is no model file"):
        models.load(tmp_path / "missing.keras")


# --------------------------------------------------------------------------------------------
# 1. Widgets show a render error inside the widget and stay usable
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("typed", [1e39, float("inf")], ids=["above float32", "typed 1e400"])
def test_kernel_editor_shows_a_bad_weight_in_the_widget_and_recovers(typed):
    editor = kernels.kernel_editor({"gray": GRAY})
    shown = editor.state["image"].copy()
    editor.controls["k11"].value = typed
    assert "error" in editor.state
    assert "weight" in editor.state["error"] or "infinite" in editor.state["error"]
    assert editor.error.layout.display != "none" and editor.error.value
    editor.controls["k11"].value = 1.0
    assert "error" not in editor.state and editor.error.layout.display == "none"
    assert editor.state["image"].shape == shown.shape


# --------------------------------------------------------------------------------------------
# 2 and 6. Checks: NaN, infinite, huge or nonsense answers give an exercise message
# --------------------------------------------------------------------------------------------

HOSTILE_ANSWERS = {
    "NaN": NAN,
    "inf": float("inf"),
    "10**400": 10**400,
    "None": None,
    "str": "12",
    "NaN array": np.array([NAN]),
    "float32 NaN": np.float32(NAN),
    "object": object(),
}
LESSON_CHECKS = [
    (f"{module.__name__.rsplit('.', 1)[-1]}.{name}", check)
    for module in (pixels, kernels, perceptrons, cnns)
    for name, check in inspect.getmembers(module, callable)
    if name.startswith("check_") and getattr(check, "__module__", "") == f"{module.__name__}.checks"
]


@pytest.mark.slow
@pytest.mark.parametrize("name, check", LESSON_CHECKS, ids=[name for name, _ in LESSON_CHECKS])
def test_every_check_answers_hostile_results_with_an_exercise_message(name, check, keras):
    for label, answer in HOSTILE_ANSWERS.items():
        try:
            check(lambda *args, answer=answer: answer)
        except (exercises.ExerciseIncorrect, exercises.ExerciseNotStarted) as error:
            assert str(error).strip(), (name, label)
        else:
            pytest.fail(f"{name} accepted the answer {label}")


def test_check_output_size_names_nan_infinity_and_overflow():
    for answer in [NAN, float("inf"), np.float32(NAN), 10**400]:
        with pytest.raises(exercises.ExerciseIncorrect, match="whole number of pixels"):
            kernels.check_output_size(lambda *args, answer=answer: answer)


# --------------------------------------------------------------------------------------------
# Lessons 05 and 06 (detection, faces): the same rules for their public functions
# --------------------------------------------------------------------------------------------

BOXES = np.array([[2.0, 2.0, 10.0, 10.0], [4.0, 4.0, 10.0, 10.0]])
FACES = RNG.random((8, 16, 16)).astype(np.float32)
PEOPLE = np.array([0, 0, 1, 1, 2, 2, 3, 3])


def lesson_05_06_cases():
    from lab_utils import boxes, detection, detectors, faces

    return [
        (
            "as_boxes NaN",
            detection.as_boxes,
            ([[1, 2, NAN, 3]],),
            {},
            ValueError,
            "contains NaN or infinite values",
        ),
        (
            "as_boxes negative width",
            detection.as_boxes,
            ([[1, 2, -3, 3]],),
            {},
            ValueError,
            "negative width or height",
        ),
        (
            "as_boxes shape",
            detection.as_boxes,
            (np.ones((2, 5)),),
            {},
            ValueError,
            r"shape \(N, 4\)",
        ),
        (
            "convert_boxes format",
            detection.convert_boxes,
            (BOXES, "xywh", "cxcy"),
            {},
            ValueError,
            "target must be one of 'xywh'",
        ),
        (
            "iou_matrix shape",
            detection.iou_matrix,
            (BOXES, np.ones((2, 3))),
            {},
            ValueError,
            r"boxes_b must have shape \(N, 4\)",
        ),
        (
            "non_max_suppression score count",
            detection.non_max_suppression,
            (BOXES, [0.5]),
            {},
            ValueError,
            "one score per box",
        ),
        (
            "non_max_suppression NaN score",
            detection.non_max_suppression,
            (BOXES, [0.5, NAN]),
            {},
            ValueError,
            "NaN",
        ),
        (
            "non_max_suppression threshold",
            detection.non_max_suppression,
            (BOXES, [0.5, 0.4]),
            {"iou_threshold": 2},
            ValueError,
            "at most 1",
        ),
        (
            "detection draw_boxes huge",
            detection.draw_boxes,
            (HUGE_RGB, BOXES),
            {},
            ValueError,
            "too large",
        ),
        (
            "detection draw_boxes 0/1 uint8",
            detection.draw_boxes,
            (CAST_TO_UINT8, BOXES),
            {},
            ValueError,
            "only the values 0 and 1",
        ),
        (
            "sliding_windows stride",
            detection.sliding_windows,
            ((64, 64),),
            {"stride": 0},
            ValueError,
            "stride must be at least 1",
        ),
        (
            "boxes draw_boxes colour",
            boxes.draw_boxes,
            (RNG.random((8, 8)), BOXES),
            {"colour": (0, 0, 256)},
            ValueError,
            "0 to 255",
        ),
        (
            "detectors cascade_detect scale_factor",
            detectors.cascade_detect,
            (RNG.random((40, 40)),),
            {"scale_factor": 1.0},
            ValueError,
            "at least 1.001",
        ),
        (
            "detectors haar_cascade name",
            detectors.haar_cascade,
            ("smile_face",),
            {},
            ValueError,
            "name must be one of",
        ),
        (
            "detectors dlib_model kind",
            detectors.dlib_model,
            ("sift",),
            {},
            ValueError,
            "kind must be one of",
        ),
        (
            "detectors dlib_detect NaN image",
            detectors.dlib_detect,
            (np.full((20, 20), NAN),),
            {},
            ValueError,
            "NaN",
        ),
        (
            "as_faces colour",
            faces.as_faces,
            (RNG.random((2, 8, 8, 3)),),
            {},
            ValueError,
            "rgb2gray",
        ),
        ("as_faces NaN", faces.as_faces, (np.full((2, 8, 8), NAN),), {}, ValueError, "NaN"),
        (
            "squared_distances NaN",
            faces.squared_distances,
            (np.full((3, 2), NAN),),
            {},
            ValueError,
            "NaN",
        ),
        (
            "verification_roc lengths",
            faces.verification_roc,
            (np.ones(3), np.array([True, False])),
            {},
            ValueError,
            "equal length",
        ),
        (
            "identity_split unknown person",
            faces.identity_split,
            (data.Dataset(FACES, PEOPLE, list("abcd"), "faces"),),
            {"test_identities": [9]},
            ValueError,
            r"not in the dataset: \[9\]",
        ),
        ("as_threshold NaN", faces.as_threshold, (NAN, np.ones(3)), {}, ValueError, "finite"),
        (
            "error_rates NaN distance",
            faces.error_rates,
            (np.array([NAN, 1.0]), np.array([True, False]), 1.0),
            {},
            ValueError,
            "NaN",
        ),
    ]


def test_lesson_05_06_functions_refuse_hostile_input_clearly():
    for case_id, function, args, kwargs, error, message in lesson_05_06_cases():
        try:
            with pytest.raises(error, match=message):
                function(*args, **kwargs)
        except (AssertionError, pytest.fail.Exception, Exception) as failure:
            raise AssertionError(f"{case_id}: {failure}") from failure
