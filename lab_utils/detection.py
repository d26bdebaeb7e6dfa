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


@dataclasses.dataclass
class Scenes:
    """Images with a variable number of labelled boxes each.

    Attributes
    ----------
    images : ndarray (N, H, W) float32 in [0, 1]
    boxes : list of N arrays (k_i, 4) float64, "xywh" pixels (tight around the digit's ink)
    labels : list of N arrays (k_i,) int64 class indices
    class_names : list of str
    name, note : str
    """

    images: np.ndarray
    boxes: list
    labels: list
    class_names: list
    name: str = "digit_scenes"
    note: str = ""

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, indices) -> "Scenes":
        """The scenes at ``indices`` (a slice, a range or a list of ints)."""
        if isinstance(indices, slice):
            indices = range(*indices.indices(len(self)))
        indices = [validation.as_int(i, "index", minimum=0, maximum=len(self) - 1)
                   for i in indices]
        return Scenes(self.images[indices], [self.boxes[i] for i in indices],
                      [self.labels[i] for i in indices], self.class_names, self.name,
                      self.note)

    def object_count(self) -> int:
        return int(sum(len(b) for b in self.labels))


TEXTURES = ("brick", "gravel", "grass")


def generate_scenes(count: int = 800, *, size: int = 64, max_objects: int = 3,
                    min_digit: int = 14, max_digit: int = 22, contrast: float = 0.45,
                    seed: int = 0) -> Scenes:
    """Deterministic scenes: 1 to ``max_objects`` digits on crops of real textures.

    Each scene is a random ``size`` x ``size`` crop of scikit-image's brick, gravel or grass
    photo, scaled to gray levels [0, ``contrast``]. Digits from scikit-learn (8x8) are
    enlarged to a random side in [min_digit, max_digit] and pasted with ``maximum`` (bright
    ink over the texture) at random positions where they do not overlap another digit.
    The ground-truth box is tight around the pasted digit's ink (pixels > 0.25).
    The same arguments always give the same scenes.
    """
    import cv2
    import skimage.data

    from lab_utils import data
    count = validation.as_int(count, "count", minimum=1, maximum=100_000)
    size = validation.as_int(size, "size", minimum=16, maximum=512)
    max_objects = validation.as_int(max_objects, "max_objects", minimum=1, maximum=20)
    max_digit = validation.as_int(max_digit, "max_digit", minimum=4, maximum=size)
    min_digit = validation.as_int(min_digit, "min_digit", minimum=4, maximum=max_digit)
    contrast = validation.as_float(contrast, "contrast", minimum=0.0, maximum=0.9)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    rng = np.random.default_rng(seed)
    textures = [getattr(skimage.data, name)().astype(np.float32) / 255.0 for name in TEXTURES]
    digits = data.load_digits()
    digit_images = (digits.images / 16.0).astype(np.float32)
    images = np.zeros((count, size, size), dtype=np.float32)
    all_boxes, all_labels = [], []
    for index in range(count):
        texture = textures[int(rng.integers(len(textures)))]
        top, left = rng.integers(0, texture.shape[0] - size + 1, size=2)
        scene = texture[top:top + size, left:left + size] * contrast
        occupied: list[tuple[int, int, int]] = []
        boxes, labels = [], []
        for _ in range(int(rng.integers(1, max_objects + 1))):
            for _attempt in range(30):
                side = int(rng.integers(min_digit, max_digit + 1))
                y, x = (int(v) for v in rng.integers(0, size - side + 1, size=2))
                if all(x + side <= ox or ox + oside <= x or y + side <= oy or oy + oside <= y
                       for ox, oy, oside in occupied):
                    break
            else:
                continue  # no free place left: fewer digits in this scene
            choice = int(rng.integers(len(digit_images)))
            ink = np.clip(cv2.resize(digit_images[choice], (side, side),
                                     interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
            scene[y:y + side, x:x + side] = np.maximum(scene[y:y + side, x:x + side], ink)
            rows, columns = np.nonzero(ink > 0.25)
            boxes.append([x + columns.min(), y + rows.min(), columns.max() - columns.min() + 1,
                          rows.max() - rows.min() + 1])
            labels.append(int(digits.labels[choice]))
            occupied.append((x, y, side))
        images[index] = scene
        all_boxes.append(np.array(boxes, dtype=np.float64).reshape(-1, 4))
        all_labels.append(np.array(labels, dtype=np.int64))
    return Scenes(images, all_boxes, all_labels, [str(d) for d in range(10)], "digit_scenes",
                  note=f"generated: {count} scenes {size}x{size}, 1-{max_objects} digits of "
                       f"{min_digit}-{max_digit} px on scikit-image textures, seed={seed}")


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
    6-: the one-hot class of the object centred in the cell (0 elsewhere).
    """
    scenes = _require_scenes(scenes)
    stride = validation.as_int(stride, "stride", minimum=1, maximum=32)
    classes = validation.as_int(classes, "classes", minimum=1)
    count, height, width = scenes.images.shape
    rows, columns = height // stride, width // stride
    targets = np.zeros((count, rows, columns, 6 + classes), dtype=np.float32)
    grid_y, grid_x = np.mgrid[0:rows, 0:columns]
    for index, (boxes, labels) in enumerate(zip(scenes.boxes, scenes.labels)):
        for (x, y, w, h), label in zip(boxes, labels):
            centre_x, centre_y = (x + w / 2) / stride, (y + h / 2) / stride
            cell_x = min(int(centre_x), columns - 1)
            cell_y = min(int(centre_y), rows - 1)
            sigma = max(0.5, min(w, h) / stride / 3)
            peak = np.exp(-((grid_x - cell_x) ** 2 + (grid_y - cell_y) ** 2) / (2 * sigma ** 2))
            targets[index, :, :, 0] = np.maximum(targets[index, :, :, 0], peak)
            targets[index, cell_y, cell_x, 6 + label] = 1.0
            targets[index, cell_y, cell_x, 1:6] = (w / 16, h / 16, centre_x - cell_x,
                                                   centre_y - cell_y, 1.0)
    return targets


def centernet_model(input_shape=(64, 64, 1), classes: int = 10, *, width: int = 32,
                    batch_norm: bool = True, name: str = "centernet"):
    """A small fully convolutional heat-map detector (Functional API, keras.ops only).

    Backbone: a stride-2 convolution, a 3x3 convolution and a 2x2 max-pool bring the image
    to a grid of one cell per 4 pixels; three 3x3 convolutions, two of them dilated, widen
    the receptive field (about 40 pixels) so every cell sees a whole digit. Batch
    normalisation keeps large learning rates stable. Four 1x1 heads per cell: objectness
    (sigmoid), box size, centre offset, class (softmax).

    Returns
    -------
    keras.Model mapping (N, H, W, C) float32 to (N, H/4, W/4, 5 + classes).
    """
    from lab_utils import models
    keras = lesson.import_keras()
    input_shape = models._as_shape(input_shape)
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
    x = block(x, width, "conv_1")
    x = layers.MaxPooling2D(2, name="pool_1")(x)
    x = block(x, width * 2, "conv_2")
    x = layers.MaxPooling2D(2, name="pool_2")(x)
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
