"""Boxes: formats, conversion, IoU, non-maximum suppression, matching and drawing (lessons 05-06).

Boxes are NumPy arrays of shape (N, 4), float, in **pixels**, in one of these formats
(the names are Keras's, ``keras.utils.bounding_boxes``):

* ``"xywh"``: left x, top y, width, height (the slide's (x, y, w, h));
* ``"xyxy"``: left, top, right, bottom corners;
* ``"center_xywh"``: centre x, centre y, width, height;
* ``"rel_xyxy"``: corners divided by the image width / height (0-1), needs the image size.

Coordinates are continuous: a box (x, y, w, h) = (2, 3, 4, 5) covers pixel columns 2-5 and
rows 3-7, its right edge is x + w = 6 (not 5: the "+ 1" of pixel-inclusive corners is the
classic off-by-one). ``convert_boxes`` is the one conversion used everywhere in the kit.

Public API (every function takes ``box_format="xywh"`` unless it says otherwise):

* ``BOX_FORMATS``: the four format names above;
* limits, refused with a message: ``MAX_COORDINATE`` (1e9 pixels), ``MAX_IOU_PAIRS``
  (25 million pairs in one ``iou_matrix``), ``MAX_NMS_BOXES`` (20,000 boxes);
* ``as_boxes(boxes, name="boxes", box_format="xywh") -> (N, 4) float64``: checked boxes;
* ``convert_boxes(boxes, source, target, image_size=None) -> (N, 4) float64``;
* ``box_areas(boxes, box_format="xywh") -> (N,)``;
* ``iou_matrix(boxes_a, boxes_b, box_format="xywh") -> (len(a), len(b))`` in [0, 1];
* ``as_scores(scores, count, name="scores") -> (count,) float64``: one finite score per box;
* ``non_max_suppression(boxes, scores, *, iou_threshold=0.5, score_threshold=-inf,
  max_output=None, box_format="xywh") -> (K,) int64`` indices kept, best first;
* ``match_detections(detections, scores, truths, *, iou_threshold=0.5, box_format="xywh")
  -> (N,) int64``: the matched ground-truth index per detection, -1 for a false positive;
* ``COLOURS``: the lessons' box colours by role ("truth", "prediction", "other", "kept",
  "dropped"), (r, g, b) 0-255, colour-blind safe (``plots.BOX_COLOURS``); the truth is drawn
  dashed, the rest solid (``plots.BOX_LINE_STYLES``);
* ``draw_boxes(image, boxes, *, roles=None, colours=None, colour=None, box_format="xywh",
  scale=1, thickness=2) -> (H*scale, W*scale, 3) uint8``: outlines painted with OpenCV, in
  the colour and line style of a role (``roles``: one for all or one per box), or solid in
  one colour per box (``colours``) or one for all (``colour=(r, g, b)``).

Importing this module imports neither OpenCV nor TensorFlow.
"""

from __future__ import annotations

import numbers

import numpy as np

from lab_utils import plots, validation, widgets

BOX_FORMATS = ("xywh", "xyxy", "center_xywh", "rel_xyxy")

#: The largest box coordinate accepted, in pixels (or image sizes for "rel_xyxy"): a billion.
#: Photos are at most 4096 pixels wide; far larger values are a bug (1e308 overflows to
#: infinity when a width is added, and its IoU with itself would come out as 0).
MAX_COORDINATE = 1e9
#: The largest IoU matrix ``iou_matrix`` builds: 25 million pairs (200 MB of float64),
#: e.g. 5,000 x 5,000 boxes. It is computed in blocks of rows, so its temporaries stay small.
MAX_IOU_PAIRS = 25_000_000
#: The most boxes ``non_max_suppression`` takes: 20,000 (selective search gives about 2,400
#: on a 512-pixel photo). Its memory grows like the number of boxes (one IoU row at a time,
#: for the boxes that can overlap), its time at worst like boxes squared: on 2 busy cores
#: 3.6 s for 20,000 scattered boxes, 32 s when every box crosses every other.
MAX_NMS_BOXES = 20_000
# Rows of an IoU block: about a million pairs per block keeps the temporaries near 8 MB each.
_BLOCK_PAIRS = 2**20

# --------------------------------------------------------------------------------------------
# Validation and conversion
# --------------------------------------------------------------------------------------------


def as_boxes(boxes: np.ndarray | list, name: str = "boxes", box_format: str = "xywh") -> np.ndarray:
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
    if array.shape == (0,):  # np.array([]): no boxes
        return np.zeros((0, 4))
    if array.dtype == bool:
        raise TypeError(f"{name} must hold coordinates (numbers), but its dtype is bool.")
    if array.ndim == 1 and array.shape[0] == 4:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(
            f"{name} must have shape (N, 4): one row of 4 numbers per box "
            f"({_format_text(box_format)}), but it has shape {array.shape}."
        )
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        row = int(np.argwhere(~np.isfinite(array))[0, 0])
        raise ValueError(
            f"{name} contains NaN or infinite values (box {row}: {array[row].tolist()})."
        )
    if array.size and np.abs(array).max() > MAX_COORDINATE:
        row = int(np.argwhere(np.abs(array) > MAX_COORDINATE)[0, 0])
        raise ValueError(
            f"{name}[{row}] = {array[row].tolist()} has a coordinate beyond "
            f"{MAX_COORDINATE:g} pixels (photos are at most 4096 pixels wide): box "
            f"coordinates are pixels of the image, not arbitrary numbers."
        )
    if box_format in ("xywh", "center_xywh"):
        bad = np.flatnonzero((array[:, 2] < 0) | (array[:, 3] < 0))
        problem = "a negative width or height"
    else:
        bad = np.flatnonzero((array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1]))
        problem = "its right (bottom) corner left of (above) its left (top) corner"
    if bad.size:
        raise ValueError(
            f"{name}[{bad[0]}] = {array[bad[0]].tolist()} has {problem} "
            f"for box_format {box_format!r} ({_format_text(box_format)}). "
            f"Is it in another format?"
        )
    return array


def _format_text(box_format: str) -> str:
    return {
        "xywh": "left x, top y, width, height",
        "xyxy": "left, top, right, bottom",
        "center_xywh": "centre x, centre y, width, height",
        "rel_xyxy": "left, top, right, bottom divided by the image width/height",
    }[box_format]


def _image_size(image_size, box_format, target) -> tuple[int, int] | None:
    if "rel_xyxy" not in (box_format, target):
        return None
    if image_size is None:
        raise ValueError(
            "relative boxes ('rel_xyxy') need image_size=(height, width) to "
            "convert to or from pixels."
        )
    if not isinstance(image_size, (tuple, list)) or len(image_size) < 2:
        raise ValueError(f"image_size must be (height, width), but got {image_size!r}.")
    return (
        validation.as_int(image_size[0], "image_size[0]", minimum=1, maximum=10**6),
        validation.as_int(image_size[1], "image_size[1]", minimum=1, maximum=10**6),
    )


def convert_boxes(
    boxes: np.ndarray | list, source: str, target: str, image_size: tuple | None = None
) -> np.ndarray:
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


def box_areas(boxes: np.ndarray | list, box_format: str = "xywh") -> np.ndarray:
    """Area of each box, shape (N,)."""
    corners = (
        convert_boxes(boxes, box_format, "xyxy")
        if box_format != "rel_xyxy"
        else as_boxes(boxes, "boxes", box_format)
    )
    return (corners[:, 2] - corners[:, 0]) * (corners[:, 3] - corners[:, 1])


# --------------------------------------------------------------------------------------------
# IoU, non-maximum suppression, matching
# --------------------------------------------------------------------------------------------


def iou_matrix(
    boxes_a: np.ndarray | list, boxes_b: np.ndarray | list, box_format: str = "xywh"
) -> np.ndarray:
    """Intersection over union of every box of ``boxes_a`` with every box of ``boxes_b``.

    Returns
    -------
    ndarray (len(boxes_a), len(boxes_b)) float64 in [0, 1]. Two empty boxes give 0.
    At most ``MAX_IOU_PAIRS`` (25 million) pairs; the matrix is built in blocks of rows.
    """
    a, b = _corners(boxes_a, "boxes_a", box_format), _corners(boxes_b, "boxes_b", box_format)
    validation.check_count(
        len(a) * len(b),
        MAX_IOU_PAIRS,
        f"box pairs ({len(a):,} x {len(b):,} boxes)",
        "Compare fewer boxes at a time, e.g. after non_max_suppression.",
    )
    result = np.zeros((len(a), len(b)))
    step = max(1, _BLOCK_PAIRS // max(len(b), 1))
    for begin in range(0, len(a), step):
        result[begin : begin + step] = _corner_iou(a[begin : begin + step], b)
    return result


def _corners(boxes, name: str, box_format: str) -> np.ndarray:
    """Checked boxes as corners (x1, y1, x2, y2); "rel_xyxy" boxes stay relative."""
    if box_format == "rel_xyxy":
        return as_boxes(boxes, name, box_format)
    return convert_boxes(as_boxes(boxes, name, box_format), box_format, "xyxy")


def _corner_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every corner box of ``a`` with every one of ``b``: (len(a), len(b))."""
    width = np.clip(
        np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None
    )
    height = np.clip(
        np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None
    )
    intersection = width * height
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - intersection
    return np.divide(intersection, union, out=np.zeros_like(intersection), where=union > 0)


def as_scores(scores: np.ndarray | list, count: int, name: str = "scores") -> np.ndarray:
    """Check one finite score per box, shape (count,), and return it as float64."""
    scores = validation.as_array(scores, name)
    if scores.shape != (count,):
        raise ValueError(
            f"{name} must hold one score per box, shape ({count},), but it has "
            f"shape {scores.shape}."
        )
    scores = scores.astype(np.float64)
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return scores


def non_max_suppression(
    boxes: np.ndarray | list,
    scores: np.ndarray | list,
    *,
    iou_threshold: float = 0.5,
    score_threshold: float = -np.inf,
    max_output: int | None = None,
    box_format: str = "xywh",
) -> np.ndarray:
    """Greedy NMS: indices of the boxes kept, highest score first.

    Repeatedly keep the highest-scoring remaining box and drop every remaining box whose
    IoU with it is above ``iou_threshold``. Boxes scoring below ``score_threshold`` are
    dropped first; at most ``max_output`` boxes are kept (all by default). Same rule as
    ``tf.image.non_max_suppression``.

    Returns
    -------
    ndarray of int64, shape (K,), K <= len(boxes)
    """
    validation.check_count(
        len(boxes) if isinstance(boxes, (np.ndarray, list, tuple)) else 0,
        MAX_NMS_BOXES,
        "boxes for non_max_suppression",
        "Drop low-scoring boxes first (e.g. keep those with a score above 0.05).",
    )
    boxes = as_boxes(boxes, "boxes", box_format)
    scores = as_scores(scores, len(boxes))
    iou_threshold = validation.as_float(iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0)
    if isinstance(score_threshold, bool) or not isinstance(score_threshold, numbers.Real):
        raise TypeError(
            f"score_threshold must be a number, but got {validation.describe(score_threshold)}."
        )
    if np.isnan(float(score_threshold)):
        raise ValueError(
            "score_threshold is NaN: no score compares with NaN, so every box would be "
            "dropped. Give a number (-inf, the default, keeps every box)."
        )
    limit = (
        len(boxes) if max_output is None else validation.as_int(max_output, "max_output", minimum=0)
    )
    order = np.argsort(-scores, kind="stable")
    order = order[scores[order] >= score_threshold]
    corners = _corners(boxes, "boxes", box_format)[order]
    return order[_greedy_nms(corners, iou_threshold, limit)].astype(np.int64)


def _greedy_nms(corners: np.ndarray, iou_threshold: float, limit: int) -> np.ndarray:
    """Positions kept by greedy NMS among ``corners`` (x1, y1, x2, y2) sorted best first.

    Each kept box drops the later boxes whose IoU with it is above ``iou_threshold``. Only
    boxes whose extent along one axis meets the kept box's can overlap it (the others have
    IoU 0, never above a threshold >= 0), so each kept box computes the IoU of those
    candidates only, found by binary search on the boxes sorted along that axis. The IoU
    values and the boxes kept are exactly those of the full IoU matrix.
    """
    count = len(corners)
    if count == 0 or limit == 0:
        return np.zeros(0, dtype=np.int64)
    extents = corners[:, 2:] - corners[:, :2]
    spans = corners[:, 2:].max(axis=0) - corners[:, :2].min(axis=0)
    # Sweep along the axis where boxes are small compared with the area they cover.
    axis = int(np.argmin(extents.max(axis=0) / np.maximum(spans, 1e-300)))
    widest = float(extents[:, axis].max())
    starts = corners[:, axis]
    by_start = np.argsort(starts, kind="stable")
    sorted_starts = starts[by_start]
    alive = np.ones(count, dtype=bool)
    kept: list[int] = []
    for position in range(count):
        if not alive[position]:
            continue
        kept.append(position)
        if len(kept) == limit:
            break
        # A box can meet this one only if it starts after (start - widest) and before its end
        # (one pixel of margin against rounding: extra candidates only cost time).
        low = np.searchsorted(sorted_starts, starts[position] - widest - 1.0, side="left")
        high = np.searchsorted(sorted_starts, corners[position, axis + 2], side="right")
        candidates = by_start[low:high]
        candidates = candidates[(candidates > position) & alive[candidates]]
        if candidates.size:
            overlaps = _corner_iou(corners[position : position + 1], corners[candidates])[0]
            alive[candidates[overlaps > iou_threshold]] = False
    return np.array(kept, dtype=np.int64)


def match_detections(
    detections: np.ndarray | list,
    scores: np.ndarray | list,
    truths: np.ndarray | list,
    *,
    iou_threshold: float = 0.5,
    box_format: str = "xywh",
) -> np.ndarray:
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
    iou_threshold = validation.as_float(iou_threshold, "iou_threshold", minimum=0.0, maximum=1.0)
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
# Drawing
# --------------------------------------------------------------------------------------------

# Colour-blind-safe colours by role (Okabe-Ito; their one home is lab_utils.plots).
COLOURS = plots.BOX_COLOURS


def draw_boxes(
    image: np.ndarray,
    boxes: np.ndarray | list,
    *,
    roles: str | list | tuple | None = None,
    colours: tuple | list | None = None,
    colour: tuple | None = None,
    box_format: str = "xywh",
    scale: int = 1,
    thickness: int = 2,
) -> np.ndarray:
    """Draw box outlines on an image (enlarged ``scale`` times first) with OpenCV.

    Each box covers the pixels its continuous edges touch (``floor(x1)`` to ``ceil(x2) - 1``,
    clipped to the image, so a box past the border is drawn along it); each side is a strip
    ``thickness`` pixels wide *inside* those pixels, with square corners. A dashed outline
    is the same strips with every other run of ``DASH_PER_THICKNESS * thickness`` pixels
    left out, counted from the nearer corner along each side (so the corners stay drawn).

    Parameters
    ----------
    image : (H, W) or (H, W, 3), uint8 or float in [0, 1]
    boxes : (N, 4) in ``box_format`` pixels of the original image
    roles : one role of ``COLOURS`` ("truth", "prediction", ...) for every box, or a list of
        N of them: each box in its role's colour and line style (the truth dashed)
    colours : one (r, g, b), or a list of N of them (0-255), solid lines
    colour : one (r, g, b) for every box. Give one of ``roles``, ``colours`` and ``colour``;
        none draws every box as a prediction.
    thickness : int, 1-10, in pixels of the enlarged image; 2 by default, so that an outline
        stays visible (1-pixel lines vanish on a projector and for weaker eyesight)

    Returns
    -------
    ndarray (H*scale, W*scale, 3) uint8
    """
    image = validation.as_image(image, "image")
    picture = widgets.to_uint8(image)
    scale = validation.as_int(scale, "scale", minimum=1, maximum=32)
    thickness = validation.as_int(thickness, "thickness", minimum=1, maximum=10)
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)
    picture = np.ascontiguousarray(widgets.upscale(picture, scale)) if scale > 1 else picture.copy()
    corners = (
        convert_boxes(boxes, box_format, "xyxy", image_size=image.shape[:2])
        if box_format != "xyxy"
        else as_boxes(boxes, "boxes", "xyxy")
    )
    paints, dashed = _box_styles(roles, colours, colour, len(corners))
    height, width = picture.shape[:2]
    for (x1, y1, x2, y2), paint, dash in zip(corners * scale, paints, dashed):
        left, top = (
            int(np.clip(np.floor(x1), 0, width - 1)),
            int(np.clip(np.floor(y1), 0, height - 1)),
        )
        right = int(np.clip(np.ceil(x2) - 1, 0, width - 1))
        bottom = int(np.clip(np.ceil(y2) - 1, 0, height - 1))
        rectangle = (left, top, right, bottom)
        if dash:
            _dashed_outline(picture, rectangle, paint, thickness)
        else:
            _outline(picture, rectangle, paint, thickness)
    return picture


#: A dashed outline's dashes and gaps are this many line widths long (6 pixels at 2 px).
DASH_PER_THICKNESS = 3


def _box_styles(roles, colours, colour, count: int) -> tuple[list, list[bool]]:
    """One (r, g, b) of ints and one "dashed?" per box, from ``draw_boxes``'s arguments."""
    arguments = {"roles": roles, "colours": colours, "colour": colour}
    given = [name for name, value in arguments.items() if value is not None]
    if len(given) > 1:
        raise TypeError(
            "give roles= (the truth dashed, the rest solid), colours= (one per box, or one "
            f"for all) or colour= (one for all), not {' and '.join(given)} together."
        )
    if colours is None and colour is None:
        names = _box_roles("prediction" if roles is None else roles, count)
        return [COLOURS[name] for name in names], [
            plots.BOX_LINE_STYLES[name] == "dashed" for name in names
        ]
    return _box_colours(colours if colour is None else [colour] * count, count), [False] * count


def _box_roles(roles, count: int) -> list[str]:
    """One role name of ``COLOURS`` per box."""
    if isinstance(roles, str):
        roles = [roles] * count
    if not isinstance(roles, (list, tuple)) or not all(isinstance(r, str) for r in roles):
        raise TypeError(
            f"roles must be one role name or a list of them, one per box (from {sorted(COLOURS)}), "
            f"but got {validation.describe(roles)}."
        )
    unknown = sorted(set(roles) - set(COLOURS))
    if unknown:
        raise ValueError(f"unknown box role(s) {unknown}: the roles are {sorted(COLOURS)}.")
    if len(roles) != count:
        raise ValueError(f"roles must be one name or one per box ({count}), but got {len(roles)}.")
    return list(roles)


def _box_colours(colours, count: int) -> list[tuple[int, int, int]]:
    """One (r, g, b) of ints per box, from ``draw_boxes``'s ``colours`` (or ``colour``)."""
    if not isinstance(colours, (list, tuple, np.ndarray)):
        raise TypeError(
            f"colours must be one (r, g, b) or a list of them, one per box, but got "
            f"{validation.describe(colours)} ({colours!r})."
        )
    elif len(colours) == 3 and all(isinstance(c, (int, np.integer)) for c in colours):
        colours = [tuple(colours)] * count
    if len(colours) != count:
        raise ValueError(
            f"colours must be one (r, g, b) or one per box ({count}), but got {len(colours)}."
        )
    return [_as_colour(paint) for paint in colours]


def _as_colour(paint) -> tuple[int, int, int]:
    values = np.asarray(paint) if not isinstance(paint, str) else np.zeros(0)
    if (
        values.shape != (3,)
        or values.dtype.kind not in "iuf"
        or not np.all((values >= 0) & (values <= 255))
    ):
        raise ValueError(
            f"a box colour must be (r, g, b) with numbers from 0 to 255, but got {paint!r}."
        )
    return tuple(int(value) for value in paint)


def _outline(picture: np.ndarray, pixels: tuple, paint: tuple, thickness: int) -> None:
    """Paint the four sides of the pixel rectangle (left, top, right, bottom), inclusive,
    as filled strips ``thickness`` wide inside it (cv2's own thick outline is centred on the
    edge, with rounded corners). A degenerate box (right < left or bottom < top) gets only
    the strips that have pixels; OpenCV clips what reaches past the image."""
    import cv2

    left, top, right, bottom = pixels
    inside = thickness - 1
    if right >= left:
        cv2.rectangle(picture, (left, top), (right, top + inside), paint, cv2.FILLED)
        cv2.rectangle(picture, (left, bottom - inside), (right, bottom), paint, cv2.FILLED)
    if bottom >= top:
        cv2.rectangle(picture, (left, top), (left + inside, bottom), paint, cv2.FILLED)
        cv2.rectangle(picture, (right - inside, top), (right, bottom), paint, cv2.FILLED)


def _dashed_outline(picture: np.ndarray, pixels: tuple, paint: tuple, thickness: int) -> None:
    """``_outline`` cut into dashes of ``DASH_PER_THICKNESS * thickness`` pixels: along each
    side, every other run is left out, counted from the nearer corner so that all four
    corners are drawn and each side is symmetric."""
    left, top, right, bottom = pixels
    strips = np.zeros(picture.shape[:2], np.uint8)
    _outline(strips, pixels, 1, thickness)
    rows, columns = np.nonzero(strips)
    horizontal = (rows - top < thickness) | (bottom - rows < thickness)
    from_corner = np.where(
        horizontal,
        np.minimum(columns - left, right - columns),
        np.minimum(rows - top, bottom - rows),
    )
    on = from_corner // (DASH_PER_THICKNESS * thickness) % 2 == 0
    picture[rows[on], columns[on]] = paint
