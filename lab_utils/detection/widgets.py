"""Lesson 05's widgets: thin builders over the computation files (the pictures come from
``compute.iou_view``, ``compute.nms_view``, ``centernet.detector_view`` and
``boxes.draw_boxes``).

Each picture is sized in CSS pixels (``widgets.show``) and carries a text description for
screen readers that follows it; the NMS and detector pictures also carry their thresholds in a
strip below (``widgets.caption_strip``), so every slider step changes the picture.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np

from lab_utils import validation
from lab_utils import widgets as kit_widgets
from lab_utils.boxes import as_boxes, as_scores, draw_boxes
from lab_utils.data import Scenes
from lab_utils.detection.centernet import detector_view
from lab_utils.detection.compute import iou_view, nms_view, predict, require_scenes, scene_truths
from lab_utils.plots import BOX_COLOUR_NAMES as _NAMES

if TYPE_CHECKING:  # Keras is imported when a model is first needed, not at import time
    import keras


def scene_viewer(scenes: Scenes) -> kit_widgets.Interactive:
    """Widget: browse generated scenes with their ground-truth boxes and class names."""
    import ipywidgets

    scenes = require_scenes(scenes)
    # Checked up front: a NaN box would be drawn nowhere and listed as "nan" without a word.
    scene_truths(scenes)
    controls = {
        "index": ipywidgets.IntSlider(0, 0, len(scenes) - 1, description="scene"),
        "boxes": ipywidgets.Checkbox(True, description="show boxes"),
    }
    picture = kit_widgets.picture_widget("png")
    caption = ipywidgets.HTML()

    def render(values):
        index = values["index"]
        boxes = scenes.boxes[index] if values["boxes"] else np.zeros((0, 4))
        names = ", ".join(scenes.class_names[label] for label in scenes.labels[index])
        kit_widgets.show(
            picture,
            draw_boxes(scenes.images[index], boxes, roles="truth", scale=4),
            f"Scene {index}, enlarged 4 times: {len(scenes.boxes[index])} object(s) ({names})"
            + (", each in its ground-truth box." if len(boxes) else ", boxes hidden."),
        )
        rows = [
            f"{scenes.class_names[label]}: (x, y, w, h) = ({', '.join(f'{v:g}' for v in box)})"
            for box, label in zip(scenes.boxes[index], scenes.labels[index])
        ]
        caption.value = f"scene {index}: {len(rows)} object(s)<br>" + "<br>".join(rows)
        return {"index": index, "objects": len(rows), "shown_boxes": len(boxes)}

    layout = ipywidgets.VBox(
        [
            ipywidgets.HBox([controls["index"], controls["boxes"]]),
            ipywidgets.HBox([picture, caption]),
        ]
    )
    return kit_widgets.Interactive(controls, render, layout)


def iou_explorer(*, canvas: int = 100) -> kit_widgets.Interactive:
    """Widget: two boxes moved and resized by sliders; shows their intersection and IoU."""
    import ipywidgets

    canvas = validation.as_int(canvas, "canvas", minimum=20, maximum=400)

    def slider(value, description):
        return ipywidgets.IntSlider(value, 0, canvas, description=description)

    controls = {
        "x": slider(canvas // 3, "B: x"),
        "y": slider(canvas // 3, "B: y"),
        "w": slider(canvas // 3, "B: width"),
        "h": slider(canvas // 3, "B: height"),
    }
    fixed = np.array([[canvas // 5, canvas // 5, canvas * 2 // 5, canvas * 2 // 5]], float)
    picture = kit_widgets.picture_widget("png")
    caption = ipywidgets.HTML()

    def render(values):
        moving = np.array([[values["x"], values["y"], values["w"], values["h"]]], float)
        view = iou_view(fixed, moving, canvas, scale=3)
        iou = view["iou"]
        kit_widgets.show(
            picture,
            view["picture"],
            f"Box A fixed at (x, y, w, h) = {tuple(int(v) for v in fixed[0])} and box B at "
            f"{tuple(int(v) for v in moving[0])} on a {canvas}x{canvas} canvas; their overlap "
            f"is shaded: IoU {iou:.3f}.",
        )
        caption.value = (
            f"A ({_NAMES['truth']}) = {tuple(int(v) for v in fixed[0])}, "
            f"B ({_NAMES['prediction']}) = "
            f"{tuple(int(v) for v in moving[0])} as (x, y, w, h)<br>"
            f"intersection {view['intersection']:g} px², union "
            f"{view['union']:g} px²<br><b>IoU = {iou:.3f}</b>"
            + (" (≥ 0.5: a match in PASCAL VOC)" if iou >= 0.5 else "")
        )
        # Box B stays on the canvas: a slider position past its edge would change nothing.
        # Set last: lowering a maximum can move a slider, which renders again (and wins).
        controls["w"].max, controls["h"].max = canvas - values["x"], canvas - values["y"]
        controls["x"].max, controls["y"].max = canvas - values["w"], canvas - values["h"]
        return {"iou": iou, "intersection": view["intersection"], "union": view["union"]}

    layout = ipywidgets.VBox(
        [
            ipywidgets.HBox([controls["x"], controls["y"]]),
            ipywidgets.HBox([controls["w"], controls["h"]]),
            ipywidgets.HBox([picture, caption]),
        ]
    )
    return kit_widgets.Interactive(controls, render, layout)


def nms_explorer(
    image: np.ndarray,
    boxes: np.ndarray | list,
    scores: np.ndarray | list,
    *,
    truths: np.ndarray | list | None = None,
    scale: int = 1,
) -> kit_widgets.Interactive:
    """Widget: NMS on given detections ("xywh") with IoU-threshold and score-threshold
    sliders. Kept boxes are drawn in orange, the ground truth (optional) dashed blue
    (``boxes.COLOURS``).
    """
    import ipywidgets

    image = validation.as_image(image, "image")
    boxes = as_boxes(boxes)
    scores = as_scores(scores, len(boxes))
    truths = np.zeros((0, 4)) if truths is None else as_boxes(truths, "truths")
    scale = validation.as_int(scale, "scale", minimum=1, maximum=16)
    controls = {
        "iou_threshold": ipywidgets.FloatSlider(
            0.5, min=0.0, max=1.0, step=0.05, description="IoU threshold"
        ),
        "score_threshold": ipywidgets.FloatSlider(
            0.5, min=0.0, max=1.0, step=0.05, description="score threshold"
        ),
        "before": ipywidgets.Checkbox(False, description="show all boxes before NMS"),
    }
    picture = kit_widgets.picture_widget("jpeg")
    caption = ipywidgets.HTML()

    def render(values):
        view = nms_view(
            image,
            boxes,
            scores,
            truths,
            iou_threshold=values["iou_threshold"],
            score_threshold=values["score_threshold"],
            before=values["before"],
            scale=scale,
        )
        settings = (
            f"IoU threshold {values['iou_threshold']:.2f}, score threshold "
            f"{values['score_threshold']:.2f}"
        )
        counts = f"{view['above_score']} of {len(boxes)} above the score, {len(view['kept'])} kept"
        kit_widgets.show(
            picture,
            kit_widgets.caption_strip(view["picture"], [settings, counts]),
            f"The scene enlarged {scale} times with "
            + ("every detection before NMS" if values["before"] else "the boxes NMS kept")
            + (f" and {len(truths)} ground-truth box(es)" if len(truths) else "")
            + f"; {settings}: {counts}.",
            quality=90,
        )
        caption.value = (
            f"{len(boxes)} boxes, {view['above_score']} with score ≥ "
            f"{values['score_threshold']:.2f}, <b>{len(view['kept'])} kept</b> "
            f"by NMS at IoU {values['iou_threshold']:.2f}"
        )
        return {
            "kept": view["kept"].tolist(),
            "above_score": view["above_score"],
            "shown": view["shown"],
        }

    layout = ipywidgets.VBox(
        [
            ipywidgets.HBox([controls["iou_threshold"], controls["score_threshold"]]),
            controls["before"],
            caption,
            picture,
        ]
    )
    return kit_widgets.Interactive(controls, render, layout)


def detector_viewer(model: keras.Model, scenes: Scenes) -> kit_widgets.Interactive:
    """Widget: the detector's boxes (red, with class and score) next to the ground truth
    (blue) on test scenes, with a score-threshold slider. The network runs once, when the
    widget is built; moving a slider only decodes and draws."""
    import ipywidgets

    scenes = require_scenes(scenes)
    outputs = predict(model, scenes.images)
    controls = {
        "index": ipywidgets.IntSlider(0, 0, len(scenes) - 1, description="scene"),
        "score_threshold": ipywidgets.FloatSlider(
            0.3, min=0.05, max=0.95, step=0.05, description="min score"
        ),
    }
    picture = kit_widgets.picture_widget("png")
    caption = ipywidgets.HTML()

    def render(values):
        index = values["index"]
        view = detector_view(outputs, scenes, index, values["score_threshold"], scale=4)
        found = view["found"]
        found_names = ", ".join(scenes.class_names[label] for label in found["labels"])
        kit_widgets.show(
            picture,
            kit_widgets.caption_strip(
                view["picture"],
                [f"scene {index}, min score {values['score_threshold']:.2f}"],
            ),
            f"Test scene {index} enlarged 4 times: {len(scenes.boxes[index])} ground-truth "
            f"box(es) and the {len(found['boxes'])} detection(s) with score at least "
            f"{values['score_threshold']:.2f}" + (f" ({found_names})." if found_names else "."),
        )
        rows = []
        for score, label, match in zip(found["scores"], found["labels"], view["matched"]):
            right = match >= 0 and scenes.labels[index][match] == label
            rows.append(
                f"{html.escape(scenes.class_names[label])} {score:.2f} {'✔' if right else '✘'}"
            )
        truth_text = ", ".join(scenes.class_names[k] for k in scenes.labels[index])
        caption.value = (
            f"truth ({_NAMES['truth']}): {truth_text}<br>found ({_NAMES['prediction']}) with "
            f"score ≥ "
            f"{values['score_threshold']:.2f}: " + (", ".join(rows) or "nothing")
        )
        return {"index": index, "found": len(found["boxes"]), "truths": len(scenes.boxes[index])}

    layout = ipywidgets.VBox(
        [
            ipywidgets.HBox([controls["index"], controls["score_threshold"]]),
            ipywidgets.HBox([picture, caption]),
        ]
    )
    return kit_widgets.Interactive(controls, render, layout)
