"""Input checks shared by every lesson, with error messages written for students.

Each helper returns the (possibly converted) value so callers can write
``image = as_image(image)``. Errors say what was expected and what arrived.

Size limit: images (and batches) larger than ``MAX_IMAGE_PIXELS`` (4096 x 4096 =
16,777,216 pixels per image) are refused by ``as_image`` and ``check_size`` before anything
is allocated. The lessons use photos of at most 512 x 512; a 10000 x 10000 x 3 photo would
need several GB as floats and ran out of memory after 8-21 s instead of failing at once.

No guessing of scales: a uint8 image holding only 0 and 1 (a [0, 1] float image cast to
uint8, which shows black) is refused with an explanation; float images must lie in [0, 1].
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

#: The largest image the kit accepts, in pixels per image (height x width): 4096 x 4096.
MAX_IMAGE_PIXELS = 4096 * 4096

#: The largest seed ``as_seed`` accepts (NumPy and Keras seeds are unsigned 32-bit numbers).
MAX_SEED = 2**32 - 1


def describe(value: object) -> str:
    """A short description of ``value`` for error messages: type, and shape/dtype for arrays."""
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    kind = type(value).__name__
    return f"{'an' if kind[:1].lower() in 'aeiou' else 'a'} {kind}"


def as_array(value: object, name: str = "array", *, finite: bool = False) -> np.ndarray:
    """Convert a list or array of numbers to a NumPy array, or raise TypeError.

    ``finite=True`` also refuses NaN and infinite values (ValueError naming where the first
    one is), for inputs whose NaN would otherwise flow silently into a result.
    """
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError as error:  # ragged nested lists
            raise ValueError(
                f"{name} must be a rectangular grid of numbers; "
                f"its rows have different lengths ({error})."
            ) from None
    else:
        raise TypeError(
            f"{name} must be a NumPy array (or a list of numbers), but got {describe(value)}."
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{name} must hold numbers, but its dtype is {array.dtype}.")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, but its dtype is {array.dtype}.")
    if finite:
        require_finite(array, name)
    return array


def require_finite(array: np.ndarray, name: str = "array") -> None:
    """Raise ValueError if ``array`` holds NaN or an infinite value, saying where."""
    array = np.asarray(array)
    if not np.issubdtype(array.dtype, np.inexact):
        return
    bad = ~np.isfinite(array)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        value = array[where] if where else array.item()
        location = f" at index {where if len(where) > 1 else where[0]}" if where else ""
        raise ValueError(
            f"{name} contains NaN or infinite values (the first is {value}"
            f"{location}); NaN usually comes from 0/0, log(0) or an overflow, "
            f"and would make every result computed from it meaningless."
        )


def is_finite_number(value: object) -> bool:
    """True for a real number that is neither NaN, infinite, nor too large for a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return bool(np.isfinite(float(value)))
    except OverflowError:  # a Python int beyond the float range
        return False


def check_size(
    shape: tuple[int, ...], name: str = "image", *, limit: int = MAX_IMAGE_PIXELS
) -> None:
    """Refuse an image (or a batch of images) whose height x width exceeds ``limit`` pixels.

    ``shape`` is an image's shape, (H, W) or (H, W, C); for a batch (N, H, W[, C]) pass
    ``shape[1:]``. Call it before converting, so nothing large is allocated first.
    """
    if len(shape) >= 2:
        pixels = int(shape[0]) * int(shape[1])
        if pixels > limit:
            side = int(limit**0.5)
            raise ValueError(
                f"{name} is too large: {shape[0]} x {shape[1]} = {pixels:,} "
                f"pixels, but the kit accepts at most {limit:,} pixels per image "
                f"({side} x {side}). Resize it first, e.g. "
                f"skimage.transform.rescale(image, 0.25, channel_axis=-1) or "
                f"image[::4, ::4]."
            )


def check_count(count: int, limit: int, what: str, advice: str = "") -> None:
    """Refuse a computation that would handle more than ``limit`` items, before it starts.

    ``what`` names the items and where they come from, e.g. "pairs of 30,000 embeddings";
    ``advice`` says what to do instead. Used where memory or time grows with the count
    (an N x N matrix, a loop per window), so a too-large input fails at once with this
    message instead of running out of memory or running for minutes.
    """
    if count > limit:
        raise ValueError(
            f"too many {what}: {count:,}, but the kit handles at most {limit:,} "
            f"here (more would take gigabytes of memory or minutes of time)."
            + (f" {advice}" if advice else "")
        )


def as_image(
    value: object, name: str = "image", *, channels: tuple[int | None, ...] = (None, 3)
) -> np.ndarray:
    """Check that ``value`` is an image array and return it as a NumPy array.

    Parameters
    ----------
    value : array_like
        A grayscale image of shape (H, W) or a colour image of shape (H, W, 3),
        either uint8 in [0, 255] or float in [0, 1].
    name : str
        The argument's name, used in error messages.
    channels : tuple
        Allowed channel counts; ``None`` stands for a 2-D grayscale image.

    Raises
    ------
    TypeError, ValueError
        With a message that names the expected shape, dtype or range.
    """
    image = as_array(value, name)
    allowed = []
    if None in channels:
        allowed.append("(height, width) for grayscale")
    allowed += [f"(height, width, {c})" for c in channels if c is not None]
    shape_ok = (image.ndim == 2 and None in channels) or (
        image.ndim == 3 and image.shape[2] in [c for c in channels if c is not None]
    )
    if not shape_ok:
        raise ValueError(
            f"{name} must have shape {' or '.join(allowed)}, but it has shape {image.shape}."
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"{name} is empty: its shape is {image.shape}.")
    check_size(image.shape, name)
    if image.dtype == np.uint8:
        if image.size > 1 and int(image.max()) == 1:
            raise ValueError(
                f"{name} is uint8 but holds only the values 0 and 1, so it shows "
                f"as black: it looks like a [0, 1] float image cast with "
                f".astype(np.uint8), which rounds every value down to 0 or 1. "
                f"Pass the float image itself, or convert with "
                f"np.round(image * 255).astype(np.uint8)."
            )
        return image
    if np.issubdtype(image.dtype, np.floating):
        if not np.all(np.isfinite(image)):
            raise ValueError(f"{name} contains NaN or infinite values.")
        low, high = float(image.min()), float(image.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"{name} is a float image, so its values must lie in [0, 1], "
                f"but they range from {low:g} to {high:g}. Divide by the "
                f"largest possible gray level first (255 for uint8 photos, "
                f"16 for the digits)."
            )
        return image
    raise TypeError(
        f"{name} must be uint8 (0-255) or float (0-1), but its dtype is "
        f"{image.dtype}. Convert it with np.clip(image, 0, 255).astype(np.uint8) "
        f"(astype alone wraps values above 255) or divide by the maximum "
        f"gray level to get floats."
    )


def as_int(
    value: object, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Check that ``value`` is an integer within [minimum, maximum] and return it as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, but got {describe(value)} ({value!r}).")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, but got {value}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}, but got {value}.")
    return value


def as_seed(value: object, name: str = "seed") -> int:
    """Check a random seed: a whole number from 0 to 2**32 - 1 (what NumPy and Keras accept)."""
    return as_int(value, name, minimum=0, maximum=MAX_SEED)


def as_float(
    value: object, name: str, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    """Check that ``value`` is a real number within [minimum, maximum] and return it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, but got {describe(value)} ({value!r}).")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, but got {value}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be at least {minimum:g}, but got {value:g}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum:g}, but got {value:g}.")
    return value


def one_of(value: object, name: str, choices: Sequence[str]) -> str:
    """Check that ``value`` is one of ``choices`` and return it."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}, but got {value!r}."
        )
    return value


def as_labels(
    labels: object,
    count: int,
    classes: int | None = None,
    name: str = "labels",
    *,
    unit: str = "example",
) -> np.ndarray:
    """Check integer class labels, one per example, and return them as int64 of shape (count,).

    ``classes``, when given, is the number of classes: labels must lie in [0, classes).
    ``unit`` names what each label belongs to in messages ("example", "box", "image").
    """
    labels = as_array(labels, name)
    if labels.shape != (count,):
        raise ValueError(
            f"{name} must have one class index per {unit}, shape ({count},), "
            f"but it has shape {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"{name} must be whole class indices (0, 1, ...), but its dtype is {labels.dtype}."
        )
    if labels.size and (labels.min() < 0 or (classes is not None and labels.max() >= classes)):
        top = "" if classes is None else f" and below {classes}"
        raise ValueError(
            f"{name} must be class indices from 0{top}, but they range from "
            f"{labels.min()} to {labels.max()}."
        )
    return labels.astype(np.int64)


def require_keys(value: object, keys: Sequence[str], name: str, made_by: str) -> dict:
    """Check that ``value`` is a dict holding ``keys`` (what ``made_by`` returns) and return it.

    Plots and summaries take results as dicts: a missing key would otherwise end as a raw
    KeyError from inside the plot, naming neither the argument nor where a right dict comes from.
    """
    if not isinstance(value, dict):
        raise TypeError(
            f"{name} must be a dict (what {made_by} returns), but got {describe(value)}."
        )
    missing = [key for key in keys if key not in value]
    if missing:
        raise ValueError(
            f"{name} has no {', '.join(map(repr, missing))}: it must be what {made_by} "
            f"returns, with the keys {', '.join(map(repr, keys))}."
        )
    return value


def require_results(value: object, name: str, made_by: str) -> dict:
    """Check that ``value`` is a non-empty dict ``{label: result of made_by}`` and return it.

    The plots that compare several runs (precision-recall curves, rotation sweeps) take one.
    """
    if not isinstance(value, dict) or not value:
        raise TypeError(
            f"{name} must be a dict {{name: {made_by} result}} with at least one entry, but got "
            f"{describe(value)}."
        )
    return value
