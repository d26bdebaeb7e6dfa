"""Lesson 05's shared computation: scenes checked, training and prediction, evaluation
(COCO mAP, precision and recall on the photos), the IoU and NMS widgets' pictures, and
KerasHub's RetinaNet taken apart.

The box maths lives in ``lab_utils.boxes``, the classical detectors in
``lab_utils.detectors``; the heat-map detector in ``centernet``, the two-headed single-object
network in ``single_object``, windows and proposals with a crop classifier in ``proposals``.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from lab_utils import lesson, models, validation
from lab_utils.boxes import (
    as_boxes,
    as_scores,
    box_areas,
    convert_boxes,
    draw_boxes,
    iou_matrix,
    match_detections,
    non_max_suppression,
)
from lab_utils.data import Scenes

if TYPE_CHECKING:  # Keras is imported when a model is first needed, not at import time
    import keras

#: Images per forward pass in ``predict``.
PREDICT_BATCH = 256


def _bucket(count: int) -> int:
    """The batch size ``predict`` runs ``count`` images as: the next power of two, at most
    ``PREDICT_BATCH``. JAX compiles a model once per input shape: without buckets, every
    scene's different number of proposals compiled the classifier again (lesson 05's
    proposal detector took 0.64 s per image under JAX, most of it compiling)."""
    return min(PREDICT_BATCH, 1 << (count - 1).bit_length())


def timed_second_run(run: Callable[[], object]) -> tuple[object, float]:
    """``run()`` twice: the second run's result and seconds. A network's first call on an
    input shape also compiles it (JAX) or sets it up, which is not what a method costs."""
    run()
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def require_scenes(scenes: object, name: str = "scenes") -> Scenes:
    """``scenes`` itself if it is a ``Scenes``; otherwise a TypeError saying where one comes
    from."""
    if not isinstance(scenes, Scenes):
        raise TypeError(
            f"{name} must be a detection.Scenes (from "
            f"data.load_dataset('digit_scenes')), but got "
            f"{validation.describe(scenes)}."
        )
    return scenes


# --------------------------------------------------------------------------------------------
# Training with any loss (cached like models.train) and prediction
# --------------------------------------------------------------------------------------------


def fit(
    model: keras.Model,
    inputs: np.ndarray,
    targets: np.ndarray | dict,
    *,
    loss: object,
    loss_name: str,
    loss_weights: dict | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    seed: int = 0,
) -> models.TrainingResult:
    """Compile ``model`` (Adam with cosine decay, the given loss) and fit it, seeded.

    Like ``models.train`` (whose cache it shares: an identical training is loaded from
    ``data.cache_dir()/trained`` in about a second), but for any loss: ``loss`` is a Keras
    loss or a dict of them per output, ``loss_name`` a text that names it in the cache key
    (a function's code is not hashed: change the name when the loss changes).

    Returns
    -------
    models.TrainingResult
    """
    models.require_model(model)
    inputs = models.as_batch(inputs, "inputs")
    if isinstance(targets, dict):
        arrays = [
            np.asarray(targets[key], dtype=np.float32)
            if np.asarray(targets[key]).dtype.kind == "f"
            else np.asarray(targets[key])
            for key in sorted(targets)
        ]
        targets = dict(zip(sorted(targets), arrays))
    else:
        targets = validation.as_array(targets, "targets")
        arrays = [targets]
    for array in arrays:
        if len(array) != len(inputs):
            raise ValueError(
                f"targets must have one row per input ({len(inputs)}), but one has {len(array)}."
            )
    epochs = validation.as_int(epochs, "epochs", minimum=1, maximum=1000)
    batch_size = validation.as_int(batch_size, "batch_size", minimum=1)
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-7, maximum=10.0)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    if not isinstance(loss_name, str) or not loss_name:
        raise TypeError("loss_name must be a short text that names the loss, e.g. 'centernet'.")
    return models.fit(
        model,
        inputs,
        targets,
        loss=loss,
        loss_weights=loss_weights,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        seed=seed,
        cache=True,
        key_arrays=[inputs, *arrays],
        key_settings={
            "epochs": epochs,
            "batch_size": batch_size,
            "seed": seed,
            "learning_rate": learning_rate,
            "loss": loss_name,
            "loss_weights": loss_weights,
            "fit": "detection.fit",
        },
    )


def predict(model: keras.Model, images: np.ndarray) -> np.ndarray | dict | list:
    """``model(images, training=False)`` in batches, as NumPy (a dict for several outputs).

    A last, smaller batch is padded with zero images to a power of two (``_bucket``) and the
    padding's outputs dropped: each image's output does not depend on the others in the
    batch (inference mode), and a backend that compiles per shape compiles a few shapes."""
    keras = lesson.import_keras()
    models.require_model(model)
    images = models.as_batch(images)
    models.check_input_shape(model, images.shape[1:])  # named, not a Keras traceback
    parts = []
    for begin in range(0, len(images), PREDICT_BATCH):
        batch = images[begin : begin + PREDICT_BATCH]
        count = len(batch)
        padding = np.zeros((_bucket(count) - count, *batch.shape[1:]), batch.dtype)
        output = model(np.concatenate([batch, padding]) if len(padding) else batch, training=False)
        if isinstance(output, dict):
            parts.append({k: keras.ops.convert_to_numpy(v)[:count] for k, v in output.items()})
        elif isinstance(output, (list, tuple)):
            parts.append([keras.ops.convert_to_numpy(v)[:count] for v in output])
        else:
            parts.append(keras.ops.convert_to_numpy(output)[:count])
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if isinstance(parts[0], list):
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]
    return np.concatenate(parts)


# --------------------------------------------------------------------------------------------
# Evaluation: COCO mAP on scenes, precision and recall on one photo
# --------------------------------------------------------------------------------------------


def as_detections(detections: object, scenes: Scenes, name: str = "detections") -> list[dict]:
    """Check detections against ``scenes`` and return checked copies.

    ``detections`` must be a list with one dict per scene, each with "boxes" (k, 4) "xywh"
    pixels, "scores" (k,) finite and "labels" (k,) class indices from 0 to
    ``len(scenes.class_names) - 1`` (what ``detect_scenes`` returns). A label list shorter
    than the boxes, a label outside the classes or a missing key is refused: pycocotools
    would otherwise drop or misfile those detections and report a wrong mAP.

    Returns
    -------
    list of dicts with "boxes" float64 (k, 4), "scores" float64 (k,), "labels" int64 (k,)
    """
    if not isinstance(detections, (list, tuple)) or len(detections) != len(scenes):
        raise ValueError(
            f"{name} must be a list with one dict per scene ({len(scenes)}), "
            f"but got {validation.describe(detections)}"
            + (f" of length {len(detections)}." if isinstance(detections, (list, tuple)) else ".")
        )
    checked = []
    for index, found in enumerate(detections):
        where = f"{name}[{index}]"
        if not isinstance(found, dict):
            raise TypeError(
                f"{where} must be a dict with 'boxes', 'scores' and 'labels' (what "
                f"detect_scenes returns), but got {validation.describe(found)}."
            )
        missing = [key for key in ("boxes", "scores", "labels") if key not in found]
        if missing:
            raise ValueError(
                f"{where} has no {', '.join(map(repr, missing))}: each scene's detections "
                f"need 'boxes' (k, 4) xywh, 'scores' (k,) and 'labels' (k,) class indices."
            )
        boxes = as_boxes(found["boxes"], f"{where}['boxes']")
        checked.append(
            {
                "boxes": boxes,
                "scores": as_scores(found["scores"], len(boxes), f"{where}['scores']"),
                "labels": _class_indices(
                    found["labels"], len(boxes), len(scenes.class_names), f"{where}['labels']"
                ),
            }
        )
    return checked


def scene_truths(scenes: Scenes) -> list[tuple[np.ndarray, np.ndarray]]:
    """The checked ground truth of every scene: (boxes float64 (k, 4) "xywh", labels int64 (k,)).

    A NaN or infinite box, a label list whose length differs from the boxes' or a label outside
    ``scenes.class_names`` is refused with the scene's index (a ValueError), instead of
    being drawn nowhere or silently dropped from an evaluation.
    """
    scenes = require_scenes(scenes)
    if not len(scenes.boxes) == len(scenes.labels) == len(scenes):
        raise ValueError(
            f"scenes must have one box array and one label array per image ({len(scenes)}), "
            f"but have {len(scenes.boxes)} and {len(scenes.labels)}."
        )
    classes = len(scenes.class_names)
    checked = []
    for index, (boxes, labels) in enumerate(zip(scenes.boxes, scenes.labels)):
        boxes = as_boxes(boxes, f"scenes.boxes[{index}]")
        checked.append(
            (boxes, _class_indices(labels, len(boxes), classes, f"scenes.labels[{index}]"))
        )
    return checked


def _class_indices(labels: object, count: int, classes: int, name: str) -> np.ndarray:
    """``validation.as_labels``, also taking an empty list (or float array) for no boxes."""
    if isinstance(labels, (list, tuple, np.ndarray)) and np.shape(labels) == (0,):
        labels = np.zeros(0, dtype=np.int64)
    return validation.as_labels(labels, count, classes, name, unit="box")


def _coco_records(scenes: Scenes, detections: list) -> tuple[list, list, list]:
    """The COCO "images", "annotations" (ground truth) and detection results of ``scenes``."""
    images, annotations, results = [], [], []
    height, width = scenes.images.shape[1:3]
    classes = len(scenes.class_names)
    for index, (boxes, labels, found) in enumerate(zip(scenes.boxes, scenes.labels, detections)):
        images.append({"id": index + 1, "height": int(height), "width": int(width)})
        # The ground truth is checked too: a scene whose labels do not match its boxes
        # would silently lose objects.
        boxes = as_boxes(boxes, f"scenes.boxes[{index}]")
        labels = _class_indices(labels, len(boxes), classes, f"scenes.labels[{index}]")
        for box, label in zip(boxes, labels):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": index + 1,
                    "category_id": int(label) + 1,
                    "bbox": [float(v) for v in box],
                    "area": float(box[2] * box[3]),
                    "iscrowd": 0,
                }
            )
        found_boxes = as_boxes(found["boxes"], f"detections[{index}]['boxes']")
        scores = as_scores(found["scores"], len(found_boxes), f"detections[{index}]['scores']")
        for box, score, label in zip(found_boxes, scores, found["labels"]):
            results.append(
                {
                    "image_id": index + 1,
                    "category_id": int(label) + 1,
                    "bbox": [float(v) for v in box],
                    "score": float(score),
                }
            )
    return images, annotations, results


def coco_evaluation(scenes: Scenes, detections: list) -> dict:
    """COCO-style mean average precision of ``detections`` on ``scenes``, by pycocotools
    (its printed summary is kept quiet).

    Parameters
    ----------
    scenes : Scenes (the ground truth)
    detections : list of dicts with "boxes" (xywh), "scores", "labels", one per scene

    Returns
    -------
    dict: "map_50" (mAP at IoU 0.5), "map_50_95" (mean over IoU 0.50:0.05:0.95), "map_75",
    "precision_50" (recall points 0..1 -> precision at IoU 0.5, averaged over classes),
    "recall_points" (101 values)
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    scenes = require_scenes(scenes)
    detections = as_detections(detections, scenes)
    images, annotations, results = _coco_records(scenes, detections)
    ground_truth = COCO()
    ground_truth.dataset = {
        "images": images,
        "annotations": annotations,
        "categories": [{"id": k + 1, "name": name} for k, name in enumerate(scenes.class_names)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        ground_truth.createIndex()
        predicted = ground_truth.loadRes(results) if results else COCO()
        if not results:
            return {
                "map_50": 0.0,
                "map_50_95": 0.0,
                "map_75": 0.0,
                "precision_50": np.zeros(101),
                "recall_points": np.linspace(0, 1, 101),
            }
        evaluation = COCOeval(ground_truth, predicted, "bbox")
        evaluation.params.maxDets = [1, 10, 100]
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    precision = evaluation.eval["precision"]  # (IoU, recall, class, area, maxDets)
    at_50 = precision[0, :, :, 0, -1]
    valid = at_50 > -1
    curve = np.where(valid, at_50, np.nan)
    return {
        "map_50": float(evaluation.stats[1]),
        "map_50_95": float(evaluation.stats[0]),
        "map_75": float(evaluation.stats[2]),
        "precision_50": np.nan_to_num(np.nanmean(curve, axis=1)),
        "recall_points": np.asarray(evaluation.params.recThrs),
    }


def matched_average_precision(
    scenes: Scenes,
    detections: list,
    match: Callable[..., object] | None = None,
    *,
    iou_threshold: float = 0.5,
) -> dict:
    """Mean average precision at one IoU threshold, computed from a matching function the
    way pycocotools does it: per class, each image's detections (best 100) are matched to
    its ground truth by ``match``, all images' detections are ranked by score, and the
    precision (made non-increasing) is averaged over 101 recall points 0, 0.01, ..., 1.

    Parameters
    ----------
    scenes : Scenes (the ground truth)
    detections : list of dicts with "boxes" (xywh), "scores", "labels", one per scene
    match : ``match(found, scores, truths, iou_threshold)`` -> (N,) index of the matched
        ground-truth box or -1 (boxes "xywh"), e.g. the lesson's ``match_detections``;
        None: the kit's ``match_detections``
    iou_threshold : float in [0, 1]

    Returns
    -------
    dict: "map" (float in [0, 1], mean over the classes that have ground truth),
    "average_precision" ({class index: AP}), "true_positives", "false_positives" (ints)
    """
    scenes = require_scenes(scenes)
    if match is None:
        match = _kit_match
    if not callable(match):
        raise TypeError(f"match must be a function, but got {validation.describe(match)}.")
    # Checked as coco_evaluation checks them: a label list shorter than the boxes, a label
    # outside the classes or a NaN box would otherwise drop detections and lower the mAP.
    truths = scene_truths(scenes)
    detections = as_detections(detections, scenes)
    boxes, labels = [b for b, _ in truths], [k for _, k in truths]
    scenes = Scenes(scenes.images, boxes, labels, scenes.class_names)
    iou_threshold = validation.as_float(iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0)
    precisions, counts = {}, [0, 0]
    for label in sorted({int(v) for labels in scenes.labels for v in labels}):
        scores, hits, truth_count = _ranked_hits(scenes, detections, match, label, iou_threshold)
        counts[0] += int(hits.sum())
        counts[1] += int(len(hits) - hits.sum())
        precisions[label] = _coco_average_precision(scores, hits, truth_count)
    return {
        "map": float(np.mean(list(precisions.values()))) if precisions else 0.0,
        "average_precision": precisions,
        "true_positives": counts[0],
        "false_positives": counts[1],
    }


def _kit_match(
    found: np.ndarray, scores: np.ndarray, truths: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """The kit's matching with the lesson exercise's signature."""
    return match_detections(found, scores, truths, iou_threshold=iou_threshold)


def _ranked_hits(
    scenes: Scenes, detections: list, match: Callable, label: int, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores and hit flags of every detection of class ``label`` (best 100 per image), and
    the number of ground-truth boxes of that class."""
    all_scores, all_hits, truth_count = [], [], 0
    for index, (boxes, labels, found) in enumerate(zip(scenes.boxes, scenes.labels, detections)):
        truths = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)[np.asarray(labels) == label]
        truth_count += len(truths)
        found_boxes = as_boxes(found["boxes"], f"detections[{index}]['boxes']")
        scores = as_scores(found["scores"], len(found_boxes), f"detections[{index}]['scores']")
        mine = np.flatnonzero(np.asarray(found["labels"]).reshape(-1) == label)
        mine = mine[np.argsort(-scores[mine], kind="mergesort")][:100]
        if not len(mine):
            continue
        matched = np.asarray(match(found_boxes[mine], scores[mine], truths, iou_threshold))
        if matched.shape != (len(mine),):
            raise ValueError(
                f"match must return one index per detection ({len(mine)}), but returned an "
                f"array of shape {matched.shape}."
            )
        all_scores.append(scores[mine])
        all_hits.append(matched >= 0)
    if not all_scores:
        return np.zeros(0), np.zeros(0, dtype=bool), truth_count
    return np.concatenate(all_scores), np.concatenate(all_hits), truth_count


def _coco_average_precision(scores: np.ndarray, hits: np.ndarray, truth_count: int) -> float:
    """COCO's 101-point interpolated average precision of ranked detections."""
    if not truth_count or not len(scores):
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    true_positives = np.cumsum(hits[order])
    false_positives = np.cumsum(~hits[order])
    recall = true_positives / truth_count
    precision = true_positives / (true_positives + false_positives + np.spacing(1))
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # non-increasing, as COCO
    points = np.searchsorted(recall, np.linspace(0, 1, 101), side="left")
    values = np.where(points < len(precision), precision[np.minimum(points, len(precision) - 1)], 0)
    return float(values.mean())


def photo_truths(table: dict, image: str, category: str) -> np.ndarray:
    """Ground-truth boxes ("xywh") of one category on one photo, from the annotation table.

    A photo or category that the table does not know is refused (a misspelt name would
    otherwise give no boxes, and every detection would count as a false positive)."""
    columns = ("image", "category", "x", "y", "w", "h")
    if not isinstance(table, dict) or any(column not in table for column in columns):
        raise TypeError(
            f"table must be data.load_table('detection_photos'), a dict with the columns "
            f"{', '.join(columns)}."
        )
    validation.one_of(image, "image", sorted(set(table["image"])))
    validation.one_of(category, "category", sorted(set(table["category"])))
    rows = [
        i
        for i, (name, kind) in enumerate(zip(table["image"], table["category"]))
        if name == image and kind == category
    ]
    return np.array(
        [[table[k][i] for k in ("x", "y", "w", "h")] for i in rows], dtype=np.float64
    ).reshape(-1, 4)


def precision_recall(found: np.ndarray | list, truths: np.ndarray | list) -> dict:
    """True positives, false positives, misses, precision and recall of one set of boxes
    (a detection is right at IoU >= 0.5 with a ground-truth box not taken yet)."""
    found, truths = as_boxes(found, "found"), as_boxes(truths, "truths")
    matched = match_detections(found, np.ones(len(found)), truths, iou_threshold=0.5)
    true_positives = int(np.sum(matched >= 0))
    return {
        "true_positives": true_positives,
        "false_positives": int(len(found) - true_positives),
        "misses": int(len(truths) - true_positives),
        "precision": true_positives / len(found) if len(found) else float("nan"),
        "recall": true_positives / len(truths) if len(truths) else float("nan"),
    }


# --------------------------------------------------------------------------------------------
# What the IoU and NMS widgets show
# --------------------------------------------------------------------------------------------


def iou_view(fixed: np.ndarray, moving: np.ndarray, canvas: int, scale: int) -> dict:
    """Two boxes (1, 4) "xywh" on a white canvas x canvas picture, their intersection
    filled, enlarged ``scale`` times: {"picture", "iou", "intersection", "union"}."""
    corners = convert_boxes(np.vstack([fixed, moving]), "xywh", "xyxy")
    image = np.full((canvas, canvas, 3), 255, dtype=np.uint8)
    x1, y1 = np.maximum(corners[0, :2], corners[1, :2])
    x2, y2 = np.minimum(corners[0, 2:], corners[1, 2:])
    intersection = max(x2 - x1, 0) * max(y2 - y1, 0)
    if intersection > 0:
        image[int(y1) : int(y2), int(x1) : int(x2)] = (255, 220, 120)
    picture = draw_boxes(
        image,
        np.vstack([fixed, moving]),
        roles=["truth", "prediction"],
        scale=scale,
        thickness=2,
    )
    union = box_areas(np.vstack([fixed, moving])).sum() - intersection
    return {
        "picture": picture,
        "iou": float(iou_matrix(fixed, moving)[0, 0]),
        "intersection": float(intersection),
        "union": float(union),
    }


def nms_view(
    image: np.ndarray,
    boxes: np.ndarray,
    scores: np.ndarray,
    truths: np.ndarray,
    *,
    iou_threshold: float,
    score_threshold: float,
    before: bool,
    scale: int,
) -> dict:
    """NMS on ``boxes`` drawn on ``image``: the kept boxes in orange (or, with ``before``,
    every box in grey), the ground truth dashed blue (``boxes.COLOURS``). {"picture", "kept",
    "above_score", "shown"}."""
    kept = non_max_suppression(
        boxes, scores, iou_threshold=iou_threshold, score_threshold=score_threshold
    )
    shown = boxes if before else boxes[kept]
    role = "dropped" if before else "kept"
    picture = draw_boxes(
        image,
        np.vstack([truths, shown]),
        roles=["truth"] * len(truths) + [role] * len(shown),
        scale=scale,
        thickness=2,
    )
    return {
        "picture": picture,
        "kept": kept,
        "above_score": int(np.sum(scores >= score_threshold)),
        "shown": len(shown),
    }


# --------------------------------------------------------------------------------------------
# A ready-made detector taken apart: KerasHub's RetinaNet
# --------------------------------------------------------------------------------------------


def retinanet_parts(image_side: int = 128, classes: int = 3) -> dict:
    """Build KerasHub's RetinaNet (Lin et al. 2017) offline with random weights, on a small
    ResNet backbone, and list its parts: backbone, feature pyramid, heads, anchors, decoder.

    The model is built in a short-lived helper process (the same Python, environment and
    Keras backend; a few seconds more): importing KerasHub also imports TensorFlow Text and
    its tokenizers, about 150 MB that would stay in the lesson's kernel for the rest of the
    lesson (lesson 05's peak went from 1.45 to 1.51 GiB for this one cell).

    Nothing is downloaded: pretrained weights need ``from_preset`` and an internet
    connection (see ``RETINANET_PRETRAINED``).

    Returns
    -------
    dict: "parts" (list of (name, kind, parameters)), "parameters", "anchors" (anchor boxes
    on an image_side x image_side image), "outputs" (shapes of one raw forward pass),
    "seconds" (that pass), "decoder" (the class that does the NMS)
    """
    import json
    import subprocess
    import sys

    image_side = validation.as_int(image_side, "image_side", minimum=32, maximum=1024)
    classes = validation.as_int(classes, "classes", minimum=1, maximum=1000)
    code = (
        "import json; from lab_utils.detection import compute; "
        f"print(json.dumps(compute._retinanet_facts({image_side}, {classes})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(
            "building KerasHub's RetinaNet failed in its helper process; its last lines:\n"
            + "\n".join(done.stderr.strip().splitlines()[-8:])
        )
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    facts["parts"] = [tuple(part) for part in facts["parts"]]
    facts["outputs"] = {name: tuple(shape) for name, shape in facts["outputs"].items()}
    return facts


def _retinanet_facts(image_side: int, classes: int) -> dict:
    """``retinanet_parts``'s work, in the helper process: JSON-ready facts of the model."""
    keras = lesson.import_keras()
    with lesson.native_stderr_silenced():
        import keras_hub

        encoder = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64],
            input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 64, 64, 64],
            stackwise_num_blocks=[1, 1, 1, 1],
            stackwise_num_strides=[1, 2, 2, 2],
            block_type="basic_block",
            use_pre_activation=False,
            image_shape=(None, None, 3),
        )
        backbone = keras_hub.models.RetinaNetBackbone(
            image_encoder=encoder, min_level=3, max_level=5, use_p5=False
        )
        anchors = keras_hub.layers.AnchorGenerator(
            bounding_box_format="yxyx",
            min_level=3,
            max_level=5,
            num_scales=3,
            aspect_ratios=[0.5, 1.0, 2.0],
            anchor_size=4,
        )
        model = keras_hub.models.RetinaNetObjectDetector(
            backbone=backbone,
            num_classes=classes,
            anchor_generator=anchors,
            bounding_box_format="yxyx",
        )
        image = np.zeros((1, image_side, image_side, 3), dtype=np.float32)
        start = time.perf_counter()
        raw = model(image, training=False)
        seconds = time.perf_counter() - start
        anchor_boxes = anchors(image)
    parts = [
        (layer.name, type(layer).__name__, int(layer.count_params()))
        for layer in model.layers
        if layer.count_params()
    ]
    parts.insert(
        0, ("resnet (inside the backbone)", type(encoder).__name__, int(encoder.count_params()))
    )
    return {
        "parts": parts,
        "parameters": int(model.count_params()),
        "anchors": int(
            sum(np.asarray(keras.ops.convert_to_numpy(v)).shape[0] for v in anchor_boxes.values())
        ),
        "outputs": {k: [int(n) for n in v.shape] for k, v in raw.items()},
        "seconds": seconds,
        "decoder": type(model.prediction_decoder).__name__,
    }


RETINANET_PRETRAINED = """\
# Needs an internet connection (downloads about 150 MB of COCO-trained weights):
import keras_hub
detector = keras_hub.models.RetinaNetObjectDetector.from_preset(
    "retinanet_resnet50_fpn_coco", bounding_box_format="xywh")
found = detector.predict(photo[None])     # boxes, confidence, labels (COCO's 80 classes)
"""
