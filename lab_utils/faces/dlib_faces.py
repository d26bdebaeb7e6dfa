"""Lesson 06's dlib tools: the HOG and CNN face detectors, the 68 facial landmarks, alignment
by the eyes, and the pretrained ResNet face descriptor (with its cache).

dlib's models come from ``lab_utils.detectors`` (imported when first needed, each loaded once
per process). Boxes are (x, y, w, h) in pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lab_utils import boxes as kit_boxes
from lab_utils import detectors, validation

# The 68 points as numbered on the slide (1-68, iBUG 300-W order); dlib counts from 0.
LANDMARK_GROUPS = {
    "jaw": range(1, 18),
    "right eyebrow": range(18, 23),
    "left eyebrow": range(23, 28),
    "nose": range(28, 37),
    "right eye": range(37, 43),
    "left eye": range(43, 49),
    "mouth": range(49, 69),
}
# "right"/"left" are the person's own: the right eye is on the left of the picture.

# Where ``align_face`` puts the eyes: on a horizontal line at ALIGNED_EYE_HEIGHT x the side
# from the top, ALIGNED_EYE_DISTANCE x the side apart and centred, in an ALIGNED_SIZE square.
ALIGNED_SIZE = 64
ALIGNED_EYE_DISTANCE = 0.42
ALIGNED_EYE_HEIGHT = 0.38
#: ``dlib_embeddings`` describes at most this many faces per call (about 0.2 s each on 2
#: cores: 10,000 faces take half an hour).
MAX_DLIB_FACES = 10_000


def detect_faces_dlib(image: np.ndarray, *, method: str = "hog") -> np.ndarray:
    """Faces found by dlib (``detectors.dlib_detect``): "hog" (HOG features + linear SVM,
    fast) or "cnn" (MMOD CNN, slow on a CPU: seconds per photo). Returns (F, 4) int boxes
    (x, y, w, h).

    The image is searched as it is (no upsampling: faces of about 80 pixels and more).
    """
    found, _seconds = detectors.dlib_detect(image, method)
    return found.astype(np.int64)


def landmarks(image: np.ndarray, box: tuple | None = None) -> np.ndarray:
    """dlib's 68 facial landmarks: (68, 2) float64 (x, y) pixels; row k is point k + 1.

    Parameters
    ----------
    image : (H, W) or (H, W, 3), uint8 or float in [0, 1]
    box : (x, y, w, h), optional
        The face. Without it dlib's HOG detector looks for one; an image with no face raises
        ValueError (the predictor would otherwise place 68 points on anything).
    """
    import dlib

    pixels = detectors.as_rgb_uint8(image)
    if box is None:
        boxes = detect_faces_dlib(pixels)
        if len(boxes) == 0:
            raise ValueError(
                "no face found in the image (dlib's HOG detector): pass a face "
                "photo, or give the face's box as box=(x, y, w, h)."
            )
        box = boxes[np.argmax(boxes[:, 2] * boxes[:, 3])]
    x, y, w, h = (int(v) for v in _face_box_in(box, pixels.shape))
    if w <= 0 or h <= 0:
        raise ValueError(f"box must have a positive width and height, but got {box!r}.")
    shape = detectors.dlib_model("landmarks")(pixels, dlib.rectangle(x, y, x + w - 1, y + h - 1))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def _face_box_in(box: object, image_shape: tuple) -> np.ndarray:
    """``box`` (x, y, w, h) checked: finite, positive size, overlapping the image and at most
    4 times its larger side (dlib would otherwise place 68 points far outside the photo)."""
    checked = kit_boxes.as_boxes(box, "box")
    if checked.shape != (1, 4):
        raise ValueError(f"box must be one face box (x, y, w, h), but got {len(checked)} boxes.")
    x, y, w, h = checked[0]
    height, width = image_shape[:2]
    if w <= 0 or h <= 0:
        raise ValueError(f"box must have a positive width and height, but got {box!r}.")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(
            f"box {tuple(checked[0].tolist())} lies outside the {width} x {height} image: "
            f"it must be the face's box (x, y, w, h) in the image's pixels."
        )
    if max(w, h) > 4 * max(height, width):
        raise ValueError(
            f"box {tuple(checked[0].tolist())} is far larger than the {width} x {height} "
            f"image: it must be the face's box (x, y, w, h) in the image's pixels."
        )
    return checked[0]


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the person's right eye (points 37-42) and left eye (43-48), each (x, y)."""
    points = validation.as_array(points, "points", finite=True).astype(np.float64)
    if points.shape != (68, 2):
        raise ValueError(
            f"points must be the 68 landmarks, shape (68, 2), but have shape {points.shape}."
        )
    if np.abs(points).max() > 1e6:  # pixels of a photo; beyond, the eye centres overflow
        raise ValueError(
            f"points must be pixel positions (x, y) in the photo, but reach "
            f"{np.abs(points).max():.3g}: pass the landmarks of this photo."
        )
    return points[36:42].mean(axis=0), points[42:48].mean(axis=0)


def align_face(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Rotate, scale and crop a face so its eyes are level, at fixed places.

    The eyes end up on a horizontal line at ``ALIGNED_EYE_HEIGHT`` (0.38) x 64 pixels from
    the top, ``ALIGNED_EYE_DISTANCE`` (0.42) x 64 apart and centred. Returns (64, 64)
    float32 grayscale in [0, 1] (colour images are converted).
    """
    from skimage import color, transform

    image = validation.as_image(image)
    size = ALIGNED_SIZE
    right, left = eye_centres(points)
    gray = image if image.ndim == 2 else color.rgb2gray(image)
    gray = gray.astype(np.float64) / (255.0 if image.dtype == np.uint8 else 1.0)
    source = np.array([right, left])
    target = np.array(
        [
            [size * (0.5 - ALIGNED_EYE_DISTANCE / 2), size * ALIGNED_EYE_HEIGHT],
            [size * (0.5 + ALIGNED_EYE_DISTANCE / 2), size * ALIGNED_EYE_HEIGHT],
        ]
    )
    try:
        warp = transform.SimilarityTransform.from_estimate(target, source)
    except np.linalg.LinAlgError:  # eye centres so large that the fit overflows
        warp = None
    if not warp:
        raise ValueError("the eye landmarks coincide: cannot align this face.")
    aligned = transform.warp(gray, warp, output_shape=(size, size), mode="edge")
    return aligned.astype(np.float32).clip(0, 1)


def dlib_embeddings(images: np.ndarray) -> np.ndarray:
    """dlib's pretrained ResNet face descriptor (128-d, trained on ~3 million faces).

    ``images`` (N, H, W) grayscale or (N, H, W, 3), tight face crops such as Olivetti's: each
    face is located by the landmarks inside the whole image. Returns (N, 128) float64; dlib's
    authors use a Euclidean distance of 0.6 as threshold.
    """
    import dlib

    batch = validation.as_array(images, "images")
    if batch.ndim not in (3, 4) or len(batch) == 0:
        raise ValueError(
            f"images must be a non-empty batch (N, H, W) or (N, H, W, 3), but "
            f"have shape {batch.shape}."
        )
    validation.check_size(batch.shape[1:], "each image of images")
    validation.check_count(
        len(batch), MAX_DLIB_FACES, "faces for dlib's descriptor", "Describe fewer faces."
    )
    stored = _embedding_cache_path(batch)
    cached = _cached_embeddings(stored, len(batch)) if stored.exists() else None
    if cached is not None:
        return cached
    resnet, predictor = detectors.dlib_model("resnet"), detectors.dlib_model("landmarks")
    rows = []
    for index, image in enumerate(batch):
        pixels = detectors.as_rgb_uint8(image, f"images[{index}]")
        height, width = pixels.shape[:2]
        shape = predictor(pixels, dlib.rectangle(0, 0, width - 1, height - 1))
        rows.append(np.array(resnet.compute_face_descriptor(pixels, shape)))
    embeddings = np.stack(rows)
    stored.parent.mkdir(parents=True, exist_ok=True)
    np.save(stored, embeddings)
    return embeddings


def _cached_embeddings(stored: Path, count: int) -> np.ndarray | None:
    """The descriptors cached in ``stored`` if they are (count, 128) finite floats; a damaged
    file (unreadable, another shape, NaN) is reported and set aside as ``*.damaged`` and None
    is returned, so they are computed again."""
    try:
        cached = np.load(stored, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:  # garbage, truncated, pickled objects
        problem = f"unreadable: {error}"
    else:
        if not isinstance(cached, np.ndarray) or cached.shape != (count, 128):
            problem = f"an array of shape {getattr(cached, 'shape', None)}, not ({count}, 128)"
        elif cached.dtype != np.float64 or not np.all(np.isfinite(cached)):
            problem = f"{cached.dtype} values that are not all finite floats"
        else:
            return cached
    from lab_utils import data

    aside = data.set_aside(stored)
    print(
        f"[faces] the cached dlib descriptors {stored.name} were damaged ({problem}); set "
        f"aside as {aside.name}, computing them again."
    )
    return None


def _embedding_cache_path(images: np.ndarray) -> Path:
    """Where dlib's descriptors of these exact images are kept: ``data.cache_dir()/dlib/``
    (about 0.2 s per face on a 2-core CPU, so a lesson re-run reuses them)."""
    import hashlib

    from lab_utils import data

    digest = hashlib.sha256(str((images.shape, images.dtype)).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    return data.cache_dir() / "dlib" / f"{digest.hexdigest()[:32]}.npy"
