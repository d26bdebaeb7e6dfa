"""Classical detectors, each model loaded once per process (lessons 05-06).

OpenCV's Haar cascades (Viola & Jones 2001), dlib's HOG + linear SVM face detector (Dalal &
Triggs 2005 features), dlib's CNN face detector (MMOD), dlib's 68-point landmark predictor
and ResNet face descriptor (files shipped by face-recognition-models), and OpenCV's
selective search (Uijlings et al. 2013). Boxes come back as "xywh" pixels (see
``lab_utils.boxes``).

Public API:

* ``HAAR_CASCADES``: lesson 05's categories -> OpenCV cascade names ("face" ->
  "frontalface_default", "eye", "person" -> "fullbody", "cat" -> "frontalcatface");
* ``haar_cascade_names() -> list[str]``: every cascade OpenCV ships (``cv2.data.haarcascades``);
* ``haar_cascade_file(name) -> Path``: the XML file of one of them;
* ``haar_cascade(name="frontalface_default") -> cv2.CascadeClassifier``, loaded once;
* ``dlib_model(kind) -> object``, loaded once; ``kind`` is one of ``DLIB_MODELS``:
  "hog" (face detector), "cnn" (MMOD face detector), "landmarks" (68-point shape
  predictor), "resnet" (128-d face descriptor);
* ``as_gray_uint8(image, name="image") -> (H, W) uint8``: the one grayscale conversion of the
  detectors (OpenCV's ``COLOR_RGB2GRAY``: 0.299 R + 0.587 G + 0.114 B);
* ``as_rgb_uint8(image, name="image") -> (H, W, 3) uint8``, contiguous (what dlib takes);
* ``cascade_detect(image, cascade="frontalface_default", *, scale_factor=1.1,
  min_neighbors=5, min_size=30) -> (boxes (F, 4) float64, seconds)``;
* ``haar_detect(image, category="face", *, scale_factor=1.1, min_neighbors=5, min_size=24)
  -> (boxes, seconds)``: the same by lesson 05's category names;
* ``dlib_detect(image, method="hog", *, max_side=None) -> (boxes, seconds)``;
* ``selective_search(image, *, mode="fast", max_side=None, seed=0) -> (boxes, seconds)``;
* ``MAX_SEARCH_PIXELS``: selective search and dlib's CNN refuse images larger than
  1024 x 1024 (after ``max_side``), which would run for minutes.

The seconds are those of the detector itself (not of the conversions around it). Importing
this module imports neither OpenCV nor dlib: each is imported when first needed.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np

from lab_utils import validation, widgets

HAAR_CASCADES = {
    "face": "frontalface_default",
    "eye": "eye",
    "person": "fullbody",
    "cat": "frontalcatface",
}
DLIB_MODELS = ("hog", "cnn", "landmarks", "resnet")
#: The largest image (height x width, after ``max_side`` shrinks it) that selective search
#: and dlib's CNN face detector take: 1024 x 1024. On 2 cores they need about 13 s and 11 s
#: for 512 x 512, growing with the pixels (a 4096 x 4096 photo: many minutes, > 2.5 GB).
MAX_SEARCH_PIXELS = 1024 * 1024

# --------------------------------------------------------------------------------------------
# Images as the detectors take them
# --------------------------------------------------------------------------------------------


def as_gray_uint8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """A grayscale or RGB image (uint8 or float in [0, 1]) as (H, W) uint8 for the detectors.

    Colour is converted by OpenCV (``cv2.COLOR_RGB2GRAY``, weights 0.299, 0.587, 0.114 in
    fixed point), the conversion OpenCV's own cascade examples use.
    """
    gray = widgets.to_uint8(validation.as_image(image, name))
    if gray.ndim == 3:
        import cv2

        gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    return gray


def as_rgb_uint8(image: np.ndarray, name: str = "image") -> np.ndarray:
    """A grayscale or RGB image (uint8 or float in [0, 1]) as a contiguous (H, W, 3) uint8."""
    pixels = widgets.to_uint8(validation.as_image(image, name))
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return np.ascontiguousarray(pixels)


def _shrunk(pixels: np.ndarray, max_side: int | None) -> tuple[np.ndarray, float]:
    """``pixels`` resized (area interpolation) so its longer side is at most ``max_side``,
    and the factor applied (1.0 when it is already small enough or max_side is None)."""
    if max_side is None or max(pixels.shape[:2]) <= max_side:
        return pixels, 1.0
    import cv2

    scale = max_side / max(pixels.shape[:2])
    return cv2.resize(
        pixels,
        (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale))),
        interpolation=cv2.INTER_AREA,
    ), scale


def _check_search_size(pixels: np.ndarray, method: str) -> None:
    """Refuse an image too large for a slow detector, saying to pass ``max_side``."""
    height, width = pixels.shape[:2]
    if height * width > MAX_SEARCH_PIXELS:
        raise ValueError(
            f"the image is too large for {method}: {height} x {width} pixels, but it takes "
            f"at most {MAX_SEARCH_PIXELS:,} pixels (1024 x 1024; it would run for minutes). "
            f"Pass max_side=512 to shrink it first (the boxes still come back in the "
            f"original image's pixels)."
        )


# --------------------------------------------------------------------------------------------
# Models, loaded once
# --------------------------------------------------------------------------------------------


def haar_cascade_names() -> list[str]:
    """The names of the Haar cascades OpenCV ships, e.g. "frontalface_default", "eye"."""
    import cv2

    folder = Path(cv2.data.haarcascades)
    return sorted(p.name[len("haarcascade_") : -4] for p in folder.glob("haarcascade_*.xml"))


def haar_cascade_file(name: str = "frontalface_default") -> Path:
    """The XML file of one of OpenCV's Haar cascades (``haar_cascade_names()``)."""
    import cv2

    validation.one_of(name, "name", haar_cascade_names())
    return Path(cv2.data.haarcascades) / f"haarcascade_{name}.xml"


def haar_cascade(name: str = "frontalface_default") -> object:
    """One of OpenCV's shipped Haar cascades as a ``cv2.CascadeClassifier``, loaded once."""
    validation.one_of(name, "name", haar_cascade_names())
    return _load_cascade(name)


@functools.cache
def _load_cascade(name: str):
    import cv2

    path = haar_cascade_file(name)
    try:
        cascade = cv2.CascadeClassifier(str(path))
    except (cv2.error, SystemError):  # a damaged XML file fails inside OpenCV's parser
        cascade = None
    if cascade is None or cascade.empty():
        raise RuntimeError(
            f"OpenCV could not read the Haar cascade file {path}: it is damaged or is not "
            f"a cascade. It comes with OpenCV; reinstall it with pip install "
            f"--force-reinstall opencv-contrib-python-headless (the version pinned in "
            f"requirements.txt)."
        )
    return cascade


def dlib_model(kind: str) -> object:
    """dlib's detectors and models, loaded once (the files come with face-recognition-models).

    ``kind``: "hog" (HOG face detector), "cnn" (MMOD CNN face detector), "landmarks" (the
    68-point shape predictor), "resnet" (the 128-d face descriptor).
    """
    validation.one_of(kind, "kind", DLIB_MODELS)
    return _load_dlib_model(kind)


@functools.cache
def _load_dlib_model(kind: str):
    try:
        import dlib
        import face_recognition_models as files
    except ImportError as error:
        raise ImportError(
            "dlib and its model files are needed here: pip install "
            "dlib-bin face-recognition-models (both pinned in "
            "requirements.txt)."
        ) from error
    if kind == "hog":  # built into dlib: no file
        return dlib.get_frontal_face_detector()
    factory, location = {
        "cnn": (dlib.cnn_face_detection_model_v1, files.cnn_face_detector_model_location),
        "landmarks": (dlib.shape_predictor, files.pose_predictor_model_location),
        "resnet": (dlib.face_recognition_model_v1, files.face_recognition_model_location),
    }[kind]
    path = location()
    try:
        return factory(path)
    except RuntimeError as error:  # dlib's own message for a damaged or missing file
        raise RuntimeError(
            f"dlib could not read its {kind!r} model file {path} ({error}). The file "
            f"is damaged or missing; it comes with face-recognition-models: reinstall "
            f"it with pip install --force-reinstall face-recognition-models."
        ) from None


# --------------------------------------------------------------------------------------------
# Detectors
# --------------------------------------------------------------------------------------------


def cascade_detect(
    image: np.ndarray,
    cascade: str = "frontalface_default",
    *,
    scale_factor: float = 1.1,
    min_neighbors: int = 5,
    min_size: int = 30,
) -> tuple[np.ndarray, float]:
    """Objects found by one of OpenCV's Haar cascades (``haar_cascade_names()``).

    Parameters
    ----------
    image : (H, W) or (H, W, 3), uint8 or float in [0, 1]
    scale_factor : float > 1
        The image pyramid's step: the detector window grows by this factor per level
        (1.05 = thorough and slow, 1.4 = fast, may miss objects between sizes).
    min_neighbors : int >= 0
        How many overlapping raw detections an object needs (higher = fewer false ones).
    min_size : int
        Smallest object side in pixels.

    Returns
    -------
    boxes (F, 4) float64 "xywh" (whole numbers), seconds of ``detectMultiScale``
    """
    gray = as_gray_uint8(image)
    scale_factor = validation.as_float(scale_factor, "scale_factor", minimum=1.001, maximum=3.0)
    min_neighbors = validation.as_int(min_neighbors, "min_neighbors", minimum=0, maximum=100)
    min_size = validation.as_int(min_size, "min_size", minimum=1)
    detector = haar_cascade(cascade)
    start = time.perf_counter()
    found = detector.detectMultiScale(
        gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size)
    )
    return np.asarray(found, dtype=np.float64).reshape(-1, 4), time.perf_counter() - start


def haar_detect(
    image: np.ndarray,
    category: str = "face",
    *,
    scale_factor: float = 1.1,
    min_neighbors: int = 5,
    min_size: int = 24,
) -> tuple[np.ndarray, float]:
    """OpenCV's Haar cascade (Viola & Jones 2001) for ``category``: (boxes xywh, seconds)."""
    validation.one_of(category, "category", list(HAAR_CASCADES))
    return cascade_detect(
        image,
        HAAR_CASCADES[category],
        scale_factor=scale_factor,
        min_neighbors=min_neighbors,
        min_size=min_size,
    )


def dlib_detect(
    image: np.ndarray, method: str = "hog", *, max_side: int | None = None
) -> tuple[np.ndarray, float]:
    """dlib's face detectors: "hog" (HOG + linear SVM, built into dlib) or "cnn" (the MMOD
    CNN shipped by face-recognition-models). Returns (boxes xywh in the original pixels,
    seconds). ``max_side`` shrinks the photo first (the CNN takes ~11 s per 512-px image on
    2 cores). The image is searched as it is (dlib's ``upsample`` = 0).
    """
    validation.one_of(method, "method", ["hog", "cnn"])
    if max_side is not None:
        max_side = validation.as_int(max_side, "max_side", minimum=16)
    picture, scale = _shrunk(as_rgb_uint8(image), max_side)
    if method == "cnn":
        _check_search_size(picture, "dlib's CNN face detector")
    detector = dlib_model(method)
    start = time.perf_counter()
    found = detector(np.ascontiguousarray(picture), 0)
    seconds = time.perf_counter() - start
    rectangles = [getattr(item, "rect", item) for item in found]  # the CNN's are scored
    boxes = (
        np.array(
            [[r.left(), r.top(), r.width(), r.height()] for r in rectangles], dtype=np.float64
        ).reshape(-1, 4)
        / scale
    )
    return boxes, seconds


def _seed_c_rand(seed: int) -> None:
    """Seed the C library's rand(), which OpenCV's selective search uses to rank its boxes
    (cv2.setRNGSeed does not reach it); without it the order changes from run to run."""
    import ctypes
    import sys

    try:
        library = ctypes.cdll.msvcrt if sys.platform == "win32" else ctypes.CDLL(None)
        library.srand(ctypes.c_uint(seed))
    except (OSError, AttributeError):  # an unusual platform: the order is then not repeatable
        pass


def selective_search(
    image: np.ndarray, *, mode: str = "fast", max_side: int | None = None, seed: int = 0
) -> tuple[np.ndarray, float]:
    """OpenCV's selective search (Uijlings et al. 2013; ``cv2.ximgproc.segmentation``).

    Parameters
    ----------
    image : (H, W) or (H, W, 3), uint8 or float in [0, 1]
    mode : "fast" or "quality"
    max_side : shrink the image first so that its longer side is at most this (faster);
        the boxes are returned in the original image's pixels.
    seed : OpenCV ranks the proposals partly at random (C's rand()); seeding it makes the
        order, and so "the first k proposals", repeatable.

    Returns
    -------
    boxes (K, 4) "xywh" float64 in the order OpenCV ranks them, seconds
    """
    import cv2

    pixels = as_rgb_uint8(image)
    validation.one_of(mode, "mode", ["fast", "quality"])
    if max_side is not None:
        max_side = validation.as_int(max_side, "max_side", minimum=16)
    pixels, scale = _shrunk(pixels, max_side)
    _check_search_size(pixels, "selective search")
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**31 - 1)
    cv2.setNumThreads(1)  # repeatable timing next to other work
    _seed_c_rand(seed)
    start = time.perf_counter()
    search = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(np.ascontiguousarray(pixels[..., ::-1]))  # OpenCV wants BGR
    (
        search.switchToSelectiveSearchFast
        if mode == "fast"
        else search.switchToSelectiveSearchQuality
    )()
    boxes = search.process().astype(np.float64).reshape(-1, 4) / scale
    return boxes, time.perf_counter() - start
