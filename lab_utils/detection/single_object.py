"""Single object: a classification head and a box head on one CNN, one multitask loss.

The slide "Detect Single Object": what (a softmax over the classes) and where (4 numbers,
the box), trained with loss = class_weight * cross-entropy + box_weight * box loss. The box
loss is the slide's L2 on boxes / image side, or, as in Fast R-CNN, smooth L1 on
*standardised* boxes (each number minus its training mean, divided by its training spread), so
that the two terms of the sum have comparable sizes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from lab_utils import lesson, models, validation
from lab_utils.boxes import iou_matrix
from lab_utils.data import Scenes
from lab_utils.detection.compute import fit, predict, require_scenes

if TYPE_CHECKING:  # Keras is imported when a model is first needed, not at import time
    import keras


def single_object_model(input_shape: tuple = (32, 32, 1), classes: int = 10) -> keras.Model:
    """A CNN with two heads, as on the slide "Detect Single Object": a softmax over the
    classes ("what") and 4 numbers, the box (x, y, w, h) / image side ("where").

    Both heads share the convolutions. The class head pools the feature maps globally (a
    digit is the same digit anywhere); the box head keeps their layout (Flatten), because
    "where" is exactly what global pooling throws away.

    Returns
    -------
    keras.Model "single_object" with outputs {"class": (N, classes) probabilities,
    "box": (N, 4)}
    """
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
    return keras.Model(inputs, {"class": label, "box": box}, name="single_object")


#: The box losses ``train_single_object`` knows: the slide's L2 and Fast R-CNN's smooth L1.
BOX_LOSSES = ("mse", "smooth_l1")


def box_statistics(scenes: Scenes) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread (standard deviation) of the boxes / image side of one-object scenes.

    Returns
    -------
    (mean, spread): two float32 arrays of shape (4,), (x, y, w, h) / image side; the spread
    is at least 1e-3 so that dividing by it is safe.
    """
    boxes = single_object_targets(scenes)["box"]
    return boxes.mean(axis=0), np.maximum(boxes.std(axis=0), 1e-3).astype(np.float32)


def _as_statistics(statistics: object) -> tuple[np.ndarray, np.ndarray] | None:
    """``statistics`` as two finite (4,) arrays, or None."""
    if statistics is None:
        return None
    if not isinstance(statistics, (tuple, list)) or len(statistics) != 2:
        raise TypeError(
            "box_statistics must be the (mean, spread) pair that detection.box_statistics "
            f"returns, but got {validation.describe(statistics)}."
        )
    mean, spread = (
        validation.as_array(value, "box_statistics", finite=True).astype(np.float32)
        for value in statistics
    )
    if mean.shape != (4,) or spread.shape != (4,) or np.any(spread <= 0):
        raise ValueError(
            "box_statistics must hold two arrays of 4 numbers (a mean and a positive spread), "
            "from detection.box_statistics(train_scenes)."
        )
    return mean, spread


def single_object_targets(scenes: Scenes, *, box_statistics: object = None) -> dict:
    """Training targets of one-object scenes.

    Returns
    -------
    dict: "class" (N,) int64 labels; "box" (N, 4) float32, "xywh" / image side (0-1), or,
    with ``box_statistics=(mean, spread)``, (box / side - mean) / spread (standardised: mean
    0, spread 1 on the training scenes).
    """
    scenes = require_scenes(scenes)
    statistics = _as_statistics(box_statistics)
    if any(len(labels) != 1 for labels in scenes.labels):
        raise ValueError(
            "single_object_targets needs scenes with exactly one object each "
            "(generate_scenes(..., max_objects=1))."
        )
    side = scenes.images.shape[1]
    boxes = (np.stack([boxes[0] for boxes in scenes.boxes]) / side).astype(np.float32)
    if statistics is not None:
        boxes = ((boxes - statistics[0]) / statistics[1]).astype(np.float32)
    return {
        "class": np.array([labels[0] for labels in scenes.labels], dtype=np.int64),
        "box": boxes,
    }


def train_single_object(
    scenes: Scenes,
    *,
    class_weight: float = 1.0,
    box_weight: float = 1.0,
    box_loss: str = "mse",
    box_statistics: object = None,
    epochs: int = 10,
    seed: int = 0,
) -> models.TrainingResult:
    """Train ``single_object_model`` with loss = class_weight * cross-entropy + box_weight *
    box loss (cached: an identical training is loaded in about a second).

    Parameters
    ----------
    scenes : Scenes with exactly one object each
    class_weight, box_weight : float >= 0, the weights of the sum
    box_loss : "mse" (the slide's L2) or "smooth_l1" (Fast R-CNN's: squared below an error
        of 1, absolute above, so a few far-off boxes do not dominate; Keras's ``Huber``)
    box_statistics : None (box targets = boxes / image side, 0-1) or the (mean, spread) of
        ``box_statistics(train_scenes)`` (standardised targets; pass the same to
        ``single_object_scores``)
    epochs, seed : int

    Returns
    -------
    models.TrainingResult
    """
    keras = lesson.import_keras()
    scenes = require_scenes(scenes)
    class_weight = validation.as_float(class_weight, "class_weight", minimum=0.0)
    box_weight = validation.as_float(box_weight, "box_weight", minimum=0.0)
    validation.one_of(box_loss, "box_loss", list(BOX_LOSSES))
    statistics = _as_statistics(box_statistics)
    lesson.reseed(seed)
    model = single_object_model(scenes.images.shape[1:] + (1,), len(scenes.class_names))
    loss = "mse" if box_loss == "mse" else keras.losses.Huber(delta=1.0)
    name = "single object CE + MSE" if box_loss == "mse" else "single object CE + smooth L1"
    if statistics is not None:
        name += " standardised " + " ".join(f"{v:.6g}" for v in np.concatenate(statistics))
    return fit(
        model,
        scenes.images,
        single_object_targets(scenes, box_statistics=statistics),
        loss={"class": "sparse_categorical_crossentropy", "box": loss},
        loss_name=name,
        loss_weights={"class": class_weight, "box": box_weight},
        epochs=epochs,
        batch_size=64,
        learning_rate=3e-3,
        seed=seed,
    )


def single_object_scores(
    model: keras.Model, scenes: Scenes, *, box_statistics: object = None
) -> dict:
    """Accuracy of the class head and IoU of the box head on one-object scenes.

    ``box_statistics``: the (mean, spread) the model was trained with, if any (its box head
    then outputs standardised boxes, turned back into pixels here).

    Returns
    -------
    dict: "accuracy", "mean_iou", "iou_50" (fraction of boxes with IoU >= 0.5), floats in
    [0, 1]; "boxes" (N, 4) the predicted boxes, "xywh" pixels
    """
    models.require_model(model)
    statistics = _as_statistics(box_statistics)
    targets = single_object_targets(scenes)
    outputs = predict(model, scenes.images)
    side = scenes.images.shape[1]
    predicted = outputs["box"]
    if statistics is not None:
        predicted = predicted * statistics[1] + statistics[0]
    boxes = np.clip(predicted, 0, 1) * side
    boxes[:, 2:] = np.maximum(boxes[:, 2:], 0)
    truths = targets["box"] * side
    ious = np.array([iou_matrix(b[None], t[None])[0, 0] for b, t in zip(boxes, truths)])
    return {
        "accuracy": float(np.mean(outputs["class"].argmax(1) == targets["class"])),
        "mean_iou": float(ious.mean()),
        "iou_50": float(np.mean(ious >= 0.5)),
        "boxes": boxes,
    }
