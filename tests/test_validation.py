"""lab_utils.validation: the input checks every lesson relies on."""

import numpy as np
import pytest

from lab_utils import validation


def test_as_image_accepts_uint8_and_float_images():
    gray = np.zeros((4, 5), dtype=np.uint8)
    rgb = np.full((4, 5, 3), 0.5)
    assert validation.as_image(gray) is gray
    assert validation.as_image(rgb) is rgb


def test_as_image_converts_lists_of_floats_and_rejects_int_lists():
    assert validation.as_image([[0.0, 1.0], [1.0, 0.0]]).shape == (2, 2)
    with pytest.raises(TypeError, match="uint8 \\(0-255\\) or float \\(0-1\\)"):
        validation.as_image([[0, 1], [1, 0]])  # a list of ints becomes int64: not an image dtype


@pytest.mark.parametrize(
    "value, error, message",
    [
        (
            np.zeros((2, 2, 4), np.uint8),
            ValueError,
            r"shape \(height, width\) for grayscale or \(height, width, 3\)",
        ),
        (np.zeros(5, np.uint8), ValueError, r"but it has shape \(5,\)"),
        (np.zeros((0, 3), np.uint8), ValueError, "is empty"),
        (np.full((2, 2), 1.5), ValueError, "values must lie in \\[0, 1\\].*range from 1.5 to 1.5"),
        (np.array([[np.nan, 0.1]]), ValueError, "NaN"),
        (np.zeros((2, 2), np.int32), TypeError, "dtype is int32"),
        ("photo.png", TypeError, "NumPy array .* but got a str"),
        (np.array([["a", "b"]]), TypeError, "must hold numbers"),
        ([[1, 2], [3]], ValueError, "rows have different lengths"),
    ],
)
def test_as_image_rejects_bad_input_with_a_clear_message(value, error, message):
    with pytest.raises(error, match=message):
        validation.as_image(value, "image")


def test_as_image_names_the_argument_in_messages():
    with pytest.raises(ValueError, match="^kernel must have shape"):
        validation.as_image(np.zeros(3), "kernel")


@pytest.mark.parametrize(
    "value, error, message",
    [
        (2.5, TypeError, "whole number.*2.5"),
        (True, TypeError, "whole number"),
        (-1, ValueError, "at least 0"),
        (11, ValueError, "at most 10"),
    ],
)
def test_as_int_bad_input(value, error, message):
    with pytest.raises(error, match=message):
        validation.as_int(value, "size", minimum=0, maximum=10)


def test_as_int_accepts_numpy_integers():
    assert validation.as_int(np.int64(3), "size") == 3


@pytest.mark.parametrize(
    "value, error, message",
    [
        ("0.5", TypeError, "must be a number"),
        (float("nan"), ValueError, "finite"),
        (1.5, ValueError, "at most 1"),
        (-0.1, ValueError, "at least 0"),
    ],
)
def test_as_float_bad_input(value, error, message):
    with pytest.raises(error, match=message):
        validation.as_float(value, "strength", minimum=0, maximum=1)


def test_one_of_lists_the_choices():
    assert validation.one_of("max", "mode", ["max", "average"]) == "max"
    with pytest.raises(ValueError, match="'max', 'average'.*'median'"):
        validation.one_of("median", "mode", ["max", "average"])


def test_describe():
    assert (
        validation.describe(np.zeros((2, 3), np.float32))
        == "an array of shape (2, 3) and dtype float32"
    )
    assert validation.describe([1]) == "a list"
    assert validation.describe(3) == "an int"
    assert validation.describe(object()) == "an object"
