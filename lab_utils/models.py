"""Keras model builders, training, inference and saving shared by the deep-learning lessons.

Introduced by lesson 04 (CNNs); later lessons reuse it. Every builder uses the Functional API
and only ``keras.layers`` / ``keras.ops``, so the models run on any Keras 3 backend.
Importing this module does not import TensorFlow: Keras is imported inside the functions
through ``lesson.import_keras()``, which also keeps TensorFlow's native log lines quiet.

Conventions: ``images`` are NumPy arrays of shape (N, H, W) or (N, H, W, C), float in [0, 1];
``labels`` are int class indices of shape (N,).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lab_utils import lesson, progress, validation

if TYPE_CHECKING:  # Keras is imported when a model is first needed, not at import time
    import keras


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


def as_batch(images: np.ndarray, name: str = "images") -> np.ndarray:
    """Check a batch of images and return it as float32 of shape (N, H, W, C).

    Parameters
    ----------
    images : ndarray, shape (N, H, W) or (N, H, W, C), float in [0, 1] (or uint8 0-255)
        A grayscale batch (N, H, W) gets a channel axis of size 1.
    """
    batch = validation.as_array(images, name)
    if batch.ndim not in (3, 4):
        raise ValueError(
            f"{name} must be a batch of images of shape (N, height, width) or "
            f"(N, height, width, channels), but it has shape {batch.shape}. "
            f"For a single image use image[None]."
        )
    if batch.shape[0] == 0:
        raise ValueError(f"{name} is an empty batch: its shape is {batch.shape}.")
    validation.check_size(batch.shape[1:], f"each image of {name}")
    if batch.dtype == np.uint8:
        if batch.size > 1 and int(batch.max()) == 1:
            raise ValueError(
                f"{name} is uint8 but holds only 0 and 1: it looks like [0, 1] "
                f"floats cast with .astype(np.uint8), which rounds every value "
                f"down. Pass the floats themselves."
            )
        batch = batch.astype(np.float32) / 255.0
    elif np.issubdtype(batch.dtype, np.floating):
        if not np.all(np.isfinite(batch)):
            raise ValueError(f"{name} contains NaN or infinite values.")
        low, high = float(batch.min()), float(batch.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"{name} must hold floats in [0, 1], but they range from "
                f"{low:g} to {high:g}. Divide gray levels by their maximum."
            )
    else:
        raise TypeError(
            f"{name} must be float (0-1) or uint8 (0-255), but its dtype is {batch.dtype}."
        )
    batch = batch.astype(np.float32, copy=False)
    return batch[..., None] if batch.ndim == 3 else batch


as_labels = validation.as_labels  # lessons import it from here too


def as_input_shape(input_shape: tuple[int, ...] | list[int], name: str = "input_shape") -> tuple:
    """(height, width, channels) as a tuple of positive ints."""
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            f"{name} must be (height, width, channels), e.g. (32, 32, 1), but got {input_shape!r}."
        )
    return tuple(
        validation.as_int(side, f"{name}[{i}]", minimum=1) for i, side in enumerate(input_shape)
    )


def check_input_shape(
    model: keras.Model, image_shape: tuple[int, ...], *, name: str = "model", images: str = "images"
) -> None:
    """Raise ValueError (in plain words) unless ``model`` takes images of ``image_shape``.

    ``image_shape`` is one image's (height, width, channels). A model whose input shape is not
    known yet (a Sequential model without ``keras.Input``) is left to build itself.
    """
    expected = tuple(int(side) for side in image_shape)
    shape = _input_shape(model)
    if shape is None:
        return
    fits = len(shape) == len(expected) and all(
        want is None or want == got for want, got in zip(shape, expected)
    )
    if not fits and shape != expected[:2]:
        shown = tuple("any" if side is None else side for side in shape)
        raise ValueError(
            f"{name} expects images of shape {shown} (height, width, channels), "
            f"but {images} have shape {expected}: use images of the size the "
            f"model was built for (e.g. the same split it was trained on), or "
            f"build the model with input_shape={expected}."
        )


def _input_shape(model):
    """One input's shape without the batch axis, e.g. (32, 32, 1); None if not known yet."""
    try:
        shape = model.input_shape
    except (AttributeError, ValueError, TypeError):
        return None
    if not isinstance(shape, tuple) or not shape:
        return None  # several inputs: not a lesson model, Keras checks it
    return tuple(shape[1:])


def require_model(model: object, name: str = "model") -> keras.Model:
    """Return ``model`` unchanged if it is a Keras model; raise a plain TypeError if not."""
    keras = lesson.import_keras()
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"{name} must be a Keras model (keras.Model), but got {validation.describe(model)}."
        )
    return model


# --------------------------------------------------------------------------------------------
# Builders (Functional API)
# --------------------------------------------------------------------------------------------


def dense_classifier(
    input_shape: tuple[int, int, int],
    classes: int,
    hidden_units: tuple[int, ...] | list[int] = (256, 128),
    *,
    dropout: float = 0.0,
    random_shift: float = 0.0,
    name: str = "dense",
) -> keras.Model:
    """A fully connected classifier: Flatten, Dense+ReLU layers, Dense+softmax.

    Parameters
    ----------
    input_shape : (height, width, channels)
    classes : int >= 2
    hidden_units : sequence of int
        Units of each hidden layer.
    dropout : float in [0, 1)
        Dropout rate after each hidden layer (0: none).
    random_shift : float in [0, 0.5)
        The same data augmentation as ``cnn_classifier``'s: during training only, a first
        ``RandomTranslation`` layer moves each image by up to this fraction of its size.

    Returns
    -------
    keras.Model mapping (N, H, W, C) float32 to (N, classes) probabilities.
    """
    keras = lesson.import_keras()
    input_shape = as_input_shape(input_shape)
    classes = validation.as_int(classes, "classes", minimum=2)
    dropout = validation.as_float(dropout, "dropout", minimum=0.0, maximum=0.99)
    random_shift = validation.as_float(random_shift, "random_shift", minimum=0.0, maximum=0.49)
    if not isinstance(hidden_units, (list, tuple)):
        raise TypeError(
            f"hidden_units must be a list of whole numbers such as [256, 128], "
            f"but got {validation.describe(hidden_units)}."
        )
    units = [
        validation.as_int(u, f"hidden_units[{i}]", minimum=1) for i, u in enumerate(hidden_units)
    ]
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if random_shift:
        x = keras.layers.RandomTranslation(
            random_shift, random_shift, fill_mode="constant", name="random_shift"
        )(x)
    x = keras.layers.Flatten(name="flatten")(x)
    for index, count in enumerate(units, start=1):
        x = keras.layers.Dense(count, activation="relu", name=f"dense_{index}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"dropout_{index}")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


def cnn_classifier(
    input_shape: tuple[int, int, int],
    classes: int,
    filters: tuple[int, ...] | list[int] = (32, 64, 64),
    *,
    kernel_size: int = 3,
    pooling: bool = True,
    head: str = "global_max",
    dropout: float = 0.0,
    batch_norm: bool = False,
    random_shift: float = 0.0,
    name: str = "cnn",
) -> keras.Model:
    """A plain CNN: Conv2D+ReLU blocks, each but the last followed by 2x2 max pooling.

    Parameters
    ----------
    input_shape : (height, width, channels)
    classes : int >= 2
    filters : sequence of int
        Filters of each Conv2D layer ('same' padding, ReLU).
    kernel_size : int
        Side of every (square) kernel.
    pooling : bool
        Put a MaxPooling2D(2) after every convolution except the last one. Without it the
        feature maps keep the input's size (more computation, smaller receptive fields).
    head : "global_max", "global_average" or "flatten"
        How the last feature maps become one vector: the largest (or mean) response of each
        filter anywhere in the image, or every value (Flatten, position-dependent, many
        parameters in the final Dense layer).
    dropout : float in [0, 1)
        Dropout rate before the final Dense layer.
    batch_norm : bool
        Each block becomes Conv2D (no bias) -> BatchNormalization -> ReLU. Normalising each
        filter's responses over the batch makes training faster and steadier.
    random_shift : float in [0, 0.5)
        Data augmentation: during training only, a first ``RandomTranslation`` layer moves
        each image by up to this fraction of its height and width (zeros fill in).
        At inference (``training=False``) it does nothing.

    Returns
    -------
    keras.Model mapping (N, H, W, C) float32 to (N, classes) probabilities.
    """
    keras = lesson.import_keras()
    input_shape = as_input_shape(input_shape)
    classes = validation.as_int(classes, "classes", minimum=2)
    random_shift = validation.as_float(random_shift, "random_shift", minimum=0.0, maximum=0.49)
    counts = _checked_cnn_layers(input_shape, filters, pooling, batch_norm)
    kernel_size = validation.as_int(
        kernel_size, "kernel_size", minimum=1, maximum=min(input_shape[:2])
    )
    dropout = validation.as_float(dropout, "dropout", minimum=0.0, maximum=0.99)
    validation.one_of(head, "head", list(_HEADS))
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if random_shift:
        x = keras.layers.RandomTranslation(
            random_shift, random_shift, fill_mode="constant", name="random_shift"
        )(x)
    for index, count in enumerate(counts, start=1):
        x = _conv_block(keras, x, count, kernel_size, batch_norm, index)
        if pooling and index < len(counts):
            x = keras.layers.MaxPooling2D(2, name=f"pool_{index}")(x)
    x = getattr(keras.layers, _HEADS[head])(name=head)(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=name)


#: cnn_classifier's heads: how the last feature maps become one vector (layer class by name).
_HEADS = {
    "global_max": "GlobalMaxPooling2D",
    "global_average": "GlobalAveragePooling2D",
    "flatten": "Flatten",
}


def _checked_cnn_layers(
    input_shape: tuple, filters: object, pooling: object, batch_norm: object
) -> list[int]:
    """cnn_classifier's layer settings checked; returns the filters of each convolution."""
    if not isinstance(batch_norm, bool):
        raise TypeError(f"batch_norm must be True or False, but got {batch_norm!r}.")
    if not isinstance(pooling, bool):
        raise TypeError(f"pooling must be True or False, but got {pooling!r}.")
    if not isinstance(filters, (list, tuple)) or not filters:
        raise TypeError(
            f"filters must be a non-empty list of whole numbers such as "
            f"[32, 64, 64], but got {validation.describe(filters)}."
        )
    counts = [validation.as_int(f, f"filters[{i}]", minimum=1) for i, f in enumerate(filters)]
    if pooling and min(input_shape[:2]) < 2 ** (len(counts) - 1):
        raise ValueError(
            f"a {input_shape[0]}x{input_shape[1]} input is too small for "
            f"{len(counts) - 1} 2x2 poolings; use fewer layers or pooling=False."
        )
    return counts


def _conv_block(
    keras: object, x: object, count: int, kernel_size: int, batch_norm: bool, index: int
) -> object:
    """Conv2D + ReLU, or Conv2D (no bias) -> BatchNormalization -> ReLU."""
    if not batch_norm:
        return keras.layers.Conv2D(
            count, kernel_size, padding="same", activation="relu", name=f"conv_{index}"
        )(x)
    x = keras.layers.Conv2D(
        count, kernel_size, padding="same", use_bias=False, name=f"conv_{index}"
    )(x)
    x = keras.layers.BatchNormalization(momentum=0.9, name=f"batch_norm_{index}")(x)
    return keras.layers.Activation("relu", name=f"relu_{index}")(x)


# --------------------------------------------------------------------------------------------
# Training and inference
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class TrainingResult:
    """What ``train`` returns.

    Attributes
    ----------
    model : keras.Model
        The trained model (the same object that was passed in).
    history : dict of str -> list of float
        Per-epoch "loss", "accuracy" and, with validation data, "val_loss", "val_accuracy".
    seconds : float
        Wall-clock time of ``fit`` (includes building the training graph on the first epoch).
    cpu_seconds : float
        CPU time of this process during ``fit`` (all threads): less sensitive than
        ``seconds`` to other programs sharing the machine.
    from_cache : bool
        True when the weights were loaded from the training cache; ``history``, ``seconds``
        and ``cpu_seconds`` are then those measured when the model was really trained.
    """

    model: object
    history: dict
    seconds: float
    cpu_seconds: float
    from_cache: bool = False

    @property
    def epochs(self) -> int:
        """Number of epochs in ``history``."""
        return len(self.history.get("loss", []))


def _architecture(model) -> object:
    """The model's configuration with every layer's name (nested models' too) replaced by its
    position: names do not change what a network computes, but Keras numbers unnamed layers
    per session (conv2d, conv2d_1, ...). Keyed by names, lesson 04's CNN built by a student's
    function got another key in the grader (whose checks had built the network before) and
    was trained again for every student (20 s)."""
    names: dict[str, str] = {}

    def number(layer, prefix: str) -> None:
        names.setdefault(layer.name, prefix)
        for index, inner in enumerate(getattr(layer, "layers", [])):
            number(inner, f"{prefix}/{index}")

    number(model, "model")

    def renamed(value):
        if isinstance(value, str):
            return names.get(value, value)
        if isinstance(value, list):
            return [renamed(item) for item in value]
        if isinstance(value, dict):
            return {key: renamed(item) for key, item in value.items()}
        return value

    return renamed(json.loads(model.to_json()))


def _training_key(model, arrays, settings: dict) -> str:
    """sha256 over everything that determines the trained weights."""
    keras = lesson.import_keras()
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            {
                **settings,
                "keras": keras.__version__,
                "backend": keras.backend.backend(),
                "architecture": _architecture(model),
            },
            sort_keys=True,
        ).encode()
    )
    # model.variables, not get_weights(): a random layer's seed state (e.g. RandomTranslation)
    # changes the training as much as the initial weights do.
    variables = [np.asarray(keras.ops.convert_to_numpy(v)) for v in model.variables]
    for array in [*arrays, *variables]:
        digest.update(str((array.shape, array.dtype)).encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _output_activation(model) -> str | None:
    """Name of the activation that produces the model's output, or None if unknown.

    Looks at the last layer: a ``Softmax`` layer, or the ``activation`` of a ``Dense``,
    ``Conv2D`` or ``Activation`` layer. Other last layers (e.g. a ``Lambda``) give None.
    """
    keras = lesson.import_keras()
    if not model.layers:
        return None
    layer = model.layers[-1]
    if isinstance(layer, keras.layers.Softmax):
        return "softmax"
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    if isinstance(activation, str):
        return activation
    try:
        return keras.activations.serialize(activation)
    except (ValueError, TypeError):
        return getattr(activation, "__name__", None)


def train(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    epochs: int = 10,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    cosine_decay: bool = True,
    seed: int = 0,
    cache: bool = True,
) -> TrainingResult:
    """Compile ``model`` (Adam, sparse categorical cross-entropy, accuracy) and fit it.

    Parameters
    ----------
    model : keras.Model
        Outputs softmax probabilities, shape (N, classes).
    images : ndarray, (N, H, W) or (N, H, W, C), float in [0, 1]
    labels : ndarray of int, shape (N,)
    validation_data : (images, labels), optional
        Evaluated after every epoch; gives the "val_" curves.
    epochs, batch_size : int
    learning_rate : float
        Adam's (initial) step size.
    cosine_decay : bool
        Lower the learning rate along a half cosine to 0 over the training steps: large steps
        early, small ones at the end, which settles the weights (usually a few tenths of a
        percent better test accuracy for the same number of epochs).
    seed : int
        Passed to ``keras.utils.set_random_seed`` just before fitting, so the shuffling and
        dropout are repeatable. (Op-level determinism is not forced: on CPU the results
        repeat to within float rounding, and forcing it would slow training down.)
    cache : bool
        Load an identical earlier training from the cache (in about a second) instead of
        repeating it, e.g. a re-run in front of a class or an autograder run; see ``fit``.

    Returns
    -------
    TrainingResult
    """
    _require_probabilities(model)
    images = as_batch(images)
    classes = int(model.output_shape[-1])
    labels = as_labels(labels, len(images), classes)
    epochs = validation.as_int(epochs, "epochs", minimum=1, maximum=1000)
    batch_size = validation.as_int(batch_size, "batch_size", minimum=1)
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-7, maximum=10.0)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    if validation_data is not None:
        validation_data = _checked_validation_data(validation_data, classes)
    if not isinstance(cosine_decay, bool):
        raise TypeError(f"cosine_decay must be True or False, but got {cosine_decay!r}.")
    if not isinstance(cache, bool):
        raise TypeError(f"cache must be True or False, but got {cache!r}.")
    return fit(
        model,
        images,
        labels,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        cosine_decay=cosine_decay,
        seed=seed,
        validation_data=validation_data,
        cache=cache,
        key_arrays=[images, labels, *(validation_data or ())],
        key_settings={
            "epochs": epochs,
            "batch_size": batch_size,
            "seed": seed,
            "learning_rate": learning_rate,
            "cosine_decay": cosine_decay,
        },
    )


def _require_probabilities(model: keras.Model) -> None:
    """models.train's loss needs probabilities: refuse a model without a softmax output."""
    require_model(model)
    activation = _output_activation(model)
    if isinstance(activation, dict):
        activation = activation.get("config", {}).get("name", activation.get("class_name"))
    if activation is not None and activation != "softmax":
        raise ValueError(
            f"model {model.name!r} ends with activation {activation!r} "
            f"(layer {model.layers[-1].name!r}), but models.train uses the "
            f"sparse categorical cross-entropy, which expects probabilities: end "
            f"the model with keras.layers.Dense(classes, activation='softmax')."
        )


def _checked_validation_data(validation_data: object, classes: int) -> tuple:
    """(images, labels) checked like the training data."""
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise TypeError("validation_data must be a pair (images, labels).")
    validation_images = as_batch(validation_data[0], "validation images")
    labels = as_labels(validation_data[1], len(validation_images), classes, "validation labels")
    return validation_images, labels


def fit(
    model: keras.Model,
    inputs: object,
    targets: object = None,
    *,
    loss: object,
    epochs: int,
    learning_rate: float,
    seed: int,
    batch_size: int | None = None,
    steps_per_epoch: int | None = None,
    cosine_decay: bool = True,
    metrics: list | None = None,
    loss_weights: dict | list | None = None,
    validation_data: object = None,
    callbacks: tuple | list = (),
    cache: bool = True,
    key_arrays: tuple | list = (),
    key_settings: dict | None = None,
) -> TrainingResult:
    """The kit's one training loop: compile with Adam, then fit seeded, or load the cache.

    Every lesson trains through here (``train`` for classifiers, ``detection.fit`` for the
    detectors' losses, ``faces.train_embedding`` for the triplet loss): each validates its own
    arguments and builds its cache key, then calls this function, so the cache, the seeding
    and the timing are the same everywhere.

    Parameters
    ----------
    model : keras.Model
    inputs, targets
        What ``model.fit`` takes: arrays (``targets`` an array or a dict per output), or a
        ``keras.utils.PyDataset`` as ``inputs`` with ``targets=None``.
    loss, metrics, loss_weights
        Passed to ``model.compile``.
    epochs : int
    learning_rate : float
        Adam's (initial) step size.
    seed : int
        ``keras.utils.set_random_seed(seed)`` just before fitting and again after it, so the
        next model is built from the same random state whether this one was trained or loaded.
    batch_size : int, optional
        For arrays; the number of steps per epoch is then ceil(N / batch_size).
    steps_per_epoch : int, optional
        For a dataset (its length); sets the length of the cosine decay.
    cosine_decay : bool
        Lower the learning rate along a half cosine to 0 over all the training steps.
    validation_data, callbacks
        Passed to ``model.fit``.
    cache : bool
        Training is deterministic, so an identical earlier training (architecture, initial
        weights and random state, ``key_arrays``, ``key_settings``, Keras version) is loaded
        from ``data.cache_dir()/trained/`` instead of repeated; a line says so.
        ``LAB_UTILS_RETRAIN=1`` or ``cache=False`` always trains.
    key_arrays, key_settings : sequence of ndarray, dict of JSON-able values
        The data and settings that determine the weights (hashed into the cache key).

    Returns
    -------
    TrainingResult
    """
    keras = lesson.import_keras()
    if steps_per_epoch is None:
        steps_per_epoch = -(-len(inputs) // batch_size)
    key = None
    if cache and os.environ.get("LAB_UTILS_RETRAIN", "") not in {"1", "true", "yes"}:
        key = _training_key(model, list(key_arrays), dict(key_settings or {}))
    schedule = learning_rate
    if cosine_decay:
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, epochs * steps_per_epoch)
    compile_options = {"metrics": metrics} if metrics is not None else {}
    if loss_weights is not None:
        compile_options["loss_weights"] = loss_weights
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=loss, **compile_options)
    cached = _load_trained(model, key) if key else None
    if cached is not None:
        keras.utils.set_random_seed(seed)  # leave the generators as a real training does
        lesson.return_freed_memory()
        return cached
    # One progress bar with the time left (lab_utils.progress): first runs train for minutes.
    bar = progress.training_bar(f"training {model.name}")
    # Each epoch's freed buffers go back to the system (about 5 ms), so the next epoch starts
    # from less. No garbage collection here: one per epoch made lesson 04's first run 150 s
    # instead of 105 s.
    release = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: lesson.return_freed_memory())
    fit_options = {"epochs": epochs, "verbose": 0, "callbacks": [*callbacks, bar, release]}
    if targets is not None:
        fit_options.update(batch_size=batch_size, shuffle=True)
    if validation_data is not None:
        fit_options["validation_data"] = validation_data
    result = _seeded_fit(
        model, (inputs,) if targets is None else (inputs, targets), fit_options, seed
    )
    if key:
        _store_trained(result, key)
    lesson.return_freed_memory()
    return result


def _seeded_fit(model: keras.Model, data: tuple, fit_options: dict, seed: int) -> TrainingResult:
    """``model.fit(*data, **fit_options)`` between two re-seedings, timed (wall and CPU)."""
    keras = lesson.import_keras()
    keras.utils.set_random_seed(seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    with lesson.native_stderr_silenced():
        fitted = model.fit(*data, **fit_options)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    keras.utils.set_random_seed(seed)
    history = {name: [float(v) for v in values] for name, values in fitted.history.items()}
    return TrainingResult(model, history, seconds, cpu_seconds)


def _trained_paths(key: str, folder: Path | None = None) -> tuple[Path, Path]:
    """The weights file and the facts file of ``key`` in ``folder`` (default: personal cache)."""
    from lab_utils import data

    folder = (folder if folder is not None else data.cache_dir()) / "trained"
    return folder / f"{key}.weights.h5", folder / f"{key}.json"


def _store_trained(result: TrainingResult, key: str) -> None:
    """Keep the trained weights and what was measured while training them.

    Each file is written under a temporary name and renamed into place, so a process reading
    the cache while another stores the same training (parallel test workers, two kernels of
    one student) sees either no entry or a whole one. The facts record the weights file's
    sha256, so a damaged or swapped weights file is recognised when it is loaded.
    """
    from lab_utils import data

    weights, facts = _trained_paths(key)
    weights.parent.mkdir(parents=True, exist_ok=True)
    partial = f".partial-{os.getpid()}"
    weights_partial = weights.with_name(
        weights.name.replace(".weights.h5", partial + ".weights.h5")
    )
    result.model.save_weights(weights_partial)  # Keras insists on the .weights.h5 ending
    digest = data.sha256_of(weights_partial)
    os.replace(weights_partial, weights)
    facts_partial = facts.with_name(facts.name + partial)
    facts_partial.write_text(
        json.dumps(
            {
                "history": result.history,
                "seconds": result.seconds,
                "cpu_seconds": result.cpu_seconds,
                "weights_sha256": digest,
            }
        )
    )
    os.replace(facts_partial, facts)


class DamagedCacheEntry(ValueError):
    """A training-cache entry that exists but cannot be used (says what is wrong with it)."""


def _read_facts(facts: Path, weights: Path) -> dict:
    """The facts of a cache entry, checked: history, seconds, cpu_seconds, the weights' sha256."""
    from lab_utils import data

    try:
        recorded = json.loads(facts.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise DamagedCacheEntry(f"{facts.name} is not readable JSON ({error})") from None
    if not isinstance(recorded, dict):
        raise DamagedCacheEntry(f"{facts.name} does not hold a JSON object")
    for field in ("seconds", "cpu_seconds"):
        value = recorded.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise DamagedCacheEntry(f"{facts.name} has no valid {field!r} (found {value!r})")
    history = recorded.get("history")
    if not isinstance(history, dict) or not all(
        isinstance(values, list) and all(isinstance(v, (int, float)) for v in values)
        for values in history.values()
    ):
        raise DamagedCacheEntry(f"{facts.name} has no valid 'history'")
    expected = recorded.get("weights_sha256")  # absent in entries from older kits
    if expected is not None and data.sha256_of(weights) != expected:
        raise DamagedCacheEntry(f"{weights.name} does not match the sha256 its entry recorded")
    return recorded


def _load_entry(model, weights: Path, facts: Path) -> dict:
    """Load one entry's weights into ``model``; on failure leave ``model`` as it was and raise."""
    recorded = _read_facts(facts, weights)
    before = [variable.numpy() for variable in model.variables]
    try:
        with lesson.native_stderr_silenced(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the optimizer's state is not needed: no more fit
            model.load_weights(weights)
    except Exception as error:  # noqa: BLE001 - h5py and Keras raise many types for bad files
        for variable, value in zip(model.variables, before):
            variable.assign(value)  # a half-loaded model would train from the wrong weights
        raise DamagedCacheEntry(
            f"{weights.name} cannot be loaded into {model.name} "
            f"({type(error).__name__}: {str(error)[:160]})"
        ) from None
    return recorded


def _set_aside(weights: Path, facts: Path) -> list[str]:
    """Rename a damaged personal entry's files to ``*.damaged`` (kept for a look, never used)."""
    from lab_utils import data

    moved = []
    for path in (weights, facts):
        if path.exists():
            try:
                moved.append(data.set_aside(path).name)
            except OSError:
                pass
    return moved


def _load_trained(model, key: str) -> TrainingResult | None:
    """The cached training result for ``key``, or None (then the caller trains).

    Looked for in the shared folder (``LAB_UTILS_SHARED``, read-only) first, then in the
    personal cache. A damaged shared entry is reported and skipped (never written to); a
    damaged personal entry is reported and set aside, so the training is done again.
    """
    from lab_utils import data

    shared = data.shared_dir()
    places = [("shared", shared)] if shared is not None else []
    for place, folder in [*places, ("personal", None)]:
        weights, facts = _trained_paths(key, folder)
        if not (weights.exists() or facts.exists()):
            continue
        try:
            if not (weights.exists() and facts.exists()):
                raise DamagedCacheEntry(
                    f"{(facts if weights.exists() else weights).name} is missing"
                )
            recorded = _load_entry(model, weights, facts)
        except DamagedCacheEntry as error:
            if place == "shared":
                print(
                    f"[models] the shared training cache entry in {weights.parent} is damaged "
                    f"({error}); not used (tell your instructor), trying your own cache."
                )
                continue
            moved = _set_aside(weights, facts)
            print(
                f"[models] a damaged training cache entry ({error}) was set aside as "
                f"{', '.join(moved) or 'nothing'}; training again."
            )
            return None
        where = "the shared folder" if place == "shared" else "the cache"
        print(
            f"[models] {model.name}: loaded the weights of an identical earlier training "
            f"({recorded['seconds']:.1f} s) from {where}; LAB_UTILS_RETRAIN=1 trains again."
        )
        return TrainingResult(
            model, recorded["history"], recorded["seconds"], recorded["cpu_seconds"], True
        )
    return None


def reinitialise(model: keras.Model, seed: int = 0) -> None:
    """Give ``model`` fresh initial weights drawn from ``seed`` alone (in place).

    A new model's weights depend on every random number Keras drew before it was built; after
    this call they depend only on the architecture and ``seed``, so the same comparison gives
    the same figures in the lesson and in the benchmark. The random state is left seeded.
    """
    keras = lesson.import_keras()
    require_model(model)
    seed = validation.as_seed(seed)
    keras.utils.set_random_seed(seed)
    with lesson.native_stderr_silenced():
        fresh = keras.models.clone_model(model)
    # All variables, not only the weights: a RandomTranslation layer's seed-generator state is
    # a variable outside get_weights(), and it decides which shifts the training sees.
    if [v.shape for v in model.variables] == [v.shape for v in fresh.variables]:
        for variable, new in zip(model.variables, fresh.variables):
            variable.assign(new)
    else:  # an unusual layer layout: the weights at least
        model.set_weights(fresh.get_weights())
    keras.utils.set_random_seed(seed)


def predict_probabilities(
    model: keras.Model, images: np.ndarray, batch_size: int = 512
) -> np.ndarray:
    """Class probabilities, shape (N, classes) float32, from ``model(x, training=False)``.

    Calling the model directly is several times faster than ``model.predict`` for the
    small batches of a lesson or a widget, and prints nothing.
    """
    keras = lesson.import_keras()
    require_model(model)
    images = as_batch(images)
    check_input_shape(model, images.shape[1:])
    if len(_input_shape(model) or ()) == 2:  # a model built for (H, W) inputs
        images = images[..., 0]
    batch_size = validation.as_int(batch_size, "batch_size", minimum=1)
    outputs = [
        keras.ops.convert_to_numpy(model(images[start : start + batch_size], training=False))
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(outputs).astype(np.float32)


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``images`` whose most probable class is the label (0-1)."""
    probabilities = predict_probabilities(model, images)
    labels = as_labels(labels, len(probabilities), probabilities.shape[1])
    return float(np.mean(probabilities.argmax(axis=1) == labels))


# --------------------------------------------------------------------------------------------
# Inspecting models
# --------------------------------------------------------------------------------------------


def parameter_count(model: keras.Model | keras.layers.Layer) -> int:
    """Total number of weights (trainable and not) of a built Keras model or layer."""
    keras = lesson.import_keras()
    if not isinstance(model, (keras.Model, keras.layers.Layer)):
        raise TypeError(
            f"model must be a Keras model or layer, but got {validation.describe(model)}."
        )
    if not model.built:
        raise ValueError(
            "the layer is not built yet, so it has no weights to count: call it "
            "on an input first (or use layer_facts)."
        )
    return int(model.count_params())


def layer_facts(layer: keras.layers.Layer, input_shape: tuple[int, ...]) -> dict:
    """Output shape and parameter count of one Keras layer applied to ``input_shape``.

    Parameters
    ----------
    layer : keras.layers.Layer
        A new (unbuilt) layer, e.g. ``keras.layers.Conv2D(64, 3)``.
    input_shape : tuple of int
        Shape of one example, without the batch axis, e.g. (224, 224, 3).

    Returns
    -------
    dict with "output_shape" (tuple, without the batch axis) and "parameters" (int),
    both measured by Keras itself (the layer is built on a symbolic input).
    """
    keras = lesson.import_keras()
    if not isinstance(layer, keras.layers.Layer) or isinstance(layer, keras.Model):
        raise TypeError(
            f"layer must be a Keras layer such as keras.layers.Conv2D(8, 3), "
            f"but got {validation.describe(layer)}."
        )
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise TypeError(
            f"input_shape must be a tuple of whole numbers such as (32, 32, 1), "
            f"but got {input_shape!r}."
        )
    shape = tuple(
        validation.as_int(side, f"input_shape[{i}]", minimum=1)
        for i, side in enumerate(input_shape)
    )
    output = layer(keras.KerasTensor((1,) + shape))
    return {
        "output_shape": tuple(int(s) for s in output.shape[1:]),
        "parameters": int(layer.count_params()),
    }


def layer_table(model: keras.Model) -> list[dict]:
    """One row per layer: name, type, output shape (without batch axis), parameters."""
    require_model(model)
    rows = []
    for layer in model.layers:
        shape = layer.output.shape if hasattr(layer, "output") else None
        rows.append(
            {
                "name": layer.name,
                "type": type(layer).__name__,
                "output_shape": tuple(shape[1:]) if shape is not None else None,
                "parameters": int(layer.count_params()),
            }
        )
    return rows


def summary_text(model: keras.Model) -> str:
    """``model.summary()`` as a string (for tests, reports and widgets)."""
    require_model(model)
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Saving and loading (.keras format)
# --------------------------------------------------------------------------------------------


def save(model: keras.Model, path: str | Path) -> Path:
    """Save ``model`` in the native ``.keras`` format (architecture + weights) and return the path.

    The folder is created if needed. Only the ``.keras`` suffix is accepted: it is the format
    Keras 3 loads safely (no pickled Python code).
    """
    require_model(model)
    if not isinstance(path, (str, Path)):
        raise TypeError(
            f"path must be a file name such as 'cnn.keras', but got {validation.describe(path)}."
        )
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path must end in '.keras' (the Keras 3 format), but got {path.name!r}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and not optimizer.built:
        # Weights restored from the training cache leave the optimizer unbuilt; saved like that,
        # loading warns "Skipping variable loading for optimizer" on stderr. Build it first.
        optimizer.build(model.trainable_variables)
    model.save(path)
    return path


def load(path: str | Path) -> keras.Model:
    """Load a model saved with ``save``, with Keras's ``safe_mode`` on.

    Safe mode refuses to deserialise arbitrary Python code (e.g. ``Lambda`` layers), so a
    ``.keras`` file from someone else cannot run code on your machine when it is loaded.
    """
    keras = lesson.import_keras()
    if not isinstance(path, (str, Path)):
        raise TypeError(
            f"path must be the name of a '.keras' file, but got {validation.describe(path)}."
        )
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"path must end in '.keras', but got {path.name!r}.")
    if not path.is_file():
        raise FileNotFoundError(
            f"there is no model file at {path}; save one first with "
            f"models.save(model, {str(path)!r})."
        )
    try:
        with lesson.native_stderr_silenced():
            return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - Keras raises many types for a damaged file
        if isinstance(error, ValueError) and "safe_mode" in str(error):
            raise  # the safe-mode refusal already explains itself
        raise ValueError(
            f"{path} exists but is not a readable .keras model: the file is "
            f"damaged or incomplete (for example a save that was interrupted), "
            f"or it is not a Keras model. Save the model again with "
            f"models.save(model, {str(path)!r}). (Keras said: "
            f"{type(error).__name__}: {str(error)[:200]})"
        ) from None
