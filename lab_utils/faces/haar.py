"""Lesson 06's face detection with OpenCV's Haar cascades (from ``lab_utils.detectors``):
detection, the rotation sweep
(detection rate as faces turn in the image plane), the photos where detection fails, what
Haar-like features are (scikit-image's features, OpenCV's own cascade XML) and the Haar
widget's pure compute step.

Boxes are (x, y, w, h) in pixels, x to the right and y down, as OpenCV returns them, drawn
with ``boxes.draw_boxes``. OpenCV is imported when a cascade is first needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from lab_utils import boxes as kit_boxes
from lab_utils import detectors, validation
from lab_utils import widgets as kit_widgets
from lab_utils.faces import compute

# A detection "hits" the reference face when its side is within this factor of the reference's.
HIT_SIZE_RATIO = 2.0
# How the lesson draws the faces a detector found (``boxes.draw_boxes(..., **FACE_BOXES)``).
FACE_BOXES = {"roles": "prediction", "thickness": 2}

# --------------------------------------------------------------------------------------------
# Face detection: OpenCV's Haar cascades, rotation sweep
# --------------------------------------------------------------------------------------------


def detect_faces_haar(
    image: np.ndarray,
    *,
    scale_factor: float = 1.1,
    min_neighbors: int = 5,
    min_size: int = 30,
    cascade: str = "frontalface_default",
) -> np.ndarray:
    """Faces found by an OpenCV Haar cascade (``detectors.cascade_detect``, the cascade loaded
    once per process).

    Parameters
    ----------
    image : (H, W) or (H, W, 3) uint8 or float in [0, 1]
    scale_factor : float > 1
        The image pyramid's step: the detector window grows by this factor per level
        (1.05 = thorough and slow, 1.4 = fast, may miss faces between sizes).
    min_neighbors : int >= 0
        How many overlapping raw detections a face needs (higher = fewer false faces).
    min_size : int
        Smallest face side in pixels.
    cascade : str
        Which of OpenCV's shipped cascades (``haarcascade_<cascade>.xml``).

    Returns
    -------
    boxes : ndarray (F, 4) int, (x, y, w, h) per face
    """
    found, _seconds = detectors.cascade_detect(
        image, cascade, scale_factor=scale_factor, min_neighbors=min_neighbors, min_size=min_size
    )
    return found.astype(np.int64)


def rotate_about(image: np.ndarray, angle: float, centre: tuple) -> np.ndarray:
    """Rotate ``image`` by ``angle`` degrees (counter-clockwise) about ``centre`` = (x, y);
    the corners are filled by repeating the edge pixels. Same dtype and shape."""
    from skimage import transform

    image = validation.as_image(image)
    angle = validation.as_float(angle, "angle", minimum=-360, maximum=360)
    if not isinstance(centre, (tuple, list, np.ndarray)) or np.shape(centre) != (2,):
        raise TypeError(f"centre must be a point (x, y), but got {centre!r}.")
    validation.as_array(centre, "centre", finite=True)
    rotated = transform.rotate(
        image, angle, center=tuple(float(c) for c in centre), mode="edge", preserve_range=True
    )
    return (
        rotated.round().astype(np.uint8) if image.dtype == np.uint8 else rotated.astype(image.dtype)
    )


def as_face_box(box: object, name: str = "box") -> tuple[float, float, float, float]:
    """One face box (x, y, w, h) in pixels, finite, with a positive width and height."""
    checked = kit_boxes.as_boxes(box, name)
    if checked.shape != (1, 4):
        raise ValueError(f"{name} must be one box (x, y, w, h), but got {len(checked)} boxes.")
    x, y, w, h = (float(v) for v in checked[0])
    if w <= 0 or h <= 0:
        raise ValueError(f"{name} must have a positive width and height, but got {box!r}.")
    return x, y, w, h


def box_hits(boxes: np.ndarray, reference: tuple) -> bool:
    """True if one of ``boxes`` is the reference face: its centre inside the reference box
    and its side within a factor ``HIT_SIZE_RATIO`` (2) of the reference side (boxes
    (x, y, w, h)). A NaN or empty reference is refused (it would never be hit)."""
    boxes = kit_boxes.as_boxes(boxes, "boxes")
    x, y, w, h = as_face_box(reference, "reference")
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    inside = (
        (centres[:, 0] >= x)
        & (centres[:, 0] <= x + w)
        & (centres[:, 1] >= y)
        & (centres[:, 1] <= y + h)
    )
    ratio = np.sqrt(boxes[:, 2] * boxes[:, 3] / (w * h))
    return bool(np.any(inside & (ratio <= HIT_SIZE_RATIO) & (ratio >= 1 / HIT_SIZE_RATIO)))


def rotation_sweep(
    detect: Callable,
    images: list,
    references: list,
    angles: list | tuple = tuple(range(-60, 61, 10)),
) -> dict:
    """Detection rate of a face detector as the faces turn in the image plane.

    Each image is rotated about the centre of its reference face box, so the face stays where
    it was and only its angle changes; a detection counts when ``box_hits`` the reference.

    Parameters
    ----------
    detect : callable(image) -> boxes (F, 4) as (x, y, w, h)
    images : list of images (H, W) or (H, W, 3)
    references : list of (x, y, w, h), the true face of each image
    angles : sequence of degrees

    Returns
    -------
    dict with "angles" (list), "rate" (fraction detected per angle) and "seconds" (mean
    seconds per image per call).
    """
    if not callable(detect):
        raise TypeError(
            f"detect must be a function image -> boxes, but got {validation.describe(detect)}."
        )
    if not isinstance(images, (list, tuple, np.ndarray)) or not isinstance(
        references, (list, tuple, np.ndarray)
    ):
        raise TypeError(
            f"images and references must be lists (one reference box per image), but got "
            f"{validation.describe(images)} and {validation.describe(references)}."
        )
    if len(images) == 0 or len(images) != len(references):
        raise ValueError(
            f"images and references must be non-empty and of equal length, "
            f"got {len(images)} and {len(references)}."
        )
    if not isinstance(angles, (list, tuple, range, np.ndarray)) or len(angles) == 0:
        raise TypeError(
            f"angles must be a non-empty list of degrees such as range(-60, 61, 10), but "
            f"got {validation.describe(angles)} ({angles!r})."
        )
    angles = [validation.as_float(a, "angle", minimum=-180, maximum=180) for a in angles]
    references = [as_face_box(box, f"references[{i}]") for i, box in enumerate(references)]
    rates, seconds = [], []
    for angle in angles:
        hits = 0
        for image, box in zip(images, references):
            x, y, w, h = box
            turned = rotate_about(image, angle, (x + w / 2, y + h / 2)) if angle else image
            start = time.perf_counter()
            found = detect(turned)
            seconds.append(time.perf_counter() - start)
            found = kit_boxes.as_boxes(found, f"the boxes detect returned at {angle:g} degrees")
            hits += box_hits(found, box)
        rates.append(hits / len(images))
    return {"angles": angles, "rate": rates, "seconds": float(np.mean(seconds))}


def padded_faces(images: np.ndarray, pad: int = 32, *, scale: int = 1) -> tuple[list, list]:
    """Tight face crops (N, S, S), enlarged ``scale`` times (pixel repetition) and framed by
    ``pad`` pixels of edge-repeated border, so a detector sees the face with some
    surroundings (dlib's HOG detector needs faces of about 80 pixels).

    Returns (list of uint8 images, list of reference boxes (x, y, w, h)).
    """
    images = compute.as_faces(images)
    pad = validation.as_int(pad, "pad", minimum=0, maximum=512)
    scale = validation.as_int(scale, "scale", minimum=1, maximum=8)
    framed = [
        np.pad(kit_widgets.upscale(kit_widgets.to_uint8(face), scale), pad, mode="edge")
        for face in images
    ]
    height, width = images.shape[1] * scale, images.shape[2] * scale
    return framed, [(pad, pad, width, height)] * len(framed)


def failure_photos(image: np.ndarray, box: tuple) -> dict:
    """The slide's "does not generalise well", made concrete on one real portrait: the photo
    as it is, turned 40 degrees about the face, with the eyes covered, and in dim side
    light. (No profile photo ships with the installed packages, so profiles are not shown.)

    Returns name -> uint8 image, same size as ``image``.
    """
    pixels = kit_widgets.to_uint8(validation.as_image(image))
    box = as_face_box(box)
    if (
        box[0] >= pixels.shape[1]
        or box[1] >= pixels.shape[0]
        or min(box[0] + box[2], box[1] + box[3]) <= 0
    ):
        raise ValueError(
            f"box {box} lies outside the {pixels.shape[1]} x {pixels.shape[0]} image: it "
            f"must be the face's box (x, y, w, h) in the image's pixels."
        )
    x, y, w, h = (int(v) for v in box)
    covered = pixels.copy()
    covered[y + int(0.2 * h) : y + int(0.5 * h), x : x + w] = 0
    ramp = np.linspace(0.05, 0.6, pixels.shape[1])[None, :]
    ramp = ramp[..., None] if pixels.ndim == 3 else ramp
    dim = np.clip(pixels * ramp, 0, 255).astype(np.uint8)
    return {
        "as taken": pixels,
        "turned 40°": rotate_about(pixels, 40, (x + w / 2, y + h / 2)),
        "eyes covered": covered,
        "dim side light": dim,
    }


def haar_view(image: np.ndarray, scale_factor: float, min_neighbors: int, min_size: int) -> dict:
    """The Haar widget's compute step: boxes, the picture with them, seconds taken."""
    start = time.perf_counter()
    boxes = detect_faces_haar(
        image, scale_factor=scale_factor, min_neighbors=min_neighbors, min_size=min_size
    )
    seconds = time.perf_counter() - start
    return {
        "boxes": boxes,
        "seconds": seconds,
        "picture": kit_boxes.draw_boxes(image, boxes, **FACE_BOXES),
    }


# --------------------------------------------------------------------------------------------
# What Haar-like features are: scikit-image's features, AdaBoost, OpenCV's own cascade
# --------------------------------------------------------------------------------------------


def haar_feature_sample(
    window: int = 25, count: int = 2000, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A random sample of ``count`` Haar-like features of a ``window`` x ``window`` image
    (scikit-image's five types: 2 rectangles side by side or stacked, 3 in a row or column,
    4 in a checkerboard). Returns (coords, types) for ``haar_features``/``draw_haar_feature``.
    """
    from skimage.feature import haar_like_feature_coord

    window = validation.as_int(window, "window", minimum=4, maximum=64)
    count = validation.as_int(count, "count", minimum=1)
    seed = validation.as_seed(seed)
    coords, types = [], []
    for kind in ("type-2-x", "type-2-y", "type-3-x", "type-3-y", "type-4"):
        kind_coords, kind_types = haar_like_feature_coord(window, window, kind)
        coords.append(kind_coords)
        types.append(kind_types)
    coords, types = np.concatenate(coords), np.concatenate(types)
    chosen = np.random.default_rng(seed).choice(len(coords), min(count, len(coords)), replace=False)
    return coords[chosen], types[chosen]


def haar_features(images: np.ndarray, coords: np.ndarray, types: np.ndarray) -> np.ndarray:
    """The chosen Haar-like features of every image: (N, H, W) -> (N, F) float64.

    Each feature is (sum of the pixels under its white rectangles) - (sum under the black
    ones), read from the integral image with 4 look-ups per rectangle, whatever its size.
    """
    from skimage.feature import haar_like_feature
    from skimage.transform import integral_image

    images = compute.as_faces(images)
    height, width = images.shape[1:]
    check_features(coords, types, (height, width))
    return np.stack(
        [
            haar_like_feature(
                integral_image(image), 0, 0, width, height, feature_type=types, feature_coord=coords
            )
            for image in images
        ]
    ).astype(np.float64)


HAAR_FEATURE_TYPES = ("type-2-x", "type-2-y", "type-3-x", "type-3-y", "type-4")


def check_features(
    coords: object, types: object, image_shape: tuple, *, name: str = "coords"
) -> None:
    """Check Haar-like features from ``haar_feature_sample`` against the images' (H, W).

    Each feature is a list of rectangles ((row, col), (row, col)), corners inclusive; every
    corner must lie inside the image (scikit-image would read past the integral image
    without a word), and ``types`` names one of ``HAAR_FEATURE_TYPES`` per feature.
    """
    if not isinstance(coords, (list, tuple, np.ndarray)) or len(coords) == 0:
        raise TypeError(
            f"{name} must be the feature coordinates from haar_feature_sample (a non-empty "
            f"list), but got {validation.describe(coords)}."
        )
    types = np.asarray(types) if isinstance(types, (list, tuple, np.ndarray)) else None
    if types is None or types.shape != (len(coords),):
        raise ValueError(
            f"types must name one feature type per feature ({len(coords)}), as "
            f"haar_feature_sample returns them with the coordinates."
        )
    unknown = sorted({str(kind) for kind in types} - set(HAAR_FEATURE_TYPES))
    if unknown:
        raise ValueError(f"types must be among {HAAR_FEATURE_TYPES}, but got {unknown}.")
    try:  # each feature: 2 to 4 rectangles, each two corners (row, col)
        features = [np.asarray(feature, dtype=np.float64) for feature in coords]
    except (TypeError, ValueError):
        features = []
    corners = [feature.reshape(-1, 2) for feature in features]
    if not features or any(
        feature.ndim != 3
        or feature.shape[1:] != (2, 2)
        or not 2 <= len(feature) <= 4
        or not np.all(np.isfinite(feature))
        for feature in features
    ):
        raise ValueError(
            f"{name} must hold, per feature, rectangles ((row, col), (row, col)) as "
            f"haar_feature_sample returns them."
        )
    largest = np.max([c.max(axis=0) for c in corners], axis=0)
    smallest = min(float(c.min()) for c in corners)
    if smallest < 0 or largest[0] >= image_shape[0] or largest[1] >= image_shape[1]:
        raise ValueError(
            f"the features reach row {largest[0]:g}, column {largest[1]:g}, but the images "
            f"are {image_shape[0]} x {image_shape[1]}: features sampled for a "
            f"{int(largest[0]) + 1} x {int(largest[1]) + 1} window need images at least that "
            f"large (use haar_feature_sample(window) with the images' own size)."
        )


def draw_haar_feature(image: np.ndarray, coord: list) -> np.ndarray:
    """An RGB picture of one Haar-like feature on ``image`` (scikit-image's
    ``draw_haar_like_feature``): the two colours mark the rectangles that are added and
    subtracted."""
    from skimage.feature import draw_haar_like_feature

    image = compute.as_faces(np.asarray(image)[None])[0]
    height, width = image.shape
    check_features([coord], ["type-2-x"], (height, width), name="coord")
    return draw_haar_like_feature(image, 0, 0, width, height, [coord], alpha=0.6)


def opencv_cascade_summary(name: str = "frontalface_default") -> dict:
    """What an OpenCV Haar cascade XML file contains.

    Returns a dict: "window" (w, h) of the detector, "stages" (number), "weak_per_stage"
    (list of the number of AdaBoost stumps per stage), "features" (number of distinct
    rectangle features), and "first_stage" (list of features of stage 1, each a list of
    rectangles (x, y, w, h, weight) in window pixels).
    """
    import xml.etree.ElementTree as ElementTree

    root = ElementTree.parse(detectors.haar_cascade_file(name))
    cascade = root.getroot()[0]
    window = (int(cascade.findtext("width")), int(cascade.findtext("height")))
    features = []
    for feature in cascade.find("features"):
        rectangles = []
        for rect in feature.find("rects"):
            values = rect.text.split()
            rectangles.append(tuple(int(v) for v in values[:4]) + (float(values[4]),))
        features.append(rectangles)
    stages = list(cascade.find("stages"))
    weak = [len(stage.find("weakClassifiers")) for stage in stages]
    first = [
        features[int(classifier.findtext("internalNodes").split()[2])]
        for classifier in stages[0].find("weakClassifiers")
    ]
    return {
        "window": window,
        "stages": len(stages),
        "weak_per_stage": weak,
        "features": len(features),
        "first_stage": first,
    }
