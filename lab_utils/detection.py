"""Lesson 05 "Detection": boxes, IoU, NMS, scenes, detectors and their evaluation.

Boxes are NumPy arrays of shape (N, 4), float, in **pixels**, in one of these formats
(the names are Keras's, ``keras.utils.bounding_boxes``):

* ``"xywh"``: left x, top y, width, height (the slide's (x, y, w, h));
* ``"xyxy"``: left, top, right, bottom corners;
* ``"center_xywh"``: centre x, centre y, width, height;
* ``"rel_xyxy"``: corners divided by the image width / height (0-1), needs the image size.

Coordinates are continuous: a box (x, y, w, h) = (2, 3, 4, 5) covers pixel columns 2-5 and
rows 3-7, its right edge is x + w = 6 (not 5: the "+ 1" of pixel-inclusive corners is the
classic off-by-one). ``convert_boxes`` is the one conversion used everywhere in the lesson.

Importing this module does not import TensorFlow; Keras is imported where a model is built.
"""

from __future__ import annotations

import dataclasses
import html
import time

import numpy as np

from lab_utils import exercises, lesson, validation, widgets
from lab_utils.data import TEXTURES, Scenes, generate_scenes  # noqa: F401 (re-exported)

BOX_FORMATS = ("xywh", "xyxy", "center_xywh", "rel_xyxy")

# --------------------------------------------------------------------------------------------
# Boxes: validation and conversion
# --------------------------------------------------------------------------------------------


def as_boxes(boxes, name: str = "boxes", box_format: str = "xywh") -> np.ndarray:
    """Check a set of boxes and return it as float64 of shape (N, 4).

    Parameters
    ----------
    boxes : array_like, shape (N, 4) (N may be 0); a single box (4,) is accepted as (1, 4)
    box_format : one of BOX_FORMATS
        Sizes (w, h) must not be negative; corners need right >= left and bottom >= top.

    Raises
    ------
    TypeError, ValueError
        Naming the expected shape, the format, and the first bad box.
    """
    validation.one_of(box_format, "box_format", BOX_FORMATS)
    if isinstance(boxes, (list, tuple)) and len(boxes) == 0:
        return np.zeros((0, 4))
    array = validation.as_array(boxes, name)
    if array.dtype == bool:
        raise TypeError(f"{name} must hold coordinates (numbers), but its dtype is bool.")
    if array.ndim == 1 and array.shape[0] == 4:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4): one row of 4 numbers per box "
                         f"({_format_text(box_format)}), but it has shape {array.shape}.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        row = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise ValueError(f"{name} contains NaN or infinite values (box {row}: "
                         f"{array[row].tolist()}).")
    if box_format in ("xywh", "center_xywh"):
        bad = np.flatnonzero((array[:, 2] < 0) | (array[:, 3] < 0))
        problem = "a negative width or height"
    else:
        bad = np.flatnonzero((array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1]))
        problem = "its right (bottom) corner left of (above) its left (top) corner"
    if bad.size:
        raise ValueError(f"{name}[{bad[0]}] = {array[bad[0]].tolist()} has {problem} "
                         f"for box_format {box_format!r} ({_format_text(box_format)}). "
                         f"Is it in another format?")
    return array


def _format_text(box_format: str) -> str:
    return {"xywh": "left x, top y, width, height",
            "xyxy": "left, top, right, bottom",
            "center_xywh": "centre x, centre y, width, height",
            "rel_xyxy": "left, top, right, bottom divided by the image width/height"}[box_format]


def _image_size(image_size, box_format, target) -> tuple[int, int] | None:
    if "rel_xyxy" not in (box_format, target):
        return None
    if image_size is None:
        raise ValueError("relative boxes ('rel_xyxy') need image_size=(height, width) to "
                         "convert to or from pixels.")
    if not isinstance(image_size, (tuple, list)) or len(image_size) < 2:
        raise ValueError(f"image_size must be (height, width), but got {image_size!r}.")
    return (validation.as_int(image_size[0], "image_size[0]", minimum=1),
            validation.as_int(image_size[1], "image_size[1]", minimum=1))


def convert_boxes(boxes, source: str, target: str, image_size=None) -> np.ndarray:
    """Convert boxes from one format to another (see the module docstring).

    Parameters
    ----------
    boxes : array_like (N, 4)
    source, target : str, each one of BOX_FORMATS
    image_size : (height, width), needed only for "rel_xyxy"

    Returns
    -------
    ndarray (N, 4) float64. Same results as ``keras.utils.bounding_boxes.convert_format``.
    """
    validation.one_of(target, "target", BOX_FORMATS)
    boxes = as_boxes(boxes, "boxes", source)
    size = _image_size(image_size, source, target)
    a, b, c, d = boxes.T
    if source == "xywh":
        corners = np.stack([a, b, a + c, b + d], axis=1)
    elif source == "center_xywh":
        corners = np.stack([a - c / 2, b - d / 2, a + c / 2, b + d / 2], axis=1)
    elif source == "rel_xyxy":
        corners = boxes * [size[1], size[0], size[1], size[0]]
    else:
        corners = boxes.copy()
    x1, y1, x2, y2 = corners.T
    if target == "xyxy":
        return corners
    if target == "xywh":
        return np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    if target == "center_xywh":
        return np.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], axis=1)
    return corners / [size[1], size[0], size[1], size[0]]


def box_areas(boxes, box_format: str = "xywh") -> np.ndarray:
    """Area of each box, shape (N,)."""
    corners = convert_boxes(boxes, box_format, "xyxy") if box_format != "rel_xyxy" else \
        as_boxes(boxes, "boxes", box_format)
    return (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])


def iou_matrix(boxes_a, boxes_b, box_format: str = "xywh") -> np.ndarray:
    """Intersection over union of every box of ``boxes_a`` with every box of ``boxes_b``.

    Returns
    -------
    ndarray (len(boxes_a), len(boxes_b)) float64 in [0, 1]. Two empty boxes give 0.
    """
    if box_format == "rel_xyxy":
        a, b = as_boxes(boxes_a, "boxes_a", box_format), as_boxes(boxes_b, "boxes_b", box_format)
    else:
        a = convert_boxes(as_boxes(boxes_a, "boxes_a", box_format), box_format, "xyxy")
        b = convert_boxes(as_boxes(boxes_b, "boxes_b", box_format), box_format, "xyxy")
    width = np.clip(np.minimum(a[:, None, 2], b[None, :, 2])
                    - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    height = np.clip(np.minimum(a[:, None, 3], b[None, :, 3])
                     - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    intersection = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def as_scores(scores, count: int, name: str = "scores") -> np.ndarray:
    """Check one finite score per box, shape (count,), and return it as float64."""
    scores = validation.as_array(scores, name)
    if scores.shape != (count,):
        raise ValueError(f"{name} must hold one score per box, shape ({count},), but it has "
                         f"shape {scores.shape}.")
    scores = scores.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return scores


def non_max_suppression(boxes, scores, *, iou_threshold: float = 0.5,
                        score_threshold: float = -np.inf, max_output: int | None = None,
                        box_format: str = "xywh") -> np.ndarray:
    """Greedy NMS: indices of the boxes kept, highest score first.

    Repeatedly keep the highest-scoring remaining box and drop every remaining box whose
    IoU with it is above ``iou_threshold``. Boxes scoring below ``score_threshold`` are
    dropped first. Same rule as ``tf.image.non_max_suppression``.

    Returns
    -------
    ndarray of int64, shape (K,), K <= len(boxes)
    """
    boxes = as_boxes(boxes, "boxes", box_format)
    scores = as_scores(scores, len(boxes))
    iou_threshold = validation.as_float(iou_threshold, "iou_threshold", minimum=0.0,
                                        maximum=1.0)
    if not (isinstance(score_threshold, (int, float)) and not isinstance(score_threshold, bool)):
        raise TypeError(f"score_threshold must be a number, but got "
                        f"{validation.describe(score_threshold)}.")
    limit = len(boxes) if max_output is None else validation.as_int(max_output, "max_output",
                                                                     minimum=0)
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= score_threshold]
    overlaps = iou_matrix(boxes, boxes, box_format)
    kept: list[int] = []
    while order and len(kept) < limit:
        best = order.pop(0)
        kept.append(best)
        order = [i for i in order if overlaps[best, i] <= iou_threshold]
    return np.array(kept, dtype=np.int64)


def match_detections(detections, scores, truths, *, iou_threshold: float = 0.5,
                     box_format: str = "xywh") -> np.ndarray:
    """Match detections to ground-truth boxes the way COCO and PASCAL VOC do.

    Detections are taken from the highest score down; each takes the unmatched ground-truth
    box it overlaps most, if that IoU is at least ``iou_threshold``.

    Returns
    -------
    ndarray of int64, shape (len(detections),): the index of the matched ground-truth box,
    or -1 for a false positive.
    """
    detections = as_boxes(detections, "detections", box_format)
    truths = as_boxes(truths, "truths", box_format)
    scores = as_scores(scores, len(detections))
    iou_threshold = validation.as_float(iou_threshold, "iou_threshold", minimum=0.0,
                                        maximum=1.0)
    overlaps = iou_matrix(detections, truths, box_format)
    matched = np.full(len(detections), -1, dtype=np.int64)
    taken = np.zeros(len(truths), dtype=bool)
    for index in np.argsort(-scores, kind="stable"):
        if not len(truths):
            break
        candidates = np.where(taken, -1.0, overlaps[index])
        best = int(np.argmax(candidates))
        if candidates[best] >= iou_threshold and not taken[best]:
            matched[index] = best
            taken[best] = True
    return matched


# --------------------------------------------------------------------------------------------
# Generated scenes: digits on real textures, with ground-truth boxes
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Drawing and widgets
# --------------------------------------------------------------------------------------------

COLOURS = {"truth": (40, 220, 60), "prediction": (255, 60, 40), "other": (60, 140, 255),
           "kept": (255, 200, 0), "dropped": (150, 150, 150)}


def draw_boxes(image, boxes, *, colours=None, box_format: str = "xywh", scale: int = 1,
               thickness: int = 1) -> np.ndarray:
    """Draw box outlines on an image (enlarged ``scale`` times first), NumPy only.

    Parameters
    ----------
    image : (H, W) or (H, W, 3), uint8 or float in [0, 1]
    boxes : (N, 4) in ``box_format`` pixels of the original image
    colours : None, one (r, g, b), or a list of N of them (0-255)

    Returns
    -------
    ndarray (H*scale, W*scale, 3) uint8
    """
    picture = widgets.to_uint8(validation.as_image(image, "image"))
    scale = validation.as_int(scale, "scale", minimum=1, maximum=32)
    thickness = validation.as_int(thickness, "thickness", minimum=1, maximum=10)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)
    picture = np.ascontiguousarray(widgets.upscale(picture, scale)) if scale > 1 else \
        picture.copy()
    corners = (convert_boxes(boxes, box_format, "xyxy", image_size=image.shape[:2])
               if box_format != "xyxy" else as_boxes(boxes, "boxes", "xyxy"))
    if colours is None:
        colours = [COLOURS["prediction"]] * len(corners)
    elif len(colours) == 3 and all(isinstance(c, (int, np.integer)) for c in colours):
        colours = [tuple(colours)] * len(corners)
    if len(colours) != len(corners):
        raise ValueError(f"colours must be one (r, g, b) or one per box ({len(corners)}), "
                         f"but got {len(colours)}.")
    height, width = picture.shape[:2]
    for (x1, y1, x2, y2), colour in zip(corners * scale, colours):
        left, top = int(np.clip(np.floor(x1), 0, width - 1)), int(np.clip(np.floor(y1), 0,
                                                                           height - 1))
        right = int(np.clip(np.ceil(x2) - 1, 0, width - 1))
        bottom = int(np.clip(np.ceil(y2) - 1, 0, height - 1))
        t = thickness
        picture[top:top + t, left:right + 1] = colour
        picture[max(bottom - t + 1, 0):bottom + 1, left:right + 1] = colour
        picture[top:bottom + 1, left:left + t] = colour
        picture[top:bottom + 1, max(right - t + 1, 0):right + 1] = colour
    return picture


def _require_scenes(scenes, name: str = "scenes") -> Scenes:
    if not isinstance(scenes, Scenes):
        raise TypeError(f"{name} must be a detection.Scenes (from "
                        f"data.load_dataset('digit_scenes')), but got "
                        f"{validation.describe(scenes)}.")
    return scenes


def scene_viewer(scenes, *, scale: int = 4) -> widgets.Interactive:
    """Widget: browse generated scenes with their ground-truth boxes and class names."""
    import ipywidgets
    scenes = _require_scenes(scenes)
    scale = validation.as_int(scale, "scale", minimum=1, maximum=16)
    controls = {"index": ipywidgets.IntSlider(0, 0, len(scenes) - 1, description="scene"),
                "boxes": ipywidgets.Checkbox(True, description="show boxes")}
    picture = ipywidgets.Image(format="png")
    caption = ipywidgets.HTML()

    def render(values):
        index = values["index"]
        boxes = scenes.boxes[index] if values["boxes"] else np.zeros((0, 4))
        picture.value = widgets.encode(draw_boxes(scenes.images[index], boxes,
                                                  colours=COLOURS["truth"], scale=scale),
                                       "png")
        rows = [f"{scenes.class_names[label]}: (x, y, w, h) = "
                f"({', '.join(f'{v:g}' for v in box)})"
                for box, label in zip(scenes.boxes[index], scenes.labels[index])]
        caption.value = (f"scene {index}: {len(rows)} object(s)<br>" + "<br>".join(rows))
        return {"index": index, "objects": len(rows), "shown_boxes": len(boxes)}

    layout = ipywidgets.VBox([ipywidgets.HBox([controls["index"], controls["boxes"]]),
                              ipywidgets.HBox([picture, caption])])
    return widgets.Interactive(controls, render, layout)


def iou_explorer(*, canvas: int = 100, scale: int = 3) -> widgets.Interactive:
    """Widget: two boxes moved and resized by sliders; shows their intersection and IoU."""
    import ipywidgets
    canvas = validation.as_int(canvas, "canvas", minimum=20, maximum=400)
    scale = validation.as_int(scale, "scale", minimum=1, maximum=8)

    def slider(value, description):
        return ipywidgets.IntSlider(value, 0, canvas, description=description)

    controls = {"x": slider(canvas // 3, "B: x"), "y": slider(canvas // 3, "B: y"),
                "w": slider(canvas // 3, "B: width"), "h": slider(canvas // 3, "B: height")}
    fixed = np.array([[canvas // 5, canvas // 5, canvas * 2 // 5, canvas * 2 // 5]], float)
    picture = ipywidgets.Image(format="png")
    caption = ipywidgets.HTML()

    def render(values):
        moving = np.array([[values["x"], values["y"], values["w"], values["h"]]], float)
        corners = convert_boxes(np.vstack([fixed, moving]), "xywh", "xyxy")
        image = np.full((canvas, canvas, 3), 255, dtype=np.uint8)
        x1, y1 = np.maximum(corners[0, :2], corners[1, :2])
        x2, y2 = np.minimum(corners[0, 2:], corners[1, 2:])
        intersection = max(x2 - x1, 0) * max(y2 - y1, 0)
        if intersection > 0:
            image[int(y1):int(y2), int(x1):int(x2)] = (255, 220, 120)
        image = draw_boxes(image, np.vstack([fixed, moving]),
                           colours=[COLOURS["truth"], COLOURS["prediction"]], scale=scale,
                           thickness=2)
        iou = float(iou_matrix(fixed, moving)[0, 0])
        areas = box_areas(np.vstack([fixed, moving]))
        union = areas.sum() - intersection
        picture.value = widgets.encode(image, "png")
        caption.value = (f"A (green) = {tuple(int(v) for v in fixed[0])}, B (red) = "
                         f"{tuple(int(v) for v in moving[0])} as (x, y, w, h)<br>"
                         f"intersection {intersection:g} px², union {union:g} px²<br>"
                         f"<b>IoU = {iou:.3f}</b>"
                         + (" (≥ 0.5: a match in PASCAL VOC)" if iou >= 0.5 else ""))
        return {"iou": iou, "intersection": float(intersection), "union": float(union)}

    layout = ipywidgets.VBox([ipywidgets.HBox([controls["x"], controls["y"]]),
                              ipywidgets.HBox([controls["w"], controls["h"]]),
                              ipywidgets.HBox([picture, caption])])
    return widgets.Interactive(controls, render, layout)


def nms_explorer(image, boxes, scores, *, truths=None, scale: int = 1,
                 box_format: str = "xywh") -> widgets.Interactive:
    """Widget: NMS on given detections with IoU-threshold and score-threshold sliders.

    Kept boxes are drawn in yellow, the ground truth (optional) in green.
    """
    import ipywidgets
    image = validation.as_image(image, "image")
    boxes = convert_boxes(boxes, box_format, "xywh", image_size=image.shape[:2])
    scores = as_scores(scores, len(boxes))
    truths = np.zeros((0, 4)) if truths is None else convert_boxes(truths, box_format, "xywh",
                                                                   image_size=image.shape[:2])
    scale = validation.as_int(scale, "scale", minimum=1, maximum=16)
    controls = {"iou_threshold": ipywidgets.FloatSlider(0.5, min=0.0, max=1.0, step=0.05,
                                                        description="IoU threshold"),
                "score_threshold": ipywidgets.FloatSlider(0.5, min=0.0, max=1.0, step=0.05,
                                                          description="score threshold"),
                "before": ipywidgets.Checkbox(False, description="show all boxes before NMS")}
    picture = ipywidgets.Image(format="jpeg")
    caption = ipywidgets.HTML()

    def render(values):
        kept = non_max_suppression(boxes, scores, iou_threshold=values["iou_threshold"],
                                   score_threshold=values["score_threshold"])
        shown = boxes if values["before"] else boxes[kept]
        colours = ([COLOURS["dropped"]] * len(boxes) if values["before"]
                   else [COLOURS["kept"]] * len(kept))
        drawn = draw_boxes(image, np.vstack([truths, shown]),
                           colours=[COLOURS["truth"]] * len(truths) + colours, scale=scale,
                           thickness=2)
        picture.value = widgets.encode(drawn, "jpeg")
        above = int(np.sum(scores >= values["score_threshold"]))
        caption.value = (f"{len(boxes)} boxes, {above} with score ≥ "
                         f"{values['score_threshold']:.2f}, <b>{len(kept)} kept</b> by NMS "
                         f"at IoU {values['iou_threshold']:.2f}")
        return {"kept": kept.tolist(), "above_score": above, "shown": len(shown)}

    layout = ipywidgets.VBox([ipywidgets.HBox([controls["iou_threshold"],
                                               controls["score_threshold"]]),
                              controls["before"], caption, picture])
    return widgets.Interactive(controls, render, layout)


# --------------------------------------------------------------------------------------------
# A one-stage detector: CenterNet-style heat maps (Zhou, Wang & Krähenbühl 2019)
# --------------------------------------------------------------------------------------------

CENTERNET_STRIDE = 8


def centernet_targets(scenes, *, stride: int = CENTERNET_STRIDE, classes: int = 10) \
        -> np.ndarray:
    """Training targets of the heat-map detector, one grid cell per ``stride`` pixels.

    Returns
    -------
    ndarray (N, H/stride, W/stride, 6 + classes) float32, per cell:
    0: the "objectness" heat map, a Gaussian peak of 1 at each object's centre cell;
    1-2: box width and height / 16; 3-4: the centre's offset inside its cell (0-1, x, y);
    5: 1 at the centre cells (where size and offset are learned);
    6-: the one-hot class of the object covering the cell: at its centre cell and at every
    cell whose middle lies inside its box (0 elsewhere). Several cells per object teach the
    class head (about 3.6 instead of 1 on the lesson's scenes), so it learns in fewer epochs;
    the decoder still reads the class at the centre.
    """
    scenes = _require_scenes(scenes)
    stride = validation.as_int(stride, "stride", minimum=1, maximum=32)
    classes = validation.as_int(classes, "classes", minimum=1)
    count, height, width = scenes.images.shape
    rows, columns = height // stride, width // stride
    targets = np.zeros((count, rows, columns, 6 + classes), dtype=np.float32)
    grid_y, grid_x = np.mgrid[0:rows, 0:columns]
    middle_x, middle_y = (grid_x + 0.5) * stride, (grid_y + 0.5) * stride
    for index, (boxes, labels) in enumerate(zip(scenes.boxes, scenes.labels)):
        for (x, y, w, h), label in zip(boxes, labels):
            centre_x, centre_y = (x + w / 2) / stride, (y + h / 2) / stride
            cell_x = min(int(centre_x), columns - 1)
            cell_y = min(int(centre_y), rows - 1)
            sigma = max(0.5, min(w, h) / stride / 3)
            peak = np.exp(-((grid_x - cell_x) ** 2 + (grid_y - cell_y) ** 2) / (2 * sigma ** 2))
            targets[index, :, :, 0] = np.maximum(targets[index, :, :, 0], peak)
            inside = ((middle_x >= x) & (middle_x < x + w) & (middle_y >= y)
                      & (middle_y < y + h))
            targets[index, inside, 6 + label] = 1.0
            targets[index, cell_y, cell_x, 6 + label] = 1.0
            targets[index, cell_y, cell_x, 1:6] = (w / 16, h / 16, centre_x - cell_x,
                                                   centre_y - cell_y, 1.0)
    return targets


def centernet_model(input_shape=(64, 64, 1), classes: int = 10, *, width: int = 24,
                    batch_norm: bool = True, name: str = "centernet"):
    """A small fully convolutional heat-map detector (Functional API, keras.ops only).

    Backbone: two stride-2 3x3 convolutions bring the image to a grid of one cell per 4
    pixels (the digits are 8x8 images enlarged about twice, so this loses no detail and costs
    a quarter of a full-resolution layer), a 3x3 convolution and a 2x2 max-pool to one cell
    per 8 pixels, then two more 3x3 convolutions: each cell sees about 50 pixels, a whole
    digit and its surroundings. Batch normalisation keeps large learning rates stable. Four
    1x1 heads per cell: objectness (sigmoid), box size, centre offset, class (softmax).

    Returns
    -------
    keras.Model mapping (N, H, W, C) float32 to (N, H/8, W/8, 5 + classes).
    """
    from lab_utils import models
    keras = lesson.import_keras()
    input_shape = models.as_input_shape(input_shape)
    classes = validation.as_int(classes, "classes", minimum=1)
    width = validation.as_int(width, "width", minimum=4, maximum=512)
    layers = keras.layers

    def block(x, filters, name, strides=1, dilation=1):
        x = layers.Conv2D(filters, 3, strides=strides, padding="same", dilation_rate=dilation,
                          use_bias=not batch_norm, name=name)(x)
        if batch_norm:  # momentum 0.9: the running statistics settle within a short training
            x = layers.BatchNormalization(momentum=0.9, name=f"{name}_norm")(x)
        return layers.Activation("relu", name=f"{name}_relu")(x)

    inputs = keras.Input(shape=input_shape, name="image")
    x = block(inputs, width // 2, "stem", strides=2)
    x = block(x, width, "conv_1", strides=2)
    x = block(x, width * 2, "conv_2")
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = block(x, width * 2, "conv_3")
    x = block(x, width * 2, "conv_4")
    # Objectness starts near 0.1 (bias -2.2): most cells are background (as in CenterNet).
    objectness = layers.Conv2D(1, 1, activation="sigmoid", name="objectness",
                               bias_initializer=keras.initializers.Constant(-2.2))(x)
    size = layers.Conv2D(2, 1, name="box_size")(x)
    offset = layers.Conv2D(2, 1, name="centre_offset")(x)
    label = layers.Conv2D(classes, 1, activation="softmax", name="class")(x)
    outputs = layers.Concatenate(name="detections")([objectness, size, offset, label])
    return keras.Model(inputs, outputs, name=name)


def centernet_loss(*, size_weight: float = 1.0, offset_weight: float = 1.0,
                   class_weight: float = 1.0):
    """The detector's loss, a weighted sum as on the slide's multitask loss:
    CenterNet's focal loss on the objectness map, L1 losses on the size and offset at the
    object centres, and the cross-entropy of the class near each centre; each term is
    divided by the number of objects."""
    keras = lesson.import_keras()
    ops = keras.ops

    def loss(y_true, y_pred):
        heat_true = y_true[..., 0]
        heat_pred = ops.clip(y_pred[..., 0], 1e-4, 1 - 1e-4)
        mask = y_true[..., 5:6]
        objects = ops.maximum(ops.sum(mask), 1.0)
        positive = ops.cast(heat_true >= 0.999, "float32")
        focal = -(positive * (1 - heat_pred) ** 2 * ops.log(heat_pred)
                  + (1 - positive) * (1 - heat_true) ** 4 * heat_pred ** 2
                  * ops.log(1 - heat_pred))
        size_error = ops.abs(y_true[..., 1:3] - y_pred[..., 1:3])
        offset_error = ops.abs(y_true[..., 3:5] - y_pred[..., 3:5])
        cross_entropy = -ops.sum(y_true[..., 6:] * ops.log(ops.clip(y_pred[..., 5:], 1e-6,
                                                                      1.0)), axis=-1)
        return (ops.sum(focal) + size_weight * ops.sum(size_error * mask)
                + offset_weight * ops.sum(offset_error * mask)
                + class_weight * ops.sum(cross_entropy)) / objects

    return loss


def decode_centernet(outputs, *, stride: int = CENTERNET_STRIDE, max_detections: int = 20,
                     score_threshold: float = 0.05) -> list:
    """Turn the detector's output maps into boxes: local maxima of the objectness map (a
    3x3 max filter replaces NMS, as in CenterNet), their size, offset and likeliest class.
    A box's score is objectness x class probability.

    Parameters
    ----------
    outputs : ndarray (N, rows, columns, 5 + classes)

    Returns
    -------
    list of N dicts with "boxes" (k, 4) "xywh" pixels, "scores" (k,), "labels" (k,)
    """
    from scipy import ndimage
    outputs = validation.as_array(outputs, "outputs")
    if outputs.ndim != 4 or outputs.shape[-1] < 6:
        raise ValueError(f"outputs must have shape (N, rows, columns, 5 + classes), but it "
                         f"has shape {outputs.shape}.")
    heat = outputs[..., 0]
    peaks = heat * (heat == ndimage.maximum_filter(heat, size=(1, 3, 3), mode="constant"))
    results = []
    for index in range(len(outputs)):
        probabilities = outputs[index, ..., 5:]
        scores_map = peaks[index] * probabilities.max(axis=-1)
        flat = scores_map.ravel()
        top = np.argsort(-flat, kind="stable")[:max_detections]
        top = top[flat[top] >= score_threshold]
        row, column = np.unravel_index(top, scores_map.shape)
        size = outputs[index, row, column, 1:3] * 16
        offset = outputs[index, row, column, 3:5]
        centre_x = (column + offset[:, 0]) * stride
        centre_y = (row + offset[:, 1]) * stride
        width, height = np.maximum(size[:, 0], 1), np.maximum(size[:, 1], 1)
        boxes = np.stack([centre_x - width / 2, centre_y - height / 2, width, height], axis=1)
        results.append({"boxes": boxes.astype(np.float64).reshape(-1, 4),
                        "scores": flat[top].astype(np.float64),
                        "labels": probabilities[row, column].argmax(axis=-1).astype(np.int64)})
    return results


def coco_evaluation(scenes, detections, *, quiet: bool = True) -> dict:
    """COCO-style mean average precision of ``detections`` on ``scenes``, by pycocotools.

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
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    scenes = _require_scenes(scenes)
    if not isinstance(detections, (list, tuple)) or len(detections) != len(scenes):
        raise ValueError(f"detections must be a list with one dict per scene ({len(scenes)}), "
                         f"but got {validation.describe(detections)}.")
    images, annotations, results = [], [], []
    height, width = scenes.images.shape[1:3]
    for index, (boxes, labels, found) in enumerate(zip(scenes.boxes, scenes.labels,
                                                       detections)):
        images.append({"id": index + 1, "height": int(height), "width": int(width)})
        for box, label in zip(boxes, labels):
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1,
                                "category_id": int(label) + 1, "bbox": [float(v) for v in box],
                                "area": float(box[2] * box[3]), "iscrowd": 0})
        found_boxes = as_boxes(found["boxes"], f"detections[{index}]['boxes']")
        scores = as_scores(found["scores"], len(found_boxes),
                           f"detections[{index}]['scores']")
        for box, score, label in zip(found_boxes, scores, found["labels"]):
            results.append({"image_id": index + 1, "category_id": int(label) + 1,
                            "bbox": [float(v) for v in box], "score": float(score)})
    ground_truth = COCO()
    ground_truth.dataset = {"images": images, "annotations": annotations,
                            "categories": [{"id": k + 1, "name": name}
                                           for k, name in enumerate(scenes.class_names)]}
    stream = io.StringIO()
    with contextlib.redirect_stdout(stream) if quiet else contextlib.nullcontext():
        ground_truth.createIndex()
        predicted = ground_truth.loadRes(results) if results else COCO()
        if not results:
            return {"map_50": 0.0, "map_50_95": 0.0, "map_75": 0.0,
                    "precision_50": np.zeros(101), "recall_points": np.linspace(0, 1, 101)}
        evaluation = COCOeval(ground_truth, predicted, "bbox")
        evaluation.params.maxDets = [1, 10, 100]
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    precision = evaluation.eval["precision"]          # (IoU, recall, class, area, maxDets)
    at_50 = precision[0, :, :, 0, -1]
    valid = at_50 > -1
    curve = np.where(valid, at_50, np.nan)
    return {"map_50": float(evaluation.stats[1]), "map_50_95": float(evaluation.stats[0]),
            "map_75": float(evaluation.stats[2]),
            "precision_50": np.nan_to_num(np.nanmean(curve, axis=1)),
            "recall_points": np.asarray(evaluation.params.recThrs)}


# --------------------------------------------------------------------------------------------
# Training with any loss, cached like models.train
# --------------------------------------------------------------------------------------------


def fit(model, inputs, targets, *, loss, loss_name: str, loss_weights=None, epochs: int = 10,
        batch_size: int = 64, learning_rate: float = 1e-3, seed: int = 0, cache: bool = True):
    """Compile ``model`` (Adam with cosine decay, the given loss) and fit it, seeded.

    Like ``models.train`` (whose cache it shares: an identical training is loaded from
    ``data.cache_dir()/trained`` in about a second), but for any loss: ``loss`` is a Keras
    loss or a dict of them per output, ``loss_name`` a text that names it in the cache key
    (a function's code is not hashed: change the name when the loss changes).

    Returns
    -------
    models.TrainingResult
    """
    from lab_utils import models
    models.require_model(model)
    inputs = models.as_batch(inputs, "inputs")
    if isinstance(targets, dict):
        arrays = [np.asarray(targets[key], dtype=np.float32) if
                  np.asarray(targets[key]).dtype.kind == "f" else np.asarray(targets[key])
                  for key in sorted(targets)]
        targets = dict(zip(sorted(targets), arrays))
    else:
        targets = validation.as_array(targets, "targets")
        arrays = [targets]
    for array in arrays:
        if len(array) != len(inputs):
            raise ValueError(f"targets must have one row per input ({len(inputs)}), but one "
                             f"has {len(array)}.")
    epochs = validation.as_int(epochs, "epochs", minimum=1, maximum=1000)
    batch_size = validation.as_int(batch_size, "batch_size", minimum=1)
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-7,
                                        maximum=10.0)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    if not isinstance(loss_name, str) or not loss_name:
        raise TypeError("loss_name must be a short text that names the loss, e.g. 'centernet'.")
    return models.fit(model, inputs, targets, loss=loss, loss_weights=loss_weights,
                      epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                      seed=seed, cache=cache, key_arrays=[inputs, *arrays],
                      key_settings={"epochs": epochs, "batch_size": batch_size, "seed": seed,
                                    "learning_rate": learning_rate, "loss": loss_name,
                                    "loss_weights": loss_weights, "fit": "detection.fit"})


def predict(model, images, batch_size: int = 256):
    """``model(images, training=False)`` in batches, as NumPy (a dict for several outputs)."""
    from lab_utils import models
    keras = lesson.import_keras()
    images = models.as_batch(images)
    parts = []
    for begin in range(0, len(images), batch_size):
        output = model(images[begin:begin + batch_size], training=False)
        if isinstance(output, dict):
            parts.append({k: keras.ops.convert_to_numpy(v) for k, v in output.items()})
        elif isinstance(output, (list, tuple)):
            parts.append([keras.ops.convert_to_numpy(v) for v in output])
        else:
            parts.append(keras.ops.convert_to_numpy(output))
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    if isinstance(parts[0], list):
        return [np.concatenate([p[i] for p in parts]) for i in range(len(parts[0]))]
    return np.concatenate(parts)


# The lesson's detector settings (measured in benchmarks/detection.py).
# 8000 scenes seen 5 times train better than 4000 seen 10 times, in the same time.
DETECTOR_SETTINGS = {"train_scenes": 8000, "train_seed": 1, "test_scenes": 300, "test_seed": 2,
                     "epochs": 5, "batch_size": 64, "learning_rate": 0.004, "width": 24}


def train_lesson_detector(train_scenes, *, seed: int = 0, epochs: int | None = None):
    """Build and train the lesson's heat-map detector on ``train_scenes`` (cached)."""
    settings = DETECTOR_SETTINGS
    model = centernet_model(train_scenes.images.shape[1:] + (1,),
                            len(train_scenes.class_names), width=settings["width"])
    result = fit(model, train_scenes.images, centernet_targets(train_scenes),
                 loss=centernet_loss(), loss_name="centernet focal+L1+CE v2",
                 epochs=epochs or settings["epochs"], batch_size=settings["batch_size"],
                 learning_rate=settings["learning_rate"], seed=seed)
    return result


def detect_scenes(model, scenes, *, score_threshold: float = 0.05) -> tuple[list, float]:
    """Run the heat-map detector on every scene: (detections per scene, seconds per image)."""
    scenes = _require_scenes(scenes)
    start = time.perf_counter()
    outputs = predict(model, scenes.images)
    found = decode_centernet(outputs, score_threshold=score_threshold)
    return found, (time.perf_counter() - start) / len(scenes)


# --------------------------------------------------------------------------------------------
# Single object: classification head + box head, one multitask loss
# --------------------------------------------------------------------------------------------


def single_object_model(input_shape=(32, 32, 1), classes: int = 10, *,
                        name: str = "single_object"):
    """A CNN with two heads, as on the slide "Detect Single Object": a softmax over the
    classes ("what") and 4 numbers, the box (x, y, w, h) / image side ("where").

    Both heads share the convolutions. The class head pools the feature maps globally (a
    digit is the same digit anywhere); the box head keeps their layout (Flatten), because
    "where" is exactly what global pooling throws away.

    Returns
    -------
    keras.Model with outputs {"class": (N, classes) probabilities, "box": (N, 4)}
    """
    from lab_utils import models
    keras = lesson.import_keras()
    input_shape = models.as_input_shape(input_shape)
    classes = validation.as_int(classes, "classes", minimum=2)
    layers = keras.layers
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for index, filters in enumerate((32, 64, 64), start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv_{index}")(x)
        if index < 3:
            x = layers.MaxPooling2D(2, name=f"pool_{index}")(x)
    pooled = layers.GlobalMaxPooling2D(name="global_max")(x)
    label = layers.Dense(classes, activation="softmax", name="class")(pooled)
    flat = layers.Flatten(name="flatten")(layers.MaxPooling2D(2, name="pool_3")(x))
    box = layers.Dense(4, name="box")(layers.Dense(64, activation="relu", name="box_hidden")(flat))
    return keras.Model(inputs, {"class": label, "box": box}, name=name)


def single_object_targets(scenes) -> dict:
    """{"class": (N,) labels, "box": (N, 4) float32 "xywh" / image side} of one-object scenes."""
    scenes = _require_scenes(scenes)
    if any(len(labels) != 1 for labels in scenes.labels):
        raise ValueError("single_object_targets needs scenes with exactly one object each "
                         "(generate_scenes(..., max_objects=1)).")
    side = scenes.images.shape[1]
    return {"class": np.array([labels[0] for labels in scenes.labels], dtype=np.int64),
            "box": (np.stack([boxes[0] for boxes in scenes.boxes]) / side).astype(np.float32)}


def train_single_object(scenes, *, class_weight: float = 1.0, box_weight: float = 1.0,
                        epochs: int = 10, seed: int = 0):
    """Train ``single_object_model`` with loss = class_weight * CE + box_weight * L2 (cached)."""
    class_weight = validation.as_float(class_weight, "class_weight", minimum=0.0)
    box_weight = validation.as_float(box_weight, "box_weight", minimum=0.0)
    lesson.reseed(seed)
    model = single_object_model(scenes.images.shape[1:] + (1,), len(scenes.class_names))
    return fit(model, scenes.images, single_object_targets(scenes),
               loss={"class": "sparse_categorical_crossentropy", "box": "mse"},
               loss_name="single object CE + MSE",
               loss_weights={"class": class_weight, "box": box_weight}, epochs=epochs,
               batch_size=64, learning_rate=3e-3, seed=seed)


def single_object_scores(model, scenes) -> dict:
    """Accuracy of the class head and mean IoU of the box head on one-object scenes."""
    targets = single_object_targets(scenes)
    outputs = predict(model, scenes.images)
    side = scenes.images.shape[1]
    boxes = np.clip(outputs["box"], 0, 1) * side
    boxes[:, 2:] = np.maximum(boxes[:, 2:], 0)
    truths = targets["box"] * side
    ious = np.array([iou_matrix(b[None], t[None])[0, 0] for b, t in zip(boxes, truths)])
    return {"accuracy": float(np.mean(outputs["class"].argmax(1) == targets["class"])),
            "mean_iou": float(ious.mean()), "iou_50": float(np.mean(ious >= 0.5)),
            "boxes": boxes}


# --------------------------------------------------------------------------------------------
# Sliding window and region proposals with a crop classifier
# --------------------------------------------------------------------------------------------

CROP = 24
BACKGROUND = 10   # class index of "no digit" for the crop classifier


def _crop(image, box, size: int = CROP) -> np.ndarray:
    """The square around ``box`` (xywh), enlarged by 15 %, cut out and resized to size x size."""
    import cv2
    x, y, w, h = box
    side = max(int(round(max(w, h) * 1.15 + 2)), 2)
    left, top = int(round(x + w / 2 - side / 2)), int(round(y + h / 2 - side / 2))
    padded = np.pad(image, side)          # windows may stick out of the image: zeros there
    piece = padded[top + side:top + 2 * side, left + side:left + 2 * side]
    return cv2.resize(piece.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)


def crop_dataset(scenes, *, negatives_per_scene: int = 2, seed: int = 0):
    """Crops for a window classifier: each object's square (label = its digit) and random
    squares that overlap no object much (IoU < 0.2, label ``BACKGROUND``).

    Returns
    -------
    images (M, 24, 24) float32 in [0, 1], labels (M,) int64 in 0..10
    """
    scenes = _require_scenes(scenes)
    rng = np.random.default_rng(seed)
    images, labels = [], []
    side = scenes.images.shape[1]
    for image, boxes, classes in zip(scenes.images, scenes.boxes, scenes.labels):
        for box, label in zip(boxes, classes):
            images.append(_crop(image, box))
            labels.append(int(label))
        made = 0
        for _attempt in range(50):
            if made == negatives_per_scene:
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


def sliding_windows(image_shape, *, sizes=(12, 16, 20, 24), stride: int = 4) -> np.ndarray:
    """Every square window of the given sizes, moved by ``stride`` pixels: (K, 4) "xywh"."""
    height, width = (validation.as_int(v, "image_shape", minimum=1) for v in image_shape[:2])
    stride = validation.as_int(stride, "stride", minimum=1)
    windows = []
    for size in sizes:
        size = validation.as_int(size, "sizes", minimum=2)
        for y in range(0, height - size + 1, stride):
            for x in range(0, width - size + 1, stride):
                windows.append([x, y, size, size])
    return np.array(windows, dtype=np.float64).reshape(-1, 4)


def classify_boxes(classifier, image, boxes) -> np.ndarray:
    """Class probabilities (K, 11) of the crop classifier on every box of one image."""
    image = validation.as_image(image, "image", channels=(None,))
    boxes = as_boxes(boxes)
    if not len(boxes):
        return np.zeros((0, BACKGROUND + 1), dtype=np.float32)
    crops = np.clip(np.stack([_crop(image, box) for box in boxes]), 0, 1)
    return predict(classifier, crops)


def detect_with_classifier(classifier, image, boxes, *, iou_threshold: float = 0.3,
                           score_threshold: float = 0.5) -> dict:
    """Classify each candidate box, keep the non-background ones, then NMS per class.

    Returns
    -------
    dict with "boxes", "scores", "labels" (after NMS), "evaluations" (classifier calls),
    "raw_boxes", "raw_scores" (before NMS)
    """
    boxes = as_boxes(boxes)
    probabilities = classify_boxes(classifier, image, boxes)
    labels = probabilities[:, :BACKGROUND].argmax(axis=1) if len(boxes) else \
        np.zeros(0, np.int64)
    scores = probabilities[np.arange(len(boxes)), labels] if len(boxes) else np.zeros(0)
    candidate = scores >= score_threshold
    kept_boxes, kept_scores, kept_labels = [], [], []
    for label in np.unique(labels[candidate]):
        chosen = np.flatnonzero(candidate & (labels == label))
        keep = chosen[non_max_suppression(boxes[chosen], scores[chosen],
                                          iou_threshold=iou_threshold)]
        kept_boxes.append(boxes[keep])
        kept_scores.append(scores[keep])
        kept_labels.append(labels[keep])
    if kept_boxes:
        return {"boxes": np.concatenate(kept_boxes), "scores": np.concatenate(kept_scores),
                "labels": np.concatenate(kept_labels).astype(np.int64),
                "evaluations": len(boxes), "raw_boxes": boxes[candidate],
                "raw_scores": scores[candidate]}
    return {"boxes": np.zeros((0, 4)), "scores": np.zeros(0), "labels": np.zeros(0, np.int64),
            "evaluations": len(boxes), "raw_boxes": np.zeros((0, 4)), "raw_scores": np.zeros(0)}


def window_score_map(classifier, image, *, size: int = 16, stride: int = 2) -> np.ndarray:
    """The classifier's best digit probability for every window of one size: (rows, cols)."""
    image = validation.as_image(image, "image", channels=(None,))
    windows = sliding_windows(image.shape, sizes=(size,), stride=stride)
    probabilities = classify_boxes(classifier, image, windows)
    rows = (image.shape[0] - size) // stride + 1
    return probabilities[:, :BACKGROUND].max(axis=1).reshape(rows, -1)


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


def selective_search(image, *, mode: str = "fast", max_side: int | None = None,
                     seed: int = 0):
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
    image = widgets.to_uint8(validation.as_image(image, "image"))
    validation.one_of(mode, "mode", ["fast", "quality"])
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    scale = 1.0
    if max_side is not None:
        max_side = validation.as_int(max_side, "max_side", minimum=16)
        scale = min(1.0, max_side / max(image.shape[:2]))
        if scale < 1.0:
            image = cv2.resize(image, (round(image.shape[1] * scale),
                                       round(image.shape[0] * scale)),
                               interpolation=cv2.INTER_AREA)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**31 - 1)
    cv2.setNumThreads(1)   # repeatable timing next to other work
    _seed_c_rand(seed)
    start = time.perf_counter()
    search = cv2.ximgproc.segmentation.createSelectiveSearchSegmentation()
    search.setBaseImage(np.ascontiguousarray(image[..., ::-1]))   # OpenCV wants BGR
    (search.switchToSelectiveSearchFast if mode == "fast"
     else search.switchToSelectiveSearchQuality)()
    boxes = search.process().astype(np.float64).reshape(-1, 4) / scale
    return boxes, time.perf_counter() - start


def proposal_recall(proposals, truths, counts, *, iou_threshold: float = 0.5) -> list[float]:
    """Fraction of ground-truth boxes covered (IoU >= threshold) by the first k proposals,
    for each k in ``counts``."""
    proposals, truths = as_boxes(proposals, "proposals"), as_boxes(truths, "truths")
    if not len(truths):
        raise ValueError("truths is empty: recall needs at least one ground-truth box.")
    overlaps = iou_matrix(proposals, truths)
    return [float(np.mean(overlaps[:int(k)].max(axis=0, initial=0) >= iou_threshold))
            for k in counts]


# --------------------------------------------------------------------------------------------
# Real photos and ready-made detectors
# --------------------------------------------------------------------------------------------


def photo_truths(table: dict, image: str, category: str) -> np.ndarray:
    """Ground-truth boxes ("xywh") of one category on one photo, from the annotation table."""
    if not isinstance(table, dict) or "image" not in table:
        raise TypeError("table must be data.load_table('detection_photos').")
    rows = [i for i, (name, kind) in enumerate(zip(table["image"], table["category"]))
            if name == image and kind == category]
    return np.array([[table[k][i] for k in ("x", "y", "w", "h")] for i in rows],
                    dtype=np.float64).reshape(-1, 4)


HAAR_CASCADES = {"face": "haarcascade_frontalface_default.xml", "eye": "haarcascade_eye.xml",
                 "person": "haarcascade_fullbody.xml",
                 "cat": "haarcascade_frontalcatface.xml"}


def haar_detect(image, category: str = "face", *, scale_factor: float = 1.1,
                min_neighbors: int = 5, min_size: int = 24) -> tuple[np.ndarray, float]:
    """OpenCV's Haar cascade (Viola & Jones 2001) for ``category``: (boxes xywh, seconds)."""
    import cv2
    validation.one_of(category, "category", list(HAAR_CASCADES))
    gray = widgets.to_uint8(validation.as_image(image, "image"))
    if gray.ndim == 3:
        gray = cv2.cvtColor(gray, cv2.COLOR_RGB2GRAY)
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + HAAR_CASCADES[category])
    start = time.perf_counter()
    found = cascade.detectMultiScale(gray, scaleFactor=scale_factor, minNeighbors=min_neighbors,
                                     minSize=(min_size, min_size))
    return np.asarray(found, dtype=np.float64).reshape(-1, 4), time.perf_counter() - start


def dlib_detect(image, method: str = "hog", *, max_side: int | None = None,
                upsample: int = 0) -> tuple[np.ndarray, float]:
    """dlib's face detectors: "hog" (HOG + linear SVM, built into dlib) or "cnn" (the MMOD
    CNN shipped by face-recognition-models). Returns (boxes xywh in the original pixels,
    seconds). ``max_side`` shrinks the photo first (the CNN takes ~11 s per 512-px image on
    2 cores)."""
    import cv2
    import dlib
    validation.one_of(method, "method", ["hog", "cnn"])
    picture = widgets.to_uint8(validation.as_image(image, "image"))
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)
    scale = 1.0
    if max_side is not None and max(picture.shape[:2]) > max_side:
        scale = max_side / max(picture.shape[:2])
        picture = cv2.resize(picture, (round(picture.shape[1] * scale),
                                       round(picture.shape[0] * scale)),
                             interpolation=cv2.INTER_AREA)
    picture = np.ascontiguousarray(picture)
    if method == "hog":
        detector = dlib.get_frontal_face_detector()
    else:
        import face_recognition_models
        detector = dlib.cnn_face_detection_model_v1(
            face_recognition_models.cnn_face_detector_model_location())
    start = time.perf_counter()
    found = detector(picture, upsample)
    seconds = time.perf_counter() - start
    rectangles = [getattr(item, "rect", item) for item in found]
    boxes = np.array([[r.left(), r.top(), r.width(), r.height()] for r in rectangles],
                     dtype=np.float64).reshape(-1, 4) / scale
    return boxes, seconds


def precision_recall(found, truths, *, iou_threshold: float = 0.5) -> dict:
    """True positives, false positives, misses, precision and recall of one set of boxes."""
    found, truths = as_boxes(found, "found"), as_boxes(truths, "truths")
    matched = match_detections(found, np.ones(len(found)), truths, iou_threshold=iou_threshold)
    true_positives = int(np.sum(matched >= 0))
    return {"true_positives": true_positives,
            "false_positives": int(len(found) - true_positives),
            "misses": int(len(truths) - true_positives),
            "precision": true_positives / len(found) if len(found) else float("nan"),
            "recall": true_positives / len(truths) if len(truths) else float("nan")}


def retinanet_parts(image_side: int = 128, classes: int = 3) -> dict:
    """Build KerasHub's RetinaNet (Lin et al. 2017) offline with random weights, on a small
    ResNet backbone, and list its parts: backbone, feature pyramid, heads, anchors, decoder.

    Nothing is downloaded: pretrained weights need ``from_preset`` and an internet
    connection (see ``RETINANET_PRETRAINED``).

    Returns
    -------
    dict: "model", "parts" (list of (name, kind, parameters)), "parameters", "anchors"
    (anchor boxes on an image_side x image_side image), "outputs" (shapes of one raw
    forward pass), "seconds" (that pass), "decoder" (the class that does the NMS)
    """
    keras = lesson.import_keras()
    image_side = validation.as_int(image_side, "image_side", minimum=32, maximum=1024)
    classes = validation.as_int(classes, "classes", minimum=1)
    with lesson.native_stderr_silenced():
        import keras_hub
        encoder = keras_hub.models.ResNetBackbone(
            input_conv_filters=[64], input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 64, 64, 64], stackwise_num_blocks=[1, 1, 1, 1],
            stackwise_num_strides=[1, 2, 2, 2], block_type="basic_block",
            use_pre_activation=False, image_shape=(None, None, 3))
        backbone = keras_hub.models.RetinaNetBackbone(image_encoder=encoder, min_level=3,
                                                      max_level=5, use_p5=False)
        anchors = keras_hub.layers.AnchorGenerator(
            bounding_box_format="yxyx", min_level=3, max_level=5, num_scales=3,
            aspect_ratios=[0.5, 1.0, 2.0], anchor_size=4)
        model = keras_hub.models.RetinaNetObjectDetector(
            backbone=backbone, num_classes=classes, anchor_generator=anchors,
            bounding_box_format="yxyx")
        image = np.zeros((1, image_side, image_side, 3), dtype=np.float32)
        start = time.perf_counter()
        raw = model(image, training=False)
        seconds = time.perf_counter() - start
        anchor_boxes = anchors(image)
    parts = [(layer.name, type(layer).__name__, int(layer.count_params()))
             for layer in model.layers if layer.count_params()]
    parts.insert(0, ("resnet (inside the backbone)", type(encoder).__name__,
                     int(encoder.count_params())))
    return {"model": model, "parts": parts, "parameters": int(model.count_params()),
            "anchors": int(sum(np.asarray(keras.ops.convert_to_numpy(v)).shape[0]
                               for v in anchor_boxes.values())),
            "outputs": {k: tuple(v.shape) for k, v in raw.items()}, "seconds": seconds,
            "decoder": type(model.prediction_decoder).__name__}


RETINANET_PRETRAINED = '''\
# Needs an internet connection (downloads about 150 MB of COCO-trained weights):
import keras_hub
detector = keras_hub.models.RetinaNetObjectDetector.from_preset(
    "retinanet_resnet50_fpn_coco", bounding_box_format="xywh")
found = detector.predict(photo[None])     # boxes, confidence, labels (COCO's 80 classes)
'''


def plot_history(table: dict):
    """Detection milestones on a timeline, coloured by kind (from 'detection_history')."""
    from lab_utils.plots import new_figure
    figure = new_figure(figsize=(9.5, 3.6))
    axes = figure.add_subplot(1, 1, 1)
    kinds = sorted(set(table["kind"]))
    colours = dict(zip(kinds, ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e",
                               "#e6ab02", "#a6761d"]))
    seen: dict[int, int] = {}
    for year, method, kind in zip(table["year"], table["method"], table["kind"]):
        level = seen.get(year, 0)
        seen[year] = level + 1
        height = 1 + level * 0.9 + (year % 2) * 0.45
        axes.vlines(year, 0, height, color=colours[kind], linewidth=1)
        axes.plot(year, 0, "o", color=colours[kind])
        axes.text(year, height, method, rotation=30, ha="left", va="bottom", fontsize=8,
                  color=colours[kind])
    for kind, colour in colours.items():
        axes.plot([], [], "o", color=colour, label=kind)
    axes.legend(loc="upper left", fontsize=8, ncol=len(kinds))
    axes.set_ylim(-0.3, 5)
    axes.set_yticks([])
    axes.set_xlim(min(table["year"]) - 1, max(table["year"]) + 3)
    axes.set_xlabel("year of publication")
    axes.set_title("Object detection milestones (sources: data/detection_history.csv)")
    return figure


# --------------------------------------------------------------------------------------------
# Exercise checks (compared with Keras, TensorFlow and pycocotools, never a stored solution)
# --------------------------------------------------------------------------------------------

_CONVERT_HINT = ("(x, y, w, h) -> (x1, y1, x2, y2): the left/top corner stays, the right "
                 "edge is x + w and the bottom edge y + h. Work on whole columns: boxes[:, 0] "
                 "is every x.")


@exercises.checker("xywh_to_xyxy", forbid=["keras.utils.bounding_boxes.convert_format",
                                           "lab_utils.detection.convert_boxes"])
def check_xywh_to_xyxy(student):
    """Check ``xywh_to_xyxy(boxes) -> (N, 4)`` against Keras's ``convert_format``."""
    from keras.utils import bounding_boxes
    rng = np.random.default_rng(11)
    cases = [np.array([[2.0, 3.0, 4.0, 5.0]]),
             np.array([[0.0, 0.0, 10.0, 20.0], [5.5, 1.25, 0.0, 3.0]]),
             np.column_stack([rng.uniform(0, 100, (7, 2)), rng.uniform(1, 40, (7, 2))]),
             np.zeros((0, 4))]
    for boxes in cases:
        name = f"xywh_to_xyxy(boxes of shape {boxes.shape})"
        result = student(boxes.copy(), name=name, hint=_CONVERT_HINT)
        expected = (np.asarray(bounding_boxes.convert_format(boxes, "xywh", "xyxy"),
                               dtype=np.float64) if len(boxes) else np.zeros((0, 4)))
        x, y, w, h = boxes.T
        mistakes = [
            (np.stack([x, y, x + w - 1, y + h - 1], axis=1), "that is the pixel-inclusive "
             "corner (x + w - 1). With continuous coordinates the right edge is x + w: a box "
             "of width w spans from x to x + w."),
            (boxes, "the boxes came back unchanged."),
            (np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1), "that treats "
             "(x, y) as the centre; in the slide's (x, y, w, h) it is the top-left corner."),
            (np.stack([y, x, y + h, x + w], axis=1), "x and y are swapped (that is 'yxyx', "
             "TensorFlow's order)."),
            (np.stack([x, y, w - x, h - y], axis=1), "x2 = x + w, not w - x."),
        ]
        exercises.expect_array(result, expected, name=name, hint=_CONVERT_HINT, atol=1e-4,
                               known_mistakes=[m for m in mistakes if len(boxes)])
    return len(cases)


def _finite_number(value) -> bool:
    """True for an int or float (not bool) that is finite as a float (10**400 is not)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return bool(np.isfinite(float(value)))
    except OverflowError:
        return False


_IOU_HINT = ("intersection width = max(0, min(right edges) - max(left edges)), the same for "
             "the height; IoU = intersection / (area_a + area_b - intersection).")


def _iou_cases():
    return [((0.0, 0.0, 10.0, 10.0), (5.0, 5.0, 15.0, 15.0)),     # partial overlap
            ((0.0, 0.0, 10.0, 10.0), (20.0, 20.0, 30.0, 30.0)),   # disjoint both ways
            ((0.0, 0.0, 10.0, 10.0), (0.0, 20.0, 10.0, 30.0)),    # disjoint in y only
            ((0.0, 0.0, 10.0, 10.0), (10.0, 0.0, 20.0, 10.0)),    # touching edges
            ((2.0, 3.0, 8.0, 9.0), (2.0, 3.0, 8.0, 9.0)),         # identical
            ((0.0, 0.0, 20.0, 20.0), (5.0, 5.0, 10.0, 10.0)),     # one inside the other
            ((1.5, 2.5, 30.0, 12.0), (10.0, 0.0, 25.0, 40.0)),    # wide and tall
            ((0.0, 0.0, 4.0, 40.0), (1.0, 30.0, 50.0, 35.0))]


@exercises.checker("iou", forbid=["keras.utils.bounding_boxes.compute_iou",
                                  "lab_utils.detection.iou_matrix",
                                  "lab_utils.detection.box_areas"])
def check_iou(student):
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
        ax1, ay1, ax2, ay2 = box_a
        bx1, by1, bx2, by2 = box_b
        raw_w, raw_h = min(ax2, bx2) - max(ax1, bx1), min(ay2, by2) - max(ay1, by1)
        area_a, area_b = (ax2 - ax1) * (ay2 - ay1), (bx2 - bx1) * (by2 - by1)
        unclipped = raw_w * raw_h / (area_a + area_b - raw_w * raw_h)
        inclusive_i = max(raw_w + 1, 0) * max(raw_h + 1, 0)
        inclusive = inclusive_i / ((ax2 - ax1 + 1) * (ay2 - ay1 + 1)
                                   + (bx2 - bx1 + 1) * (by2 - by1 + 1) - inclusive_i)
        clipped = max(raw_w, 0) * max(raw_h, 0)
        over_sum = clipped / (area_a + area_b)
        a_as_xywh = iou_matrix([[ax1, ay1, ax2, ay2]], [[bx1, by1, bx2, by2]], "xywh")[0, 0]
        if _finite_number(result) and not np.isclose(result, expected, atol=1e-5):
            if isinstance(result, (int, np.integer)) and 0 < expected < 1:
                exercises.fail(f"{name} returned the whole number {result}, expected "
                               f"{expected:.4g}: IoU is a fraction between 0 and 1; do not "
                               f"round it or convert it with int() (and use / rather "
                               f"than //).", _IOU_HINT)
            if expected == 0 and result > 0 and raw_w <= 0 and raw_h <= 0:
                exercises.fail(f"{name} returned {result:.4g}, expected 0: these boxes do not "
                               f"overlap, but both the width and the height of the "
                               f"'intersection' are negative, and their product is positive. "
                               f"Clip each to 0 first.", _IOU_HINT)
            if expected == 0 and not np.isclose(result, 0) and np.isclose(result, unclipped):
                exercises.fail(f"{name} returned {result:.4g}, expected 0: the boxes do not "
                               f"overlap; a negative intersection width or height must "
                               f"become 0.", _IOU_HINT)
            for value, message in [
                    (inclusive, "that counts pixels inclusively (x2 - x1 + 1). These corners "
                                "are continuous coordinates: the width is x2 - x1."),
                    (over_sum, "the union is area_a + area_b - intersection (the overlap "
                               "would be counted twice)."),
                    (a_as_xywh, "that reads the boxes as (x, y, w, h); iou receives corners "
                                "(x1, y1, x2, y2)."),
                    (clipped / min(area_a, area_b), "that divides by the smaller area, not "
                                                    "by the union."),
                    (clipped, "that is the intersection's area; IoU divides it by the "
                              "union's area.")]:
                if np.isclose(result, value, atol=1e-5):
                    exercises.fail(f"{name} returned {result:.4g}, expected {expected:.4g}: "
                                   f"{message}", _IOU_HINT)
        exercises.expect_number(result, expected, name=name, hint=_IOU_HINT, atol=1e-5,
                                rtol=1e-4)
    return len(cases)


_NMS_HINT = ("sort the indices by score, highest first (np.argsort(-scores)); take the first, "
             "keep it, remove every remaining index whose IoU with it is above the threshold; "
             "repeat until none is left. Use your iou function.")


def _nms_cases():
    rng = np.random.default_rng(12)
    cases = []
    for count in (8, 15, 30):
        corners = rng.uniform(0, 20, (count, 2))     # crowded: many overlaps
        sizes = rng.uniform(10, 30, (count, 2))
        boxes = np.column_stack([corners, corners + sizes])
        cases.append((boxes, rng.permutation(count) / count + 0.01, 0.5))
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [2, 0, 12, 10], [3, 0, 13, 10],
                      [30, 30, 40, 40]], float)
    # A chain: 0 suppresses 1, 1 would suppress 2 but 1 is gone, so 2 survives (0 and 2 overlap
    # less); comparing with the last *examined* box instead of the kept ones fails here.
    cases.append((boxes, np.array([0.9, 0.8, 0.7, 0.6, 0.5]), 0.6))
    cases.append((boxes[::-1].copy(), np.array([0.5, 0.6, 0.7, 0.8, 0.9]), 0.6))
    cases.append((np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), np.array([0.2, 0.9]),
                  0.5))
    cases.append((boxes, np.array([0.9, 0.8, 0.7, 0.6, 0.5]), 0.3))
    return cases


@exercises.checker("nms", forbid=["tensorflow.image.non_max_suppression",
                                  "lab_utils.detection.non_max_suppression"])
def check_nms(student):
    """Check ``nms(boxes, scores, iou_threshold) -> list of kept indices`` against
    ``tf.image.non_max_suppression`` (random boxes, chains of overlaps, unsorted scores)."""
    with lesson.native_stderr_silenced():
        import tensorflow as tf
    cases = _nms_cases()
    for boxes, scores, threshold in cases:
        name = f"nms(boxes of shape {boxes.shape}, scores, iou_threshold={threshold})"
        result = student(boxes.copy(), scores.copy(), threshold, name=name, hint=_NMS_HINT)
        expected = tf.image.non_max_suppression(boxes[:, [1, 0, 3, 2]], scores, len(boxes),
                                                iou_threshold=threshold).numpy()
        if result is None:
            exercises.fail(f"{name} returned None. Did you forget `return`?", _NMS_HINT)
        kept = np.asarray(result)
        if kept.ndim == 2 and kept.shape[1:] == (4,):
            exercises.fail(f"{name} returned boxes; return the indices of the kept boxes "
                           f"(e.g. [3, 0, 5]), highest score first.", _NMS_HINT)
        if kept.ndim != 1 or (kept.size and not np.issubdtype(kept.dtype, np.integer)):
            exercises.fail(f"{name} returned {exercises.describe_argument(result)}; expected "
                           f"a list of whole-number indices such as {expected.tolist()}.",
                           _NMS_HINT)
        if kept.tolist() == expected.tolist():
            continue
        if sorted(kept.tolist()) == list(range(len(boxes))) and len(expected) < len(boxes):
            exercises.fail(f"{name} kept every box; boxes that overlap a kept, better box by "
                           f"more than the threshold must go.", _NMS_HINT)
        if sorted(kept.tolist()) == sorted(expected.tolist()):
            exercises.fail(f"{name} kept the right boxes {sorted(expected.tolist())} but in "
                           f"the order {kept.tolist()}; return them highest score first: "
                           f"{expected.tolist()}.", _NMS_HINT)
        exercises.fail(f"{name} kept {kept.tolist()}, expected {expected.tolist()}. Are the "
                       f"boxes taken by decreasing score, and is each compared with the boxes "
                       f"already kept (not with the last one looked at)?", _NMS_HINT)
    return len(cases)


_LOSS_HINT = ("cross-entropy = mean over the examples of -log(probability of the true "
              "class); L2 = mean over all box numbers of (prediction - target)**2; "
              "loss = cross-entropy + box_weight * L2.")


@exercises.checker("multitask_loss",
                   forbid=["keras.losses.SparseCategoricalCrossentropy",
                           "keras.losses.sparse_categorical_crossentropy",
                           "keras.losses.MeanSquaredError", "keras.losses.mean_squared_error",
                           "sklearn.metrics.log_loss", "sklearn.metrics.mean_squared_error"])
def check_multitask_loss(student):
    """Check ``multitask_loss(probabilities, labels, boxes, box_targets, box_weight)``
    against Keras's sparse categorical cross-entropy + box_weight x mean squared error (what
    ``compile(loss={...}, loss_weights={...})`` minimises)."""
    keras = lesson.import_keras()
    rng = np.random.default_rng(13)
    cases = []
    for count, classes, weight in [(4, 3, 1.0), (10, 10, 5.0), (1, 2, 0.0), (6, 4, 0.3)]:
        logits = rng.normal(size=(count, classes))
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        cases.append((probabilities, rng.integers(0, classes, count),
                      rng.uniform(0, 1, (count, 4)), rng.uniform(0, 1, (count, 4)), weight))
    for probabilities, labels, boxes, targets, weight in cases:
        name = (f"multitask_loss(probabilities {probabilities.shape}, labels, boxes, "
                f"box_targets, box_weight={weight})")
        result = student(probabilities.copy(), labels.copy(), boxes.copy(), targets.copy(),
                         weight, name=name, hint=_LOSS_HINT)
        cross_entropy = float(keras.losses.SparseCategoricalCrossentropy()(labels,
                                                                            probabilities))
        squared = float(keras.losses.MeanSquaredError()(targets, boxes))
        expected = cross_entropy + weight * squared
        if isinstance(result, np.ndarray) and result.size == 1:
            result = result.reshape(())
        if _finite_number(result) and not np.isclose(result, expected, rtol=1e-4):
            count = len(labels)
            true_probability = probabilities[np.arange(count), labels]
            for value, message in [
                    (cross_entropy + squared, "box_weight is not used: multiply the L2 part "
                                              "by it."),
                    (weight * cross_entropy + squared, "the weight multiplies the box (L2) "
                                                       "loss, not the cross-entropy."),
                    (cross_entropy + weight * squared * 4, "the L2 part is summed over the 4 "
                                                           "box numbers; take the mean of all "
                                                           "N x 4 numbers, as Keras's 'mse'."),
                    (cross_entropy * count + weight * squared * count * 4, "these are sums; "
                                                                           "take means."),
                    (cross_entropy + weight * float(np.mean(np.abs(targets - boxes))),
                     "that is an L1 (absolute) error; the slide's L2 loss squares it."),
                    (cross_entropy + weight * float(np.sqrt(squared)), "no square root: the "
                                                                       "L2 loss is the mean "
                                                                       "squared error."),
                    (float(np.mean(-np.log(probabilities.max(axis=1)))) + weight * squared,
                     "the cross-entropy uses the probability of the TRUE class "
                     "(probabilities[i, labels[i]]), not the largest one."),
                    (float(np.mean(-true_probability)) + weight * squared,
                     "the cross-entropy takes the LOG of the true class's probability: "
                     "mean of -log(p), not of -p."),
                    (float(np.mean(-np.log10(true_probability))) + weight * squared,
                     "that is log10; the cross-entropy uses the natural log (np.log)."),
                    (float(np.mean(-np.log(probabilities))) + weight * squared,
                     "that averages -log over EVERY class; only the true class's probability "
                     "counts: probabilities[np.arange(N), labels]."),
                    (float(np.mean(-np.log(probabilities[:, labels]))) + weight * squared,
                     "probabilities[:, labels] is an N x N table (every example with every "
                     "label); pair example i with its own label: "
                     "probabilities[np.arange(N), labels]."),
                    (cross_entropy * count + weight * squared, "the cross-entropy is summed; "
                                                               "take its mean over the N "
                                                               "examples."),
                    (cross_entropy + weight * squared / 2, "no factor 1/2: Keras's 'mse' is "
                                                           "the plain mean of the squared "
                                                           "errors.")]:
                if np.isclose(result, value, rtol=1e-4):
                    exercises.fail(f"{name} returned {result:.6g}, expected {expected:.6g}: "
                                   f"{message}", _LOSS_HINT)
        exercises.expect_number(result, expected, name=name, hint=_LOSS_HINT, rtol=1e-4,
                                atol=1e-6)
    return len(cases)


_MATCH_HINT = ("go through the detections from the highest score down; each one takes the "
               "not-yet-matched ground-truth box it overlaps most, if that IoU is at least "
               "the threshold; otherwise it gets -1 (a false positive).")


def _match_cases():
    rng = np.random.default_rng(14)
    cases = []
    truths = np.array([[0, 0, 10, 10], [20, 0, 10, 10], [40, 40, 12, 12]], float)
    found = np.array([[1, 1, 10, 10], [0, 0, 10, 10], [21, 1, 9, 9], [60, 60, 5, 5],
                      [39, 41, 12, 12]], float)
    cases.append((found, np.array([0.6, 0.9, 0.8, 0.7, 0.5]), truths, 0.5))
    # The best-overlapping truth, not the first one above the threshold:
    cases.append((np.array([[5, 0, 10, 10]], float), np.array([0.9]),
                  np.array([[0, 0, 10, 10], [4, 0, 10, 10]], float), 0.3))
    for count in (6, 12):
        truths = np.column_stack([rng.uniform(0, 80, (count, 2)), rng.uniform(8, 20, (count, 2))])
        jitter = truths[rng.integers(0, count, count + 4)] + rng.normal(0, 2.5, (count + 4, 4))
        jitter[:, 2:] = np.abs(jitter[:, 2:]) + 1
        cases.append((jitter, rng.permutation(count + 4) / (count + 4), truths, 0.5))
    cases.append((found, np.array([0.6, 0.9, 0.8, 0.7, 0.5]), truths[:0], 0.5))
    cases.append((found[:2], np.array([0.6, 0.9]), np.array([[0, 0, 10, 10]], float), 0.95))
    # IoU exactly at the threshold (50 / 100) is a match in pycocotools (>=):
    cases.append((np.array([[0, 0, 10, 5]], float), np.array([0.8]),
                  np.array([[0, 0, 10, 10]], float), 0.5))
    return cases


def _greedy_matches(overlaps, scores, threshold, *, strict: bool = False) -> np.ndarray:
    """Greedy matching from the highest score down on an IoU table (for known mistakes)."""
    matches = np.full(len(overlaps), -1)
    taken: set = set()
    for index in np.argsort(-np.asarray(scores), kind="stable"):
        best, best_iou = -1, threshold
        for truth in range(overlaps.shape[1]):
            value = overlaps[index, truth]
            if truth not in taken and (value > best_iou if strict or best >= 0
                                       else value >= best_iou):
                best, best_iou = truth, value
        if best >= 0:
            matches[index] = best
            taken.add(best)
    return matches


def _iou_read_as_corners(found, truths) -> np.ndarray:
    """The IoU table a student's iou gives when (x, y, w, h) boxes are passed unconverted."""
    a, b = found[:, None, :], truths[None, :, :]
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0,
                     None)
    inter = width * height
    union = ((a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
             + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _coco_matches(found, scores, truths, threshold) -> np.ndarray:
    """pycocotools' own matching (COCOeval.evaluateImg) for one image and one class."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    ground = COCO()
    ground.dataset = {"images": [{"id": 1, "height": 200, "width": 200}],
                      "categories": [{"id": 1, "name": "object"}],
                      "annotations": [{"id": k + 1, "image_id": 1, "category_id": 1,
                                       "bbox": [float(v) for v in box],
                                       "area": float(box[2] * box[3]), "iscrowd": 0}
                                      for k, box in enumerate(truths)]}
    with contextlib.redirect_stdout(io.StringIO()):
        ground.createIndex()
        results = ground.loadRes([{"image_id": 1, "category_id": 1, "score": float(s),
                                   "bbox": [float(v) for v in box]}
                                  for box, s in zip(found, scores)])
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


@exercises.checker("match_detections", forbid=["pycocotools.cocoeval.COCOeval.evaluateImg",
                                               "pycocotools.cocoeval.COCOeval.evaluate",
                                               "lab_utils.detection.match_detections",
                                               "lab_utils.detection.precision_recall"])
def check_match_detections(student):
    """Check ``match_detections(found, scores, truths, iou_threshold) -> (N,) ints``
    against pycocotools' matching (``COCOeval.evaluateImg``); boxes are "xywh"."""
    cases = _match_cases()
    for found, scores, truths, threshold in cases:
        name = (f"match_detections(found {found.shape}, scores, truths {truths.shape}, "
                f"iou_threshold={threshold})")
        result = student(found.copy(), scores.copy(), truths.copy(), threshold, name=name,
                         hint=_MATCH_HINT)
        expected = _coco_matches(found, scores, truths, threshold)
        if isinstance(result, (list, tuple)) and any(value is None for value in result):
            exercises.fail(f"{name} returned None for some detections; write -1 for a "
                           f"detection that matches no ground-truth box.", _MATCH_HINT)
        if isinstance(result, list):
            result = np.array(result)
        if isinstance(result, np.ndarray) and result.dtype == bool:
            exercises.fail(f"{name} returned True/False for each detection; return the INDEX "
                           f"of the ground-truth box it matches (0, 1, ...), or -1.",
                           _MATCH_HINT)
        overlaps = iou_matrix(found, truths) if len(truths) else np.zeros((len(found), 0))
        mistakes = []
        if len(truths):
            greedy_by_order = np.full(len(found), -1)
            taken = set()
            for index in range(len(found)):
                candidates = [t for t in np.argsort(-overlaps[index])
                              if t not in taken and overlaps[index, t] >= threshold]
                if candidates:
                    greedy_by_order[index] = candidates[0]
                    taken.add(candidates[0])
            mistakes.append((greedy_by_order, "the detections must be taken from the highest "
                                              "score down (a better detection of the same "
                                              "object comes first)."))
            no_exclusive = np.where(overlaps.max(axis=1) >= threshold, overlaps.argmax(axis=1),
                                    -1)
            mistakes.append((no_exclusive, "each ground-truth box can be matched only once: "
                                           "a second detection of the same object is a false "
                                           "positive (a duplicate)."))
            first_above = np.full(len(found), -1)
            taken = set()
            for index in np.argsort(-scores, kind="stable"):
                candidates = [t for t in range(len(truths))
                              if t not in taken and overlaps[index, t] >= threshold]
                if candidates:
                    first_above[index] = candidates[0]
                    taken.add(candidates[0])
            mistakes.append((first_above, "a detection takes the free ground-truth box it "
                                          "overlaps MOST, not the first one above the "
                                          "threshold."))
            strict = _greedy_matches(overlaps, scores, threshold, strict=True)
            mistakes.append((strict, "an IoU exactly equal to the threshold counts as a match "
                                     "(IoU >= threshold, as in pycocotools)."))
            as_corners = _greedy_matches(_iou_read_as_corners(found, truths), scores,
                                         threshold)
            mistakes.append((as_corners, "the boxes are (x, y, w, h): convert them to corners "
                                         "(your xywh_to_xyxy) before calling your iou."))
        exercises.expect_array(result, expected.astype(np.int64), name=name, hint=_MATCH_HINT,
                               known_mistakes=[(m.astype(np.int64), text)
                                               for m, text in mistakes])
    return len(cases)


# --------------------------------------------------------------------------------------------
# Showing and comparing detectors
# --------------------------------------------------------------------------------------------


def detector_viewer(model, scenes, *, scale: int = 4) -> widgets.Interactive:
    """Widget: the detector's boxes (red, with class and score) next to the ground truth
    (green) on test scenes, with a score-threshold slider. The network runs once, when the
    widget is built; moving a slider only decodes and draws."""
    import ipywidgets
    scenes = _require_scenes(scenes)
    scale = validation.as_int(scale, "scale", minimum=1, maximum=16)
    outputs = predict(model, scenes.images)
    controls = {"index": ipywidgets.IntSlider(0, 0, len(scenes) - 1, description="scene"),
                "score_threshold": ipywidgets.FloatSlider(0.3, min=0.05, max=0.95, step=0.05,
                                                          description="min score")}
    picture = ipywidgets.Image(format="png")
    caption = ipywidgets.HTML()

    def render(values):
        index = values["index"]
        found = decode_centernet(outputs[index:index + 1],
                                 score_threshold=values["score_threshold"])[0]
        truths = scenes.boxes[index]
        drawn = draw_boxes(scenes.images[index], np.vstack([truths, found["boxes"]]),
                           colours=[COLOURS["truth"]] * len(truths)
                           + [COLOURS["prediction"]] * len(found["boxes"]), scale=scale)
        picture.value = widgets.encode(drawn, "png")
        matched = match_detections(found["boxes"], found["scores"], truths) if \
            len(found["boxes"]) else np.zeros(0, np.int64)
        rows = []
        for box, score, label, match in zip(found["boxes"], found["scores"], found["labels"],
                                            matched):
            right = match >= 0 and scenes.labels[index][match] == label
            rows.append(f"{html.escape(scenes.class_names[label])} {score:.2f} "
                        f"{'✔' if right else '✘'}")
        truth_text = ", ".join(scenes.class_names[k] for k in scenes.labels[index])
        caption.value = (f"truth (green): {truth_text}<br>found (red) with score ≥ "
                         f"{values['score_threshold']:.2f}: "
                         + (", ".join(rows) or "nothing"))
        return {"index": index, "found": len(found["boxes"]), "truths": len(truths)}

    layout = ipywidgets.VBox([ipywidgets.HBox([controls["index"],
                                               controls["score_threshold"]]),
                              ipywidgets.HBox([picture, caption])])
    return widgets.Interactive(controls, render, layout)


def plot_precision_recall(curves: dict):
    """Precision against recall at IoU 0.5 (COCO's 101 recall points), one line per detector.

    ``curves`` maps a name to a ``coco_evaluation`` result."""
    from lab_utils.plots import new_figure
    figure = new_figure(figsize=(4.8, 3.6))
    axes = figure.add_subplot(1, 1, 1)
    for name, result in curves.items():
        axes.plot(result["recall_points"], result["precision_50"],
                  label=f"{name} (AP@0.5 {result['map_50']:.3f})")
    axes.set_xlabel("recall")
    axes.set_ylabel("precision")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.02)
    axes.set_title("precision-recall at IoU 0.5 (mean over classes)")
    axes.legend(loc="lower left", fontsize=8)
    return figure


def classifier_detections(classifier, scenes, method: str, **options) -> dict:
    """Run a crop classifier over candidate boxes on every scene: "sliding window" or
    "selective search" candidates. Returns detections, evaluations and seconds per image."""
    import cv2
    scenes = _require_scenes(scenes)
    validation.one_of(method, "method", ["sliding window", "selective search"])
    found, evaluations = [], 0
    start = time.perf_counter()
    for image in scenes.images:
        if method == "sliding window":
            boxes = sliding_windows(image.shape, **options)
        else:
            big = cv2.resize(image, (image.shape[1] * 2, image.shape[0] * 2),
                             interpolation=cv2.INTER_LINEAR)   # 64 px is too small for it
            boxes, _ = selective_search(np.clip(big, 0, 1), **options)
            boxes = boxes / 2
            boxes = boxes[(boxes[:, 2] >= 4) & (boxes[:, 3] >= 4) & (boxes[:, 2] <= 40)
                          & (boxes[:, 3] <= 40)]
        result = detect_with_classifier(classifier, image, boxes)
        evaluations += result["evaluations"]
        found.append(result)
    seconds = (time.perf_counter() - start) / len(scenes)
    return {"detections": found, "evaluations_per_image": evaluations / len(scenes),
            "seconds_per_image": seconds}


def describe_outputs(model) -> str:
    """What the heat-map detector's output channels mean, with its grid size."""
    from lab_utils import models
    models.require_model(model)
    _, rows, columns, channels = model.output_shape
    return (f"output {rows} x {columns} cells x {channels} numbers per cell: objectness (1), "
            f"box width and height / 16 (2), centre offset in the cell (2), class "
            f"probabilities ({channels - 5})")
