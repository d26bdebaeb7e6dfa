"""Lesson 03's live training, behind the playground widget: the decision-boundary picture
(a NumPy image), the compiled Keras networks it trains (built once per shape and shared) and
the trainer that holds a dataset and a network's weights.

The widget itself (``playground``) is in ``widgets``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

import numpy as np

from lab_utils import lesson, plots, validation
from lab_utils.perceptrons.compute import EXTENT, as_points

# --------------------------------------------------------------------------------------------
# The decision boundary as an image
# --------------------------------------------------------------------------------------------

#: One RGB colour per class: Okabe-Ito's (``lab_utils.plots``), orange and blue first as in
#: TensorFlow Playground, then the colours that stay farthest apart for every colour vision
#: (tests/test_palette.py; the former green and purple fell to CIEDE2000 4 and 1 for protanopia).
CLASS_COLOUR_NAMES = ["orange", "blue", "green", "red", "purple", "yellow"]
CLASS_COLOURS = np.array(
    [
        plots.OKABE_ITO[name]
        for name in ("orange", "blue", "bluish green", "vermillion", "reddish purple", "yellow")
    ],
    dtype=np.float64,
)


def colour_key(classes: int = 2) -> str:
    """The colour key of ``boundary_image`` as one line of text, e.g. for a printout next to
    the pictures: which colour is which class, and what pale and the squares mean."""
    classes = validation.as_int(classes, "classes", minimum=2, maximum=len(CLASS_COLOURS))
    names = ", ".join(f"{CLASS_COLOUR_NAMES[k]} = class {k}" for k in range(classes))
    return (
        f"colour key: {names}; background = the predicted class (pale where the model is "
        f"unsure), squares = training points in their true class's colour"
    )


def grid_points(resolution: int = 80, extent: float = EXTENT) -> np.ndarray:
    """Centres of a resolution x resolution grid over the plane, row by row from the top.

    Returns
    -------
    ndarray, shape (resolution**2, 2), float64: row ``r * resolution + c`` is pixel (r, c).
    """
    resolution = validation.as_int(resolution, "resolution", minimum=2, maximum=400)
    extent = validation.as_float(extent, "extent", minimum=1e-3)
    centres = (np.arange(resolution) + 0.5) / resolution * 2 * extent - extent
    ys, xs = np.meshgrid(centres[::-1], centres, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def boundary_image(
    probabilities: np.ndarray,
    resolution: int,
    points: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    *,
    scale: int = 3,
) -> np.ndarray:
    """Colour each grid pixel by its predicted class (stronger when surer) and draw the points.

    Parameters
    ----------
    probabilities : ndarray, shape (resolution**2, K), floats in [0, 1], rows summing to 1
        The model's class probabilities at ``grid_points(resolution)``; 2 <= K <= 6.
    resolution : int
    points : ndarray, shape (N, 2), optional
    labels : ndarray, shape (N,), int in [0, K), required with ``points``
    scale : int, 1-16
        Each grid cell becomes scale x scale pixels.

    Returns
    -------
    ndarray, shape (resolution * scale, resolution * scale, 3), uint8
    """
    resolution = validation.as_int(resolution, "resolution", minimum=2, maximum=400)
    scale = validation.as_int(scale, "scale", minimum=1, maximum=16)
    probabilities = validation.as_array(probabilities, "probabilities")
    if (
        probabilities.ndim != 2
        or probabilities.shape[0] != resolution**2
        or not 2 <= probabilities.shape[1] <= len(CLASS_COLOURS)
    ):
        raise ValueError(
            f"probabilities must have shape ({resolution**2}, K) with K from 2 "
            f"to {len(CLASS_COLOURS)} (one row per grid point), but it has shape "
            f"{probabilities.shape}."
        )
    probabilities = probabilities.astype(np.float64)
    if (
        not np.all(np.isfinite(probabilities))
        or probabilities.min() < -1e-6
        or probabilities.max() > 1 + 1e-6
    ):
        raise ValueError("probabilities must be finite numbers in [0, 1].")
    classes = probabilities.shape[1]
    mixed = probabilities @ CLASS_COLOURS[:classes]
    confidence = (probabilities.max(axis=1) - 1 / classes) / (1 - 1 / classes)
    strength = (0.25 + 0.5 * confidence)[:, None]
    colours = np.round((1 - strength) * 255 + strength * mixed).astype(np.uint8)
    # Enlarged as uint8 (8 times less memory to copy than floats): a few ms per frame less.
    image = colours.reshape(resolution, resolution, 3)
    image = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
    if points is not None:
        points = as_points(points)
        labels = validation.as_labels(labels, len(points), classes=classes)
        size = resolution * scale
        columns = np.clip(((points[:, 0] + EXTENT) / (2 * EXTENT) * size).astype(int), 0, size - 1)
        rows = np.clip(((EXTENT - points[:, 1]) / (2 * EXTENT) * size).astype(int), 0, size - 1)
        # Each point: a 5x5 square with a white border around its class colour (darker).
        offsets = np.arange(-2, 3)
        ring_r, ring_c = np.meshgrid(offsets, offsets, indexing="ij")
        ring = np.maximum(abs(ring_r), abs(ring_c)).ravel() == 2
        r = np.clip(rows[:, None] + ring_r.ravel()[None], 0, size - 1)
        c = np.clip(columns[:, None] + ring_c.ravel()[None], 0, size - 1)
        image[r[:, ring], c[:, ring]] = 255
        inner = np.round(CLASS_COLOURS[labels] * 0.7).astype(np.uint8)
        image[r[:, ~ring], c[:, ~ring]] = inner[:, None, :]
    return image


# --------------------------------------------------------------------------------------------
# The playground's network and trainer: a small Keras network trained live on a toy dataset
# --------------------------------------------------------------------------------------------

PLAYGROUND_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")

LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def build_network(
    hidden_layers: int,
    units: int,
    activation: str,
    classes: int,
    *,
    learning_rate: float = 0.1,
    seed: int = 0,
    dtype: str = "float32",
) -> object:
    """A compiled Keras MLP: 2 inputs, ``hidden_layers`` x ``units`` neurons, softmax output.

    Trained with plain SGD (no momentum) on the sparse categorical cross-entropy, as in
    TensorFlow Playground. ``hidden_layers=0`` is a single layer of perceptrons (softmax
    regression), whose decision boundaries are straight lines.
    """
    keras = lesson.import_keras()
    hidden_layers = validation.as_int(hidden_layers, "hidden_layers", minimum=0, maximum=6)
    units = validation.as_int(units, "units", minimum=1, maximum=64)
    validation.one_of(activation, "activation", PLAYGROUND_ACTIVATIONS)
    classes = validation.as_int(classes, "classes", minimum=2, maximum=len(CLASS_COLOURS))
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-6, maximum=100.0)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    validation.one_of(dtype, "dtype", ["float32", "float64"])
    layers = [keras.Input((2,), dtype=dtype)]
    for index in range(hidden_layers):
        layers.append(
            keras.layers.Dense(
                units,
                activation=activation,
                dtype=dtype,
                kernel_initializer=keras.initializers.GlorotUniform(seed=seed + index),
            )
        )
    layers.append(
        keras.layers.Dense(
            classes,
            activation="softmax",
            dtype=dtype,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + hidden_layers),
        )
    )
    model = keras.Sequential(layers)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        jit_compile=False,
    )
    return model


#: Compiled Keras networks, one per architecture, reused by every trainer of that shape (each
#: trainer loads its own weights before it trains). Building and tracing a network costs
#: 0.3-1 s; a slider that rebuilt one on every change made the playground lag.
_NETWORKS: dict[tuple, object] = {}

_NETWORK_OWNERS: dict[tuple, int] = {}

_MAX_NETWORKS = 12

_TRAINER_IDS = itertools.count()


def _playground_activation(name: str) -> Callable:
    """The hidden-layer activation as a NumPy function (float32 in, float32 out)."""
    if name == "tanh":
        return np.tanh
    if name == "relu":
        return lambda z: np.maximum(z, 0)
    if name == "sigmoid":  # written with tanh: no overflow warning for large negative z
        return lambda z: 0.5 * (1 + np.tanh(0.5 * z))
    return lambda z: z


class PlaygroundTrainer:
    """A dataset and a network, trained step by step (full batch), with timings.

    Training runs in Keras: a compiled ``train_on_batch`` costs about 1-5 ms per step on a
    2-core CPU, fast enough for 10-20 frames per second. (Why not a small NumPy trainer: it
    would be a complete backward pass, the solution of the lesson's backward-propagation
    exercise, in a module students can read.) The weights live here as NumPy arrays (Glorot
    uniform, as Keras initialises ``Dense`` layers, drawn by NumPy), and the compiled Keras
    network of its shape is built once and shared (``_NETWORKS``), so changing the dataset or
    the layers costs a few milliseconds instead of a new model. Drawing uses the same weights
    in a NumPy forward pass (under a millisecond for 4000 points; ``model(x)`` takes several).

    Parameters
    ----------
    points, labels : the dataset (see ``make_dataset``)
    hidden_layers, units, activation, learning_rate, seed : see ``build_network``
    """

    def __init__(
        self,
        points: np.ndarray,
        labels: np.ndarray,
        *,
        hidden_layers: int = 1,
        units: int = 4,
        activation: str = "tanh",
        learning_rate: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.points = as_points(points)
        self.labels = validation.as_labels(labels, len(self.points), classes=len(CLASS_COLOURS))
        self.classes = max(2, int(self.labels.max()) + 1)
        hidden_layers = validation.as_int(hidden_layers, "hidden_layers", minimum=0, maximum=6)
        units = validation.as_int(units, "units", minimum=1, maximum=64)
        validation.one_of(activation, "activation", PLAYGROUND_ACTIVATIONS)
        self.learning_rate = self._checked_learning_rate(learning_rate)
        seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
        self.architecture = (hidden_layers, units, activation, self.classes)
        self.sizes = [2] + [units] * hidden_layers + [self.classes]
        # Glorot-uniform weights and zero biases, Keras's defaults for Dense layers, drawn by
        # NumPy: Keras's initialisers cost 5-40 ms per layer here, a noticeable lag per slider.
        rng = np.random.default_rng(seed)
        self.weights = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            limit = np.sqrt(6 / (fan_in + fan_out))
            self.weights += [
                rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
                np.zeros(fan_out, np.float32),
            ]
        self._hidden = _playground_activation(activation)
        self._id = next(_TRAINER_IDS)
        self._inputs = self.points.astype(np.float32)
        self.steps = 0
        self.losses: list[float] = []
        self.step_seconds: list[float] = []

    @staticmethod
    def _checked_learning_rate(learning_rate: float) -> float:
        return validation.as_float(learning_rate, "learning_rate", minimum=1e-6, maximum=100.0)

    @property
    def parameter_count(self) -> int:
        """Number of weights and biases of the network."""
        return int(sum(array.size for array in self.weights))

    @property
    def model(self) -> object:
        """The compiled Keras network, holding this trainer's weights and learning rate."""
        key = self.architecture
        model = _NETWORKS.pop(key, None)
        if model is None:
            model = build_network(*key, learning_rate=self.learning_rate)
            _NETWORK_OWNERS.pop(key, None)
        _NETWORKS[key] = model  # most recently used last
        while len(_NETWORKS) > _MAX_NETWORKS:
            oldest = next(iter(_NETWORKS))
            del _NETWORKS[oldest]
            _NETWORK_OWNERS.pop(oldest, None)
        if _NETWORK_OWNERS.get(key) != self._id:  # another trainer's weights are loaded
            model.set_weights(self.weights)
            _NETWORK_OWNERS[key] = self._id
        model.optimizer.learning_rate = self.learning_rate
        return model

    def set_learning_rate(self, learning_rate: float) -> None:
        """Change the learning rate without restarting the training."""
        self.learning_rate = self._checked_learning_rate(learning_rate)

    def train(self, steps: int = 1) -> float:
        """Run ``steps`` gradient-descent steps on the whole dataset; return the last loss."""
        steps = validation.as_int(steps, "steps", minimum=1, maximum=10000)
        with lesson.native_stderr_silenced():
            model = self.model
            for _ in range(steps):
                start = time.perf_counter()
                loss = model.train_on_batch(self._inputs, self.labels)
                self.step_seconds.append(time.perf_counter() - start)
                self.losses.append(float(np.asarray(loss).ravel()[0]))
            self.weights = [np.asarray(array) for array in model.get_weights()]
        self.steps += steps
        return self.losses[-1]

    @property
    def ms_per_step(self) -> float:
        """Median milliseconds per training step, leaving out the first (it builds the graph)."""
        timed = self.step_seconds[1:] or self.step_seconds
        return 1000 * float(np.median(timed)) if timed else float("nan")

    def probabilities(self, points: np.ndarray) -> np.ndarray:
        """Class probabilities for each point, shape (N, classes), float64.

        The network's forward pass in NumPy with the current weights (float32, like Keras).
        """
        outputs = as_points(points).astype(np.float32)
        layers = len(self.weights) // 2
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged training: NaN, no warning
            for index in range(layers):
                outputs = outputs @ self.weights[2 * index] + self.weights[2 * index + 1]
                if index < layers - 1:
                    outputs = self._hidden(outputs)
            outputs = np.exp(outputs - outputs.max(axis=1, keepdims=True))
            outputs /= outputs.sum(axis=1, keepdims=True)
        return outputs.astype(np.float64)

    def loss(self) -> float:
        """Mean cross-entropy on the dataset with the current weights."""
        probabilities = np.clip(self.probabilities(self.points), 1e-7, 1.0)
        return float(-np.mean(np.log(probabilities[np.arange(len(self.labels)), self.labels])))

    def accuracy(self) -> float:
        """Fraction of the dataset's points classified correctly."""
        return float(np.mean(self.probabilities(self.points).argmax(axis=1) == self.labels))
