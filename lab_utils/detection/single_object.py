"""Single object: a classification head and a box head on one CNN, one multitask loss.

The slide "Detect Single Object": what (a softmax over the classes) and where (4 numbers,
the box), trained with loss = class_weight * cross-entropy + box_weight * L2.
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


def single_object_targets(scenes: Scenes) -> dict:
    """{"class": (N,) labels, "box": (N, 4) float32 "xywh" / image side} of one-object scenes."""
    scenes = require_scenes(scenes)
    if any(len(labels) != 1 for labels in scenes.labels):
        raise ValueError(
            "single_object_targets needs scenes with exactly one object each "
            "(generate_scenes(..., max_objects=1))."
        )
    side = scenes.images.shape[1]
    return {
        "class": np.array([labels[0] for labels in scenes.labels], dtype=np.int64),
        "box": (np.stack([boxes[0] for boxes in scenes.boxes]) / side).astype(np.float32),
    }


def train_single_object(
    scenes: Scenes,
    *,
    class_weight: float = 1.0,
    box_weight: float = 1.0,
    epochs: int = 10,
    seed: int = 0,
) -> models.TrainingResult:
    """Train ``single_object_model`` with loss = class_weight * CE + box_weight * L2 (cached)."""
    class_weight = validation.as_float(class_weight, "class_weight", minimum=0.0)
    box_weight = validation.as_float(box_weight, "box_weight", minimum=0.0)
    lesson.reseed(seed)
    model = single_object_model(scenes.images.shape[1:] + (1,), len(scenes.class_names))
    return fit(
        model,
        scenes.images,
        single_object_targets(scenes),
        loss={"class": "sparse_categorical_crossentropy", "box": "mse"},
        loss_name="single object CE + MSE",
        loss_weights={"class": class_weight, "box": box_weight},
        epochs=epochs,
        batch_size=64,
        learning_rate=3e-3,
        seed=seed,
    )


def single_object_scores(model: keras.Model, scenes: Scenes) -> dict:
    """Accuracy of the class head and mean IoU of the box head on one-object scenes."""
    targets = single_object_targets(scenes)
    outputs = predict(model, scenes.images)
    side = scenes.images.shape[1]
    boxes = np.clip(outputs["box"], 0, 1) * side
    boxes[:, 2:] = np.maximum(boxes[:, 2:], 0)
    truths = targets["box"] * side
    ious = np.array([iou_matrix(b[None], t[None])[0, 0] for b, t in zip(boxes, truths)])
    return {
        "accuracy": float(np.mean(outputs["class"].argmax(1) == targets["class"])),
        "mean_iou": float(ious.mean()),
        "iou_50": float(np.mean(ious >= 0.5)),
        "boxes": boxes,
    }
