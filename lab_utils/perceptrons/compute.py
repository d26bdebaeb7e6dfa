"""Lesson 03's computation: toy 2-D datasets, the perceptron learning rule, activation curves
and their derivatives (from ``keras.activations`` and automatic differentiation), the collapse
of stacked linear layers, and the losses' curves (from ``keras.losses``).

The lesson's two-layer network computed by Keras (the references of the forward and backward
exercises) is in ``backprop``; the playground's trainer and pictures in ``playground``.
Keras is imported inside the functions that need it (``lesson.import_keras``), so importing
this module stays light.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from lab_utils import lesson, validation

# --------------------------------------------------------------------------------------------
# Toy datasets: points in the plane with a class label each (the playground's datasets)
# --------------------------------------------------------------------------------------------

DATASETS = ("blobs", "xor", "circles", "moons", "spiral")

MULTICLASS_DATASETS = ("blobs", "spiral")

EXTENT = 1.6  # every dataset lies inside the square [-EXTENT, EXTENT] x [-EXTENT, EXTENT]


def make_dataset(
    name: str, n_samples: int = 200, *, classes: int = 2, noise: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Points in the plane and their class labels, generated deterministically from ``seed``.

    Parameters
    ----------
    name : str
        "blobs" (one Gaussian cloud per class, linearly separable when the noise is small),
        "xor" (the four quadrants), "circles" (a ring around a disc), "moons" (two interleaved
        half circles; these three use ``sklearn.datasets`` where it has them) or "spiral" (one
        arm per class).
    n_samples : int, 10-5000
        Number of points, shared as evenly as possible between the classes.
    classes : int, 2-6
        Number of classes; "xor", "circles" and "moons" have exactly 2.
    noise : float, 0-1
        Amount of scatter (standard deviation of a Gaussian, in the units of the plane).
    seed : int
        Fixes every random choice.

    Returns
    -------
    points : ndarray, shape (n_samples, 2), float64 in [-EXTENT, EXTENT]
    labels : ndarray, shape (n_samples,), int64 in [0, classes)
    """
    from sklearn import datasets as sklearn_datasets

    validation.one_of(name, "name", DATASETS)
    n_samples = validation.as_int(n_samples, "n_samples", minimum=10, maximum=5000)
    classes = validation.as_int(classes, "classes", minimum=2, maximum=6)
    noise = validation.as_float(noise, "noise", minimum=0.0, maximum=1.0)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    if name not in MULTICLASS_DATASETS and classes != 2:
        raise ValueError(
            f"the {name!r} dataset has exactly 2 classes, but classes={classes}; "
            f"use one of {', '.join(MULTICLASS_DATASETS)} for more classes."
        )
    rng = np.random.default_rng(seed)
    if name == "blobs":
        angles = 2 * np.pi * np.arange(classes) / classes + np.pi / 4
        centres = 0.9 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        points, labels = sklearn_datasets.make_blobs(
            n_samples, centers=centres, cluster_std=0.15 + noise, random_state=seed
        )
    elif name == "xor":
        points = rng.uniform(-1.3, 1.3, (n_samples, 2))
        points += 0.1 * np.sign(points)  # a small gap along the axes, as in Playground
        labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
        points += rng.normal(0.0, noise, points.shape)
    elif name == "circles":
        points, labels = sklearn_datasets.make_circles(
            n_samples, noise=noise, factor=0.5, random_state=seed
        )
        points = 1.3 * points
    elif name == "moons":
        points, labels = sklearn_datasets.make_moons(n_samples, noise=noise, random_state=seed)
        points = 0.9 * (points - np.array([0.5, 0.25]))
    else:  # spiral: one arm per class, each turning 1.5 times around the centre
        labels = np.arange(n_samples) % classes
        radius = np.concatenate(
            [np.linspace(0.1, 1.4, np.sum(labels == k)) for k in range(classes)]
        )
        labels = np.sort(labels)
        angle = 2 * np.pi * labels / classes + 3.0 * radius + rng.normal(0.0, noise, n_samples)
        points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    order = rng.permutation(n_samples)
    points = np.clip(np.asarray(points, dtype=np.float64)[order], -EXTENT, EXTENT)
    return points, np.asarray(labels, dtype=np.int64)[order]


def as_points(points: np.ndarray, name: str = "points") -> np.ndarray:
    """Check a (N, 2) array of real coordinates and return it as float64."""
    points = validation.as_array(points, name)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape (N, 2): one (x, y) row per point, but it has "
            f"shape {points.shape}."
        )
    points = points.astype(np.float64)
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return points


# --------------------------------------------------------------------------------------------
# The perceptron: a weighted sum plus a bias, then a step
# --------------------------------------------------------------------------------------------


def step(z: np.ndarray) -> np.ndarray:
    """The step (Heaviside) activation: 1.0 where ``z >= 0``, else 0.0 (same shape as ``z``)."""
    z = validation.as_array(z, "z", finite=True)  # NaN >= 0 is False: it would read as 0
    return (z >= 0).astype(np.float64)


@dataclasses.dataclass
class PerceptronResult:
    """What ``train_perceptron`` learned.

    Attributes
    ----------
    weights : ndarray, shape (2,), float64
    bias : float
    errors : list of int
        Misclassified points in each epoch (each one caused an update).
    converged : bool
        True when an epoch made no mistake (the data are linearly separable).
    """

    weights: np.ndarray
    bias: float
    errors: list
    converged: bool

    def predict(self, points: np.ndarray) -> np.ndarray:
        """Class 0 or 1 for each point, shape (N,), int64."""
        points = as_points(points)
        return step(points @ self.weights + self.bias).astype(np.int64)


def train_perceptron(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    learning_rate: float = 0.1,
    epochs: int = 20,
    seed: int = 0,
) -> PerceptronResult:
    """Rosenblatt's learning rule: after each mistake, move the weights towards the point.

    For each point (in a random order each epoch): ``prediction = step(w . x + b)``, then
    ``w += learning_rate * (label - prediction) * x`` and ``b += learning_rate * (label -
    prediction)``. It stops early after an epoch without mistakes.

    Parameters
    ----------
    points : ndarray, shape (N, 2), float
    labels : ndarray, shape (N,), int, 0 or 1
    learning_rate : float > 0
    epochs : int, 1-1000
    seed : int
        Fixes the order in which points are visited.
    """
    points = as_points(points)
    raw = validation.as_array(labels, "labels")
    if raw.size and np.issubdtype(raw.dtype, np.number) and set(np.unique(raw)) == {-1, 1}:
        raise ValueError(
            "labels are -1 and 1, but this rule (prediction = step(...), 0 or 1) "
            "needs 0/1 labels: use (labels + 1) // 2."
        )
    labels = validation.as_labels(labels, len(points), classes=2)
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-6, maximum=100.0)
    epochs = validation.as_int(epochs, "epochs", minimum=1, maximum=1000)
    rng = np.random.default_rng(validation.as_seed(seed))
    weights, bias, errors = np.zeros(2), 0.0, []
    for _ in range(epochs):
        mistakes = 0
        for index in rng.permutation(len(points)):
            prediction = float(points[index] @ weights + bias >= 0)
            error = labels[index] - prediction
            if error != 0:
                weights = weights + learning_rate * error * points[index]
                bias += learning_rate * error
                mistakes += 1
        errors.append(mistakes)
        if mistakes == 0:
            break
    return PerceptronResult(weights, float(bias), errors, errors[-1] == 0)


# --------------------------------------------------------------------------------------------
# Activations and their derivatives (from keras.activations and automatic differentiation)
# --------------------------------------------------------------------------------------------

ACTIVATIONS = ("sigmoid", "tanh", "relu", "step", "softmax", "linear")


def enable_float64(keras: object) -> None:
    """Let the Keras backend hold float64 tensors (the lesson's 1e-9 gradient checks need them).

    TensorFlow and PyTorch always can; JAX stores float64 as float32 unless
    ``jax_enable_x64`` is on, so it is switched on here (it changes no float32 computation).
    Note that under JAX and PyTorch, ``keras.ops`` functions that promote types (``tanh``,
    ``mean``) still compute in float32: float64 code sticks to those that do not (see
    ``backprop._network_loss``).
    """
    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)


def gradient(function: Callable, *arrays: np.ndarray) -> list[np.ndarray]:
    """Automatic gradients of a scalar ``function(*tensors)`` with respect to each array.

    Uses the Keras backend's own autodiff (TensorFlow's GradientTape, ``jax.grad`` or torch's
    autograd), in float64. ``function`` must use ``keras.ops`` / Keras layers so that it
    runs on the backend's tensors.

    Returns
    -------
    list of ndarray, float64, one per array, each with that array's shape
    """
    if not callable(function):
        raise TypeError(
            f"function must be callable (it computes the scalar to "
            f"differentiate), but got {validation.describe(function)}."
        )
    if not arrays:
        raise ValueError("gradient needs at least one array to differentiate with respect to.")
    keras = lesson.import_keras()
    arrays = [
        validation.as_array(a, f"arrays[{i}]").astype(np.float64) for i, a in enumerate(arrays)
    ]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tensors = [tf.constant(a) for a in arrays]
        with tf.GradientTape() as tape:
            for tensor in tensors:
                tape.watch(tensor)
            value = function(*tensors)
        return [
            np.asarray(g, dtype=np.float64) if g is not None else np.zeros_like(a)
            for g, a in zip(tape.gradient(value, tensors), arrays)
        ]
    if backend == "jax":
        import jax

        enable_float64(keras)
        grads = jax.grad(function, argnums=tuple(range(len(arrays))))(*arrays)
        return [np.asarray(g, dtype=np.float64) for g in grads]
    if backend == "torch":
        import torch

        tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
        function(*tensors).backward()
        return [
            t.grad.numpy().astype(np.float64) if t.grad is not None else np.zeros_like(a)
            for t, a in zip(tensors, arrays)
        ]
    raise NotImplementedError(f"automatic gradients are not set up for the {backend!r} backend.")


def _activation_function(name: str) -> Callable:
    """The library activation as a function of a 1-D tensor z (softmax: first of (z, 0, 0))."""
    keras = lesson.import_keras()
    ops = keras.ops
    if name == "step":
        return lambda z: ops.cast(ops.greater_equal(z, 0.0), z.dtype)
    if name == "softmax":

        def softmax_first(z):
            logits = ops.stack([z, ops.zeros_like(z), ops.zeros_like(z)], axis=1)
            return keras.activations.softmax(logits, axis=1)[:, 0]

        return softmax_first
    return getattr(keras.activations, name)


def _summed(keras: object, function: Callable) -> Callable:
    """``function``'s outputs added up: the scalar whose gradient holds each point's slope."""
    return lambda t: keras.ops.sum(function(t))


def activation_curves(z: np.ndarray, names: list | tuple | str = ACTIVATIONS) -> dict:
    """Values and derivatives of activations at the points ``z``.

    Values come from ``keras.activations`` (the step from a comparison), derivatives from the
    backend's automatic differentiation. "softmax" is shown as the first output of
    softmax((z, 0, 0)): the probability of class 0 as its logit moves while two others stay 0.
    The step's derivative is 0 everywhere except at 0, where it does not exist (autodiff
    reports 0), which is why a step cannot be trained by gradient descent.

    Parameters
    ----------
    z : ndarray, shape (N,), float
    names : sequence of str, each in ``ACTIVATIONS``

    Returns
    -------
    dict of name -> (values, derivatives), two float64 arrays of shape (N,)
    """
    keras = lesson.import_keras()
    z = validation.as_array(z, "z", finite=True)
    if z.ndim != 1 or z.size == 0:
        raise ValueError(
            f"z must be a flat array of numbers (shape (N,)), but it has shape {z.shape}."
        )
    z = z.astype(np.float64)
    if isinstance(names, str):
        names = [names]
    curves = {}
    for name in names:
        validation.one_of(name, "activation name", ACTIVATIONS)
        function = _activation_function(name)
        values = np.asarray(
            keras.ops.convert_to_numpy(function(keras.ops.convert_to_tensor(z, dtype="float64"))),
            dtype=np.float64,
        )
        (derivatives,) = gradient(_summed(keras, function), z)
        curves[name] = (values, derivatives)
    return curves


# --------------------------------------------------------------------------------------------
# Linear activations give linear decisions: stacked linear layers collapse into one
# --------------------------------------------------------------------------------------------


def collapse_linear_layers(layers: list) -> tuple[np.ndarray, np.ndarray]:
    """The single affine map ``x @ W + b`` equal to a stack of layers without activations.

    ``((x W1 + b1) W2 + b2) W3 + b3 = x (W1 W2 W3) + ((b1 W2 + b2) W3 + b3)``.

    Parameters
    ----------
    layers : list of (W, b)
        ``W`` of shape (inputs, outputs) and ``b`` of shape (outputs,), as returned by
        ``keras.layers.Dense.get_weights()``; each layer's inputs match the previous outputs.

    Returns
    -------
    W : ndarray, shape (inputs of the first, outputs of the last), float64
    b : ndarray, shape (outputs of the last,), float64
    """
    if not isinstance(layers, (list, tuple)) or not layers:
        raise TypeError(
            f"layers must be a non-empty list of (W, b) pairs, but got "
            f"{validation.describe(layers)}."
        )
    total_weights, total_bias = None, None
    for index, pair in enumerate(layers):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(
                f"layers[{index}] must be a pair (W, b), but got {validation.describe(pair)}."
            )
        weights = validation.as_array(pair[0], f"layers[{index}] W").astype(np.float64)
        bias = validation.as_array(pair[1], f"layers[{index}] b").astype(np.float64)
        if weights.ndim != 2 or bias.shape != (weights.shape[1],):
            raise ValueError(
                f"layers[{index}] must have W of shape (inputs, outputs) and b of "
                f"shape (outputs,), but got W {weights.shape} and b {bias.shape}."
            )
        if total_weights is None:
            total_weights, total_bias = weights, bias
            continue
        if weights.shape[0] != total_weights.shape[1]:
            raise ValueError(
                f"layers[{index}] expects {weights.shape[0]} inputs, but the "
                f"layer before it has {total_weights.shape[1]} outputs."
            )
        total_weights, total_bias = total_weights @ weights, total_bias @ weights + bias
    return total_weights, total_bias


# --------------------------------------------------------------------------------------------
# Losses: how each one penalises an error (values from keras.losses)
# --------------------------------------------------------------------------------------------


def loss_curves(target: int, predictions: np.ndarray) -> dict:
    """MSE, MAE and binary cross-entropy of one output as its prediction moves.

    Parameters
    ----------
    target : 0 or 1
    predictions : ndarray, shape (N,), floats in [0, 1]

    Returns
    -------
    dict of loss name -> ndarray (N,), float64, computed with ``keras.losses``
    """
    keras = lesson.import_keras()
    target = validation.as_int(target, "target", minimum=0, maximum=1)
    predictions = validation.as_array(predictions, "predictions")
    if predictions.ndim != 1 or predictions.size == 0:
        raise ValueError(
            f"predictions must be a flat array of numbers (shape (N,)), but it "
            f"has shape {predictions.shape}."
        )
    predictions = predictions.astype(np.float64)
    if predictions.min() < 0 or predictions.max() > 1:
        raise ValueError(
            f"predictions must be probabilities in [0, 1], but they range from "
            f"{predictions.min():g} to {predictions.max():g}."
        )
    y_pred = predictions[:, None]
    y_true = np.full_like(y_pred, float(target))
    return {
        name: np.asarray(function(y_true, y_pred), dtype=np.float64)
        for name, function in [
            ("MSE", keras.losses.mean_squared_error),
            ("MAE", keras.losses.mean_absolute_error),
            ("BCE", keras.losses.binary_crossentropy),
        ]
    }
