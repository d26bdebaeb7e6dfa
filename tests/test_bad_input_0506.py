"""Bad input in lessons 05-06 (issue 22): no silent wrong mAP, no raw OpenCV/dlib errors, no
memory blow-ups.

Each row of ``CASES``: the call, the exception type it must raise and a pattern its message
must contain (what was expected, or what to do). A row fails if the function accepts the
input (a silent wrong answer), raises a raw library error (KeyError, IndexError, OpenCV's
SystemError, dlib's RuntimeError, MemoryError) or takes long. Huge inputs are
``np.broadcast_to`` views that occupy no memory: a size check placed after an allocation
shows up as a MemoryError or a slow test. The tests below the table check that valid input
keeps its exact answer (NMS against the quadratic reference, the distances against one
matrix expression) and that damaged model and cache files are reported, not trusted.
"""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest

from lab_utils import boxes, data, detection, detectors, faces, kernels, validation
from lab_utils.faces import dlib_faces, haar
from lab_utils.kernels import compute as kernel_compute

NAN = float("nan")
RNG = np.random.default_rng(22)
PHOTO = RNG.integers(0, 256, (48, 64, 3), dtype=np.uint8)
BOXES = np.array([[2.0, 2.0, 10.0, 10.0], [4.0, 4.0, 10.0, 10.0]])
SCORES = np.array([0.9, 0.8])
SCENES = detection.generate_scenes(5, seed=0)
PROPOSALS = np.array([[2.0, 2.0, 10.0, 10.0], [40.0, 40.0, 5.0, 5.0]])
OUTPUTS = RNG.random((2, 8, 8, 15)).astype(np.float32)
COORDS, TYPES = faces.haar_feature_sample(25, 30, seed=0)


def perfect_detections(scenes=SCENES):
    """The ground truth itself, as detections: mAP 1."""
    return [
        {"boxes": b.copy(), "scores": np.ones(len(b)), "labels": np.asarray(k).copy()}
        for b, k in zip(scenes.boxes, scenes.labels)
    ]


def changed(change):
    detections = perfect_detections()
    change(detections[0])
    return detections


def scenes_with(labels=None, boxes_=None):
    return data.Scenes(
        SCENES.images,
        boxes_ if boxes_ is not None else SCENES.boxes,
        labels if labels is not None else SCENES.labels,
        SCENES.class_names,
    )


def spread_boxes(count, seed=0):
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0, 500, (count, 2)), rng.uniform(1, 30, (count, 2))])


# (id, function, args, kwargs, exception, message pattern)
CASES = [
    # 1. silent wrong answers in the evaluation the lesson trusts
    (
        "coco labels shorter than boxes",
        detection.coco_evaluation,
        (SCENES, changed(lambda d: d.update(labels=d["labels"][:-1]))),
        {},
        ValueError,
        r"detections\[0\]\['labels'\] must have one class index per box",
    ),
    (
        "coco label 99",
        detection.coco_evaluation,
        (SCENES, changed(lambda d: d.update(labels=np.full(len(d["boxes"]), 99)))),
        {},
        ValueError,
        r"class indices from 0 and below 10, but they range from 99",
    ),
    (
        "coco label -1",
        detection.coco_evaluation,
        (SCENES, changed(lambda d: d.update(labels=np.full(len(d["boxes"]), -1)))),
        {},
        ValueError,
        "class indices from 0",
    ),
    (
        "coco float labels",
        detection.coco_evaluation,
        (SCENES, changed(lambda d: d.update(labels=np.full(len(d["boxes"]), 1.5)))),
        {},
        TypeError,
        "whole class indices",
    ),
    (
        "coco missing labels",
        detection.coco_evaluation,
        (SCENES, changed(lambda d: d.pop("labels"))),
        {},
        ValueError,
        r"detections\[0\] has no 'labels'",
    ),
    (
        "coco missing boxes and scores",
        detection.coco_evaluation,
        (SCENES, changed(lambda d: (d.pop("boxes"), d.pop("scores")))),
        {},
        ValueError,
        "has no 'boxes', 'scores'",
    ),
    (
        "coco entry not a dict",
        detection.coco_evaluation,
        (SCENES, [None] * len(SCENES)),
        {},
        TypeError,
        r"detections\[0\] must be a dict",
    ),
    (
        "coco one list too short",
        detection.coco_evaluation,
        (SCENES, perfect_detections()[:-1]),
        {},
        ValueError,
        r"one dict per scene \(5\).*of length 4",
    ),
    (
        "coco ground truth labels 99",
        detection.coco_evaluation,
        (scenes_with(labels=[np.full(len(b), 99) for b in SCENES.boxes]), perfect_detections()),
        {},
        ValueError,
        r"scenes.labels\[0\] must be class indices",
    ),
    (
        "coco ground truth labels shorter",
        detection.coco_evaluation,
        (scenes_with(labels=[k[:0] for k in SCENES.labels]), perfect_detections()),
        {},
        ValueError,
        r"scenes.labels\[0\] must have one class index per box",
    ),
    (
        "coco ground truth NaN box",
        detection.coco_evaluation,
        (scenes_with(boxes_=[np.full_like(b, NAN) for b in SCENES.boxes]), perfect_detections()),
        {},
        ValueError,
        r"scenes.boxes\[0\] contains NaN",
    ),
    (
        "centernet_targets label beyond classes",
        detection.centernet_targets,
        (SCENES,),
        {"classes": 1},
        ValueError,
        r"scenes.labels\[\d\] must be class indices from 0 and below 1",
    ),
    (
        "train_lesson_detector not scenes",
        detection.train_lesson_detector,
        (SCENES.images,),
        {},
        TypeError,
        "train_scenes must be a detection.Scenes",
    ),
    (
        "train_lesson_detector seed",
        detection.train_lesson_detector,
        (SCENES,),
        {"seed": -1},
        ValueError,
        "seed must be at least 0",
    ),
    (
        "proposal_recall count -1",
        detection.proposal_recall,
        (PROPOSALS, BOXES, [-1]),
        {},
        ValueError,
        r"counts\[0\] must be at least 0",
    ),
    (
        "proposal_recall count 1.5",
        detection.proposal_recall,
        (PROPOSALS, BOXES, [1.5]),
        {},
        TypeError,
        r"counts\[0\] must be a whole number",
    ),
    (
        "proposal_recall counts not a list",
        detection.proposal_recall,
        (PROPOSALS, BOXES, 3),
        {},
        TypeError,
        "counts must be a list",
    ),
    (
        "decode_centernet NaN threshold",
        detection.decode_centernet,
        (OUTPUTS,),
        {"score_threshold": NAN},
        ValueError,
        "score_threshold must be a finite number",
    ),
    (
        "decode_centernet threshold above 1",
        detection.decode_centernet,
        (OUTPUTS,),
        {"score_threshold": 1.5},
        ValueError,
        "score_threshold must be at most 1",
    ),
    (
        "decode_centernet threshold as text",
        detection.decode_centernet,
        (OUTPUTS,),
        {"score_threshold": "0.1"},
        TypeError,
        "score_threshold must be a number",
    ),
    (
        "decode_centernet stride 0",
        detection.decode_centernet,
        (OUTPUTS,),
        {"stride": 0},
        ValueError,
        "stride must be at least 1",
    ),
    (
        "decode_centernet NaN maps",
        detection.decode_centernet,
        (np.where(OUTPUTS > 0.5, NAN, OUTPUTS),),
        {},
        ValueError,
        "outputs contains NaN",
    ),
    (
        "nms NaN score threshold",
        boxes.non_max_suppression,
        (BOXES, SCORES),
        {"score_threshold": NAN},
        ValueError,
        "score_threshold is NaN",
    ),
    (
        "iou of a 1e308 box",
        boxes.iou_matrix,
        ([[0, 0, 1e308, 1e308]], [[0, 0, 1e308, 1e308]]),
        {},
        ValueError,
        r"boxes_a\[0\] .* coordinate beyond 1e\+09 pixels",
    ),
    (
        "box_areas of a -1e200 box",
        boxes.box_areas,
        ([[-1e200, 0, 5, 5]],),
        {},
        ValueError,
        "coordinate beyond",
    ),
    (
        "relative boxes with an image_size of 10**400",
        boxes.convert_boxes,
        ([[0, 0, 0.5, 0.5]], "rel_xyxy", "xyxy", (10**400, 5)),
        {},
        ValueError,
        r"image_size\[0\] must be at most",
    ),
    (
        "photo_truths misspelt photo",
        detection.photo_truths,
        (data.load_table("detection_photos"), "astronout", "face"),
        {},
        ValueError,
        "image must be one of 'astronaut'",
    ),
    (
        "photo_truths unknown category",
        detection.photo_truths,
        (data.load_table("detection_photos"), "astronaut", "dragon"),
        {},
        ValueError,
        "category must be one of",
    ),
    (
        "photo_truths table without boxes",
        detection.photo_truths,
        ({"image": ["a"], "category": ["face"]}, "a", "face"),
        {},
        TypeError,
        "columns image, category, x, y, w, h",
    ),
    (
        "centernet_loss NaN weight",
        detection.centernet_loss,
        (),
        {"size_weight": NAN},
        ValueError,
        "size_weight must be a finite number",
    ),
    (
        "centernet_loss negative weight",
        detection.centernet_loss,
        (),
        {"class_weight": -1},
        ValueError,
        "class_weight must be at least 0",
    ),
    (
        "pair_distances of overflowing embeddings",
        faces.pair_distances,
        (RNG.normal(size=(8, 4)) * 1e200, np.arange(8) % 4),
        {},
        ValueError,
        "squared distances overflow",
    ),
    (
        "sliding_windows without sizes",
        detection.sliding_windows,
        ((64, 64),),
        {"sizes": ()},
        ValueError,
        "sizes is empty",
    ),
    (
        "classify_boxes box outside the image",
        detection.classify_boxes,
        (None, SCENES.images[0], [[1e6, 1e6, 5, 5]]),
        {},
        ValueError,
        r"boxes\[0\] .* lies outside the 64 x 64 image",
    ),
    (
        "draw_boxes colours as one number",
        boxes.draw_boxes,
        (PHOTO, BOXES),
        {"colours": 5},
        TypeError,
        r"colours must be one \(r, g, b\) or a list",
    ),
    (
        "crop_dataset NaN ground truth",
        detection.crop_dataset,
        (scenes_with(boxes_=[np.full_like(b, NAN) for b in SCENES.boxes]),),
        {},
        ValueError,
        r"scenes.boxes\[0\] contains NaN",
    ),
    (
        "haar_feature_sample negative seed",
        faces.haar_feature_sample,
        (25, 10),
        {"seed": -1},
        ValueError,
        "seed must be at least 0",
    ),
    (
        "haar_features coordinates that are not rectangles",
        faces.haar_features,
        (RNG.random((2, 25, 25)), np.ones((3, 2)), TYPES[:3]),
        {},
        ValueError,
        r"rectangles \(\(row, col\), \(row, col\)\)",
    ),
    (
        "draw_haar_feature coordinate that is not a feature",
        faces.draw_haar_feature,
        (RNG.random((25, 25)), [1, 2]),
        {},
        ValueError,
        "rectangles",
    ),
    (
        "rotation_sweep images not a list",
        faces.rotation_sweep,
        (lambda image: np.zeros((0, 4)), 5, [(0, 0, 10, 10)], [0]),
        {},
        TypeError,
        "images and references must be lists",
    ),
    (
        "eye_centres NaN landmarks",
        faces.eye_centres,
        (np.full((68, 2), NAN),),
        {},
        ValueError,
        "points contains NaN",
    ),
    (
        "align_face landmarks at 1e308",
        faces.align_face,
        (PHOTO, RNG.random((68, 2)) * 1e308),
        {},
        ValueError,
        "points must be pixel positions",
    ),
    # 3. raw C++ errors
    (
        "haar_detect scale_factor 1.0",
        detectors.haar_detect,
        (PHOTO,),
        {"scale_factor": 1.0},
        ValueError,
        "scale_factor must be at least 1.001",
    ),
    (
        "detect_faces_haar scale_factor NaN",
        faces.detect_faces_haar,
        (PHOTO,),
        {"scale_factor": NAN},
        ValueError,
        "scale_factor must be a finite number",
    ),
    (
        "dlib_detect max_side 0",
        detectors.dlib_detect,
        (PHOTO,),
        {"max_side": 0},
        ValueError,
        "max_side must be at least 16",
    ),
    (
        "dlib_detect upsample",
        detectors.dlib_detect,
        (PHOTO,),
        {"upsample": 5},
        TypeError,
        "unexpected keyword argument 'upsample'",
    ),
    (
        "selective_search 4096 x 4096",
        detectors.selective_search,
        (np.broadcast_to(np.uint8(9), (4096, 4096, 3)),),
        {},
        ValueError,
        r"too large for selective search.*max_side=512",
    ),
    (
        "dlib CNN 2000 x 2000",
        detectors.dlib_detect,
        (np.broadcast_to(np.uint8(9), (2000, 2000, 3)), "cnn"),
        {},
        ValueError,
        "too large for dlib's CNN",
    ),
    # 4. memory and time
    (
        "nms 20,001 boxes",
        boxes.non_max_suppression,
        (np.broadcast_to(np.ones(4), (20001, 4)), np.broadcast_to(0.5, (20001,))),
        {},
        ValueError,
        r"too many boxes for non_max_suppression: 20,001.*at most 20,000",
    ),
    (
        "iou_matrix 30,000 x 30,000",
        boxes.iou_matrix,
        (np.broadcast_to(np.ones(4), (30000, 4)), np.broadcast_to(np.ones(4), (30000, 4))),
        {},
        ValueError,
        r"too many box pairs \(30,000 x 30,000 boxes\)",
    ),
    (
        "match_detections 20,000 x 20,000",
        boxes.match_detections,
        (np.ones((20000, 4)), np.ones(20000), np.ones((20000, 4))),
        {},
        ValueError,
        "too many box pairs",
    ),
    (
        "pair_distances 30,000 embeddings",
        faces.pair_distances,
        (np.broadcast_to(np.float32(1), (30000, 8)), np.arange(30000) % 100),
        {},
        ValueError,
        r"too many distances \(30,000 x 30,000 embeddings\)",
    ),
    (
        "verification_auc 5,001 embeddings",
        faces.verification_auc,
        (np.ones((5001, 2)), np.arange(5001) % 10),
        {},
        ValueError,
        "at most 25,000,000",
    ),
    (
        "sliding_windows 10000 x 10000",
        detection.sliding_windows,
        ((10000, 10000),),
        {"stride": 1},
        ValueError,
        "too large: 10000 x 10000",
    ),
    (
        "sliding_windows 4096 x 4096 at stride 1",
        detection.sliding_windows,
        ((4096, 4096),),
        {"stride": 1},
        ValueError,
        r"too many sliding windows .*66,553,044.*larger stride",
    ),
    (
        "sliding_windows sizes as one number",
        detection.sliding_windows,
        ((64, 64),),
        {"sizes": 12},
        TypeError,
        "sizes must be a tuple",
    ),
    (
        "sliding_windows shape as text",
        detection.sliding_windows,
        ("64x64",),
        {},
        TypeError,
        r"image_shape must be an image's shape",
    ),
    (
        "correlate 10000 x 10000",
        kernels.correlate,
        (np.broadcast_to(0.5, (10000, 10000)), np.ones((3, 3))),
        {},
        ValueError,
        r"grid is too large: 10000 x 10000",
    ),
    (
        "correlate 64x64 kernel on 4096 x 4096",
        kernels.correlate,
        (np.broadcast_to(0.5, (4096, 4096)), np.ones((64, 64))),
        {},
        ValueError,
        "too many multiplications",
    ),
    (
        "dlib_embeddings 5000 x 5000 face",
        faces.dlib_embeddings,
        (np.broadcast_to(np.float32(0.5), (1, 5000, 5000)),),
        {},
        ValueError,
        "each image of images is too large",
    ),
    # 5. faces
    (
        "box_hits NaN reference",
        faces.box_hits,
        (np.array([[1, 1, 5, 5]]), (NAN, 0, 10, 10)),
        {},
        ValueError,
        "reference contains NaN",
    ),
    (
        "box_hits empty reference",
        faces.box_hits,
        (np.array([[1, 1, 5, 5]]), (0, 0, 0, 0)),
        {},
        ValueError,
        "reference must have a positive width and height",
    ),
    (
        "box_hits NaN detection",
        faces.box_hits,
        (np.array([[NAN, 1, 5, 5]]), (0, 0, 10, 10)),
        {},
        ValueError,
        "boxes contains NaN",
    ),
    (
        "rotation_sweep detector returning NaN",
        faces.rotation_sweep,
        (lambda image: np.array([[NAN, 0, 5, 5]]), [PHOTO], [(0, 0, 10, 10)], [0]),
        {},
        ValueError,
        "the boxes detect returned at 0 degrees contains NaN",
    ),
    (
        "rotation_sweep NaN reference",
        faces.rotation_sweep,
        (lambda image: np.zeros((0, 4)), [PHOTO], [(NAN, 0, 10, 10)], [0]),
        {},
        ValueError,
        r"references\[0\] contains NaN",
    ),
    (
        "rotate_about NaN centre",
        faces.rotate_about,
        (PHOTO, 10, (NAN, 5)),
        {},
        ValueError,
        "centre contains NaN",
    ),
    (
        "failure_photos box outside",
        faces.failure_photos,
        (PHOTO, (1000, 1000, 10, 10)),
        {},
        ValueError,
        "lies outside the 64 x 48 image",
    ),
    (
        "landmarks box outside the photo",
        faces.landmarks,
        (PHOTO, (5000, 5000, 50, 50)),
        {},
        ValueError,
        "lies outside the 64 x 48 image",
    ),
    (
        "landmarks NaN box",
        faces.landmarks,
        (PHOTO, (NAN, 5, 10, 10)),
        {},
        ValueError,
        "box contains NaN",
    ),
    (
        "landmarks box far larger than the photo",
        faces.landmarks,
        (PHOTO, (0, 0, 2**20, 2**20)),
        {},
        ValueError,
        "far larger than the 64 x 48 image",
    ),
    (
        "haar_features 24 x 24 images for 25 x 25 features",
        faces.haar_features,
        (RNG.random((2, 24, 24)), COORDS, TYPES),
        {},
        ValueError,
        r"the features reach row 24.*images are 24 x 24.*haar_feature_sample\(window\)",
    ),
    (
        "haar_features types do not match",
        faces.haar_features,
        (RNG.random((2, 25, 25)), COORDS, TYPES[:5]),
        {},
        ValueError,
        r"one feature type per feature \(30\)",
    ),
    (
        "haar_features unknown type",
        faces.haar_features,
        (RNG.random((2, 25, 25)), COORDS, np.array(["type-9"] * len(COORDS))),
        {},
        ValueError,
        "types must be among",
    ),
    (
        "draw_haar_feature on a smaller image",
        faces.draw_haar_feature,
        (RNG.random((10, 10)), COORDS[int(np.argmax([np.max(c) for c in COORDS]))]),
        {},
        ValueError,
        "the features reach",
    ),
    (
        "draw_boxes NaN box",
        boxes.draw_boxes,
        (PHOTO, [[1.0, 1.0, 4.0, 3.0], [NAN, 1, 2, 2]]),
        {},
        ValueError,
        r"boxes contains NaN or infinite values \(box 1",
    ),
    (
        "draw_boxes NaN relative box",
        boxes.draw_boxes,
        (PHOTO, [[0.1, 0.1, NAN, 0.3]]),
        {"box_format": "rel_xyxy"},
        ValueError,
        "contains NaN",
    ),
    (
        "draw_boxes 1e300 box",
        boxes.draw_boxes,
        (PHOTO, [[1e300, 1e300, 5, 5]]),
        {},
        ValueError,
        "coordinate beyond",
    ),
]


@pytest.mark.parametrize(
    "function, args, kwargs, error, message",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_hostile_input_gets_a_clear_error(function, args, kwargs, error, message):
    start = time.perf_counter()
    with pytest.raises(error, match=message):
        function(*args, **kwargs)
    assert time.perf_counter() - start < 20, "refused, but only after a long computation"


# --------------------------------------------------------------------------------------------
# Valid input: the same answers as before, and large inputs in bounded memory
# --------------------------------------------------------------------------------------------


def quadratic_nms(given, scores, iou_threshold=0.5, score_threshold=-np.inf, limit=None):
    """The previous implementation: the full IoU matrix, then the greedy loop in Python."""
    given, scores = np.asarray(given, float), np.asarray(scores, float)
    limit = len(given) if limit is None else limit
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= score_threshold]
    overlaps = boxes.iou_matrix(given, given)
    kept = []
    while order and len(kept) < limit:
        best = order.pop(0)
        kept.append(best)
        order = [i for i in order if overlaps[best, i] <= iou_threshold]
    return kept


def test_nms_keeps_exactly_the_boxes_of_the_full_iou_matrix():
    rng = np.random.default_rng(3)
    for trial in range(150):
        count = int(rng.integers(0, 120))
        given = np.column_stack(
            [rng.uniform(0, 80, (count, 2)), rng.uniform(0, 30, (count, 2))]
        ).round(int(rng.integers(0, 3)))
        if trial % 4 == 0 and count:
            given[rng.integers(0, count, count // 2)] = given[0]  # duplicates and ties
        scores = rng.random(count).round(1)
        threshold = float(rng.choice([0.0, 0.2, 0.5, 0.8, 1.0]))
        score_threshold = float(rng.choice([-np.inf, 0.4]))
        limit = None if trial % 3 else int(rng.integers(0, 8))
        kept = boxes.non_max_suppression(
            given,
            scores,
            iou_threshold=threshold,
            score_threshold=score_threshold,
            max_output=limit,
        )
        assert kept.tolist() == quadratic_nms(given, scores, threshold, score_threshold, limit)


def test_nms_on_20000_boxes_works_in_bounded_memory():
    given, scores = spread_boxes(20000), np.random.default_rng(1).random(20000)
    tracemalloc.start()
    try:
        kept = boxes.non_max_suppression(given, scores)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 1000 < len(kept) < 20000
    assert peak < 100 * 2**20, f"NMS used {peak / 2**20:.0f} MB (the full matrix: 3.2 GB)"
    assert len(set(kept.tolist())) == len(kept)
    assert np.all(np.diff(scores[kept]) <= 0)  # best first
    sample = kept[:200]  # the kept boxes never overlap each other above the threshold
    overlaps = boxes.iou_matrix(given[sample], given[sample])
    assert np.all(overlaps[~np.eye(len(sample), dtype=bool)] <= 0.5)


def test_nms_takes_a_numpy_float_score_threshold():
    assert boxes.non_max_suppression(BOXES, SCORES, score_threshold=np.float32(0.85)).tolist() == [
        0
    ]
    assert boxes.non_max_suppression(BOXES, SCORES, score_threshold=np.inf).tolist() == []


def test_iou_matrix_in_blocks_equals_one_expression():
    a, b = spread_boxes(2500, seed=4), spread_boxes(700, seed=5)
    ca, cb = boxes.convert_boxes(a, "xywh", "xyxy"), boxes.convert_boxes(b, "xywh", "xyxy")
    width = np.clip(
        np.minimum(ca[:, None, 2], cb[None, :, 2]) - np.maximum(ca[:, None, 0], cb[None, :, 0]),
        0,
        None,
    )
    height = np.clip(
        np.minimum(ca[:, None, 3], cb[None, :, 3]) - np.maximum(ca[:, None, 1], cb[None, :, 1]),
        0,
        None,
    )
    inter = width * height
    union = boxes.box_areas(a)[:, None] + boxes.box_areas(b)[None, :] - inter
    expected = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    assert np.array_equal(boxes.iou_matrix(a, b), expected)


def test_boxes_up_to_the_coordinate_limit_still_work():
    big = [[0.0, 0.0, boxes.MAX_COORDINATE, boxes.MAX_COORDINATE]]
    assert boxes.iou_matrix(big, big)[0, 0] == 1.0
    assert boxes.as_boxes(np.array([])).shape == (0, 4)
    assert boxes.draw_boxes(PHOTO, [[1e6, 1e6, 5, 5]]).shape == PHOTO.shape


def test_pair_distances_are_one_matrix_expression_and_5000_embeddings_fit():
    rng = np.random.default_rng(6)
    embeddings, people = rng.normal(size=(300, 16)), np.arange(300) % 30
    a = embeddings
    full = (a * a).sum(1)[:, None] + (a * a).sum(1)[None, :] - 2.0 * a @ a.T
    full = np.maximum(full, 0.0)
    np.fill_diagonal(full, 0.0)
    upper = np.triu_indices(300, 1)
    distances, same = faces.pair_distances(embeddings, people)
    assert np.array_equal(distances, full[upper])
    assert np.array_equal(same, (people[:, None] == people[None, :])[upper])
    distances, same = faces.pair_distances(rng.normal(size=(5000, 2)), np.arange(5000) % 50)
    assert distances.shape == same.shape == (5000 * 4999 // 2,)


def test_detection_models_are_checked_before_keras_runs(keras):
    with pytest.raises(TypeError, match="model must be a Keras model"):
        detection.detect_scenes("model", SCENES)
    crops = keras.Sequential([keras.Input((24, 24, 1)), keras.layers.Flatten()])
    with pytest.raises(ValueError, match=r"expects images of shape \(24, 24, 1\).*\(64, 64, 1\)"):
        detection.detect_scenes(crops, SCENES)


def test_coco_still_scores_perfect_and_empty_detections():
    assert detection.coco_evaluation(SCENES, perfect_detections())["map_50"] == 1.0
    as_lists = [
        {"boxes": d["boxes"].tolist(), "scores": list(d["scores"]), "labels": list(d["labels"])}
        for d in perfect_detections()
    ]
    assert detection.coco_evaluation(SCENES, as_lists)["map_50"] == 1.0
    nothing = [{"boxes": [], "scores": [], "labels": []}] * len(SCENES)
    assert detection.coco_evaluation(SCENES, nothing)["map_50"] == 0.0
    half = perfect_detections()
    half[0] = {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0)}
    assert 0 < detection.coco_evaluation(SCENES, half)["map_50"] < 1


def test_proposal_recall_counts_the_first_k():
    truths = np.array([[2.0, 2.0, 10.0, 10.0], [40.0, 40.0, 5.0, 5.0]])
    assert detection.proposal_recall(PROPOSALS[::-1], truths, [0, 1, 2, 100]) == [0, 0.5, 1, 1]
    assert detection.proposal_recall(PROPOSALS, truths, np.array([1])) == [0.5]


def test_sliding_windows_and_window_score_map_sizes():
    assert detection.sliding_windows((64, 64)).shape == (630, 4)
    assert detection.sliding_windows((8, 8), sizes=(12,)).shape == (0, 4)
    assert detection.sliding_windows((64, 64, 1), sizes=[16], stride=16).shape == (16, 4)
    with pytest.raises(ValueError, match="size must be at most 64"):
        detection.window_score_map(None, SCENES.images[0], size=100)


def test_to_display_rescales_uint8_and_still_refuses_clip():
    shown = kernels.to_display(PHOTO, "rescale")
    assert shown.min() == 0.0 and shown.max() == 1.0
    expected = (PHOTO.astype(np.float64) - PHOTO.min()) / (PHOTO.max() - PHOTO.min())
    np.testing.assert_array_equal(shown, expected)
    with pytest.raises(TypeError, match="in 'clip' mode every value above 1"):
        kernels.to_display(PHOTO, "clip")
    extreme = kernels.to_display(np.array([[-1e308, 0.0, 1e308]]), "rescale")
    np.testing.assert_allclose(extreme, [[0.0, 0.5, 1.0]])


def test_correlate_limits_are_documented_and_applied():
    assert kernel_compute.MAX_CORRELATE_PRODUCTS == 300_000_000
    side = int(validation.MAX_IMAGE_PIXELS**0.5)
    with pytest.raises(ValueError, match="grid is too large"):
        kernels.correlate(np.broadcast_to(0.5, (side + 1, side)), np.ones((1, 1)))
    assert kernels.correlate(np.ones((300, 300)), np.ones((31, 31))).shape == (270, 270)


def test_haar_features_accept_larger_images_and_the_widest_feature():
    assert faces.haar_features(RNG.random((2, 25, 25)), COORDS, TYPES).shape == (2, 30)
    assert faces.haar_features(RNG.random((2, 30, 30)), COORDS, TYPES).shape == (2, 30)
    haar.check_features(COORDS, TYPES, (25, 25))


def test_box_hits_still_counts_a_face():
    assert faces.box_hits(np.array([[2, 2, 6, 6]]), (0, 0, 10, 10)) is True
    assert faces.box_hits(np.zeros((0, 4), np.int64), (0, 0, 10, 10)) is False
    assert faces.box_hits([[-15, -15, 40, 40]], (0, 0, 10, 10)) is False  # 4 times too large


# --------------------------------------------------------------------------------------------
# Damaged model files and caches: reported, never trusted
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"<opencv_storage><cascade>garbage", b""])
def test_a_damaged_cascade_file_is_named(tmp_path, monkeypatch, content):
    import cv2

    (tmp_path / "haarcascade_eye.xml").write_bytes(content)
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path) + "/")
    detectors._load_cascade.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=r"could not read the Haar cascade file .*reinstall"):
            detectors.haar_detect(PHOTO, "eye")
    finally:
        monkeypatch.undo()
        detectors._load_cascade.cache_clear()
    assert len(detectors.haar_detect(PHOTO, "eye")[0]) >= 0  # the real file loads again


@pytest.mark.parametrize(
    "kind, location",
    [
        ("landmarks", "pose_predictor_model_location"),
        ("resnet", "face_recognition_model_location"),
        ("cnn", "cnn_face_detector_model_location"),
    ],
)
def test_a_damaged_dlib_model_file_is_named(tmp_path, monkeypatch, kind, location):
    files = pytest.importorskip("face_recognition_models")
    damaged = tmp_path / "model.dat"
    damaged.write_bytes(b"\x00garbage" * 100)
    monkeypatch.setattr(files, location, lambda: str(damaged))
    detectors._load_dlib_model.cache_clear()
    try:
        with pytest.raises(RuntimeError, match=rf"dlib could not read its '{kind}' model file"):
            detectors.dlib_model(kind)
    finally:
        monkeypatch.undo()
        detectors._load_dlib_model.cache_clear()


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: np.save(path, np.full((5, 3), NAN)),
        lambda path: np.save(path, np.full((2, 128), NAN)),
        lambda path: np.save(path, np.array([{"a": 1}, None], dtype=object)),
        lambda path: path.write_bytes(b"garbage bytes"),
        lambda path: path.write_bytes(b""),
    ],
    ids=["(5, 3) NaN", "(2, 128) NaN", "pickled objects", "garbage", "empty"],
)
def test_a_damaged_descriptor_cache_is_set_aside_and_recomputed(cache, capsys, damage):
    pytest.importorskip("face_recognition_models")
    faces_ = np.random.default_rng(7).random((2, 40, 40)).astype(np.float32)
    path = dlib_faces._embedding_cache_path(faces_)
    path.parent.mkdir(parents=True, exist_ok=True)
    damage(path)
    embeddings = faces.dlib_embeddings(faces_)
    assert embeddings.shape == (2, 128) and np.all(np.isfinite(embeddings))
    assert "cached dlib descriptors" in capsys.readouterr().out
    assert path.with_name(path.name + ".damaged").exists()
    np.testing.assert_array_equal(np.load(path), embeddings)  # the good ones replaced it


# --------------------------------------------------------------------------------------------
# Plots, the scene viewer, matched mAP, PK batches and triplet mining (issue 22, last cases):
# each refusal beside a valid call that still works
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table, error, message",
    [
        ({"year": [2001]}, ValueError, r"table has no 'method', 'kind'.*detection_history"),
        ([2001, 2005], TypeError, r"table must be a dict \(what data.load_table"),
        ({"year": [2001, 2005], "method": ["a"], "kind": ["b"]}, ValueError, "one year"),
        ({"year": [2001.5], "method": ["a"], "kind": ["b"]}, ValueError, "whole years"),
        ({"year": [NAN], "method": ["a"], "kind": ["b"]}, ValueError, "NaN"),
    ],
)
def test_plot_history_names_a_bad_table(table, error, message):
    with pytest.raises(error, match=message):
        detection.plot_history(table)


def test_plot_history_still_draws_the_milestones():
    table = data.load_table("detection_history")
    figure = detection.plot_history(table)
    assert len(figure.axes[0].collections) == len(table["year"])  # one stem per milestone


@pytest.mark.parametrize(
    "curves, error, message",
    [
        ([1], TypeError, r"curves must be a dict \{name: coco_evaluation"),
        ({}, TypeError, "at least one"),
        ({"a": {"map_50": NAN}}, ValueError, r"curves\['a'\] has no 'recall_points'"),
        ({"a": 3}, TypeError, r"curves\['a'\] must be a dict \(what coco_evaluation"),
        (
            {"a": {"recall_points": np.linspace(0, 1, 101), "precision_50": [1.0], "map_50": 1}},
            ValueError,
            "one precision per recall point",
        ),
        (
            {"a": {"recall_points": [0.0, 1.0], "precision_50": [1.0, 1.0], "map_50": NAN}},
            ValueError,
            "finite number",
        ),
    ],
)
def test_plot_precision_recall_names_bad_curves(curves, error, message):
    with pytest.raises(error, match=message):
        detection.plot_precision_recall(curves)


def test_plot_precision_recall_still_draws_a_coco_result():
    result = detection.coco_evaluation(SCENES, perfect_detections())
    figure = detection.plot_precision_recall({"perfect": result})
    (line,) = figure.axes[0].get_lines()
    np.testing.assert_array_equal(line.get_ydata(), result["precision_50"])
    assert "AP@0.5 1.000" in line.get_label()


SWEEP = {"angles": [-10, 0, 10], "rate": [0.5, 1.0, 0.5], "seconds": 0.01}


@pytest.mark.parametrize(
    "sweeps, error, message",
    [
        ({"x": {"angles": [0], "rate": [NAN]}}, ValueError, r"has no 'seconds'.*rotation_sweep"),
        ({"x": {**SWEEP, "rate": [NAN, 1, 1]}}, ValueError, "NaN"),
        ({"x": {**SWEEP, "rate": [1.0]}}, ValueError, "one rate per angle"),
        ({"x": {**SWEEP, "rate": [2.0, 1, 1]}}, ValueError, r"fractions in \[0, 1\]"),
        ({"x": {**SWEEP, "seconds": -1}}, ValueError, "seconds'] must be at least 0"),
        ([SWEEP], TypeError, "sweeps must be a dict"),
    ],
)
def test_plot_rotation_sweeps_names_bad_sweeps(sweeps, error, message):
    with pytest.raises(error, match=message):
        faces.plot_rotation_sweeps(sweeps)


def test_plot_rotation_sweeps_still_draws_a_sweep():
    (line,) = faces.plot_rotation_sweeps({"haar": SWEEP}).axes[0].get_lines()
    np.testing.assert_array_equal(line.get_ydata(), SWEEP["rate"])
    assert "(10 ms/image)" in line.get_label()


def test_plot_landmarks_refuses_a_nan_point_and_draws_68():
    points = np.column_stack([np.linspace(5, 40, 68), np.linspace(5, 40, 68)])
    figure = faces.plot_landmarks(PHOTO, points)
    assert sum(len(c.get_offsets()) for c in figure.axes[0].collections) == 68
    points[30, 1] = NAN
    with pytest.raises(ValueError, match=r"points contains NaN"):
        faces.plot_landmarks(PHOTO, points)


@pytest.mark.parametrize("value", [NAN, np.inf])
def test_scene_viewer_refuses_a_nan_box_and_shows_good_scenes(value):
    viewer = detection.scene_viewer(SCENES)
    assert viewer.refresh()["objects"] == len(SCENES.boxes[0])
    bad = [b.copy() for b in SCENES.boxes]
    bad[2][0, 1] = value
    with pytest.raises(ValueError, match=r"scenes.boxes\[2\] contains NaN or infinite"):
        detection.scene_viewer(scenes_with(boxes_=bad))
    short = [k.copy() for k in SCENES.labels]
    short[1] = short[1][:-1]
    with pytest.raises(ValueError, match=r"scenes.labels\[1\] must have one class index"):
        detection.scene_viewer(scenes_with(labels=short))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(labels=d["labels"][:-1]), r"detections\[0\]\['labels'\]"),
        (lambda d: d.update(labels=np.full(len(d["labels"]), 99)), "class indices from 0"),
        (lambda d: d.update(labels=np.full(len(d["labels"]), -1)), "class indices from 0"),
        (lambda d: d.pop("labels"), r"detections\[0\] has no 'labels'"),
        (lambda d: d["boxes"].__setitem__((0, 0), NAN), "contains NaN"),
        (lambda d: d.update(scores=np.full(len(d["scores"]), NAN)), r"\['scores'\]"),
    ],
    ids=["labels short", "label 99", "label -1", "no labels", "NaN box", "NaN scores"],
)
def test_matched_average_precision_checks_detections_like_coco(change, message):
    assert detection.matched_average_precision(SCENES, perfect_detections())["map"] == 1.0
    with pytest.raises(ValueError, match=message):
        detection.matched_average_precision(SCENES, changed(change))
    with pytest.raises(ValueError, match=message):
        detection.coco_evaluation(SCENES, changed(change))  # the same refusal


def test_matched_average_precision_checks_the_ground_truth():
    bad = [b.copy() for b in SCENES.boxes]
    bad[3][0, 2] = NAN
    with pytest.raises(ValueError, match=r"scenes.boxes\[3\] contains NaN"):
        detection.matched_average_precision(scenes_with(boxes_=bad), perfect_detections())
    half = perfect_detections()
    half[0] = {"boxes": [], "scores": [], "labels": []}  # lists still taken
    ours = detection.matched_average_precision(SCENES, half)["map"]
    assert ours == pytest.approx(detection.coco_evaluation(SCENES, half)["map_50"], abs=1e-9)
    assert 0 < ours < 1


def test_pk_batches_refuses_more_than_its_documented_size(monkeypatch):
    labels = np.repeat(np.arange(4), 3)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"too many images in 1,000,000,000 batches of 2 x 2"):
        faces.pk_batches(labels, people=2, per_person=2, batches=10**9)
    assert time.perf_counter() - start < 1  # refused before drawing anything
    assert faces.siamese.MAX_PK_IMAGES >= 420 * 10 * 5  # the lesson's training fits
    monkeypatch.setattr(faces.siamese, "MAX_PK_IMAGES", 20)
    order = faces.pk_batches(labels, people=2, per_person=2, batches=5)  # exactly 20: taken
    assert order.shape == (20,)
    assert all(len(set(labels[order[i : i + 4]])) == 2 for i in range(0, 20, 4))
    with pytest.raises(ValueError, match="at most 20"):
        faces.pk_batches(labels, people=2, per_person=2, batches=6)


def test_triplet_loss_keras_refuses_an_unknown_mining_and_runs_random(keras):
    with pytest.raises(
        ValueError, match=r"mining must be one of 'batch_all'.*'random'.*'randomly'"
    ):
        faces.triplet_loss_keras(mining="randomly")
    with pytest.raises(ValueError, match="mining must be one of"):
        faces.triplet_loss_keras(mining=None)
    labels = np.array([0, 0, 1, 1, 2, 2])
    embeddings = np.random.default_rng(3).normal(size=(6, 4)).astype("float32")
    value = float(faces.triplet_loss_keras(mining="random")(labels, embeddings))
    assert np.isfinite(value) and value >= 0
