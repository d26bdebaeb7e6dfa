"""Detection by classifying candidate boxes: crops for a window classifier, sliding windows,
selective-search proposals (``lab_utils.detectors``), classification + NMS per class, and
how many ground-truth boxes the first k proposals cover.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from lab_utils import validation
from lab_utils.boxes import as_boxes, convert_boxes, iou_matrix, non_max_suppression
from lab_utils.data import Scenes
from lab_utils.detection.compute import predict, require_scenes, timed_second_run
from lab_utils.detectors import selective_search

if TYPE_CHECKING:  # Keras is imported when a model is first needed, not at import time
    import keras

CROP = 24
BACKGROUND = 10  # class index of "no digit" for the crop classifier
#: A candidate box is a detection when its best digit probability is at least this ...
DIGIT_THRESHOLD = 0.5
#: ... and NMS (per class) removes boxes overlapping a better one by more than this IoU.
NMS_IOU = 0.3
#: ``sliding_windows`` makes at most this many windows (a 64 x 64 scene at stride 4: 630).
MAX_WINDOWS = 1_000_000


def _crop(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The square around ``box`` (xywh), enlarged by 15 %, cut out and resized to CROP x CROP."""
    import cv2

    x, y, w, h = box
    side = max(int(round(max(w, h) * 1.15 + 2)), 2)
    left, top = int(round(x + w / 2 - side / 2)), int(round(y + h / 2 - side / 2))
    padded = np.pad(image, side)  # windows may stick out of the image: zeros there
    piece = padded[top + side : top + 2 * side, left + side : left + 2 * side]
    return cv2.resize(piece.astype(np.float32), (CROP, CROP), interpolation=cv2.INTER_AREA)


def crop_dataset(scenes: Scenes, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Crops for a window classifier: each object's square (label = its digit) and two random
    squares per scene that overlap no object much (IoU < 0.2, label ``BACKGROUND``).

    Returns
    -------
    images (M, 24, 24) float32 in [0, 1], labels (M,) int64 in 0..10
    """
    scenes = require_scenes(scenes)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    side = scenes.images.shape[1]
    for index, (image, boxes, classes) in enumerate(
        zip(scenes.images, scenes.boxes, scenes.labels)
    ):
        boxes = as_boxes(boxes, f"scenes.boxes[{index}]")  # a NaN box named, not int(NaN)
        for box, label in zip(boxes, classes):
            images.append(_crop(image, box))
            labels.append(int(label))
        made = 0
        for _attempt in range(50):
            if made == 2:
                break
            size = float(rng.uniform(10, 30))
            x, y = rng.uniform(-4, side - size + 4, size=2)
            box = np.array([[x, y, size, size]])
            if len(boxes) and iou_matrix(box, boxes).max() >= 0.2:
                continue
            images.append(_crop(image, box[0]))
            labels.append(BACKGROUND)
            made += 1
    return np.clip(np.stack(images), 0, 1).astype(np.float32), np.array(labels, np.int64)


def sliding_windows(
    image_shape: tuple, *, sizes: tuple = (12, 16, 20, 24), stride: int = 4
) -> np.ndarray:
    """Every square window of the given sizes, moved by ``stride`` pixels: (K, 4) "xywh".

    At most ``MAX_WINDOWS`` (one million) windows: more would take minutes to classify.
    """
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) not in (2, 3):
        raise TypeError(
            f"image_shape must be an image's shape (height, width), e.g. image.shape, "
            f"but got {validation.describe(image_shape)} ({image_shape!r})."
        )
    height, width = (validation.as_int(v, "image_shape", minimum=1) for v in image_shape[:2])
    validation.check_size((height, width), "the image of image_shape")
    stride = validation.as_int(stride, "stride", minimum=1)
    if not isinstance(sizes, (tuple, list, range)):
        raise TypeError(
            f"sizes must be a tuple of window sides such as (12, 16), but got "
            f"{validation.describe(sizes)} ({sizes!r})."
        )
    sizes = [validation.as_int(size, "sizes", minimum=2) for size in sizes]
    if not sizes:
        raise ValueError("sizes is empty: give at least one window side, e.g. (16,).")
    validation.check_count(
        sum(
            ((height - size) // stride + 1) * ((width - size) // stride + 1)
            for size in sizes
            if size <= min(height, width)
        ),
        MAX_WINDOWS,
        f"sliding windows on a {height} x {width} image at stride {stride}",
        "Use a larger stride or fewer sizes.",
    )
    windows = []
    for size in sizes:
        for y in range(0, height - size + 1, stride):
            for x in range(0, width - size + 1, stride):
                windows.append([x, y, size, size])
    return np.array(windows, dtype=np.float64).reshape(-1, 4)


def classify_boxes(
    classifier: keras.Model, image: np.ndarray, boxes: np.ndarray | list
) -> np.ndarray:
    """Class probabilities (K, 11) of the crop classifier on every box of one image.

    Every box must touch the image and be at most 4 times its larger side (a crop far
    outside is empty, a huge one would pad the image by its size).
    """
    image = validation.as_image(image, "image", channels=(None,))
    boxes = as_boxes(boxes)
    height, width = image.shape
    bad = np.flatnonzero(
        (boxes[:, 0] > width)
        | (boxes[:, 1] > height)
        | (boxes[:, 0] + boxes[:, 2] < 0)
        | (boxes[:, 1] + boxes[:, 3] < 0)
        | (boxes[:, 2:].max(axis=1, initial=0) > 4 * max(height, width))
    )
    if bad.size:
        raise ValueError(
            f"boxes[{bad[0]}] = {boxes[bad[0]].tolist()} lies outside the {width} x {height} "
            f"image or is far larger than it: candidate boxes are (x, y, w, h) in its pixels."
        )
    validation.check_count(len(boxes), 100_000, "boxes to classify", "Use fewer candidates.")
    if not len(boxes):
        return np.zeros((0, BACKGROUND + 1), dtype=np.float32)
    crops = np.clip(np.stack([_crop(image, box) for box in boxes]), 0, 1)
    return predict(classifier, crops)


def detect_with_classifier(
    classifier: keras.Model,
    image: np.ndarray,
    boxes: np.ndarray | list,
    *,
    nms: Callable[..., object] | None = None,
) -> dict:
    """Classify each candidate box, keep those whose best digit probability is at least
    ``DIGIT_THRESHOLD``, then NMS per class (IoU ``NMS_IOU``).

    ``nms``: the NMS to use, ``nms(corners, scores, iou_threshold)`` -> indices of the kept
    boxes (corners (K, 4) (x1, y1, x2, y2), as in the lesson's exercise); None: the kit's
    ``non_max_suppression``.

    Returns
    -------
    dict with "boxes", "scores", "labels" (after NMS), "evaluations" (classifier calls),
    "raw_boxes", "raw_scores" (before NMS)
    """
    boxes = as_boxes(boxes)
    probabilities = classify_boxes(classifier, image, boxes)
    labels = probabilities[:, :BACKGROUND].argmax(axis=1) if len(boxes) else np.zeros(0, np.int64)
    scores = probabilities[np.arange(len(boxes)), labels] if len(boxes) else np.zeros(0)
    candidate = scores >= DIGIT_THRESHOLD
    kept_boxes, kept_scores, kept_labels = [], [], []
    for label in np.unique(labels[candidate]):
        chosen = np.flatnonzero(candidate & (labels == label))
        keep = chosen[_suppress(nms, boxes[chosen], scores[chosen])]
        kept_boxes.append(boxes[keep])
        kept_scores.append(scores[keep])
        kept_labels.append(labels[keep])
    if kept_boxes:
        return {
            "boxes": np.concatenate(kept_boxes),
            "scores": np.concatenate(kept_scores),
            "labels": np.concatenate(kept_labels).astype(np.int64),
            "evaluations": len(boxes),
            "raw_boxes": boxes[candidate],
            "raw_scores": scores[candidate],
        }
    return {
        "boxes": np.zeros((0, 4)),
        "scores": np.zeros(0),
        "labels": np.zeros(0, np.int64),
        "evaluations": len(boxes),
        "raw_boxes": np.zeros((0, 4)),
        "raw_scores": np.zeros(0),
    }


def _suppress(nms: Callable[..., object] | None, boxes: np.ndarray, scores: np.ndarray) -> list:
    """Indices kept by ``nms`` (given corners) or by the kit's NMS, checked to be indices."""
    if nms is None:
        return list(non_max_suppression(boxes, scores, iou_threshold=NMS_IOU))
    if not callable(nms):
        raise TypeError(f"nms must be a function, but got {validation.describe(nms)}.")
    corners = convert_boxes(boxes, "xywh", "xyxy")
    kept = [int(i) for i in np.asarray(nms(corners, scores.copy(), NMS_IOU)).reshape(-1)]
    if any(i < 0 or i >= len(boxes) for i in kept):
        raise ValueError(f"nms returned an index outside 0..{len(boxes) - 1}: {kept}.")
    return kept


def window_score_map(
    classifier: keras.Model, image: np.ndarray, *, size: int = 16, stride: int = 2
) -> np.ndarray:
    """The classifier's best digit probability for every window of one size: (rows, cols)."""
    image = validation.as_image(image, "image", channels=(None,))
    size = validation.as_int(size, "size", minimum=2, maximum=min(image.shape))
    windows = sliding_windows(image.shape, sizes=(size,), stride=stride)
    probabilities = classify_boxes(classifier, image, windows)
    rows = (image.shape[0] - size) // stride + 1
    return probabilities[:, :BACKGROUND].max(axis=1).reshape(rows, -1)


def proposal_recall(
    proposals: np.ndarray | list, truths: np.ndarray | list, counts: list
) -> list[float]:
    """Fraction of ground-truth boxes covered (IoU >= 0.5) by the first k proposals, for
    each k in ``counts``."""
    proposals, truths = as_boxes(proposals, "proposals"), as_boxes(truths, "truths")
    if not len(truths):
        raise ValueError("truths is empty: recall needs at least one ground-truth box.")
    if not isinstance(counts, (list, tuple, range, np.ndarray)):
        raise TypeError(
            f"counts must be a list of proposal counts such as [10, 100, 1000], but got "
            f"{validation.describe(counts)} ({counts!r})."
        )
    # k = -1 would slice "all but the last" proposal: only counts >= 0 mean "the first k".
    counts = [validation.as_int(k, f"counts[{i}]", minimum=0) for i, k in enumerate(counts)]
    overlaps = iou_matrix(proposals, truths)
    return [float(np.mean(overlaps[:k].max(axis=0, initial=0) >= 0.5)) for k in counts]


def _scene_proposals(image: np.ndarray, options: dict) -> np.ndarray:
    """Selective-search boxes of a 64-pixel scene (searched at twice the size: 64 px is too
    small for it), kept if 4 to 40 pixels wide and high."""
    import cv2

    big = cv2.resize(
        image, (image.shape[1] * 2, image.shape[0] * 2), interpolation=cv2.INTER_LINEAR
    )
    boxes, _ = selective_search(np.clip(big, 0, 1), **options)
    boxes = boxes / 2
    return boxes[
        (boxes[:, 2] >= 4) & (boxes[:, 3] >= 4) & (boxes[:, 2] <= 40) & (boxes[:, 3] <= 40)
    ]


def classifier_detections(
    classifier: keras.Model,
    scenes: Scenes,
    method: str,
    *,
    nms: Callable[..., object] | None = None,
    **options: object,
) -> dict:
    """Run a crop classifier over candidate boxes on every scene: "sliding window" or
    "selective search" candidates (``options`` go to ``sliding_windows`` or
    ``selective_search``), NMS by ``nms`` (see ``detect_with_classifier``). Returns
    detections, evaluations and seconds per image, timed on a second pass over the scenes:
    a network's first call on an input shape also compiles it under JAX, which is not
    detecting (timed after one warm-up scene only, lesson 05's proposals took 0.18 s per image
    under JAX, more than the sliding window's 0.14 s; TensorFlow: 0.08 s and 0.13 s)."""
    scenes = require_scenes(scenes)
    validation.one_of(method, "method", ["sliding window", "selective search"])

    def detect_all() -> list[dict]:
        found = []
        for image in scenes.images:
            if method == "sliding window":
                boxes = sliding_windows(image.shape, **options)
            else:
                boxes = _scene_proposals(image, options)
            found.append(detect_with_classifier(classifier, image, boxes, nms=nms))
        return found

    found, seconds = timed_second_run(detect_all)
    evaluations = sum(result["evaluations"] for result in found)
    return {
        "detections": found,
        "evaluations_per_image": evaluations / len(scenes),
        "seconds_per_image": seconds / len(scenes),
    }
