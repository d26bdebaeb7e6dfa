"""lab_utils.boxes (lessons 05-06): formats, IoU, NMS, matching and drawing."""

import numpy as np
import pytest

from lab_utils import boxes, detection

# --- formats and conversion ------------------------------------------------------------------


def test_convert_boxes_round_trips_every_format():
    given = np.array([[2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 10.0, 1.0]])
    assert np.allclose(boxes.convert_boxes(given, "xywh", "xyxy"), [[2, 3, 6, 8], [0, 0, 10, 1]])
    assert np.allclose(
        boxes.convert_boxes(given, "xywh", "center_xywh"), [[4, 5.5, 4, 5], [5, 0.5, 10, 1]]
    )
    relative = boxes.convert_boxes(given, "xywh", "rel_xyxy", image_size=(10, 20))
    assert np.allclose(relative, [[0.1, 0.3, 0.3, 0.8], [0, 0, 0.5, 0.1]])
    for target in boxes.BOX_FORMATS:
        there = boxes.convert_boxes(given, "xywh", target, image_size=(10, 20))
        back = boxes.convert_boxes(there, target, "xywh", image_size=(10, 20))
        assert np.allclose(back, given)


def test_convert_boxes_agrees_with_keras(keras):
    from keras.utils import bounding_boxes

    rng = np.random.default_rng(0)
    given = np.column_stack([rng.uniform(0, 50, (6, 2)), rng.uniform(1, 20, (6, 2))])
    for target in ("xyxy", "center_xywh"):
        expected = np.asarray(bounding_boxes.convert_format(given, "xywh", target))
        assert np.allclose(boxes.convert_boxes(given, "xywh", target), expected, atol=1e-4)


@pytest.mark.parametrize(
    "given, message",
    [
        ([[0, 0, -1, 2]], "negative width or height"),
        ([[0, 0, 1]], "shape (N, 4)"),
        ([[0, 0, np.nan, 2]], "NaN"),
        ("box", "NumPy array"),
        ([["a", "b", "c", "d"]], "numbers"),
    ],
)
def test_bad_boxes_get_clear_errors(given, message):
    with pytest.raises(
        (TypeError, ValueError), match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        boxes.convert_boxes(given, "xywh", "xyxy")


def test_corners_in_wrong_order_name_the_format():
    with pytest.raises(ValueError, match="another format"):
        boxes.as_boxes([[5, 5, 2, 2]], box_format="xyxy")


def test_unknown_format_and_missing_image_size():
    with pytest.raises(ValueError, match="box_format must be one of"):
        boxes.convert_boxes([[0, 0, 1, 1]], "yxhw", "xyxy")
    with pytest.raises(ValueError, match="image_size"):
        boxes.convert_boxes([[0, 0, 1, 1]], "xywh", "rel_xyxy")


def test_empty_box_sets_are_allowed():
    assert boxes.as_boxes([]).shape == (0, 4)
    assert boxes.iou_matrix(np.zeros((0, 4)), [[0, 0, 1, 1]]).shape == (0, 1)
    assert boxes.non_max_suppression(np.zeros((0, 4)), np.zeros(0)).shape == (0,)


def test_box_areas_in_each_format():
    given = np.array([[2.0, 3.0, 4.0, 5.0], [0.0, 0.0, 0.0, 7.0]])
    assert boxes.box_areas(given).tolist() == [20.0, 0.0]
    assert boxes.box_areas(boxes.convert_boxes(given, "xywh", "xyxy"), "xyxy").tolist() == [
        20.0,
        0.0,
    ]


def test_the_lesson_re_exports_the_box_module_s_own_functions():
    """``detection.iou_matrix`` is ``boxes.iou_matrix``: the exercise checks' forbid paths
    ("lab_utils.detection.iou_matrix") watch the very function the kit runs."""
    for name in (
        "BOX_FORMATS",
        "COLOURS",
        "as_boxes",
        "as_scores",
        "box_areas",
        "convert_boxes",
        "draw_boxes",
        "iou_matrix",
        "match_detections",
        "non_max_suppression",
    ):
        assert getattr(detection, name) is getattr(boxes, name), name


# --- IoU, NMS, matching ----------------------------------------------------------------------


def test_iou_matrix_known_values_and_keras(keras):
    from keras.utils import bounding_boxes

    a = np.array([[0, 0, 10, 10], [20, 20, 5, 5]], float)
    b = np.array([[5, 5, 10, 10], [40, 40, 2, 2], [0, 0, 10, 10]], float)
    iou = boxes.iou_matrix(a, b)
    assert np.isclose(iou[0, 0], 25 / 175) and iou[0, 1] == 0 and iou[0, 2] == 1
    expected = np.asarray(bounding_boxes.compute_iou(a, b, "xywh"))
    assert np.allclose(iou, expected, atol=1e-5)


def test_iou_of_touching_and_zero_area_boxes_is_zero():
    assert boxes.iou_matrix([[0, 0, 10, 10]], [[10, 0, 10, 10]])[0, 0] == 0
    assert boxes.iou_matrix([[0, 0, 0, 0]], [[0, 0, 0, 0]])[0, 0] == 0


def test_nms_matches_tensorflow_on_random_boxes(keras):
    import tensorflow as tf

    rng = np.random.default_rng(1)
    for _ in range(20):
        given = np.column_stack([rng.uniform(0, 40, (30, 2)), rng.uniform(2, 25, (30, 2))])
        scores = rng.uniform(0, 1, 30)
        for threshold in (0.3, 0.5, 0.7):
            corners = boxes.convert_boxes(given, "xywh", "xyxy")[:, [1, 0, 3, 2]]
            expected = tf.image.non_max_suppression(
                corners, scores, 30, iou_threshold=threshold
            ).numpy()
            ours = boxes.non_max_suppression(given, scores, iou_threshold=threshold)
            assert ours.tolist() == expected.tolist()


def test_nms_score_threshold_and_bad_scores():
    given = [[0, 0, 10, 10], [1, 1, 10, 10], [30, 30, 5, 5]]
    assert boxes.non_max_suppression(given, [0.9, 0.8, 0.7]).tolist() == [0, 2]
    assert boxes.non_max_suppression(given, [0.9, 0.8, 0.2], score_threshold=0.5).tolist() == [0]
    with pytest.raises(ValueError, match="one score per box"):
        boxes.non_max_suppression(given, [0.9, 0.8])
    with pytest.raises(ValueError, match="NaN"):
        boxes.non_max_suppression(given, [0.9, np.nan, 0.1])
    with pytest.raises(ValueError, match="iou_threshold must be at most 1"):
        boxes.non_max_suppression(given, [0.9, 0.8, 0.7], iou_threshold=2)


def test_match_detections_takes_best_scores_first():
    truths = [[0, 0, 10, 10], [50, 50, 10, 10]]
    found = [[1, 1, 10, 10], [0, 0, 10, 10], [80, 80, 5, 5]]
    matched = boxes.match_detections(found, [0.5, 0.9, 0.8], truths)
    assert matched.tolist() == [-1, 0, -1]  # the duplicate is a false positive


def test_match_detections_takes_the_truth_it_overlaps_most():
    truths = [[0, 0, 10, 10], [4, 0, 10, 10]]
    assert boxes.match_detections([[5, 0, 10, 10]], [0.9], truths, iou_threshold=0.3).tolist() == [
        1
    ]
    # IoU exactly at the threshold (50 / 100) is a match, as in pycocotools
    assert boxes.match_detections([[0, 0, 10, 5]], [0.8], [[0, 0, 10, 10]]).tolist() == [0]


# --- drawing -----------------------------------------------------------------------------------


def _outline_reference(image, given, colours, scale, thickness):
    """The outlines painted pixel by pixel: each box covers columns floor(x1)..ceil(x2) - 1
    and rows floor(y1)..ceil(y2) - 1 (clipped to the image); each side is a strip
    ``thickness`` pixels wide inside that rectangle."""
    picture = image.repeat(scale, axis=0).repeat(scale, axis=1).copy()
    height, width = picture.shape[:2]
    for (x, y, w, h), colour in zip(np.asarray(given, float) * scale, colours):
        left = min(max(int(np.floor(x)), 0), width - 1)
        top = min(max(int(np.floor(y)), 0), height - 1)
        right = min(max(int(np.ceil(x + w)) - 1, 0), width - 1)
        bottom = min(max(int(np.ceil(y + h)) - 1, 0), height - 1)
        for row in range(height):
            for column in range(width):
                in_rows, in_columns = top <= row <= bottom, left <= column <= right
                on_side = (
                    (in_columns and top <= row < top + thickness)
                    or (in_columns and bottom - thickness < row <= bottom)
                    or (in_rows and left <= column < left + thickness)
                    or (in_rows and right - thickness < column <= right)
                )
                if on_side:
                    picture[row, column] = colour
    return picture


def test_draw_boxes_paints_each_side_inside_the_box_up_to_the_border():
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (23, 31, 3)).astype(np.uint8)
    given = np.array(
        [
            [2, 3, 10, 8],  # inside
            [0, 0, 31, 23],  # the whole image: touches all four borders
            [25.5, 18.2, 9, 9],  # past the bottom-right corner
            [-4, -3, 6, 5],  # past the top-left corner
            [12, 12, 1, 1],  # smaller than the line
            [7.3, 5.9, 0.4, 2.2],  # fractional, under a pixel wide
            [40, 30, 3, 3],
        ]
    )  # outside: drawn along the border
    colours = [tuple(int(v) for v in rng.integers(0, 256, 3)) for _ in given]
    original = image.copy()
    for scale in (1, 3):
        for thickness in (1, 2, 3):
            drawn = boxes.draw_boxes(
                image, given, colours=colours, scale=scale, thickness=thickness
            )
            expected = _outline_reference(image, given, colours, scale, thickness)
            assert drawn.dtype == np.uint8 and np.array_equal(drawn, expected), (scale, thickness)
    assert np.array_equal(image, original)  # drawn on a copy


def test_draw_boxes_outlines_in_colour():
    image = np.zeros((10, 10), dtype=np.float32)
    drawn = boxes.draw_boxes(image, [[2, 2, 4, 4]], colours=(255, 0, 0), scale=2, thickness=1)
    assert drawn.shape == (20, 20, 3) and drawn.dtype == np.uint8
    assert tuple(drawn[4, 4]) == (255, 0, 0) and tuple(drawn[8, 8]) == (0, 0, 0)
    assert tuple(drawn[11, 11]) == (255, 0, 0) and tuple(drawn[10, 10]) == (0, 0, 0)
    with pytest.raises(ValueError, match="image must have shape"):
        boxes.draw_boxes(np.zeros((2, 2, 2)), [[0, 0, 1, 1]])
    with pytest.raises(TypeError, match="uint8"):
        boxes.draw_boxes(np.zeros((4, 4), dtype=np.int32), [[0, 0, 1, 1]])


def test_draw_boxes_one_colour_for_all_and_its_errors():
    image = np.zeros((16, 16, 3), np.uint8)
    given = [[1, 1, 6, 6], [8, 8, 6, 6], [0, 9, 3, 3]]
    one = boxes.draw_boxes(image, given, colour=(255, 40, 40), thickness=2)
    assert np.array_equal(
        one, boxes.draw_boxes(image, given, colours=[(255, 40, 40)] * 3, thickness=2)
    )
    assert tuple(one[2, 2]) == (255, 40, 40) and tuple(one[3, 3]) == (0, 0, 0)
    default = boxes.draw_boxes(image, given)
    assert tuple(default[1, 1]) == boxes.COLOURS["prediction"]
    with pytest.raises(TypeError, match="not colours and colour together"):
        boxes.draw_boxes(image, given, colour=(1, 2, 3), colours=(1, 2, 3))
    with pytest.raises(TypeError, match="not roles and colour together"):
        boxes.draw_boxes(image, given, roles="truth", colour=(1, 2, 3))
    with pytest.raises(ValueError, match=r"unknown box role\(s\) \['ground truth'\]"):
        boxes.draw_boxes(image, given, roles="ground truth")
    with pytest.raises(ValueError, match="one name or one per box"):
        boxes.draw_boxes(image, given, roles=["truth", "prediction"])
    with pytest.raises(TypeError, match="roles must be one role name"):
        boxes.draw_boxes(image, given, roles=3)
    assert np.array_equal(default, boxes.draw_boxes(image, given, roles="prediction"))
    with pytest.raises(ValueError, match="one per box"):
        boxes.draw_boxes(image, given, colours=[(1, 2, 3)] * 2)
    with pytest.raises(ValueError, match="0 to 255"):
        boxes.draw_boxes(image, given, colour=(300, 0, 0))
