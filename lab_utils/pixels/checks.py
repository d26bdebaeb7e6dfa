"""Lesson 01's exercise checks: each compares the student's function with a library function
(scikit-image, SciPy) and names the typical mistakes.

Each check's known mistakes are rows of data: (the wrong answer a mistake gives, as a function
of the case's inputs, the message it earns), tried in one loop.
"""

from __future__ import annotations

import numpy as np

from lab_utils import exercises, validation

# --------------------------------------------------------------------------------------------
# to_grayscale
# --------------------------------------------------------------------------------------------

_GRAY_HINT = (
    "weight each colour plane (image[..., 0] is red, 1 green, 2 blue) by its "
    "luminance weight and add the three weighted planes: one value per pixel."
)

#: (wrong answer for an RGB image, message)
GRAY_MISTAKES = (
    (
        lambda image: image.mean(axis=-1),
        "it is the plain average of R, G and B. The eye is most sensitive to green, so luminance "
        "weights the channels 0.2125, 0.7154, 0.0721.",
    ),
    (
        lambda image: image[..., ::-1] @ np.array([0.2125, 0.7154, 0.0721]),
        "the weights are applied in reverse order (blue got red's weight): the channels are in "
        "R, G, B order.",
    ),
    (
        lambda image: image @ np.array([0.299, 0.587, 0.114]),
        "these are the older Rec. 601 (TV) weights 0.299, 0.587, 0.114; this lesson uses "
        "Rec. 709, like skimage.color.rgb2gray.",
    ),
)


@exercises.checker("to_grayscale", forbid=["skimage.color.rgb2gray"])
def check_to_grayscale(to_grayscale: exercises.Student) -> int:
    """Check ``to_grayscale(image)`` against ``skimage.color.rgb2gray`` (luminance, Rec. 709)."""
    __tracebackhide__ = True
    from skimage import color

    rng = np.random.default_rng(1)
    cases = [
        rng.random((4, 5, 3)),
        rng.random((1, 1, 3)),
        np.linspace(0, 1, 2 * 3 * 3).reshape(2, 3, 3),
    ]
    for image in cases:
        result = to_grayscale(image.copy(), name="to_grayscale(image)", hint=_GRAY_HINT)
        exercises.expect_array(
            result,
            color.rgb2gray(image),
            name=f"to_grayscale(image of shape {image.shape})",
            hint=_GRAY_HINT,
            known_mistakes=[(wrong(image), message) for wrong, message in GRAY_MISTAKES],
        )
    return len(cases)


# --------------------------------------------------------------------------------------------
# normalise
# --------------------------------------------------------------------------------------------

_NORMALISE_HINT = (
    "convert to a float dtype before dividing, and ask which number must become exactly 1.0."
)


def _stretched(image: np.ndarray) -> np.ndarray | None:
    """Each image stretched from its own minimum to its maximum (None for a flat image)."""
    low, high = float(image.min()), float(image.max())
    return (image - low) / (high - low) if high > low else None


#: (wrong answer for a uint8 image, or None where the mistake cannot show, message)
NORMALISE_MISTAKES = (
    (
        lambda image: image / 256.0,
        "it divides by 256. The largest uint8 value is 255, which must become exactly 1.0.",
    ),
    (
        _stretched,
        "it stretches each image from its own minimum to its maximum. Divide by 255 so that the "
        "same number means the same brightness in every image.",
    ),
)


@exercises.checker("normalise", forbid=["skimage.util.img_as_float", "skimage.util.img_as_float64"])
def check_normalise(normalise: exercises.Student) -> int:
    """Check ``normalise(image)`` (uint8 -> float in [0, 1]) against ``img_as_float``."""
    __tracebackhide__ = True
    from skimage import util

    rng = np.random.default_rng(2)
    cases = [
        rng.integers(0, 256, (3, 4), dtype=np.uint8),
        rng.integers(20, 200, (2, 3, 3), dtype=np.uint8),
        np.array([[0, 255]], dtype=np.uint8),
    ]
    for image in cases:
        result = normalise(image.copy(), name="normalise(image)", hint=_NORMALISE_HINT)
        mistakes = [(wrong(image), message) for wrong, message in NORMALISE_MISTAKES]
        exercises.expect_array(
            result,
            util.img_as_float(image),
            name=f"normalise(uint8 image of shape {image.shape})",
            hint=_NORMALISE_HINT,
            known_mistakes=[
                (answer, message) for answer, message in mistakes if answer is not None
            ],
        )
    return len(cases)


# --------------------------------------------------------------------------------------------
# pixel_distance
# --------------------------------------------------------------------------------------------

_DISTANCE_HINT = (
    "convert both images to a float dtype before subtracting (uint8 arithmetic "
    "wraps around), then take the square root of the sum of squared differences."
)


def _euclidean(a: np.ndarray, b: np.ndarray) -> float:
    """The expected answer: SciPy's Euclidean distance between the flattened float images."""
    from scipy.spatial import distance

    return distance.euclidean(a.astype(np.float64).ravel(), b.astype(np.float64).ravel())


def _wrapped_in_uint8(a: np.ndarray, b: np.ndarray) -> list:
    """Distances computed in uint8 (subtracting, and squaring, wrap around modulo 256)."""
    if a.dtype != np.uint8:
        return []
    return [
        float(np.sqrt(np.sum((a - b).astype(np.float64) ** 2))),
        float(np.sqrt(np.sum((a - b) ** 2))),
    ]


def _float_images_cast_to_integers(a: np.ndarray, b: np.ndarray) -> list:
    """The distance between float images in [0, 1] cast to an integer type first: 0."""
    return [] if a.dtype == np.uint8 else [0.0]


def _squared(a: np.ndarray, b: np.ndarray) -> list:
    """The squared Euclidean distance."""
    return [_euclidean(a, b) ** 2]


def _sum_of_absolute_differences(a: np.ndarray, b: np.ndarray) -> list:
    """The L1 distance."""
    return [float(np.abs(a.astype(np.float64).ravel() - b.astype(np.float64).ravel()).sum())]


#: (wrong answers for images a and b, how a matching result is recognised, message). The
#: message is formatted with the case's ``name``, the ``result`` and the ``expected`` distance.
#: "close": the result is close to a wrong answer that is not the right one; "exact": equal.
DISTANCE_MISTAKES = (
    (
        _wrapped_in_uint8,
        "close but not expected",
        "{name} is {result:.4g}, expected {expected:.4g}: the arithmetic was done in uint8, where "
        "10 - 20 wraps around to 246.",
    ),
    (
        _float_images_cast_to_integers,
        "equal, expected positive",
        "{name} is 0 for two different float images: casting floats in [0, 1] to an integer "
        "type turns them into 0 or 1; cast to float instead.",
    ),
    (_squared, "close", "{name} is the squared distance; take its square root."),
    (
        _sum_of_absolute_differences,
        "close",
        "{name} is the sum of absolute differences (L1); this exercise asks for the Euclidean "
        "(L2) distance.",
    ),
)


def _matches(result: float, wrong: float, expected: float, rule: str) -> bool:
    """Whether ``result`` is the ``wrong`` answer, by one of DISTANCE_MISTAKES' rules."""
    if rule == "close but not expected":
        return bool(np.isclose(result, wrong) and not np.isclose(expected, wrong))
    if rule == "equal, expected positive":
        return result == wrong and expected > 0
    return bool(np.isclose(result, wrong))


@exercises.checker("pixel_distance", forbid=["scipy.spatial.distance.euclidean"])
def check_pixel_distance(pixel_distance: exercises.Student) -> int:
    """Check ``pixel_distance(a, b)`` against ``scipy.spatial.distance.euclidean``."""
    __tracebackhide__ = True
    rng = np.random.default_rng(3)
    cases = [
        (np.array([[10, 200]], dtype=np.uint8), np.array([[20, 100]], dtype=np.uint8)),
        (rng.random((4, 4)), rng.random((4, 4))),
        (
            rng.integers(0, 256, (3, 3, 3), dtype=np.uint8),
            rng.integers(0, 256, (3, 3, 3), dtype=np.uint8),
        ),
    ]
    for a, b in cases:
        result = pixel_distance(
            a.copy(), b.copy(), name="pixel_distance(a, b)", hint=_DISTANCE_HINT
        )
        expected = _euclidean(a, b)
        name = f"pixel_distance(a, b) for {a.dtype} images of shape {a.shape}"
        if validation.is_finite_number(result):
            for wrong_answers, rule, message in DISTANCE_MISTAKES:
                if any(
                    _matches(float(result), wrong, expected, rule) for wrong in wrong_answers(a, b)
                ):
                    exercises.fail(
                        message.format(name=name, result=float(result), expected=expected),
                        _DISTANCE_HINT,
                    )
        exercises.expect_number(result, expected, name=name, hint=_DISTANCE_HINT)
    return len(cases)
