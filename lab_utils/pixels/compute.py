"""Lesson 01's computation: a zoomed block of pixels and its framed overview, the slide's
sources of variation applied to a photo, and the perturbations (reused by lesson 04) with the
nearest-neighbour accuracy they cost.

Every function is pure: arrays in, arrays (or numbers) out; the widgets call them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lab_utils import validation
from lab_utils import widgets as kit_widgets

# --------------------------------------------------------------------------------------------
# Reading the numbers: the zoomed block and where it lies in the photo
# --------------------------------------------------------------------------------------------


def zoom_region(image: np.ndarray, row: int, column: int, size: int) -> np.ndarray:
    """The ``size`` x ``size`` block of ``image`` whose top-left pixel is (row, column).

    The block is moved back inside the image when it would stick out, so the result always
    has ``size`` rows and columns (fewer only if the image itself is smaller).

    Returns
    -------
    ndarray, shape (size, size) or (size, size, 3), same dtype as ``image``
    """
    image = validation.as_image(image, "image")
    size = validation.as_int(size, "size", minimum=1, maximum=64)
    row = validation.as_int(row, "row", minimum=0, maximum=image.shape[0] - 1)
    column = validation.as_int(column, "column", minimum=0, maximum=image.shape[1] - 1)
    row = min(row, max(image.shape[0] - size, 0))
    column = min(column, max(image.shape[1] - size, 0))
    return image[row : row + size, column : column + size]


def shrink_to_width(image: np.ndarray, width: int) -> np.ndarray:
    """``image`` (uint8) resized to ``width`` columns (area averaging; never enlarged)."""
    if image.shape[1] <= width:
        return image
    from PIL import Image

    height = max(1, round(image.shape[0] * width / image.shape[1]))
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BOX))


def draw_frame(
    framed: np.ndarray, top: int, left: int, bottom: int, right: int, thickness: int
) -> None:
    """Draw a red frame of ``thickness`` pixels around rows top:bottom, columns left:right,
    edged in white so that it shows on dark and on red pictures (in place)."""
    height, width = framed.shape[:2]
    for colour, grow in (([255, 255, 255], thickness + 1), ([255, 0, 0], thickness)):
        outer_top, outer_bottom = max(top - grow, 0), min(bottom + grow, height)
        outer_left, outer_right = max(left - grow, 0), min(right + grow, width)
        colour = np.array(colour, dtype=np.uint8)
        framed[outer_top:top, outer_left:outer_right] = colour
        framed[bottom:outer_bottom, outer_left:outer_right] = colour
        framed[outer_top:outer_bottom, outer_left:left] = colour
        framed[outer_top:outer_bottom, right:outer_right] = colour


def locate_region(
    image: np.ndarray, row: int, column: int, size: int, *, display_width: int | None = None
) -> np.ndarray:
    """A uint8 RGB copy of ``image`` with a red frame around the zoomed block (the overview).

    With ``display_width`` the copy is first shrunk to that many columns (what the widget
    shows) and the frame is drawn at that scale: 2-3 pixels thick, around at least 9x9
    pixels, so a 2x2 block in a large photo is still easy to find.
    """
    image = kit_widgets.to_uint8(validation.as_image(image, "image"))
    block = zoom_region(image, row, column, size)
    top = min(row, image.shape[0] - block.shape[0])
    left = min(column, image.shape[1] - block.shape[1])
    bottom, right = top + block.shape[0], left + block.shape[1]
    framed = image if image.ndim == 3 else np.stack([image] * 3, axis=-1)
    if display_width is None:
        framed = framed.copy()
        draw_frame(framed, top, left, bottom, right, max(1, max(image.shape[:2]) // 150))
        return framed
    display_width = validation.as_int(display_width, "display_width", minimum=16, maximum=4096)
    return framed_display(
        shrink_to_width(framed, display_width), image.shape, top, left, bottom - top
    )


def framed_display(display: np.ndarray, shape: tuple, top: int, left: int, size: int) -> np.ndarray:
    """A copy of ``display`` (an RGB image of ``shape``, shrunk) with the block framed."""
    framed = display.copy()
    scale = framed.shape[1] / shape[1]
    centre_r, centre_c = (top + size / 2) * scale, (left + size / 2) * scale
    half = max(size * scale, 9) / 2
    draw_frame(
        framed,
        int(round(centre_r - half)),
        int(round(centre_c - half)),
        int(round(centre_r + half)),
        int(round(centre_c + half)),
        2 if framed.shape[1] < 600 else 3,
    )
    return framed


# --------------------------------------------------------------------------------------------
# Why images are hard: the slide's variations applied to a real photo
# --------------------------------------------------------------------------------------------

VARIATIONS = (
    "viewpoint",
    "scale",
    "deformation",
    "occlusion",
    "illumination",
    "clutter",
    "intra-class",
)


def apply_variation(
    image: np.ndarray,
    variation: str,
    strength: float,
    *,
    clutter: np.ndarray | None = None,
    class_examples: list | None = None,
) -> np.ndarray:
    """Apply one of the slide's sources of variation to a photo.

    Parameters
    ----------
    image : ndarray, (H, W) or (H, W, 3), uint8 or float in [0, 1]
    variation : str
        One of ``VARIATIONS``.
    strength : float in [0, 1]
        0 leaves the image unchanged; 1 is the strongest version.
    clutter : ndarray, optional
        A busy texture (grayscale or RGB) blended into the background for "clutter".
    class_examples : list of ndarray, optional
        Other members of the same class (e.g. other faces) for "intra-class"; ``strength``
        picks which one.

    Returns
    -------
    ndarray, same shape as ``image``, uint8
    """
    image = validation.as_image(image, "image")
    validation.one_of(variation, "variation", VARIATIONS)
    strength = validation.as_float(strength, "strength", minimum=0.0, maximum=1.0)
    picture = kit_widgets.to_uint8(image).astype(np.float64) / 255.0
    result = _VARIATION_FUNCTIONS[variation](picture, strength, clutter, class_examples)
    # Clipped to [0, 1] (and finite by construction), so to_uint8 only rounds.
    return kit_widgets.to_uint8(np.clip(result, 0.0, 1.0))


# Each variation: (picture, strength, clutter, class_examples) -> float image, same shape as
# ``picture`` (float64 in [0, 1]); values may leave [0, 1] and are clipped by apply_variation.


def _viewpoint(picture: np.ndarray, strength: float, clutter, class_examples) -> np.ndarray:
    """Turning the object away: its right side recedes (a perspective warp)."""
    from skimage import transform

    height, width = picture.shape[:2]
    shrink, squeeze = 0.35 * strength * height, 0.25 * strength * width
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=float)
    moved = np.array(
        [[0, 0], [width - squeeze, shrink], [width - squeeze, height - shrink], [0, height]],
        dtype=float,
    )
    warp = transform.ProjectiveTransform.from_estimate(moved, corners)
    return transform.warp(picture, warp, mode="constant", cval=0.0)


def _scale(picture: np.ndarray, strength: float, clutter, class_examples) -> np.ndarray:
    """The object shrinks towards the centre (up to a quarter of its size)."""
    from skimage import transform

    height, width = picture.shape[:2]
    factor = 1.0 - 0.75 * strength
    centre = np.array([width / 2, height / 2])
    warp = transform.SimilarityTransform(scale=factor, translation=centre * (1 - factor))
    return transform.warp(picture, warp.inverse, mode="constant", cval=0.0)


def _deformation(picture: np.ndarray, strength: float, clutter, class_examples) -> np.ndarray:
    """A smooth wave bends rows and columns."""
    from skimage import transform

    height, width = picture.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    amplitude = 0.05 * strength * min(height, width)
    rows = rows + amplitude * np.sin(2 * np.pi * columns / (width / 2))
    columns = columns + amplitude * np.sin(2 * np.pi * rows / (height / 1.5))
    coordinates = np.array([rows, columns])
    if picture.ndim == 2:
        return transform.warp(picture, coordinates, mode="edge")
    return np.stack(
        [transform.warp(picture[..., channel], coordinates, mode="edge") for channel in range(3)],
        axis=-1,
    )


def _occlusion(picture: np.ndarray, strength: float, clutter, class_examples) -> np.ndarray:
    """A gray square hides part of the object."""
    height, width = picture.shape[:2]
    result = picture.copy()
    side = int(round(0.6 * strength * min(height, width)))
    top, left = height // 3 - side // 2, width // 2 - side // 2
    result[max(top, 0) : max(top, 0) + side, max(left, 0) : max(left, 0) + side] = 0.5
    return result


def _illumination(picture: np.ndarray, strength: float, clutter, class_examples) -> np.ndarray:
    """Light from the left: a brightness ramp plus a gamma change."""
    width = picture.shape[1]
    ramp = np.linspace(1.0, 1.0 - 0.9 * strength, width)[None, :]
    return (picture ** (1.0 + 1.5 * strength)) * (ramp if picture.ndim == 2 else ramp[..., None])


def _clutter(picture: np.ndarray, strength: float, clutter, class_examples) -> np.ndarray:
    """A busy texture blended into the background (outside an ellipse around the object)."""
    from skimage import transform

    if clutter is None:
        raise ValueError(
            "the 'clutter' variation needs a texture: pass clutter=<image>, "
            "e.g. clutter=data.load_image('gravel')."
        )
    height, width = picture.shape[:2]
    texture = transform.resize(
        kit_widgets.to_uint8(validation.as_image(clutter, "clutter")) / 255.0,
        (height, width),
        anti_aliasing=True,
    )
    texture = _match_channels(texture, picture)
    rows, columns = np.mgrid[0:height, 0:width]
    inside = ((rows - height * 0.45) / (0.42 * height)) ** 2 + (
        (columns - width / 2) / (0.36 * width)
    ) ** 2 <= 1
    mix = np.where(inside, 0.0, strength)
    if picture.ndim == 3:
        mix = mix[..., None]
    return (1 - mix) * picture + mix * texture


def _intra_class(picture: np.ndarray, strength: float, clutter, class_examples) -> np.ndarray:
    """Another member of the same class (``strength`` picks which one)."""
    from skimage import transform

    if class_examples is not None and not isinstance(class_examples, (list, tuple)):
        raise TypeError(
            f"class_examples must be a list of images, but got "
            f"{validation.describe(class_examples)}; wrap one image in a "
            f"list: class_examples=[image]."
        )
    if not class_examples:
        raise ValueError(
            "the 'intra-class' variation needs other members of the class: "
            "pass class_examples=[image, ...]."
        )
    if strength == 0:
        return picture
    height, width = picture.shape[:2]
    index = int(round(strength * (len(class_examples) - 1)))
    other = (
        kit_widgets.to_uint8(validation.as_image(class_examples[index], f"class_examples[{index}]"))
        / 255.0
    )
    return _match_channels(transform.resize(other, (height, width), anti_aliasing=True), picture)


_VARIATION_FUNCTIONS: dict[str, Callable] = {
    "viewpoint": _viewpoint,
    "scale": _scale,
    "deformation": _deformation,
    "occlusion": _occlusion,
    "illumination": _illumination,
    "clutter": _clutter,
    "intra-class": _intra_class,
}


def _match_channels(image: np.ndarray, like: np.ndarray) -> np.ndarray:
    """Give ``image`` the same channel layout (gray or RGB) as ``like``."""
    if like.ndim == 3 and image.ndim == 2:
        return np.stack([image] * 3, axis=-1)
    if like.ndim == 2 and image.ndim == 3:
        return image @ np.array([0.2125, 0.7154, 0.0721])
    return image


# --------------------------------------------------------------------------------------------
# Measured: nearest neighbour in pixel space under shift, scale and occlusion
# --------------------------------------------------------------------------------------------

PERTURBATIONS = ("shift", "scale", "rotation", "occlusion", "noise")


def perturb(images: np.ndarray, perturbation: str, strength: float, seed: int = 0) -> np.ndarray:
    """Perturb a batch of grayscale images, each in a random direction/position.

    Parameters
    ----------
    images : ndarray, shape (N, H, W), float in [0, 1]
    perturbation : str
        "shift" (strength = pixels), "scale" (strength = zoom factor, 1 = unchanged),
        "rotation" (degrees), "occlusion" (side of a black square as a fraction of the image
        side) or "noise" (standard deviation of Gaussian noise).
    seed : int
        Fixes the random directions and positions.

    Returns
    -------
    ndarray, shape (N, H, W), float32 in [0, 1]
    """
    from scipy import ndimage

    images = validation.as_array(images, "images")
    if images.ndim != 3:
        raise ValueError(
            f"images must have shape (N, height, width), but it has shape {images.shape}."
        )
    if not np.issubdtype(images.dtype, np.floating) or images.min() < 0 or images.max() > 1:
        raise ValueError(
            "images must be floats in [0, 1]; divide gray levels by their "
            "maximum first (digits: images / 16)."
        )
    validation.one_of(perturbation, "perturbation", PERTURBATIONS)
    strength = validation.as_float(strength, "strength", minimum=0.0)
    if perturbation == "occlusion" and strength > 1:
        raise ValueError(
            f"an occlusion strength is the side of the black square as a fraction "
            f"of the image side, in [0, 1], but got {strength:g}."
        )
    rng = np.random.default_rng(validation.as_seed(seed))
    count, height, width = images.shape
    out = np.empty(images.shape, dtype=np.float32)
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    for index, image in enumerate(images):
        if perturbation == "shift":
            angle = rng.uniform(0, 2 * np.pi)
            offset = strength * np.array([np.sin(angle), np.cos(angle)])
            out[index] = ndimage.shift(image, offset, order=1, cval=0.0)
        elif perturbation in ("scale", "rotation"):
            if perturbation == "scale":
                if strength == 0:
                    raise ValueError("a scale factor of 0 would shrink the image to nothing.")
                matrix = np.eye(2) / strength
            else:
                theta = np.deg2rad(strength * rng.choice([-1, 1]))
                matrix = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
            out[index] = ndimage.affine_transform(
                image, matrix, offset=centre - matrix @ centre, order=1, cval=0.0
            )
        elif perturbation == "occlusion":
            side = int(round(strength * min(height, width)))
            top = rng.integers(0, height - side + 1)
            left = rng.integers(0, width - side + 1)
            out[index] = image
            out[index, top : top + side, left : left + side] = 0.0
        else:
            out[index] = image + rng.normal(0.0, strength, image.shape)
    return np.clip(out, 0.0, 1.0)


def nearest_neighbour_sweep(
    images: np.ndarray, labels: np.ndarray, strengths: dict, seed: int = 0
) -> dict:
    """Accuracy of 1-nearest-neighbour in pixel space as test images are perturbed.

    The first half of the (shuffled) data is the reference set, kept clean; the second half
    is perturbed with each strength in turn and classified by its nearest reference image.

    Parameters
    ----------
    images : ndarray, (N, H, W), float in [0, 1]
    labels : ndarray, (N,)
    strengths : dict of perturbation name -> list of strengths

    Returns
    -------
    dict of perturbation name -> list of accuracies (fractions in [0, 1])
    """
    from sklearn.neighbors import KNeighborsClassifier

    images = validation.as_array(images, "images")
    labels = validation.as_array(labels, "labels")
    if not isinstance(strengths, dict) or not strengths:
        raise TypeError(
            f"strengths must be a dict of perturbation name -> list of strengths, "
            f"e.g. {{'shift': [0, 1, 2]}}, but got {validation.describe(strengths)}."
        )
    if images.ndim != 3 or labels.shape != (images.shape[0],):
        raise ValueError(
            f"images must be (N, H, W) with one label each; got images "
            f"{images.shape} and labels {labels.shape}."
        )
    if len(images) < 2:
        raise ValueError(
            f"nearest_neighbour_sweep needs at least 2 images (half are the "
            f"references, half are perturbed), but got {len(images)}."
        )
    for perturbation, values in strengths.items():
        validation.one_of(perturbation, "a key of strengths", PERTURBATIONS)
        if not isinstance(values, (list, tuple, np.ndarray)) or len(values) == 0:
            raise TypeError(
                f"strengths[{perturbation!r}] must be a non-empty list of "
                f"strengths, e.g. [0, 1, 2], but got {validation.describe(values)}."
            )
    seed = validation.as_seed(seed)
    order = np.random.default_rng(seed).permutation(len(images))  # seed checked above
    half = len(images) // 2
    train, test = order[:half], order[half:]
    classifier = KNeighborsClassifier(n_neighbors=1).fit(
        images[train].reshape(half, -1), labels[train]
    )
    results = {}
    for perturbation, values in strengths.items():
        results[perturbation] = [
            float(
                classifier.score(
                    perturb(images[test], perturbation, value, seed).reshape(len(test), -1),
                    labels[test],
                )
            )
            for value in values
        ]
    return results
