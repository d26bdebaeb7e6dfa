"""A one-stage detector: CenterNet-style heat maps (Zhou, Wang & Krähenbühl 2019).

Training targets, the model, its loss, the decoder that turns output maps into boxes, the
lesson's training recipe (``DETECTOR_SETTINGS``), detection on scenes, and what the detector
viewer shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from lab_utils import lesson, models, validation
from lab_utils.boxes import as_boxes, draw_boxes, match_detections
from lab_utils.data import Scenes
from lab_utils.detection.compute import fit, predict, require_scenes, timed_second_run

if TYPE_CHECKING:  # Keras is imported when a model is first needed, not at import time
    import keras

CENTERNET_STRIDE = 8
#: At most this many boxes per image come out of ``decode_centernet``.
MAX_DETECTIONS = 20


def centernet_targets(
    scenes: Scenes, *, stride: int = CENTERNET_STRIDE, classes: int = 10
) -> np.ndarray:
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
    scenes = require_scenes(scenes)
    stride = validation.as_int(stride, "stride", minimum=1, maximum=32)
    classes = validation.as_int(classes, "classes", minimum=1)
    count, height, width = scenes.images.shape
    rows, columns = height // stride, width // stride
    targets = np.zeros((count, rows, columns, 6 + classes), dtype=np.float32)
    grid_y, grid_x = np.mgrid[0:rows, 0:columns]
    middle_x, middle_y = (grid_x + 0.5) * stride, (grid_y + 0.5) * stride
    for index, (boxes, labels) in enumerate(zip(scenes.boxes, scenes.labels)):
        # Checked, so a label beyond ``classes`` or a NaN box is named, not an IndexError.
        boxes = as_boxes(boxes, f"scenes.boxes[{index}]")
        labels = validation.as_labels(
            labels, len(boxes), classes, f"scenes.labels[{index}]", unit="box"
        )
        for (x, y, w, h), label in zip(boxes, labels):
            centre_x, centre_y = (x + w / 2) / stride, (y + h / 2) / stride
            cell_x = min(int(centre_x), columns - 1)
            cell_y = min(int(centre_y), rows - 1)
            sigma = max(0.5, min(w, h) / stride / 3)
            peak = np.exp(-((grid_x - cell_x) ** 2 + (grid_y - cell_y) ** 2) / (2 * sigma**2))
            targets[index, :, :, 0] = np.maximum(targets[index, :, :, 0], peak)
            inside = (middle_x >= x) & (middle_x < x + w) & (middle_y >= y) & (middle_y < y + h)
            targets[index, inside, 6 + label] = 1.0
            targets[index, cell_y, cell_x, 6 + label] = 1.0
            targets[index, cell_y, cell_x, 1:6] = (
                w / 16,
                h / 16,
                centre_x - cell_x,
                centre_y - cell_y,
                1.0,
            )
    return targets


def centernet_model(
    input_shape: tuple = (64, 64, 1), classes: int = 10, *, width: int = 24
) -> keras.Model:
    """A small fully convolutional heat-map detector (Functional API, keras.ops only).

    Backbone: two stride-2 3x3 convolutions bring the image to a grid of one cell per 4
    pixels (the digits are 8x8 images enlarged about twice, so this loses no detail and costs
    a quarter of a full-resolution layer), a 3x3 convolution and a 2x2 max-pool to one cell
    per 8 pixels, then two more 3x3 convolutions: each cell sees about 50 pixels, a whole
    digit and its surroundings. Batch normalisation keeps large learning rates stable. Four
    1x1 heads per cell: objectness (sigmoid), box size, centre offset, class (softmax).

    Returns
    -------
    keras.Model "centernet" mapping (N, H, W, C) float32 to (N, H/8, W/8, 5 + classes).
    """
    keras = lesson.import_keras()
    input_shape = models.as_input_shape(input_shape)
    classes = validation.as_int(classes, "classes", minimum=1)
    width = validation.as_int(width, "width", minimum=4, maximum=512)
    layers = keras.layers

    def block(x, filters, name, strides=1):
        x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False, name=name)(x)
        # momentum 0.9: the running statistics settle within a short training
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
    objectness = layers.Conv2D(
        1,
        1,
        activation="sigmoid",
        name="objectness",
        bias_initializer=keras.initializers.Constant(-2.2),
    )(x)
    size = layers.Conv2D(2, 1, name="box_size")(x)
    offset = layers.Conv2D(2, 1, name="centre_offset")(x)
    label = layers.Conv2D(classes, 1, activation="softmax", name="class")(x)
    outputs = layers.Concatenate(name="detections")([objectness, size, offset, label])
    return keras.Model(inputs, outputs, name="centernet")


def centernet_loss(
    *, size_weight: float = 1.0, offset_weight: float = 1.0, class_weight: float = 1.0
) -> Callable:
    """The detector's loss, a weighted sum as on the slide's multitask loss:
    CenterNet's focal loss on the objectness map, L1 losses on the size and offset at the
    object centres, and the cross-entropy of the class near each centre; each term is
    divided by the number of objects."""
    size_weight, offset_weight, class_weight = (
        validation.as_float(weight, name, minimum=0.0, maximum=1e6)
        for weight, name in [
            (size_weight, "size_weight"),
            (offset_weight, "offset_weight"),
            (class_weight, "class_weight"),
        ]
    )
    keras = lesson.import_keras()
    ops = keras.ops

    def loss(y_true, y_pred):
        heat_true = y_true[..., 0]
        heat_pred = ops.clip(y_pred[..., 0], 1e-4, 1 - 1e-4)
        mask = y_true[..., 5:6]
        objects = ops.maximum(ops.sum(mask), 1.0)
        positive = ops.cast(heat_true >= 0.999, "float32")
        focal = -(
            positive * (1 - heat_pred) ** 2 * ops.log(heat_pred)
            + (1 - positive) * (1 - heat_true) ** 4 * heat_pred**2 * ops.log(1 - heat_pred)
        )
        size_error = ops.abs(y_true[..., 1:3] - y_pred[..., 1:3])
        offset_error = ops.abs(y_true[..., 3:5] - y_pred[..., 3:5])
        cross_entropy = -ops.sum(
            y_true[..., 6:] * ops.log(ops.clip(y_pred[..., 5:], 1e-6, 1.0)), axis=-1
        )
        return (
            ops.sum(focal)
            + size_weight * ops.sum(size_error * mask)
            + offset_weight * ops.sum(offset_error * mask)
            + class_weight * ops.sum(cross_entropy)
        ) / objects

    return loss


def decode_centernet(
    outputs: np.ndarray, *, stride: int = CENTERNET_STRIDE, score_threshold: float = 0.05
) -> list:
    """Turn the detector's output maps into boxes: local maxima of the objectness map (a
    3x3 max filter replaces NMS, as in CenterNet), their size, offset and likeliest class.
    A box's score is objectness x class probability; at most ``MAX_DETECTIONS`` per image.

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
        raise ValueError(
            f"outputs must have shape (N, rows, columns, 5 + classes), but it "
            f"has shape {outputs.shape}."
        )
    validation.check_count(
        outputs.size, 2**28, "numbers in outputs", "Decode the maps in smaller batches."
    )
    validation.require_finite(outputs, "outputs")
    stride = validation.as_int(stride, "stride", minimum=1, maximum=64)
    # Scores are objectness x class probability, in [0, 1]: a threshold outside drops or
    # keeps everything, and NaN would silently drop every box.
    score_threshold = validation.as_float(
        score_threshold, "score_threshold", minimum=0.0, maximum=1.0
    )
    heat = outputs[..., 0]
    peaks = heat * (heat == ndimage.maximum_filter(heat, size=(1, 3, 3), mode="constant"))
    results = []
    for index in range(len(outputs)):
        probabilities = outputs[index, ..., 5:]
        scores_map = peaks[index] * probabilities.max(axis=-1)
        flat = scores_map.ravel()
        top = np.argsort(-flat, kind="stable")[:MAX_DETECTIONS]
        top = top[flat[top] >= score_threshold]
        row, column = np.unravel_index(top, scores_map.shape)
        size = outputs[index, row, column, 1:3] * 16
        offset = outputs[index, row, column, 3:5]
        centre_x = (column + offset[:, 0]) * stride
        centre_y = (row + offset[:, 1]) * stride
        width, height = np.maximum(size[:, 0], 1), np.maximum(size[:, 1], 1)
        boxes = np.stack([centre_x - width / 2, centre_y - height / 2, width, height], axis=1)
        results.append(
            {
                "boxes": boxes.astype(np.float64).reshape(-1, 4),
                "scores": flat[top].astype(np.float64),
                "labels": probabilities[row, column].argmax(axis=-1).astype(np.int64),
            }
        )
    return results


def describe_outputs(model: keras.Model) -> str:
    """What the heat-map detector's output channels mean, with its grid size."""
    models.require_model(model)
    _, rows, columns, channels = model.output_shape
    return (
        f"output {rows} x {columns} cells x {channels} numbers per cell: objectness (1), "
        f"box width and height / 16 (2), centre offset in the cell (2), class "
        f"probabilities ({channels - 5})"
    )


# --------------------------------------------------------------------------------------------
# The lesson's detector: training recipe, detection on scenes, the viewer's picture
# --------------------------------------------------------------------------------------------

# The lesson's detector settings (measured in benchmarks/detection.py).
# 8000 scenes seen 5 times train better than 4000 seen 10 times, in the same time.
DETECTOR_SETTINGS = {
    "train_scenes": 8000,
    "train_seed": 1,
    "test_scenes": 300,
    "test_seed": 2,
    "epochs": 5,
    "batch_size": 64,
    "learning_rate": 0.004,
    "width": 24,
}


def train_lesson_detector(train_scenes: Scenes, *, seed: int = 0) -> models.TrainingResult:
    """Build and train the lesson's heat-map detector on ``train_scenes`` (cached), with
    ``DETECTOR_SETTINGS``."""
    train_scenes = require_scenes(train_scenes, "train_scenes")
    seed = validation.as_seed(seed)
    settings = DETECTOR_SETTINGS
    model = centernet_model(
        train_scenes.images.shape[1:] + (1,), len(train_scenes.class_names), width=settings["width"]
    )
    return fit(
        model,
        train_scenes.images,
        centernet_targets(train_scenes),
        loss=centernet_loss(),
        loss_name="centernet focal+L1+CE v2",
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        learning_rate=settings["learning_rate"],
        seed=seed,
    )


def detect_scenes(model: keras.Model, scenes: Scenes) -> tuple[list, float]:
    """Run the heat-map detector on every scene (boxes scoring at least 0.05): (detections
    per scene, seconds per image). The seconds are a second, timed run's: a network's first
    call on an input shape also compiles it (JAX) or sets it up, which is not detecting."""
    scenes = require_scenes(scenes)
    found, seconds = timed_second_run(
        lambda: decode_centernet(predict(model, scenes.images), score_threshold=0.05)
    )
    return found, seconds / len(scenes)


def detector_view(
    outputs: np.ndarray, scenes: Scenes, index: int, score_threshold: float, scale: int
) -> dict:
    """Scene ``index`` with the detector's boxes (red) above ``score_threshold`` and the
    ground truth (dashed blue): {"picture", "found" (decoded dict), "matched" (truth index or -1
    per box)}. ``outputs`` are the detector's maps for every scene."""
    found = decode_centernet(outputs[index : index + 1], score_threshold=score_threshold)[0]
    truths = scenes.boxes[index]
    picture = draw_boxes(
        scenes.images[index],
        np.vstack([truths, found["boxes"]]),
        roles=["truth"] * len(truths) + ["prediction"] * len(found["boxes"]),
        scale=scale,
    )
    matched = (
        match_detections(found["boxes"], found["scores"], truths)
        if len(found["boxes"])
        else np.zeros(0, np.int64)
    )
    return {"picture": picture, "found": found, "matched": matched}
