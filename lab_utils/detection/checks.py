"""Lesson 05's exercise checks, compared with Keras, TensorFlow and pycocotools, never with a
stored solution: ``check_xywh_to_xyxy``, ``check_iou``, ``check_nms``,
``check_multitask_loss``, ``check_match_detections``, ``check_label_anchors``.

Each check's known mistakes are rows of data tried in one loop: (the wrong answer a mistake
gives, or a test that recognises it in the student's result, the message it earns).
Messages with ``{name}``, ``{result}``, ``{expected}`` ... are filled in with the case's values.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable

import numpy as np

from lab_utils import exercises, lesson
from lab_utils.boxes import iou_matrix, non_max_suppression

# --------------------------------------------------------------------------------------------
# xywh_to_xyxy
# --------------------------------------------------------------------------------------------

_CONVERT_HINT = (
    "(x, y, w, h) -> (x1, y1, x2, y2): the left/top corner stays, the right "
    "edge is x + w and the bottom edge y + h. Work on whole columns: boxes[:, 0] "
    "is every x."
)

#: (wrong answer as a function of the columns x, y, w, h, message)
XYXY_MISTAKES = (
    (
        lambda x, y, w, h: np.stack([x, y, x + w - 1, y + h - 1], axis=1),
        "that is the pixel-inclusive corner (x + w - 1). With continuous coordinates the right "
        "edge is x + w: a box of width w spans from x to x + w.",
    ),
    (lambda x, y, w, h: np.stack([x, y, w, h], axis=1), "the boxes came back unchanged."),
    (
        lambda x, y, w, h: np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1),
        "that treats (x, y) as the centre; in the slide's (x, y, w, h) it is the top-left corner.",
    ),
    (
        lambda x, y, w, h: np.stack([y, x, y + h, x + w], axis=1),
        "x and y are swapped (that is 'yxyx', TensorFlow's order).",
    ),
    (lambda x, y, w, h: np.stack([x, y, w - x, h - y], axis=1), "x2 = x + w, not w - x."),
)


def _xyxy_cases() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [
        np.array([[2.0, 3.0, 4.0, 5.0]]),
        np.array([[0.0, 0.0, 10.0, 20.0], [5.5, 1.25, 0.0, 3.0]]),
        np.column_stack([rng.uniform(0, 100, (7, 2)), rng.uniform(1, 40, (7, 2))]),
        np.zeros((0, 4)),
    ]


@exercises.checker(
    "xywh_to_xyxy",
    forbid=["keras.utils.bounding_boxes.convert_format", "lab_utils.detection.convert_boxes"],
)
def check_xywh_to_xyxy(student: exercises.Student) -> int:
    """Check ``xywh_to_xyxy(boxes) -> (N, 4)`` against Keras's ``convert_format``; the
    caller's ``boxes`` must stay unchanged."""
    from keras.utils import bounding_boxes

    cases = _xyxy_cases()
    for boxes in cases:
        name = f"xywh_to_xyxy(boxes of shape {boxes.shape})"
        result = student(boxes.copy(), name=name, hint=_CONVERT_HINT)
        # Writing into the input returns the right corners once, then corrupts the caller's
        # boxes (every later call, match_detections included, sees converted boxes).
        exercises.expect_unchanged(student, 0, name=name, argument="boxes", hint=_CONVERT_HINT)
        expected = (
            np.asarray(bounding_boxes.convert_format(boxes, "xywh", "xyxy"), dtype=np.float64)
            if len(boxes)
            else np.zeros((0, 4))
        )
        mistakes = [(wrong(*boxes.T), message) for wrong, message in XYXY_MISTAKES if len(boxes)]
        exercises.expect_array(
            result, expected, name=name, hint=_CONVERT_HINT, atol=1e-4, known_mistakes=mistakes
        )
    return len(cases)


# --------------------------------------------------------------------------------------------
# iou
# --------------------------------------------------------------------------------------------


def _finite_number(value: object) -> bool:
    """True for an int or float (not bool) that is finite as a float (10**400 is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return bool(np.isfinite(float(value)))
    except OverflowError:
        return False


def _infinite_or_nan(value: object) -> bool:
    """True for a number (not bool; a 0-d array too) that is infinite or NaN as a float."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return not np.isfinite(float(value))
    except OverflowError:
        return True


_IOU_HINT = (
    "intersection width = max(0, min(right edges) - max(left edges)), the same for "
    "the height; IoU = intersection / (area_a + area_b - intersection)."
)


def _iou_cases() -> list[tuple[tuple, tuple]]:
    return [
        ((0.0, 0.0, 10.0, 10.0), (5.0, 5.0, 15.0, 15.0)),  # partial overlap
        ((0.0, 0.0, 10.0, 10.0), (20.0, 20.0, 30.0, 30.0)),  # disjoint both ways
        ((0.0, 0.0, 10.0, 10.0), (0.0, 20.0, 10.0, 30.0)),  # disjoint in y only
        ((0.0, 0.0, 10.0, 10.0), (10.0, 0.0, 20.0, 10.0)),  # touching edges
        ((2.0, 3.0, 8.0, 9.0), (2.0, 3.0, 8.0, 9.0)),  # identical
        ((0.0, 0.0, 20.0, 20.0), (5.0, 5.0, 10.0, 10.0)),  # one inside the other
        ((1.5, 2.5, 30.0, 12.0), (10.0, 0.0, 25.0, 40.0)),  # wide and tall
        ((0.0, 0.0, 4.0, 40.0), (1.0, 30.0, 50.0, 35.0)),
    ]


def _overlap(a: tuple, b: tuple) -> tuple[float, float, float, float]:
    """Intersection width and height (negative when the boxes are apart), and both areas."""
    ax1, ay1, ax2, ay2 = a
    bx1, by1, bx2, by2 = b
    return (
        min(ax2, bx2) - max(ax1, bx1),
        min(ay2, by2) - max(ay1, by1),
        (ax2 - ax1) * (ay2 - ay1),
        (bx2 - bx1) * (by2 - by1),
    )


def _unclipped_iou(a: tuple, b: tuple) -> float:
    width, height, area_a, area_b = _overlap(a, b)
    return width * height / (area_a + area_b - width * height)


def _inclusive_iou(a: tuple, b: tuple) -> float:
    width, height, _, _ = _overlap(a, b)
    inclusive = max(width + 1, 0) * max(height + 1, 0)
    return inclusive / (
        (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inclusive
    )


def _clipped_intersection(a: tuple, b: tuple) -> float:
    width, height, _, _ = _overlap(a, b)
    return max(width, 0) * max(height, 0)


def _iou_over_sum(a: tuple, b: tuple) -> float:
    _, _, area_a, area_b = _overlap(a, b)
    return _clipped_intersection(a, b) / (area_a + area_b)


def _iou_over_smaller(a: tuple, b: tuple) -> float:
    _, _, area_a, area_b = _overlap(a, b)
    return _clipped_intersection(a, b) / min(area_a, area_b)


def _iou_read_as_xywh(a: tuple, b: tuple) -> float:
    return iou_matrix([list(a)], [list(b)], "xywh")[0, 0]


def _gives(wrong_iou: Callable) -> Callable:
    """A row's test: the result equals what ``wrong_iou(box_a, box_b)`` computes."""
    return lambda result, expected, a, b: np.isclose(result, wrong_iou(a, b), atol=1e-5)


#: (test(result, expected, box_a, box_b) -> bool, message), for a wrong finite number
IOU_MISTAKES = (
    (
        lambda result, expected, a, b: isinstance(result, (int, np.integer)) and 0 < expected < 1,
        "{name} returned the whole number {result}, expected {expected:.4g}: IoU is a fraction "
        "between 0 and 1; do not round it or convert it with int() (and use / rather than //).",
    ),
    (
        lambda result, expected, a, b: (
            expected == 0 and result > 0 and _overlap(a, b)[0] <= 0 and _overlap(a, b)[1] <= 0
        ),
        "{name} returned {result:.4g}, expected 0: these boxes do not overlap, but both the "
        "width and the height of the 'intersection' are negative, and their product is "
        "positive. Clip each to 0 first.",
    ),
    (
        lambda result, expected, a, b: (
            expected == 0 and not np.isclose(result, 0) and np.isclose(result, _unclipped_iou(a, b))
        ),
        "{name} returned {result:.4g}, expected 0: the boxes do not overlap; a negative "
        "intersection width or height must become 0.",
    ),
    (
        _gives(_inclusive_iou),
        "{name} returned {result:.4g}, expected {expected:.4g}: that counts pixels inclusively "
        "(x2 - x1 + 1). These corners are continuous coordinates: the width is x2 - x1.",
    ),
    (
        _gives(_iou_over_sum),
        "{name} returned {result:.4g}, expected {expected:.4g}: the union is area_a + area_b - "
        "intersection (the overlap would be counted twice).",
    ),
    (
        _gives(_iou_read_as_xywh),
        "{name} returned {result:.4g}, expected {expected:.4g}: that reads the boxes as "
        "(x, y, w, h); iou receives corners (x1, y1, x2, y2).",
    ),
    (
        _gives(_iou_over_smaller),
        "{name} returned {result:.4g}, expected {expected:.4g}: that divides by the smaller "
        "area, not by the union.",
    ),
    (
        _gives(_clipped_intersection),
        "{name} returned {result:.4g}, expected {expected:.4g}: that is the intersection's "
        "area; IoU divides it by the union's area.",
    ),
)


@exercises.checker(
    "iou",
    forbid=[
        "keras.utils.bounding_boxes.compute_iou",
        "lab_utils.detection.iou_matrix",
        "lab_utils.detection.box_areas",
    ],
)
def check_iou(student: exercises.Student) -> int:
    """Check ``iou(box_a, box_b) -> float`` ("xyxy" corners) against Keras's compute_iou."""
    from keras.utils import bounding_boxes

    cases = _iou_cases()
    for box_a, box_b in cases:
        name = f"iou({box_a}, {box_b})"
        a, b = np.array([box_a]), np.array([box_b])
        result = student(np.array(box_a), np.array(box_b), name=name, hint=_IOU_HINT)
        expected = float(np.asarray(bounding_boxes.compute_iou(a, b, "xyxy"))[0, 0])
        if isinstance(result, np.ndarray) and result.size == 1:
            result = result.reshape(())
        if _finite_number(result) and not np.isclose(result, expected, atol=1e-5):
            for recognises, message in IOU_MISTAKES:
                if recognises(result, expected, box_a, box_b):
                    exercises.fail(
                        message.format(name=name, result=result, expected=expected), _IOU_HINT
                    )
        exercises.expect_number(result, expected, name=name, hint=_IOU_HINT, atol=1e-5, rtol=1e-4)
    return len(cases)


# --------------------------------------------------------------------------------------------
# nms
# --------------------------------------------------------------------------------------------

_NMS_HINT = (
    "sort the indices by score, highest first (np.argsort(-scores)); take the first, "
    "keep it, remove every remaining index whose IoU with it is above the threshold; "
    "repeat until none is left. Use your iou function."
)


def _nms_cases() -> list[tuple[np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(12)
    cases = []
    for count in (8, 15, 30):
        corners = rng.uniform(0, 20, (count, 2))  # crowded: many overlaps
        sizes = rng.uniform(10, 30, (count, 2))
        boxes = np.column_stack([corners, corners + sizes])
        cases.append((boxes, rng.permutation(count) / count + 0.01, 0.5))
    boxes = np.array(
        [[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10], [3, 0, 13, 10], [30, 30, 40, 40]], float
    )
    # A chain: 0 suppresses 1, 1 would suppress 2 but 1 is gone, so 2 survives (0 and 2 overlap
    # less); comparing with the last *examined* box instead of the kept ones fails here.
    cases.append((boxes, np.array([0.9, 0.8, 0.7, 0.6, 0.5]), 0.6))
    cases.append((boxes[::-1].copy(), np.array([0.5, 0.6, 0.7, 0.8, 0.9]), 0.6))
    cases.append((np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), np.array([0.2, 0.9]), 0.5))
    cases.append((boxes, np.array([0.9, 0.8, 0.7, 0.6, 0.5]), 0.3))
    # IoUs exactly equal to the threshold (exact in floating point): box 1 overlaps box 0 by
    # 50 / 100 = 0.5 and box 3 overlaps box 2 by 4 / 16 = 0.25. Equal is not above: kept.
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 5], [20, 20, 24, 24], [20, 20, 24, 21]], float)
    cases.append((boxes, np.array([0.9, 0.8, 0.7, 0.6]), 0.5))
    cases.append((boxes, np.array([0.9, 0.8, 0.7, 0.6]), 0.25))
    return cases


def _nms_removing_ties(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """What NMS keeps when it also removes boxes at IoU exactly equal to the threshold."""
    overlaps = iou_matrix(boxes, boxes, "xyxy")
    order, kept = [int(i) for i in np.argsort(-scores, kind="stable")], []
    while order:
        kept.append(order.pop(0))
        order = [i for i in order if overlaps[kept[-1], i] < threshold]
    return kept


#: (test(case) -> bool, message); the case holds "result", "kept" (np.asarray(result)),
#: "expected", "count" (boxes) and "removing_ties" (``_nms_removing_ties``). The rows are tried
#: in order, so the later ones see a 1-D array of whole numbers.
NMS_MISTAKES = (
    (lambda case: case["result"] is None, "{name} returned None. Did you forget `return`?"),
    (
        lambda case: case["kept"].ndim == 2 and case["kept"].shape[1:] == (4,),
        "{name} returned boxes; return the indices of the kept boxes (e.g. [3, 0, 5]), highest "
        "score first.",
    ),
    (
        lambda case: (
            case["kept"].ndim != 1
            or bool(case["kept"].size and not np.issubdtype(case["kept"].dtype, np.integer))
        ),
        "{name} returned {described}; expected a list of whole-number indices such as {expected}.",
    ),
    (
        lambda case: (
            sorted(case["kept"].tolist()) == list(range(case["count"]))
            and len(case["expected"]) < case["count"]
        ),
        "{name} kept every box; boxes that overlap a kept, better box by more than the threshold "
        "must go.",
    ),
    (
        lambda case: (
            sorted(case["kept"].tolist()) == sorted(case["expected"].tolist())
            and case["kept"].tolist() != case["expected"].tolist()
        ),
        "{name} kept the right boxes {right} but in the order {kept}; return them highest score "
        "first: {expected}.",
    ),
    (
        lambda case: case["kept"].tolist() == case["removing_ties"] != case["expected"].tolist(),
        "{name} kept {kept}, expected {expected}: it also removes boxes whose IoU with a kept box "
        "is exactly the threshold. Remove a box only when its IoU is ABOVE the threshold "
        "(iou > iou_threshold), as tf.image.non_max_suppression does.",
    ),
)


def _reference_nms() -> Callable[[np.ndarray, np.ndarray, float], np.ndarray]:
    """NMS to compare with: TensorFlow's under the TensorFlow backend, else the kit's NumPy one
    (so a JAX or PyTorch installation needs no TensorFlow here); (x1, y1, x2, y2) boxes."""
    if lesson.import_keras().backend.backend() != "tensorflow":
        return lambda boxes, scores, threshold: non_max_suppression(
            boxes, scores, iou_threshold=threshold, box_format="xyxy"
        )
    with lesson.native_stderr_silenced():
        import tensorflow as tf
    return lambda boxes, scores, threshold: tf.image.non_max_suppression(
        boxes[:, [1, 0, 3, 2]], scores, len(boxes), iou_threshold=threshold
    ).numpy()


@exercises.checker(
    "nms",
    forbid=["tensorflow.image.non_max_suppression", "lab_utils.detection.non_max_suppression"],
)
def check_nms(student: exercises.Student) -> int:
    """Check ``nms(boxes, scores, iou_threshold) -> list of kept indices`` against
    ``tf.image.non_max_suppression`` (random boxes, chains of overlaps, unsorted scores).
    Under another Keras backend (JAX, PyTorch: ``keras.ops`` has no NMS) the reference is the
    kit's NumPy ``boxes.non_max_suppression``, which tests/test_boxes.py checks against
    TensorFlow's."""
    reference = _reference_nms()
    cases = _nms_cases()
    for boxes, scores, threshold in cases:
        name = f"nms(boxes of shape {boxes.shape}, scores, iou_threshold={threshold})"
        result = student(boxes.copy(), scores.copy(), threshold, name=name, hint=_NMS_HINT)
        expected = reference(boxes, scores, threshold)
        kept = np.asarray(result)
        case = {
            "result": result,
            "kept": kept,
            "expected": expected,
            "count": len(boxes),
            "removing_ties": _nms_removing_ties(boxes, scores, threshold),
        }
        for recognises, message in NMS_MISTAKES:
            if recognises(case):
                exercises.fail(
                    message.format(
                        name=name,
                        described=exercises.describe_argument(result),
                        kept=kept.tolist(),
                        expected=expected.tolist(),
                        right=sorted(expected.tolist()),
                    ),
                    _NMS_HINT,
                )
        if kept.tolist() != expected.tolist():
            exercises.fail(
                f"{name} kept {kept.tolist()}, expected {expected.tolist()}. Are "
                f"the boxes taken by decreasing score, and is each compared with "
                f"the boxes already kept (not with the last one looked at)?",
                _NMS_HINT,
            )
    return len(cases)


# --------------------------------------------------------------------------------------------
# multitask_loss
# --------------------------------------------------------------------------------------------

_LOSS_HINT = (
    "cross-entropy = mean over the examples of -log(probability of the true "
    "class), the probabilities clipped to [1e-7, 1 - 1e-7] first as in lesson 03; "
    "L2 = mean over all box numbers of (prediction - target)**2; "
    "loss = cross-entropy + box_weight * L2."
)

#: The message for a loss that is not finite when a true class has probability 0 or 1.
UNCLIPPED_LOSS = (
    "{name} returned {result}: a true class with probability exactly 0 makes -log(0) "
    "infinite (and 0 * log(0) NaN). Clip the probabilities to [1e-7, 1 - 1e-7] with np.clip "
    "before taking the log (1e-7 is keras.config.epsilon(); lesson 03 does the same), so a "
    "certain and wrong prediction costs -log(1e-7) = 16.1."
)

#: Other clipping bounds students take from elsewhere (NumPy's float64 and float32 machine
#: epsilon, scikit-learn's former log_loss default 1e-15, round numbers).
OTHER_EPSILONS = (
    1e-8,
    1e-9,
    1e-10,
    1e-12,
    1e-15,
    1e-16,
    float(np.finfo(np.float64).eps),
    float(np.finfo(np.float32).eps),
)


def _loss_cases() -> list[tuple]:
    rng = np.random.default_rng(13)
    cases = []
    for count, classes, weight in [(4, 3, 1.0), (10, 10, 5.0), (1, 2, 0.0), (6, 4, 0.3)]:
        logits = rng.normal(size=(count, classes))
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        cases.append(
            (
                probabilities,
                rng.integers(0, classes, count),
                rng.uniform(0, 1, (count, 4)),
                rng.uniform(0, 1, (count, 4)),
                weight,
            )
        )
    # Certain predictions, right (probability 1) and wrong (probability 0 for the true class):
    # only clipped probabilities give a finite loss, Keras's.
    probabilities = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.2, 0.3, 0.5], [0.0, 0.5, 0.5]])
    cases.append(
        (
            probabilities,
            np.array([0, 2, 1, 0]),
            rng.uniform(0, 1, (4, 4)),
            rng.uniform(0, 1, (4, 4)),
            2.0,
        )
    )
    return cases


def _loss_mistakes(
    probabilities: np.ndarray,
    labels: np.ndarray,
    boxes: np.ndarray,
    targets: np.ndarray,
    weight: float,
    cross_entropy: float,
    squared: float,
) -> list[tuple[float, str]]:
    """(the loss a typical mistake gives on this case, message), in the order tried."""
    count = len(labels)
    unclipped = probabilities[np.arange(count), labels]
    true_probability = np.clip(unclipped, 1e-7, 1 - 1e-7)
    probabilities = np.clip(probabilities, 1e-7, 1 - 1e-7)
    return [
        *(
            (
                float(np.mean(-np.log(np.clip(unclipped, epsilon, 1 - epsilon))))
                + weight * squared,
                f"that clips the probabilities at {epsilon:.3g}; clip them to [1e-7, 1 - 1e-7] "
                f"(keras.config.epsilon(), as Keras and lesson 03 do).",
            )
            for epsilon in OTHER_EPSILONS
            if true_probability.min() <= 1e-7  # only a certain, wrong prediction tells
        ),
        (cross_entropy + squared, "box_weight is not used: multiply the L2 part by it."),
        (
            weight * cross_entropy + squared,
            "the weight multiplies the box (L2) loss, not the cross-entropy.",
        ),
        (
            cross_entropy + weight * squared * 4,
            "the L2 part is summed over the 4 box numbers; "
            "take the mean of all N x 4 numbers, as Keras's "
            "'mse'.",
        ),
        (cross_entropy * count + weight * squared * count * 4, "these are sums; take means."),
        (
            cross_entropy + weight * float(np.mean(np.abs(targets - boxes))),
            "that is an L1 (absolute) error; the slide's L2 loss squares it.",
        ),
        (
            cross_entropy + weight * float(np.sqrt(squared)),
            "no square root: the L2 loss is the mean squared error.",
        ),
        (
            float(np.mean(-np.log(probabilities.max(axis=1)))) + weight * squared,
            "the cross-entropy uses the probability of the TRUE class "
            "(probabilities[i, labels[i]]), not the largest one.",
        ),
        (
            float(np.mean(-true_probability)) + weight * squared,
            "the cross-entropy takes the LOG of the true class's probability: mean of -log(p), "
            "not of -p.",
        ),
        (
            float(np.mean(-np.log10(true_probability))) + weight * squared,
            "that is log10; the cross-entropy uses the natural log (np.log).",
        ),
        (
            float(np.mean(-np.log(probabilities))) + weight * squared,
            "that averages -log over EVERY class; only the true class's probability counts: "
            "probabilities[np.arange(N), labels].",
        ),
        (
            float(np.mean(-np.log(probabilities[:, labels]))) + weight * squared,
            "probabilities[:, labels] is an N x N table (every example with every label); pair "
            "example i with its own label: probabilities[np.arange(N), labels].",
        ),
        (
            cross_entropy * count + weight * squared,
            "the cross-entropy is summed; take its mean over the N examples.",
        ),
        (
            cross_entropy + weight * squared / 2,
            "no factor 1/2: Keras's 'mse' is the plain mean of the squared errors.",
        ),
    ]


@exercises.checker(
    "multitask_loss",
    forbid=[
        "keras.losses.SparseCategoricalCrossentropy",
        "keras.losses.sparse_categorical_crossentropy",
        "keras.losses.MeanSquaredError",
        "keras.losses.mean_squared_error",
        "sklearn.metrics.log_loss",
        "sklearn.metrics.mean_squared_error",
    ],
)
def check_multitask_loss(student: exercises.Student) -> int:
    """Check ``multitask_loss(probabilities, labels, boxes, box_targets, box_weight)``
    against Keras's sparse categorical cross-entropy + box_weight x mean squared error (what
    ``compile(loss={...}, loss_weights={...})`` minimises)."""
    keras = lesson.import_keras()
    cases = _loss_cases()
    for probabilities, labels, boxes, targets, weight in cases:
        name = (
            f"multitask_loss(probabilities {probabilities.shape}, labels, boxes, "
            f"box_targets, box_weight={weight})"
        )
        result = student(
            probabilities.copy(),
            labels.copy(),
            boxes.copy(),
            targets.copy(),
            weight,
            name=name,
            hint=_LOSS_HINT,
        )
        cross_entropy = float(keras.losses.SparseCategoricalCrossentropy()(labels, probabilities))
        squared = float(keras.losses.MeanSquaredError()(targets, boxes))
        expected = cross_entropy + weight * squared
        if isinstance(result, np.ndarray) and result.size == 1:
            result = result.reshape(())
        certain_and_wrong = probabilities[np.arange(len(labels)), labels].min() == 0
        if certain_and_wrong and _infinite_or_nan(result):
            exercises.fail(UNCLIPPED_LOSS.format(name=name, result=result), _LOSS_HINT)
        if _finite_number(result) and not np.isclose(result, expected, rtol=1e-4):
            for value, message in _loss_mistakes(
                probabilities, labels, boxes, targets, weight, cross_entropy, squared
            ):
                if np.isclose(result, value, rtol=1e-4):
                    exercises.fail(
                        f"{name} returned {result:.6g}, expected {expected:.6g}: {message}",
                        _LOSS_HINT,
                    )
        exercises.expect_number(result, expected, name=name, hint=_LOSS_HINT, rtol=1e-4, atol=1e-6)
    return len(cases)


# --------------------------------------------------------------------------------------------
# match_detections
# --------------------------------------------------------------------------------------------

_MATCH_HINT = (
    "go through the detections from the highest score down; each one takes the "
    "not-yet-matched ground-truth box it overlaps most, if that IoU is at least "
    "the threshold; otherwise it gets -1 (a false positive)."
)


def _match_cases() -> list[tuple[np.ndarray, np.ndarray, np.ndarray, float]]:
    rng = np.random.default_rng(14)
    cases = []
    truths = np.array([[0, 0, 10, 10], [20, 0, 10, 10], [40, 40, 12, 12]], float)
    found = np.array(
        [[1, 1, 10, 10], [0, 0, 10, 10], [21, 1, 9, 9], [60, 60, 5, 5], [39, 41, 12, 12]], float
    )
    cases.append((found, np.array([0.6, 0.9, 0.8, 0.7, 0.5]), truths, 0.5))
    # The best-overlapping truth, not the first one above the threshold:
    cases.append(
        (
            np.array([[5, 0, 10, 10]], float),
            np.array([0.9]),
            np.array([[0, 0, 10, 10], [4, 0, 10, 10]], float),
            0.3,
        )
    )
    for count in (6, 12):
        truths = np.column_stack([rng.uniform(0, 80, (count, 2)), rng.uniform(8, 20, (count, 2))])
        jitter = truths[rng.integers(0, count, count + 4)] + rng.normal(0, 2.5, (count + 4, 4))
        jitter[:, 2:] = np.abs(jitter[:, 2:]) + 1
        cases.append((jitter, rng.permutation(count + 4) / (count + 4), truths, 0.5))
    cases.append((found, np.array([0.6, 0.9, 0.8, 0.7, 0.5]), truths[:0], 0.5))
    cases.append((found[:2], np.array([0.6, 0.9]), np.array([[0, 0, 10, 10]], float), 0.95))
    # IoU exactly at the threshold (50 / 100) is a match in pycocotools (>=):
    cases.append(
        (np.array([[0, 0, 10, 5]], float), np.array([0.8]), np.array([[0, 0, 10, 10]], float), 0.5)
    )
    return cases


def _greedy_matches(
    overlaps: np.ndarray, scores: np.ndarray, threshold: float, *, strict: bool = False
) -> np.ndarray:
    """Greedy matching from the highest score down on an IoU table (for known mistakes)."""
    matches = np.full(len(overlaps), -1)
    taken: set = set()
    for index in np.argsort(-np.asarray(scores), kind="stable"):
        best, best_iou = -1, threshold
        for truth in range(overlaps.shape[1]):
            value = overlaps[index, truth]
            if truth not in taken and (
                value > best_iou if strict or best >= 0 else value >= best_iou
            ):
                best, best_iou = truth, value
        if best >= 0:
            matches[index] = best
            taken.add(best)
    return matches


def _iou_read_as_corners(found: np.ndarray, truths: np.ndarray) -> np.ndarray:
    """The IoU table a student's iou gives when (x, y, w, h) boxes are passed unconverted."""
    a, b = found[:, None, :], truths[None, :, :]
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = width * height
    union = (
        (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
        + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        - inter
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _coco_matches(
    found: np.ndarray, scores: np.ndarray, truths: np.ndarray, threshold: float
) -> np.ndarray:
    """pycocotools' own matching (COCOeval.evaluateImg) for one image and one class."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ground = COCO()
    ground.dataset = {
        "images": [{"id": 1, "height": 200, "width": 200}],
        "categories": [{"id": 1, "name": "object"}],
        "annotations": [
            {
                "id": k + 1,
                "image_id": 1,
                "category_id": 1,
                "bbox": [float(v) for v in box],
                "area": float(box[2] * box[3]),
                "iscrowd": 0,
            }
            for k, box in enumerate(truths)
        ],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        ground.createIndex()
        results = ground.loadRes(
            [
                {
                    "image_id": 1,
                    "category_id": 1,
                    "score": float(s),
                    "bbox": [float(v) for v in box],
                }
                for box, s in zip(found, scores)
            ]
        )
        evaluation = COCOeval(ground, results, "bbox")
        evaluation.params.iouThrs = np.array([threshold])
        evaluation.params.areaRng = [[0, 1e10]]
        evaluation.params.areaRngLbl = ["all"]
        evaluation.params.maxDets = [1000]
        evaluation.evaluate()
    record = evaluation.evalImgs[0]
    matches = np.full(len(found), -1, dtype=np.int64)
    if record is None:
        return matches
    for position, detection_id in enumerate(record["dtIds"]):
        truth_id = int(record["dtMatches"][0, position])
        matches[detection_id - 1] = truth_id - 1 if truth_id > 0 else -1
    return matches


def _matches_in_detection_order(overlaps: np.ndarray, threshold: float) -> np.ndarray:
    """Each detection in the given order takes its best free truth above the threshold."""
    matches = np.full(len(overlaps), -1)
    taken: set = set()
    for index in range(len(overlaps)):
        candidates = [
            t
            for t in np.argsort(-overlaps[index])
            if t not in taken and overlaps[index, t] >= threshold
        ]
        if candidates:
            matches[index] = candidates[0]
            taken.add(candidates[0])
    return matches


def _first_free_matches(overlaps: np.ndarray, scores: np.ndarray, threshold: float) -> np.ndarray:
    """From the highest score down, each detection takes the first free truth above the
    threshold (not the one it overlaps most)."""
    matches = np.full(len(overlaps), -1)
    taken: set = set()
    for index in np.argsort(-scores, kind="stable"):
        candidates = [
            t
            for t in range(overlaps.shape[1])
            if t not in taken and overlaps[index, t] >= threshold
        ]
        if candidates:
            matches[index] = candidates[0]
            taken.add(candidates[0])
    return matches


def _match_mistakes(
    found: np.ndarray, scores: np.ndarray, truths: np.ndarray, threshold: float
) -> list[tuple[np.ndarray, str]]:
    """(the matches a typical mistake gives on this case, message), in the order tried."""
    if not len(truths):
        return []
    overlaps = iou_matrix(found, truths)
    no_exclusive = np.where(overlaps.max(axis=1) >= threshold, overlaps.argmax(axis=1), -1)
    return [
        (
            _matches_in_detection_order(overlaps, threshold),
            "the detections must be taken from the highest score down (a better detection of the "
            "same object comes first).",
        ),
        (
            no_exclusive,
            "each ground-truth box can be matched only once: a second detection of "
            "the same object is a false positive (a duplicate).",
        ),
        (
            _first_free_matches(overlaps, scores, threshold),
            "a detection takes the free ground-truth box it overlaps MOST, not the first one "
            "above the threshold.",
        ),
        (
            _greedy_matches(overlaps, scores, threshold, strict=True),
            "an IoU exactly equal to the threshold counts as a match (IoU >= threshold, as in "
            "pycocotools).",
        ),
        (
            _greedy_matches(_iou_read_as_corners(found, truths), scores, threshold),
            "the boxes are (x, y, w, h): convert them to corners (your xywh_to_xyxy) before "
            "calling your iou.",
        ),
    ]


#: (test(result) -> bool, message) for answers of the wrong kind, tried in order
MATCH_WRONG_KINDS = (
    (
        lambda result: isinstance(result, (list, tuple)) and any(value is None for value in result),
        "{name} returned None for some detections; write -1 for a detection that matches no "
        "ground-truth box.",
    ),
    (
        lambda result: isinstance(result, (list, np.ndarray)) and np.array(result).dtype == bool,
        "{name} returned True/False for each detection; return the INDEX of the ground-truth box "
        "it matches (0, 1, ...), or -1.",
    ),
)


@exercises.checker(
    "match_detections",
    forbid=[
        "pycocotools.cocoeval.COCOeval.evaluateImg",
        "pycocotools.cocoeval.COCOeval.evaluate",
        "lab_utils.detection.match_detections",
        "lab_utils.detection.precision_recall",
    ],
)
def check_match_detections(student: exercises.Student) -> int:
    """Check ``match_detections(found, scores, truths, iou_threshold) -> (N,) ints``
    against pycocotools' matching (``COCOeval.evaluateImg``); boxes are "xywh"."""
    cases = _match_cases()
    for found, scores, truths, threshold in cases:
        name = (
            f"match_detections(found {found.shape}, scores, truths {truths.shape}, "
            f"iou_threshold={threshold})"
        )
        result = student(
            found.copy(), scores.copy(), truths.copy(), threshold, name=name, hint=_MATCH_HINT
        )
        for position, argument in ((0, "found"), (2, "truths")):
            exercises.expect_unchanged(
                student,
                position,
                name=name,
                argument=argument,
                hint="does your xywh_to_xyxy write into its input? Convert into a new array.",
            )
        expected = _coco_matches(found, scores, truths, threshold)
        for recognises, message in MATCH_WRONG_KINDS:
            if recognises(result):
                exercises.fail(message.format(name=name), _MATCH_HINT)
        if isinstance(result, list):
            result = np.array(result)
        exercises.expect_array(
            result,
            expected.astype(np.int64),
            name=name,
            hint=_MATCH_HINT,
            known_mistakes=[
                (m.astype(np.int64), text)
                for m, text in _match_mistakes(found, scores, truths, threshold)
            ],
        )
    return len(cases)


# --------------------------------------------------------------------------------------------
# label_anchors (anchors labelled by IoU, with encoded offsets)
# --------------------------------------------------------------------------------------------

_ANCHOR_HINT = (
    "IoU table: your iou for every (anchor, truth) pair, shape (A, M). For each anchor take "
    "the truth it overlaps most (argmax over the truths) and its IoU: label = that truth's "
    "index if IoU >= 0.5, -1 if IoU < 0.4, -2 in between (no truths: every label -1). Offsets "
    "only for the positives, from the centres and sizes: ((cx - cxa) / wa, (cy - cya) / ha, "
    "log(w / wa), log(h / ha)); zeros elsewhere."
)


def _anchor_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """(anchors, truths) as corners: a grid of anchors of 3 sizes over two digits, exact
    threshold ties, an anchor between two truths, and an image without objects."""
    grid = [
        [x - side / 2, y - side / 2, x + side / 2, y + side / 2]
        for side in (8.0, 16.0, 24.0)
        for y in range(4, 32, 8)
        for x in range(4, 32, 8)
    ]
    anchors = np.array(grid)
    truths = np.array([[2.0, 3.0, 17.0, 19.0], [18.0, 14.0, 30.0, 31.0]])
    ties = np.array([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0], [40.0, 0.0, 50.0, 10.0]])
    # IoU exactly 0.5 (positive), exactly 0.4 (ignored, not background), 0.25 (background)
    tie_truths = np.array([[0.0, 0.0, 10.0, 5.0], [20.0, 0.0, 30.0, 4.0], [40.0, 0.0, 50.0, 2.5]])
    between = np.array(
        [[5.0, 0.0, 15.0, 10.0]]
    )  # IoU 0.54 with the first truth, 0.82 with the second
    between_truths = np.array([[2.0, 0.0, 12.0, 10.0], [6.0, 0.0, 16.0, 10.0]])
    return [
        (anchors, truths),
        (ties, tie_truths),
        (between, between_truths),
        (anchors[:5], np.zeros((0, 4))),
    ]


def _expected_anchor_labels(anchors: np.ndarray, truths: np.ndarray) -> tuple:
    """Labels and offsets from Keras: ``compute_iou`` and ``encode_box_to_deltas``."""
    from keras.utils import bounding_boxes

    if not len(truths):
        return np.full(len(anchors), -1, np.int64), np.zeros((len(anchors), 4)), np.zeros((0, 0))
    overlaps = np.asarray(bounding_boxes.compute_iou(anchors, truths, "xyxy"), dtype=np.float64)
    best, best_iou = overlaps.argmax(axis=1), overlaps.max(axis=1)
    labels = np.where(best_iou >= 0.5, best, np.where(best_iou < 0.4, -1, -2)).astype(np.int64)
    deltas = np.asarray(
        bounding_boxes.encode_box_to_deltas(
            anchors.astype(np.float32),
            truths[best].astype(np.float32),
            "xyxy",
            "xyxy",
            encoding_format="center_xywh",
        ),
        dtype=np.float64,
    )
    return labels, np.where((labels >= 0)[:, None], deltas, 0.0), overlaps


def _anchor_label_mistakes(labels: np.ndarray, overlaps: np.ndarray) -> list[tuple]:
    """(labels a typical mistake gives, message), from the (A, M) IoU table."""
    if not overlaps.size:
        return []
    best, best_iou = overlaps.argmax(axis=1), overlaps.max(axis=1)
    above = overlaps >= 0.5
    first_above = np.where(above.any(axis=1), above.argmax(axis=1), best)
    return [
        (
            np.where(best_iou > 0.5, best, np.where(best_iou < 0.4, -1, -2)),
            "an anchor whose IoU is exactly 0.5 is a positive (IoU >= 0.5).",
        ),
        (
            np.where(best_iou >= 0.5, best, np.where(best_iou <= 0.4, -1, -2)),
            "an anchor whose best IoU is exactly 0.4 is ignored (-2): background is IoU < 0.4.",
        ),
        (
            np.where(labels == -2, -1, labels),
            "anchors whose best IoU is between 0.4 and 0.5 are neither object nor background: "
            "label them -2 (ignored), as RetinaNet and Faster R-CNN do.",
        ),
        (
            np.where(labels >= 0, first_above, labels),
            "an anchor is matched to the truth it overlaps MOST, not the first one above 0.5.",
        ),
    ]


def _offset_mistakes(anchors: np.ndarray, truths: np.ndarray, labels: np.ndarray) -> list:
    """(offsets a typical mistake gives, message), positives only."""
    positive = labels >= 0
    if not positive.any():
        return []
    matched = truths[np.where(positive, labels, 0)]
    size_a, size_t = anchors[:, 2:] - anchors[:, :2], matched[:, 2:] - matched[:, :2]
    centre_a, centre_t = anchors[:, :2] + size_a / 2, matched[:, :2] + size_t / 2
    mask = positive[:, None]
    return [
        (
            np.where(mask, np.hstack([centre_t - centre_a, np.log(size_t / size_a)]), 0.0),
            "the centre offsets must be divided by the anchor's width and height, so they do "
            "not depend on the anchor's size.",
        ),
        (
            np.where(mask, np.hstack([(centre_t - centre_a) / size_a, size_t / size_a]), 0.0),
            "the size terms are log(w / wa) and log(h / ha), not the ratios themselves (a box "
            "the anchor's size then gives 0).",
        ),
        (
            np.where(
                mask,
                np.hstack([(matched[:, :2] - anchors[:, :2]) / size_a, np.log(size_t / size_a)]),
                0.0,
            ),
            "the offsets are between the CENTRES of the box and the anchor, not their corners.",
        ),
    ]


@exercises.checker(
    "label_anchors",
    forbid=[
        "keras.utils.bounding_boxes.compute_iou",
        "keras.utils.bounding_boxes.encode_box_to_deltas",
    ],
)
def check_label_anchors(student: exercises.Student) -> int:
    """Check ``label_anchors(anchors, truths) -> (labels (A,) ints, offsets (A, 4))`` against
    Keras's ``compute_iou`` and ``encode_box_to_deltas`` (corner boxes)."""
    cases = _anchor_cases()
    for anchors, truths in cases:
        name = f"label_anchors(anchors {anchors.shape}, truths {truths.shape})"
        result = student(anchors.copy(), truths.copy(), name=name, hint=_ANCHOR_HINT)
        if not (isinstance(result, tuple) and len(result) == 2):
            exercises.fail(
                f"{name} returned {exercises.describe_argument(result)}; return two arrays, "
                "`return labels, offsets`.",
                _ANCHOR_HINT,
            )
        labels, offsets, overlaps = _expected_anchor_labels(anchors, truths)
        found_labels = np.asarray(result[0]) if isinstance(result[0], list) else result[0]
        exercises.expect_array(
            found_labels,
            labels,
            name=f"the labels of {name}",
            hint=_ANCHOR_HINT,
            known_mistakes=_anchor_label_mistakes(labels, overlaps),
        )
        exercises.expect_array(
            result[1],
            offsets,
            name=f"the offsets of {name}",
            hint=_ANCHOR_HINT,
            atol=1e-4,
            rtol=1e-4,
            known_mistakes=_offset_mistakes(anchors, truths, labels),
        )
    return len(cases)
