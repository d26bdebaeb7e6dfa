"""lab_utils.detection (lesson 05): scenes, widgets, detectors, evaluation and checks; the
classical detectors of lab_utils.detectors."""

import numpy as np
import pytest

from lab_utils import data, detection, detectors

# The box functions (formats, IoU, NMS, matching, drawing) are tested in tests/test_boxes.py.


# --- scenes ----------------------------------------------------------------------------------


def test_digit_scenes_are_deterministic_and_boxes_fit():
    first = data.load_dataset("digit_scenes", count=20, seed=3)
    second = data.load_dataset("digit_scenes", count=20, seed=3)
    assert first.images.shape == (20, 64, 64) and first.images.dtype == np.float32
    assert np.array_equal(first.images, second.images)
    assert 0 <= first.images.min() and first.images.max() <= 1
    for boxes, labels in zip(first.boxes, first.labels):
        assert 1 <= len(boxes) <= 3 and boxes.shape == (len(labels), 4)
        corners = detection.convert_boxes(boxes, "xywh", "xyxy")
        assert corners.min() >= 0 and corners.max() <= 64
        assert np.all(detection.iou_matrix(boxes, boxes)[~np.eye(len(boxes), dtype=bool)] == 0)
    assert "digit_scenes" in data.names("dataset")


def test_scene_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="max_objects must be at least 1"):
        detection.generate_scenes(5, max_objects=0)
    with pytest.raises(TypeError, match="count must be a whole number"):
        detection.generate_scenes(2.5)


# --- widgets ---------------------------------------------------------------------------------


def test_widgets_render_and_respond():
    scenes = detection.generate_scenes(4, seed=0)
    viewer = detection.scene_viewer(scenes)
    viewer.controls["index"].value = 2
    assert viewer.state["index"] == 2 and viewer.state["objects"] == len(scenes.boxes[2])
    viewer.controls["boxes"].value = False
    assert viewer.state["shown_boxes"] == 0
    explorer = detection.iou_explorer(canvas=100)
    with explorer.hold():
        explorer.controls["x"].value = 20
        explorer.controls["y"].value = 20
        explorer.controls["w"].value = 40
        explorer.controls["h"].value = 40
    assert explorer.state["iou"] == pytest.approx(1.0)
    explorer.controls["x"].value = 80
    assert explorer.state["iou"] == 0
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [30, 30, 5, 5]], float)
    nms = detection.nms_explorer(np.zeros((40, 40)), boxes, [0.9, 0.8, 0.3])
    assert nms.state["kept"] == [0]
    nms.controls["score_threshold"].value = 0.2
    assert nms.state["kept"] == [0, 2]
    nms.controls["iou_threshold"].value = 0.9
    assert nms.state["kept"] == [0, 1, 2]
    with pytest.raises(TypeError, match="detection.Scenes"):
        detection.scene_viewer(np.zeros((3, 8, 8)))


# --- exercise checks: right answers pass, typical mistakes get their message ---------------

from lab_utils import exercises  # noqa: E402


def _xywh_to_xyxy(boxes):
    return np.column_stack(
        [boxes[:, 0], boxes[:, 1], boxes[:, 0] + boxes[:, 2], boxes[:, 1] + boxes[:, 3]]
    )


def _iou(a, b):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _nms(boxes, scores, threshold):
    order = list(np.argsort(-scores))
    kept = []
    while order:
        best = order.pop(0)
        kept.append(int(best))
        order = [i for i in order if _iou(boxes[best], boxes[i]) <= threshold]
    return kept


def _loss(probabilities, labels, boxes, targets, weight):
    true_class = np.clip(probabilities[np.arange(len(labels)), labels], 1e-7, 1 - 1e-7)
    cross_entropy = -np.mean(np.log(true_class))
    return cross_entropy + weight * np.mean((boxes - targets) ** 2)


def _match(found, scores, truths, threshold, order=None):
    found_xyxy = _xywh_to_xyxy(np.asarray(found, float))
    truths_xyxy = _xywh_to_xyxy(np.asarray(truths, float).reshape(-1, 4))
    matched, taken = [-1] * len(found), set()
    for index in np.argsort(-scores) if order is None else order:
        best, best_iou = -1, threshold
        for truth in range(len(truths_xyxy)):
            overlap = _iou(found_xyxy[index], truths_xyxy[truth])
            if truth not in taken and overlap >= best_iou:
                best, best_iou = truth, overlap
        if best >= 0:
            matched[index] = best
            taken.add(best)
    return matched


def _label_anchors(anchors, truths, strict=False, band=True, log=True):
    labels, offsets = np.full(len(anchors), -1), np.zeros((len(anchors), 4))
    if not len(truths):
        return labels, offsets
    overlaps = np.array([[_iou(a, t) for t in truths] for a in anchors])
    best, best_iou = overlaps.argmax(axis=1), overlaps.max(axis=1)
    if band:
        labels[best_iou >= 0.4] = -2
    positive = best_iou > 0.5 if strict else best_iou >= 0.5
    labels[positive] = best[positive]
    anchor, matched = anchors[positive], truths[best[positive]]
    anchor_size, size = anchor[:, 2:] - anchor[:, :2], matched[:, 2:] - matched[:, :2]
    offsets[positive, :2] = (
        matched[:, :2] + size / 2 - anchor[:, :2] - anchor_size / 2
    ) / anchor_size
    offsets[positive, 2:] = np.log(size / anchor_size) if log else size / anchor_size
    return labels, offsets


RIGHT = {
    "check_label_anchors": _label_anchors,
    "check_xywh_to_xyxy": _xywh_to_xyxy,
    "check_iou": _iou,
    "check_nms": _nms,
    "check_multitask_loss": _loss,
    "check_match_detections": _match,
}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_checks_pass_right_answers(name, keras, capsys):
    getattr(detection, name)(RIGHT[name])
    assert "passed" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_checks_report_unstarted_exercises(name, keras):
    def not_started(*args):
        raise NotImplementedError()

    with pytest.raises(exercises.ExerciseNotStarted):
        getattr(detection, name)(not_started)


def _inclusive(boxes):
    return _xywh_to_xyxy(boxes) - [0, 0, 1, 1]


def _centre(boxes):
    x, y, w, h = boxes.T
    return np.column_stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2])


def _unclipped_iou(a, b):
    width, height = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    inter = width * height
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _inclusive_iou(a, b):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    inter = width * height
    return inter / (
        (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1) - inter
    )


def _xywh_iou(a, b):
    return _iou(_xywh_to_xyxy(np.array([a]))[0], _xywh_to_xyxy(np.array([b]))[0])


def _last_only_nms(boxes, scores, threshold):
    order = list(np.argsort(-scores))
    kept, last = [], None
    for index in order:
        if last is None or _iou(boxes[last], boxes[index]) <= threshold:
            kept.append(int(index))
        last = index
    return kept


def _unsorted_nms(boxes, scores, threshold):
    kept = []
    for index in range(len(boxes)):
        if all(_iou(boxes[k], boxes[index]) <= threshold for k in kept):
            kept.append(index)
    return kept


def _duplicate_match(found, scores, truths, threshold):
    found_xyxy, truths_xyxy = _xywh_to_xyxy(found), _xywh_to_xyxy(truths.reshape(-1, 4))
    result = []
    for box in found_xyxy:
        overlaps = [_iou(box, truth) for truth in truths_xyxy]
        best = int(np.argmax(overlaps)) if overlaps else -1
        result.append(best if overlaps and overlaps[best] >= threshold else -1)
    return result


def _greedy(found, scores, truths, threshold, *, first=False, strict=False, convert=True):
    found = np.asarray(found, float)
    truths = np.asarray(truths, float).reshape(-1, 4)
    if convert:
        found, truths = _xywh_to_xyxy(found), _xywh_to_xyxy(truths)
    matched, taken = [-1] * len(found), set()
    for index in np.argsort(-scores):
        best, best_iou = -1, threshold
        for truth in range(len(truths)):
            overlap = _iou(found[index], truths[truth])
            if truth not in taken and (overlap > best_iou if strict else overlap >= best_iou):
                best, best_iou = truth, overlap
                if first:
                    break
        if best >= 0:
            matched[index] = best
            taken.add(best)
    return matched


def _first_above_match(*arguments):
    return _greedy(*arguments, first=True)


def _strict_match(*arguments):
    return _greedy(*arguments, strict=True)


def _unconverted_match(*arguments):
    return _greedy(*arguments, convert=False)


def _unsorted_match(found, scores, truths, threshold):
    return _match(found, scores, truths, threshold, order=range(len(found)))


WRONG = [
    ("check_xywh_to_xyxy", _inclusive, "pixel-inclusive"),
    ("check_xywh_to_xyxy", _centre, "centre"),
    ("check_xywh_to_xyxy", lambda boxes: boxes.copy(), "unchanged"),
    ("check_xywh_to_xyxy", lambda boxes: _xywh_to_xyxy(boxes)[:, [1, 0, 3, 2]], "swapped"),
    ("check_iou", _unclipped_iou, "Clip each to 0|must\nbecome 0|become 0"),
    ("check_iou", _inclusive_iou, "inclusively"),
    ("check_iou", _xywh_iou, r"reads the boxes as \(x, y, w, h\)"),
    ("check_iou", lambda a, b: _iou(a, b) > 0.5, "single number"),
    ("check_nms", _last_only_nms, "already kept"),
    ("check_nms", _unsorted_nms, "decreasing score|order"),
    ("check_nms", lambda boxes, scores, t: list(range(len(boxes))), "kept every box"),
    ("check_nms", lambda boxes, scores, t: boxes[_nms(boxes, scores, t)], "returned boxes"),
    ("check_multitask_loss", lambda p, y, b, t, w: _loss(p, y, b, t, 1.0), "box_weight is not"),
    (
        "check_multitask_loss",
        lambda p, y, b, t, w: _loss(p, y, b, t, 0) + w * np.mean(np.abs(b - t)),
        "L1",
    ),
    (
        "check_multitask_loss",
        lambda p, y, b, t, w: -np.mean(np.log(p.max(axis=1))) + w * np.mean((b - t) ** 2),
        "TRUE class",
    ),
    ("check_match_detections", _duplicate_match, "only once"),
    ("check_match_detections", _unsorted_match, "highest score"),
    # careless-student answers reviewed after the first version of the checks:
    ("check_iou", lambda a, b: int(_iou(a, b)), "whole number"),
    (
        "check_iou",
        lambda a, b: (
            max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
            * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        ),
        "intersection's area",
    ),
    (
        "check_multitask_loss",
        lambda p, y, b, t, w: -np.mean(p[np.arange(len(y)), y]) + w * np.mean((b - t) ** 2),
        "LOG",
    ),
    (
        "check_multitask_loss",
        lambda p, y, b, t, w: (
            -np.mean(np.log10(p[np.arange(len(y)), y])) + w * np.mean((b - t) ** 2)
        ),
        "log10",
    ),
    (
        "check_multitask_loss",
        lambda p, y, b, t, w: -np.mean(np.log(p)) + w * np.mean((b - t) ** 2),
        "EVERY class",
    ),
    (
        "check_multitask_loss",
        lambda p, y, b, t, w: -np.mean(np.log(p[:, y])) + w * np.mean((b - t) ** 2),
        r"N x N",
    ),
    (
        "check_multitask_loss",
        lambda p, y, b, t, w: -np.sum(np.log(p[np.arange(len(y)), y])) + w * np.mean((b - t) ** 2),
        "summed",
    ),
    (
        "check_multitask_loss",
        lambda p, y, b, t, w: _loss(p, y, b, t, 0) + w * np.mean((b - t) ** 2) / 2,
        "factor 1/2",
    ),
    ("check_label_anchors", lambda a, t: _label_anchors(a, t, strict=True), "exactly 0.5"),
    ("check_label_anchors", lambda a, t: _label_anchors(a, t, band=False), "label them -2"),
    ("check_label_anchors", lambda a, t: _label_anchors(a, t, log=False), "log"),
    ("check_label_anchors", lambda a, t: _label_anchors(a, t)[0], "return two arrays"),
    ("check_match_detections", _first_above_match, "overlaps MOST"),
    ("check_match_detections", _strict_match, ">= threshold"),
    ("check_match_detections", _unconverted_match, "convert them to corners"),
    ("check_match_detections", lambda *arguments: np.array(_match(*arguments)) >= 0, "INDEX"),
    (
        "check_match_detections",
        lambda *arguments: [None if v < 0 else v for v in _match(*arguments)],
        "write -1",
    ),
]


@pytest.mark.parametrize(
    "name, wrong, message",
    WRONG,
    ids=[f"{name}-{index}" for index, (name, _, _) in enumerate(WRONG)],
)
def test_checks_name_typical_mistakes(name, wrong, message, keras):
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        getattr(detection, name)(wrong)


def test_checks_refuse_a_value_instead_of_a_function(keras):
    with pytest.raises(exercises.ExerciseIncorrect, match="should be a function"):
        detection.check_iou(0.5)


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_checks_answer_hostile_results_with_an_exercise_message(name, keras):
    for answer in [
        float("nan"),
        float("inf"),
        10**400,
        None,
        "12",
        np.array([np.nan]),
        np.float32(np.nan),
        object(),
        [1, 2],
        np.zeros((3, 3)),
    ]:
        with pytest.raises((exercises.ExerciseIncorrect, exercises.ExerciseNotStarted)):
            getattr(detection, name)(lambda *args, answer=answer: answer)


# --- bad inputs of the other public functions ------------------------------------------------


def test_bad_inputs_name_what_was_expected():
    scenes = detection.generate_scenes(3, seed=0)
    with pytest.raises(ValueError, match="one dict per scene"):
        detection.coco_evaluation(scenes, [])
    with pytest.raises(ValueError, match="truths is empty"):
        detection.proposal_recall([[0, 0, 1, 1]], np.zeros((0, 4)), [1])
    with pytest.raises(ValueError, match="category must be one of"):
        detection.haar_detect(np.zeros((30, 30), np.uint8), "dog")
    with pytest.raises(ValueError, match="method must be one of"):
        detection.dlib_detect(np.zeros((30, 30), np.uint8), "yolo")
    with pytest.raises(TypeError, match="uint8"):
        detection.selective_search(np.zeros((30, 30), np.int64))
    with pytest.raises(TypeError, match="detection.Scenes"):
        detection.centernet_targets(np.zeros((2, 64, 64)))
    with pytest.raises(ValueError, match=r"outputs must have shape"):
        detection.decode_centernet(np.zeros((1, 8, 8, 3)))
    with pytest.raises(ValueError, match="image must have shape"):
        detection.classify_boxes(None, np.zeros((8, 8, 3)), [[0, 0, 2, 2]])
    with pytest.raises(TypeError, match="table must be"):
        detection.photo_truths([], "astronaut", "face")
    with pytest.raises(ValueError, match="exactly one object"):
        detection.single_object_targets(detection.generate_scenes(6, max_objects=3, seed=1))
    with pytest.raises(ValueError, match="image_size must be"):
        detection.convert_boxes([[0, 0, 1, 1]], "xywh", "rel_xyxy", image_size=5)


def test_coco_evaluation_is_one_for_the_truth_and_lower_for_shifted_boxes():
    scenes = detection.generate_scenes(10, seed=4)
    perfect = [
        {"boxes": b, "scores": np.ones(len(b)), "labels": y}
        for b, y in zip(scenes.boxes, scenes.labels)
    ]
    assert detection.coco_evaluation(scenes, perfect)["map_50"] == pytest.approx(1.0)
    shifted = [
        {"boxes": b + [b[0, 2] * 0.6, 0, 0, 0], "scores": np.ones(len(b)), "labels": y}
        for b, y in zip(scenes.boxes, scenes.labels)
    ]
    assert detection.coco_evaluation(scenes, shifted)["map_50_95"] < 0.5


def test_average_precision_from_a_matching_function_equals_pycocotools():
    scenes = detection.generate_scenes(40, seed=2)
    rng = np.random.default_rng(0)
    found = []
    for boxes, labels in zip(scenes.boxes, scenes.labels):
        noise = np.vstack(
            [boxes + rng.normal(0, 2.5, boxes.shape), boxes + rng.normal(0, 1, boxes.shape)]
        )
        extra = np.column_stack([rng.uniform(0, 50, (2, 2)), np.full((2, 2), 14.0)])
        found.append(
            {
                "boxes": np.vstack([noise, extra]),
                "scores": rng.random(2 * len(boxes) + 2),
                "labels": np.concatenate([labels, (labels + 1) % 10, rng.integers(0, 10, 2)]),
            }
        )
    coco = detection.coco_evaluation(scenes, found)
    for threshold, key in ((0.5, "map_50"), (0.75, "map_75")):
        ours = detection.matched_average_precision(scenes, found, iou_threshold=threshold)
        assert ours["map"] == pytest.approx(coco[key], abs=1e-9) and 0 < ours["map"] < 1
        assert ours["true_positives"] + ours["false_positives"] == sum(
            len(f["boxes"]) for f in found
        )

    def never(found_boxes, scores, truths, iou_threshold):
        return np.full(len(found_boxes), -1)

    assert detection.matched_average_precision(scenes, found, never)["map"] == 0.0
    with pytest.raises(ValueError, match="one index per detection"):
        detection.matched_average_precision(scenes, found, lambda *args: [0])
    with pytest.raises(TypeError, match="match must be a function"):
        detection.matched_average_precision(scenes, found, "pycocotools")


def test_box_statistics_standardise_the_single_object_targets():
    scenes = detection.generate_scenes(
        50, size=32, min_digit=12, max_digit=20, max_objects=1, seed=3
    )
    mean, spread = detection.box_statistics(scenes)
    plain = detection.single_object_targets(scenes)["box"]
    standard = detection.single_object_targets(scenes, box_statistics=(mean, spread))["box"]
    assert mean.shape == spread.shape == (4,) and np.all((0 < mean) & (mean < 1))
    assert np.allclose(standard.mean(axis=0), 0, atol=1e-5) and np.allclose(
        standard.std(axis=0), 1, atol=1e-4
    )
    assert np.allclose(standard * spread + mean, plain, atol=1e-6)
    with pytest.raises(TypeError, match="box_statistics must be the"):
        detection.single_object_targets(scenes, box_statistics=mean)
    with pytest.raises(ValueError, match="positive spread"):
        detection.single_object_targets(scenes, box_statistics=(mean, -spread))
    with pytest.raises(ValueError, match="box_loss must be one of"):
        detection.train_single_object(scenes, box_loss="l1")


def test_the_classifier_detectors_use_the_nms_they_are_given(keras):
    # A "classifier" that calls every window digit 3 with probability about 0.9, whatever it sees.
    inputs = keras.Input((detection.CROP, detection.CROP, 1))
    logits = keras.layers.Dense(
        11,
        kernel_initializer="zeros",
        bias_initializer=keras.initializers.Constant([0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]),
    )(keras.layers.Flatten()(inputs))
    classifier = keras.Model(inputs, keras.layers.Softmax()(logits))
    image = np.zeros((32, 32), np.float32)
    windows = detection.sliding_windows(image.shape, sizes=(16,), stride=4)
    seen = []

    def keep_all(corners, scores, iou_threshold):
        seen.append((corners.copy(), iou_threshold))
        return list(range(len(corners)))

    kit = detection.detect_with_classifier(classifier, image, windows)
    mine = detection.detect_with_classifier(classifier, image, windows, nms=keep_all)
    assert len(mine["boxes"]) == len(windows) > len(kit["boxes"]) >= 1
    assert np.array_equal(seen[0][0], detection.convert_boxes(windows, "xywh", "xyxy"))
    assert seen[0][1] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="index outside"):
        detection.detect_with_classifier(
            classifier, image, windows, nms=lambda *args: [len(windows)]
        )


def test_heat_map_targets_mark_every_object():
    """Counts and cells on generated scenes; the exact values are checked against a hand
    encoding and decoding in tests/test_losses.py."""
    scenes = detection.generate_scenes(8, seed=5)
    targets = detection.centernet_targets(scenes)
    assert targets.shape == (8, 8, 8, 16) and targets[..., 5].sum() == scenes.object_count()
    # the class is taught on every cell inside a box (boxes do not overlap: one class a cell)
    assert scenes.object_count() < targets[..., 6:].sum() and targets[..., 6:].sum(-1).max() == 1
    for index, (boxes, labels) in enumerate(zip(scenes.boxes, scenes.labels)):
        for (x, y, w, h), label in zip(boxes, labels):
            cells = targets[index, int(y + h / 2) // 8, int(x + w / 2) // 8]
            assert cells[6 + label] == 1 and cells[5] == 1


def test_sliding_windows_and_proposal_recall():
    windows = detection.sliding_windows((64, 64), sizes=(16, 24), stride=4)
    assert len(windows) == 13 * 13 + 11 * 11
    recall = detection.proposal_recall(windows, [[0, 0, 16, 16], [50, 50, 3, 3]], [1, len(windows)])
    assert recall == [0.5, 0.5]


def test_precision_recall_counts():
    counts = detection.precision_recall([[0, 0, 10, 10], [50, 50, 5, 5]], [[1, 1, 10, 10]])
    assert counts == {
        "true_positives": 1,
        "false_positives": 1,
        "misses": 0,
        "precision": 0.5,
        "recall": 1.0,
    }


# --- models: shapes, the viewer, and the cached fit -------------------------------------------


def test_detector_shapes_and_viewer_with_an_untrained_model(keras):
    model = detection.centernet_model(width=8)
    assert model.output_shape == (None, 8, 8, 15)
    assert "8 x 8 cells" in detection.describe_outputs(model)
    scenes = detection.generate_scenes(3, seed=6)
    viewer = detection.detector_viewer(model, scenes)
    viewer.controls["score_threshold"].value = 0.05
    assert viewer.state["truths"] == len(scenes.boxes[0])
    viewer.controls["index"].value = 2
    assert viewer.state["index"] == 2
    single = detection.single_object_model((32, 32, 1), 10)
    outputs = single(np.zeros((2, 32, 32, 1), np.float32), training=False)
    assert {name: tuple(value.shape) for name, value in outputs.items()} == {
        "class": (2, 10),
        "box": (2, 4),
    }


@pytest.mark.slow
def test_fit_trains_then_loads_the_same_training_from_the_cache(keras, cache, capsys):
    scenes = detection.generate_scenes(
        16, size=32, min_digit=12, max_digit=20, max_objects=1, seed=7
    )
    first = detection.train_single_object(scenes, epochs=1, seed=0)
    second = detection.train_single_object(scenes, epochs=1, seed=0)
    assert not first.from_cache and second.from_cache
    assert "loaded the weights" in capsys.readouterr().out
    for a, b in zip(first.model.get_weights(), second.model.get_weights()):
        assert np.allclose(a, b)
    with pytest.raises(TypeError, match="loss_name"):
        detection.fit(
            first.model,
            scenes.images,
            detection.single_object_targets(scenes),
            loss="mse",
            loss_name="",
        )


def test_selective_search_order_repeats_with_its_seed():
    image = data.load_image("coffee")
    first, _ = detection.selective_search(image, max_side=128, seed=3)
    second, _ = detection.selective_search(image, max_side=128, seed=3)
    assert first.shape[1] == 4 and len(first) > 10 and np.array_equal(first, second)


# --- classical detectors (lab_utils.detectors) -----------------------------------------------


def test_gray_conversion_uses_the_luma_weights():
    colours = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], np.uint8)
    assert detectors.as_gray_uint8(colours).tolist() == [[76, 150, 29, 255]]  # 0.299 R ...
    assert np.array_equal(
        detectors.as_gray_uint8(colours / 255.0), detectors.as_gray_uint8(colours)
    )
    assert detectors.as_rgb_uint8(np.full((2, 3), 0.5)).shape == (2, 3, 3)


def test_haar_cascades_are_loaded_once_and_find_the_annotated_faces():
    assert detectors.haar_cascade("frontalface_default") is detectors.haar_cascade(
        "frontalface_default"
    )
    assert set(detection.HAAR_CASCADES.values()) <= set(detectors.haar_cascade_names())
    table = data.load_table("detection_photos")
    for name in ("astronaut", "grace_hopper"):
        photo = data.load_image(name)
        found, seconds = detection.haar_detect(photo, "face")
        counts = detection.precision_recall(found, detection.photo_truths(table, name, "face"))
        assert counts["true_positives"] == 1 and counts["misses"] == 0 and seconds > 0
        assert np.array_equal(detection.haar_detect(photo / 255.0, "face")[0], found)
    with pytest.raises(ValueError, match="frontalface_default"):
        detectors.cascade_detect(np.zeros((40, 40), np.uint8), "cat_face")


def test_dlib_s_cnn_model_is_loaded_once_per_process(monkeypatch):
    dlib = pytest.importorskip("dlib")
    assert detectors.dlib_model("cnn") is detectors.dlib_model("cnn")
    loads = []
    load = dlib.cnn_face_detection_model_v1
    monkeypatch.setattr(
        dlib, "cnn_face_detection_model_v1", lambda *args: loads.append(args) or load(*args)
    )
    for _ in range(3):
        boxes, _seconds = detection.dlib_detect(np.zeros((40, 40, 3), np.uint8), "cnn")
        assert boxes.shape == (0, 4)
    assert loads == []  # every call used the model loaded above


def test_dlib_finds_the_annotated_face_in_original_pixels():
    pytest.importorskip("dlib")
    photo = data.load_image("grace_hopper")
    truths = detection.photo_truths(data.load_table("detection_photos"), "grace_hopper", "face")
    for method, max_side in (("hog", None), ("hog", 300), ("cnn", 300)):
        found, _ = detection.dlib_detect(photo, method, max_side=max_side)
        assert detection.precision_recall(found, truths)["true_positives"] == 1, method


@pytest.mark.slow
def test_retinanet_parts_are_listed_by_a_helper_process_that_keeps_keras_hub_out():
    """Lesson 05's RetinaNet facts come from a helper process: KerasHub (and TensorFlow Text,
    about 150 MB) is never imported into the lesson's kernel."""
    import subprocess
    import sys

    code = (
        "import sys; from lab_utils import detection; "
        "r = detection.retinanet_parts(image_side=64, classes=2); "
        "print(r['anchors'], r['outputs']['cls_logits'], r['decoder'], r['parts'][0][1], "
        "'keras_hub' in sys.modules, 'tensorflow_text' in sys.modules)"
    )
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert printed.returncode == 0, printed.stderr[-2000:]
    anchors = (8 * 8 + 4 * 4 + 2 * 2) * 9  # levels 3-5 of a 64-pixel image, 9 anchors a cell
    assert printed.stdout.split() == [
        str(anchors),
        f"({1},",
        f"{anchors},",
        "2)",
        "NonMaxSuppression",
        "ResNetBackbone",
        "False",
        "False",
    ]


def test_retinanet_parts_says_what_went_wrong_in_its_helper_process(monkeypatch):
    import subprocess

    failed = subprocess.CompletedProcess([], 1, "", "Traceback ...\nImportError: no keras_hub")
    monkeypatch.setattr(subprocess, "run", lambda *args, **kwargs: failed)
    with pytest.raises(RuntimeError, match="helper process; its last lines:\nTraceback"):
        detection.retinanet_parts()
