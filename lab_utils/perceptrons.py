"""Lesson 03 "Perceptrons": weighted sums, activations, forward and backward propagation, losses.

Compute functions (pure, tested): toy 2-D datasets, the perceptron learning rule, activation
curves and their derivatives (from ``keras.activations`` and automatic differentiation), the
collapse of stacked linear layers, images of decision boundaries and small SVG line plots.
Widgets: the playground (a TensorFlow-Playground-like trainer) and the loss explorer.
Checks of the lesson's exercises, each comparing with Keras (activations, losses, a model with
the student's weights, automatic gradients) - never with a solution kept here.

Keras is imported inside the functions that need it (``lesson.import_keras``), so importing
this module stays light.
"""

from __future__ import annotations

import dataclasses
import html
import itertools
import time
import weakref

import numpy as np

from lab_utils import exercises, lesson, validation, widgets

# --------------------------------------------------------------------------------------------
# Toy datasets: points in the plane with a class label each (the playground's datasets)
# --------------------------------------------------------------------------------------------

DATASETS = ("blobs", "xor", "circles", "moons", "spiral")
MULTICLASS_DATASETS = ("blobs", "spiral")
EXTENT = 1.6   # every dataset lies inside the square [-EXTENT, EXTENT] x [-EXTENT, EXTENT]


def make_dataset(name: str, n_samples: int = 200, *, classes: int = 2, noise: float = 0.1,
                 seed: int = 0):
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
        raise ValueError(f"the {name!r} dataset has exactly 2 classes, but classes={classes}; "
                         f"use one of {', '.join(MULTICLASS_DATASETS)} for more classes.")
    rng = np.random.default_rng(seed)
    if name == "blobs":
        angles = 2 * np.pi * np.arange(classes) / classes + np.pi / 4
        centres = 0.9 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        points, labels = sklearn_datasets.make_blobs(
            n_samples, centers=centres, cluster_std=0.15 + noise, random_state=seed)
    elif name == "xor":
        points = rng.uniform(-1.3, 1.3, (n_samples, 2))
        points += 0.1 * np.sign(points)           # a small gap along the axes, as in Playground
        labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
        points += rng.normal(0.0, noise, points.shape)
    elif name == "circles":
        points, labels = sklearn_datasets.make_circles(n_samples, noise=noise, factor=0.5,
                                                       random_state=seed)
        points = 1.3 * points
    elif name == "moons":
        points, labels = sklearn_datasets.make_moons(n_samples, noise=noise, random_state=seed)
        points = 0.9 * (points - np.array([0.5, 0.25]))
    else:  # spiral: one arm per class, each turning 1.5 times around the centre
        labels = np.arange(n_samples) % classes
        radius = np.concatenate([np.linspace(0.1, 1.4, np.sum(labels == k))
                                 for k in range(classes)])
        labels = np.sort(labels)
        angle = 2 * np.pi * labels / classes + 3.0 * radius + rng.normal(0.0, noise, n_samples)
        points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    order = rng.permutation(n_samples)
    points = np.clip(np.asarray(points, dtype=np.float64)[order], -EXTENT, EXTENT)
    return points, np.asarray(labels, dtype=np.int64)[order]


def _as_points(points, name="points") -> np.ndarray:
    """Check a (N, 2) array of real coordinates and return it as float64."""
    points = validation.as_array(points, name)
    if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, 2): one (x, y) row per point, but it has "
                         f"shape {points.shape}.")
    points = points.astype(np.float64)
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return points


# --------------------------------------------------------------------------------------------
# The perceptron: a weighted sum plus a bias, then a step
# --------------------------------------------------------------------------------------------


def step(z) -> np.ndarray:
    """The step (Heaviside) activation: 1.0 where ``z >= 0``, else 0.0 (same shape as ``z``)."""
    z = validation.as_array(z, "z", finite=True)   # NaN >= 0 is False: it would read as 0
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

    def predict(self, points) -> np.ndarray:
        """Class 0 or 1 for each point, shape (N,), int64."""
        points = _as_points(points)
        return step(points @ self.weights + self.bias).astype(np.int64)


def train_perceptron(points, labels, *, learning_rate: float = 0.1, epochs: int = 20,
                     seed: int = 0) -> PerceptronResult:
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
    points = _as_points(points)
    raw = validation.as_array(labels, "labels")
    if raw.size and np.issubdtype(raw.dtype, np.number) and set(np.unique(raw)) == {-1, 1}:
        raise ValueError("labels are -1 and 1, but this rule (prediction = step(...), 0 or 1) "
                         "needs 0/1 labels: use (labels + 1) // 2.")
    labels = validation.as_labels(labels, len(points), classes=2)
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-6,
                                        maximum=100.0)
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


def draw_perceptron(inputs, weights, bias: float, activation: str = "step"):
    """Draw one perceptron with its numbers: inputs, weights, the weighted sum, the output.

    Parameters
    ----------
    inputs, weights : sequence of float, same length (1-6)
    bias : float
    activation : str
        One of ``ACTIVATIONS`` except "softmax" (a single neuron has nothing to normalise).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from lab_utils import plots
    inputs = validation.as_array(list(inputs) if isinstance(inputs, tuple) else inputs, "inputs")
    weights = validation.as_array(list(weights) if isinstance(weights, tuple) else weights,
                                  "weights")
    if inputs.ndim != 1 or not 1 <= inputs.size <= 6:
        raise ValueError(f"inputs must be 1 to 6 numbers in a flat list, but got shape "
                         f"{inputs.shape}.")
    if weights.shape != inputs.shape:
        raise ValueError(f"weights must have one number per input ({inputs.size}), but got "
                         f"shape {weights.shape}.")
    bias = validation.as_float(bias, "bias")
    validation.one_of(activation, "activation", [a for a in ACTIVATIONS if a != "softmax"])
    total = float(inputs.astype(np.float64) @ weights.astype(np.float64) + bias)
    output = float(activation_curves(np.array([total]), [activation])[activation][0][0])
    figure = plots.new_figure(figsize=(7.0, 1.0 + 0.7 * inputs.size))
    axis = figure.subplots()
    axis.set_axis_off()
    count = inputs.size
    ys = np.linspace(count - 1, 0, count) - (count - 1) / 2
    for y, value, weight in zip(ys, inputs, weights):
        _node(axis, (0, y), f"x = {value:g}")
        axis.annotate("", xy=(3.55, 0), xytext=(0.45, y),
                      arrowprops=dict(arrowstyle="->", color="gray"))
        axis.text(1.7, y * 0.55 + 0.12, f"w = {weight:g}", ha="center", fontsize=9,
                  color="tab:blue")
    axis.text(4.2, 0.72, f"b = {bias:g}", ha="center", fontsize=9, color="tab:red")
    _node(axis, (4.2, 0), "Σ", radius=0.6)
    axis.text(4.2, -0.95, f"Σ xᵢwᵢ + b = {total:.3g}", ha="center", fontsize=9)
    axis.annotate("", xy=(6.5, 0), xytext=(4.8, 0), arrowprops=dict(arrowstyle="->"))
    axis.text(5.65, 0.15, activation, ha="center", fontsize=9)
    axis.text(6.6, 0, f"output = {output:.3g}", va="center", fontsize=10, weight="bold")
    axis.set_xlim(-0.7, 8.6)
    axis.set_ylim(min(ys) - 1.2, max(ys) + 0.8)
    axis.set_aspect("equal")
    return figure


def _node(axis, centre, text, radius=0.45):
    """A circle with a short text inside (one neuron or one input of the diagram)."""
    from matplotlib.patches import Circle
    axis.add_patch(Circle(centre, radius, facecolor="#eef", edgecolor="black"))
    axis.text(*centre, text, ha="center", va="center", fontsize=8)


# --------------------------------------------------------------------------------------------
# Activations and their derivatives (from keras.activations and automatic differentiation)
# --------------------------------------------------------------------------------------------

ACTIVATIONS = ("sigmoid", "tanh", "relu", "step", "softmax", "linear")


def gradient(function, *arrays):
    """Automatic gradients of a scalar ``function(*tensors)`` with respect to each array.

    Uses the Keras backend's own autodiff (TensorFlow's GradientTape, ``jax.grad`` or torch's
    autograd), in float64. ``function`` must use ``keras.ops`` / Keras layers so that it
    runs on the backend's tensors.

    Returns
    -------
    list of ndarray, float64, one per array, each with that array's shape
    """
    if not callable(function):
        raise TypeError(f"function must be callable (it computes the scalar to "
                        f"differentiate), but got {validation.describe(function)}.")
    if not arrays:
        raise ValueError("gradient needs at least one array to differentiate with respect to.")
    keras = lesson.import_keras()
    arrays = [validation.as_array(a, f"arrays[{i}]").astype(np.float64)
              for i, a in enumerate(arrays)]
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf
        tensors = [tf.constant(a) for a in arrays]
        with tf.GradientTape() as tape:
            for tensor in tensors:
                tape.watch(tensor)
            value = function(*tensors)
        return [np.asarray(g, dtype=np.float64) if g is not None else np.zeros_like(a)
                for g, a in zip(tape.gradient(value, tensors), arrays)]
    if backend == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
        grads = jax.grad(function, argnums=tuple(range(len(arrays))))(*arrays)
        return [np.asarray(g, dtype=np.float64) for g in grads]
    if backend == "torch":
        import torch
        tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
        function(*tensors).backward()
        return [t.grad.numpy().astype(np.float64) if t.grad is not None
                else np.zeros_like(a) for t, a in zip(tensors, arrays)]
    raise NotImplementedError(f"automatic gradients are not set up for the {backend!r} backend.")


def _activation_function(name: str):
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


def activation_curves(z, names=ACTIVATIONS) -> dict:
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
        raise ValueError(f"z must be a flat array of numbers (shape (N,)), but it has shape "
                         f"{z.shape}.")
    z = z.astype(np.float64)
    if isinstance(names, str):
        names = [names]
    curves = {}
    for name in names:
        validation.one_of(name, "activation name", ACTIVATIONS)
        function = _activation_function(name)
        values = np.asarray(keras.ops.convert_to_numpy(function(keras.ops.convert_to_tensor(
            z, dtype="float64"))), dtype=np.float64)
        (derivatives,) = gradient(lambda t: keras.ops.sum(function(t)), z)
        curves[name] = (values, derivatives)
    return curves


def plot_activations(z=None, names=ACTIVATIONS):
    """One small panel per activation: the function (solid) and its derivative (dashed)."""
    from lab_utils import plots
    z = np.linspace(-4, 4, 401) if z is None else z
    curves = activation_curves(z, names)
    figure = plots.new_figure(figsize=(2.6 * min(len(curves), 3),
                                        2.3 * -(-len(curves) // 3)))
    axes = np.atleast_1d(figure.subplots(-(-len(curves) // 3), min(len(curves), 3),
                                         squeeze=False)).ravel()
    for axis, (name, (values, derivatives)) in zip(axes, curves.items()):
        axis.plot(z, values, label=name)
        axis.plot(z, derivatives, "--", label="derivative")
        title = "softmax: first of 3 classes\n(scores z, 0, 0)" if name == "softmax" else name
        axis.set_title(title, fontsize=9)
        axis.axhline(0, color="gray", lw=0.5)
        axis.axvline(0, color="gray", lw=0.5)
        axis.set_ylim(-1.6, 2.1)
    for axis in axes[len(curves):]:
        axis.set_axis_off()
    axes[0].legend(fontsize=7, loc="upper left")
    return figure


# --------------------------------------------------------------------------------------------
# Linear activations give linear decisions: stacked linear layers collapse into one
# --------------------------------------------------------------------------------------------


def collapse_linear_layers(layers):
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
        raise TypeError(f"layers must be a non-empty list of (W, b) pairs, but got "
                        f"{validation.describe(layers)}.")
    total_weights, total_bias = None, None
    for index, pair in enumerate(layers):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError(f"layers[{index}] must be a pair (W, b), but got "
                            f"{validation.describe(pair)}.")
        weights = validation.as_array(pair[0], f"layers[{index}] W").astype(np.float64)
        bias = validation.as_array(pair[1], f"layers[{index}] b").astype(np.float64)
        if weights.ndim != 2 or bias.shape != (weights.shape[1],):
            raise ValueError(f"layers[{index}] must have W of shape (inputs, outputs) and b of "
                             f"shape (outputs,), but got W {weights.shape} and b {bias.shape}.")
        if total_weights is None:
            total_weights, total_bias = weights, bias
            continue
        if weights.shape[0] != total_weights.shape[1]:
            raise ValueError(f"layers[{index}] expects {weights.shape[0]} inputs, but the "
                             f"layer before it has {total_weights.shape[1]} outputs.")
        total_weights, total_bias = total_weights @ weights, total_bias @ weights + bias
    return total_weights, total_bias


# --------------------------------------------------------------------------------------------
# Pictures for the playground: decision boundary (NumPy image) and line plots (SVG)
# --------------------------------------------------------------------------------------------

CLASS_COLOURS = np.array([[245, 147, 34], [8, 119, 189], [46, 160, 44], [148, 103, 189],
                          [214, 39, 40], [140, 86, 75]], dtype=np.float64)   # Playground's first two
CLASS_COLOUR_NAMES = ["orange", "blue", "green", "purple", "red", "brown"]


def colour_key(classes: int = 2) -> str:
    """The colour key of ``boundary_image`` as one line of text, e.g. for a printout next to
    the pictures: which colour is which class, and what pale and the squares mean."""
    classes = validation.as_int(classes, "classes", minimum=2, maximum=len(CLASS_COLOURS))
    names = ", ".join(f"{CLASS_COLOUR_NAMES[k]} = class {k}" for k in range(classes))
    return (f"colour key: {names}; background = the predicted class (pale where the model is "
            f"unsure), squares = training points in their true class's colour")


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


def boundary_image(probabilities, resolution: int, points=None, labels=None, *,
                   extent: float = EXTENT, scale: int = 3) -> np.ndarray:
    """Colour each grid pixel by its predicted class (stronger when surer) and draw the points.

    Parameters
    ----------
    probabilities : ndarray, shape (resolution**2, K), floats in [0, 1], rows summing to 1
        The model's class probabilities at ``grid_points(resolution, extent)``; 2 <= K <= 6.
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
    if (probabilities.ndim != 2 or probabilities.shape[0] != resolution ** 2
            or not 2 <= probabilities.shape[1] <= len(CLASS_COLOURS)):
        raise ValueError(f"probabilities must have shape ({resolution ** 2}, K) with K from 2 "
                         f"to {len(CLASS_COLOURS)} (one row per grid point), but it has shape "
                         f"{probabilities.shape}.")
    probabilities = probabilities.astype(np.float64)
    if not np.all(np.isfinite(probabilities)) or probabilities.min() < -1e-6 or \
            probabilities.max() > 1 + 1e-6:
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
        points = _as_points(points)
        labels = validation.as_labels(labels, len(points), classes=classes)
        size = resolution * scale
        columns = np.clip(((points[:, 0] + extent) / (2 * extent) * size).astype(int), 0,
                          size - 1)
        rows = np.clip(((extent - points[:, 1]) / (2 * extent) * size).astype(int), 0, size - 1)
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


def nice_ticks(low: float, high: float, count: int = 5) -> np.ndarray:
    """Round tick positions (multiples of 1, 2, 2.5 or 5 times a power of ten) covering
    [low, high] with about ``count`` intervals."""
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        raise ValueError(f"need finite low < high for ticks, but got {low!r} and {high!r}.")
    raw = (high - low) / max(1, count)
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = np.ceil(low / step - 1e-9) * step
    ticks = np.arange(first, high + step * 1e-6, step)
    return np.round(ticks, 12) + 0.0      # + 0.0 turns -0.0 into 0.0 (no "-0" label)


_SVG_IDS = itertools.count()


def svg_line_plot(x, curves: dict, *, width: int = 320, height: int = 150, ylim=None,
                  marker_x: float | None = None, xlabel: str = "", ylabel: str = "") -> str:
    """A small SVG line plot (a string for an ``ipywidgets.HTML``): much faster than matplotlib.

    Axes with round tick values and light grid lines, labels outside the frame, the legend
    above it. Parts of a curve outside ``ylim`` are cut at the frame (never drawn along it).

    Parameters
    ----------
    x : ndarray, shape (N,), N >= 2
    curves : dict of label -> ndarray of shape (N,); non-finite values are left out
    ylim : (low, high), optional; default: the range of the finite values
    marker_x : float, optional
        Draws a vertical line and a dot on each curve at this x.
    """
    x = validation.as_array(x, "x").astype(np.float64)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(f"x must be a flat array of at least 2 numbers, but it has shape "
                         f"{x.shape}.")
    if not isinstance(curves, dict) or not curves:
        raise TypeError(f"curves must be a non-empty dict of label -> values, but got "
                        f"{validation.describe(curves)}.")
    ys = {}
    for label, values in curves.items():
        values = validation.as_array(values, f"curves[{label!r}]").astype(np.float64)
        if values.shape != x.shape:
            raise ValueError(f"curves[{label!r}] must have shape {x.shape} like x, but it has "
                             f"shape {values.shape}.")
        ys[label] = values
    finite = np.concatenate([v[np.isfinite(v)] for v in ys.values()] + [np.zeros(0)])
    low, high = ylim if ylim is not None else ((finite.min(), finite.max()) if finite.size
                                               else (0.0, 1.0))
    low, high = float(low), float(high)
    high = high if high > low else low + 1.0
    left, right = 44 if ylabel else 34, width - 10
    top, bottom = 20, height - (30 if xlabel else 18)
    x_low, x_high = float(x.min()), float(x.max())
    x_high = x_high if x_high > x_low else x_low + 1.0

    def sx(value):
        return left + (value - x_low) / (x_high - x_low) * (right - left)

    def sy(value):   # kept a little beyond the frame; the clip path cuts the rest
        span = high - low
        return bottom - (np.clip(value, low - span, high + span) - low) / span * (bottom - top)

    clip = f"plot-clip-{next(_SVG_IDS)}"
    palette = ["#f59322", "#0877bd", "#2ca02c", "#9467bd", "#d62728"]
    parts = [f'<svg width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
             f'style="font:10px sans-serif;background:#fff">',
             f'<defs><clipPath id="{clip}"><rect x="{left}" y="{top}" width="{right - left}" '
             f'height="{bottom - top}"/></clipPath></defs>']
    for tick in nice_ticks(low, high, max(2, (bottom - top) // 28)):
        y = sy(tick)
        parts.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#eee"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3.5:.1f}" text-anchor="end">{tick:g}</text>')
    for tick in nice_ticks(x_low, x_high, max(2, (right - left) // 60)):
        parts.append(f'<line x1="{sx(tick):.1f}" x2="{sx(tick):.1f}" y1="{bottom}" '
                     f'y2="{bottom + 3}" stroke="#888"/>')
        parts.append(f'<text x="{sx(tick):.1f}" y="{bottom + 13}" text-anchor="middle">'
                     f'{tick:g}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" '
                 f'fill="none" stroke="#aaa"/>')
    if xlabel:
        parts.append(f'<text x="{(left + right) / 2:.0f}" y="{height - 4}" '
                     f'text-anchor="middle">{html.escape(xlabel)}</text>')
    if ylabel:
        parts.append(f'<text transform="translate(10,{(top + bottom) / 2:.0f}) rotate(-90)" '
                     f'text-anchor="middle">{html.escape(ylabel)}</text>')
    legend_x = left
    for index, (label, values) in enumerate(ys.items()):
        colour = palette[index % len(palette)]
        keep = np.isfinite(values)
        coordinates = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(x[keep], values[keep]))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" '
                     f'clip-path="url(#{clip})" points="{coordinates}"/>')
        parts.append(f'<line x1="{legend_x}" x2="{legend_x + 14}" y1="{top - 7}" '
                     f'y2="{top - 7}" stroke="{colour}" stroke-width="2.5"/>'
                     f'<text x="{legend_x + 18}" y="{top - 3.5}">{html.escape(str(label))}'
                     f'</text>')
        legend_x += 30 + 6 * len(str(label))
        if marker_x is not None:
            at = float(np.interp(marker_x, x, np.where(keep, values, np.nan)))
            if np.isfinite(at) and low <= at <= high:
                parts.append(f'<circle cx="{sx(marker_x):.1f}" cy="{sy(at):.1f}" r="3.5" '
                             f'fill="{colour}"/>')
            elif np.isfinite(at):   # off the chart: an arrow on the frame, pointing to it
                edge, tip = (top, top - 5) if at > high else (bottom, bottom + 5)
                cx = sx(marker_x)
                parts.append(f'<polygon points="{cx - 4:.1f},{edge} {cx + 4:.1f},{edge} '
                             f'{cx:.1f},{tip}" fill="{colour}"/>')
    if marker_x is not None:
        parts.append(f'<line x1="{sx(marker_x):.1f}" x2="{sx(marker_x):.1f}" y1="{top}" '
                     f'y2="{bottom}" stroke="#888" stroke-dasharray="3,3"/>')
    parts.append("</svg>")
    return "".join(parts)


# --------------------------------------------------------------------------------------------
# The playground: a small Keras network trained live on a toy dataset
# --------------------------------------------------------------------------------------------

PLAYGROUND_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")
LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)


def build_network(hidden_layers: int, units: int, activation: str, classes: int, *,
                  learning_rate: float = 0.1, seed: int = 0, dtype: str = "float32"):
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
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-6,
                                        maximum=100.0)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    validation.one_of(dtype, "dtype", ["float32", "float64"])
    layers = [keras.Input((2,), dtype=dtype)]
    for index in range(hidden_layers):
        layers.append(keras.layers.Dense(
            units, activation=activation, dtype=dtype,
            kernel_initializer=keras.initializers.GlorotUniform(seed=seed + index)))
    layers.append(keras.layers.Dense(
        classes, activation="softmax", dtype=dtype,
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + hidden_layers)))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(), jit_compile=False)
    return model


#: Compiled Keras networks, one per architecture, reused by every trainer of that shape (each
#: trainer loads its own weights before it trains). Building and tracing a network costs
#: 0.3-1 s; a slider that rebuilt one on every change made the playground lag.
_NETWORKS: "dict[tuple, object]" = {}
_NETWORK_OWNERS: "dict[tuple, int]" = {}
_MAX_NETWORKS = 12
_TRAINER_IDS = itertools.count()


def _playground_activation(name: str):
    """The hidden-layer activation as a NumPy function (float32 in, float32 out)."""
    if name == "tanh":
        return np.tanh
    if name == "relu":
        return lambda z: np.maximum(z, 0)
    if name == "sigmoid":   # written with tanh: no overflow warning for large negative z
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

    def __init__(self, points, labels, *, hidden_layers: int = 1, units: int = 4,
                 activation: str = "tanh", learning_rate: float = 0.1, seed: int = 0):
        self.points = _as_points(points)
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
            self.weights += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
                             np.zeros(fan_out, np.float32)]
        self._hidden = _playground_activation(activation)
        self._id = next(_TRAINER_IDS)
        self._inputs = self.points.astype(np.float32)
        self.steps = 0
        self.losses: list[float] = []
        self.step_seconds: list[float] = []

    @staticmethod
    def _checked_learning_rate(learning_rate) -> float:
        return validation.as_float(learning_rate, "learning_rate", minimum=1e-6, maximum=100.0)

    @property
    def parameter_count(self) -> int:
        """Number of weights and biases of the network."""
        return int(sum(array.size for array in self.weights))

    @property
    def model(self):
        """The compiled Keras network, holding this trainer's weights and learning rate."""
        key = self.architecture
        model = _NETWORKS.pop(key, None)
        if model is None:
            model = build_network(*key, learning_rate=self.learning_rate)
            _NETWORK_OWNERS.pop(key, None)
        _NETWORKS[key] = model                       # most recently used last
        while len(_NETWORKS) > _MAX_NETWORKS:
            oldest = next(iter(_NETWORKS))
            del _NETWORKS[oldest]
            _NETWORK_OWNERS.pop(oldest, None)
        if _NETWORK_OWNERS.get(key) != self._id:     # another trainer's weights are loaded
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

    def probabilities(self, points) -> np.ndarray:
        """Class probabilities for each point, shape (N, classes), float64.

        The network's forward pass in NumPy with the current weights (float32, like Keras).
        """
        outputs = _as_points(points).astype(np.float32)
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


class Playground(widgets.Interactive):
    """The playground widget: ``widgets.Interactive`` plus play, step and reset controls.

    ``step()`` (the step button) trains ``steps_per_tick`` steps and redraws. ``play`` (a
    toggle) repeats that on the kernel's asyncio event loop (``loop.call_later``), so the
    notebook stays responsive between frames; clicking it again stops. Changing the dataset,
    the layers or the activation starts a new network; the learning rate changes in place.

    One playground plays at a time: pressing play pauses the others, and building a new one
    (re-running its cell) pauses the old ones, whose views are gone but whose frames would
    otherwise keep the kernel busy.
    """

    _instances: "weakref.WeakSet[Playground]" = weakref.WeakSet()

    def __init__(self, controls, render, layout, *, trainer_box, play_button, step_button,
                 reset_button, steps_per_tick, frame_seconds):
        self._trainer_box = trainer_box
        self.play_button, self.step_button, self.reset_button = (play_button, step_button,
                                                                  reset_button)
        self.steps_per_tick = steps_per_tick
        self.frame_seconds = frame_seconds
        self._pending = None
        self.ticks = 0
        super().__init__(controls, render, layout)
        for other in list(Playground._instances):
            other.pause()
        Playground._instances.add(self)
        step_button.on_click(lambda _: self.step())
        reset_button.on_click(lambda _: self.reset())
        play_button.observe(self._on_play, names="value")

    @property
    def trainer(self) -> PlaygroundTrainer:
        """The current dataset and network."""
        return self._trainer_box["trainer"]

    def step(self, steps: int | None = None) -> dict:
        """Train ``steps`` (default ``steps_per_tick``) steps, redraw, return the new state."""
        self.trainer.train(self.steps_per_tick if steps is None else steps)
        self.ticks += 1
        return self.refresh()

    def reset(self) -> dict:
        """Start again with fresh weights (same settings)."""
        self._trainer_box["config"] = None
        return self.refresh()

    def pause(self) -> None:
        """Stop playing (same as clicking pause)."""
        self.play_button.value = False

    def _on_play(self, change):
        if change["new"]:
            for other in list(Playground._instances):
                if other is not self:
                    other.pause()
            self.play_button.description, self.play_button.icon = "pause", "pause"
            self._schedule()
        else:
            self.play_button.description, self.play_button.icon = "play", "play"
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None

    def _schedule(self):
        import asyncio   # here rather than at the top: importing it costs ~50 ms
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:  # plain Python, no kernel: nothing would run the frames
            self.play_button.value = False
            self.state["message"] = "play needs a running Jupyter kernel; use step instead."
            return
        self._pending = loop.call_later(self.frame_seconds, self._tick)

    def _tick(self):
        self._pending = None
        if not self.play_button.value:
            return
        try:
            self.step()
        except Exception:
            self.play_button.value = False
            raise
        self._schedule()


def playground(*, dataset: str = "circles", classes: int = 2, noise: float = 0.1,
               hidden_layers: int = 1, units: int = 4, activation: str = "tanh",
               learning_rate: float = 0.3, n_samples: int = 200, steps_per_tick: int = 10,
               resolution: int = 60, seed: int = 0) -> Playground:
    """Widget: TensorFlow Playground inside the notebook.

    Choose a dataset, the number of classes (blobs and spiral), the hidden layers and units,
    the activation and the learning rate; press play (or step) and watch the decision
    boundary and the loss curve change while the network trains. The status line reports
    the loss, the accuracy and the milliseconds per training step.

    Returns
    -------
    Playground
        A ``widgets.Interactive``; tests call ``.step()`` or ``.step_button.click()`` and read
        ``.state`` ("step", "loss", "accuracy", "ms_per_step", "image", "classes").
    """
    import ipywidgets
    validation.one_of(dataset, "dataset", DATASETS)
    classes = validation.as_int(classes, "classes", minimum=2, maximum=len(CLASS_COLOURS))
    noise = validation.as_float(noise, "noise", minimum=0.0, maximum=0.5)
    hidden_layers = validation.as_int(hidden_layers, "hidden_layers", minimum=0, maximum=4)
    units = validation.as_int(units, "units", minimum=1, maximum=8)
    validation.one_of(activation, "activation", PLAYGROUND_ACTIVATIONS)
    validation.one_of(learning_rate, "learning_rate", LEARNING_RATES)
    n_samples = validation.as_int(n_samples, "n_samples", minimum=20, maximum=1000)
    steps_per_tick = validation.as_int(steps_per_tick, "steps_per_tick", minimum=1,
                                       maximum=200)
    resolution = validation.as_int(resolution, "resolution", minimum=20, maximum=200)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    # Every change redraws in a few ms (NumPy forward pass, shared Keras networks), so the
    # sliders update while they are dragged.
    controls = {
        "dataset": ipywidgets.Dropdown(options=list(DATASETS), value=dataset,
                                       description="dataset"),
        "classes": ipywidgets.IntSlider(classes, 2, len(CLASS_COLOURS), description="classes"),
        "noise": ipywidgets.FloatSlider(noise, min=0.0, max=0.5, step=0.05,
                                        description="noise"),
        "hidden_layers": ipywidgets.IntSlider(hidden_layers, 0, 4, description="hidden layers"),
        "units": ipywidgets.IntSlider(units, 1, 8, description="units per layer"),
        "activation": ipywidgets.Dropdown(options=list(PLAYGROUND_ACTIVATIONS),
                                          value=activation, description="activation"),
        # No editable readout: ipywidgets lets one type any text into a SelectionSlider's
        # readout and then ignores it, so the box could show a rate that is not in use.
        # The value in use is shown next to the slider instead.
        "learning_rate": ipywidgets.SelectionSlider(options=list(LEARNING_RATES),
                                                    value=learning_rate, readout=False,
                                                    description="learning rate"),
    }
    for control in controls.values():
        control.style.description_width = "8em"
    play = ipywidgets.ToggleButton(False, description="play", icon="play")
    step_button = ipywidgets.Button(description=f"step ×{steps_per_tick}", icon="step-forward")
    reset = ipywidgets.Button(description="reset", icon="refresh")
    picture = ipywidgets.Image(format="png", width=300, height=300)
    loss_plot = ipywidgets.HTML()
    status = ipywidgets.HTML()
    rate_readout = ipywidgets.HTML(layout=ipywidgets.Layout(width="4em", margin="0 0 0 12px"))
    box = {"trainer": None, "config": None}
    grid = grid_points(resolution)

    def render(values):
        multiclass = values["dataset"] in MULTICLASS_DATASETS
        controls["classes"].disabled = not multiclass
        config = (values["dataset"], values["classes"] if multiclass else 2, values["noise"],
                  values["hidden_layers"], values["units"], values["activation"])
        rebuilt = config != box["config"]
        if rebuilt:
            points, labels = make_dataset(config[0], n_samples, classes=config[1],
                                          noise=config[2], seed=seed)
            box["trainer"] = PlaygroundTrainer(
                points, labels, hidden_layers=config[3], units=config[4], activation=config[5],
                learning_rate=values["learning_rate"], seed=seed)
            box["config"] = config
        trainer = box["trainer"]
        trainer.set_learning_rate(values["learning_rate"])
        rate_readout.value = f"<b>{values['learning_rate']:g}</b>"
        start = time.perf_counter()
        # One forward pass for the grid and the data points.
        probabilities = trainer.probabilities(np.concatenate([grid, trainer.points]))
        diverged = not np.all(np.isfinite(probabilities))
        if diverged:     # weights overflowed: grey background, the message below says why
            probabilities = np.full_like(probabilities, 1 / trainer.classes)
        image = boundary_image(probabilities[:len(grid)], resolution, trainer.points,
                               trainer.labels, scale=max(1, 300 // resolution))
        picture.value = widgets.encode(image, "png")
        draw_ms = 1000 * (time.perf_counter() - start)
        accuracy = float(np.mean(probabilities[len(grid):].argmax(axis=1) == trainer.labels))
        loss = trainer.losses[-1] if trainer.losses else trainer.loss()
        history = np.asarray(trainer.losses or [loss], dtype=np.float64)
        steps = np.arange(len(history) + 1)
        curve = np.r_[history[0], history]
        if len(curve) > 400:      # a long training: every n-th step keeps the plot light
            keep = np.unique(np.r_[np.linspace(0, len(curve) - 1, 400).astype(int)])
            steps, curve = steps[keep], curve[keep]
        finite = curve[np.isfinite(curve)]
        loss_plot.value = svg_line_plot(steps, {"training loss": curve},
                                        ylim=(0, max(float(finite.max()) if finite.size
                                                     else 1.0, 1e-3)),
                                        xlabel="step", ylabel="loss", width=300, height=150)
        layers = " → ".join(["2"] + [str(config[4])] * config[3] + [str(trainer.classes)])
        speed = (f"<b>{trainer.ms_per_step:.1f} ms</b> per training step"
                 if trainer.step_seconds else "press play or step to train")
        warning = ("<br><b style='color:#d62728'>The training diverged (the weights are no "
                   "longer finite numbers): choose a smaller learning rate and press reset."
                   "</b>" if diverged or not np.isfinite(loss) else "")
        status.value = (f"network {layers} ({trainer.parameter_count} weights) · "
                        f"learning rate {values['learning_rate']:g} · "
                        f"step <b>{trainer.steps}</b> · loss <b>{loss:.3f}</b> · accuracy "
                        f"<b>{accuracy:.0%}</b> · {speed} · drawing {draw_ms:.0f} ms"
                        + warning)
        return {"step": trainer.steps, "loss": loss, "accuracy": accuracy,
                "ms_per_step": trainer.ms_per_step, "draw_ms": draw_ms, "image": image,
                "classes": trainer.classes, "rebuilt": rebuilt,
                "diverged": diverged}

    layout = ipywidgets.HBox([
        ipywidgets.VBox([controls["dataset"], controls["classes"], controls["noise"],
                         controls["hidden_layers"], controls["units"], controls["activation"],
                         ipywidgets.HBox([controls["learning_rate"], rate_readout]),
                         ipywidgets.HBox([play, step_button, reset]),
                         loss_plot]),
        ipywidgets.VBox([picture, status], layout=ipywidgets.Layout(width="340px"))])
    return Playground(controls, render, layout, trainer_box=box, play_button=play,
                      step_button=step_button, reset_button=reset,
                      steps_per_tick=steps_per_tick, frame_seconds=0.03)


# --------------------------------------------------------------------------------------------
# Losses: how each one penalises an error (values from keras.losses)
# --------------------------------------------------------------------------------------------


def loss_curves(target: int, predictions) -> dict:
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
        raise ValueError(f"predictions must be a flat array of numbers (shape (N,)), but it "
                         f"has shape {predictions.shape}.")
    predictions = predictions.astype(np.float64)
    if predictions.min() < 0 or predictions.max() > 1:
        raise ValueError(f"predictions must be probabilities in [0, 1], but they range from "
                         f"{predictions.min():g} to {predictions.max():g}.")
    y_pred = predictions[:, None]
    y_true = np.full_like(y_pred, float(target))
    return {name: np.asarray(function(y_true, y_pred), dtype=np.float64)
            for name, function in [("MSE", keras.losses.mean_squared_error),
                                   ("MAE", keras.losses.mean_absolute_error),
                                   ("BCE", keras.losses.binary_crossentropy)]}


def loss_explorer(target: int = 1, prediction: float = 0.3) -> widgets.Interactive:
    """Widget: move a prediction between 0 and 1 and compare how MSE, MAE and BCE punish it."""
    import ipywidgets
    target = validation.as_int(target, "target", minimum=0, maximum=1)
    prediction = validation.as_float(prediction, "prediction", minimum=0.001, maximum=0.999)
    controls = {
        "target": ipywidgets.Dropdown(options=[0, 1], value=target, description="target"),
        "prediction": ipywidgets.FloatSlider(prediction, min=0.001, max=0.999, step=0.001,
                                             readout_format=".3f", description="prediction"),
    }
    # Every value the slider can take (its steps of 0.001): the curves are computed once per
    # target with keras.losses, and an update only looks its values up (no Keras call).
    xs = np.round(np.arange(1, 1000) / 1000, 3)
    cache = {}
    plot, readout = ipywidgets.HTML(), ipywidgets.HTML()

    def render(values):
        if values["target"] not in cache:
            cache[values["target"]] = loss_curves(values["target"], xs)
        curves = cache[values["target"]]
        prediction = values["prediction"]
        index = int(np.argmin(np.abs(xs - prediction)))
        if abs(xs[index] - prediction) > 1e-9:     # typed between two steps: compute it
            at = loss_curves(values["target"], np.array([prediction]))
            at = {name: float(value[0]) for name, value in at.items()}
        else:
            at = {name: float(value[index]) for name, value in curves.items()}
        drawn = slice(None, None, 3)          # a third of the points draw the same curves
        plot.value = svg_line_plot(xs[drawn], {name: curve[drawn] for name, curve in
                                               curves.items()},
                                   ylim=(0, 4), marker_x=values["prediction"],
                                   xlabel=f"prediction (target {values['target']})",
                                   ylabel="loss", width=420, height=220)
        readout.value = " · ".join(f"{name} <b>{value:.3f}</b>" for name, value in at.items())
        return {"losses": at}

    layout = ipywidgets.VBox([controls["target"], controls["prediction"], readout, plot])
    return widgets.Interactive(controls, render, layout)


# --------------------------------------------------------------------------------------------
# The lesson's two-layer network, computed by Keras (references for forward/backward checks)
# --------------------------------------------------------------------------------------------


def _as_weights(W1, b1, W2, b2, inputs: int | None = None):
    """Check the parameters of the lesson's two-layer network; return float64 arrays."""
    arrays = {}
    for name, value, ndim in [("W1", W1, 2), ("b1", b1, 1), ("W2", W2, 2), ("b2", b2, 1)]:
        array = validation.as_array(value, name).astype(np.float64)
        if array.ndim != ndim:
            form = "a matrix (2-D)" if ndim == 2 else "a vector (1-D)"
            raise ValueError(f"{name} must be {form}, but it has shape {array.shape}.")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinite values.")
        arrays[name] = array
    W1, b1, W2, b2 = arrays.values()
    inputs = W1.shape[0] if inputs is None else inputs
    if W1.shape[0] != inputs or b1.shape != (W1.shape[1],) or W2.shape[0] != W1.shape[1] \
            or b2.shape != (W2.shape[1],):
        raise ValueError(f"the shapes do not fit together: {inputs} inputs need W1 of shape "
                         f"({inputs}, hidden), b1 (hidden,), W2 (hidden, classes) and b2 "
                         f"(classes,); got W1 {W1.shape}, b1 {b1.shape}, W2 {W2.shape}, b2 "
                         f"{b2.shape}.")
    return W1, b1, W2, b2


def _as_network(x, W1, b1, W2, b2):
    """Check a two-layer network's input (N, inputs) and parameters; return float64 arrays."""
    x = validation.as_array(x, "x")
    if x.ndim != 2 or x.shape[0] == 0:          # checked before converting: no big copy
        raise ValueError(f"x must be a matrix of shape (N, inputs), one example per row, but "
                         f"it has shape {x.shape}.")
    x = x.astype(np.float64)
    validation.require_finite(x, "x")
    return (x, *_as_weights(W1, b1, W2, b2, inputs=x.shape[1]))


def keras_network(W1, b1, W2, b2, *, hidden_activation: str = "tanh",
                  output_activation: str = "softmax"):
    """A float64 Keras model Dense(tanh) -> Dense(softmax) holding the given weights."""
    keras = lesson.import_keras()
    W1, b1, W2, b2 = _as_weights(W1, b1, W2, b2)
    for name, value in [("hidden_activation", hidden_activation),
                        ("output_activation", output_activation)]:
        validation.one_of(value, name, ["tanh", "sigmoid", "relu", "linear", "softmax"])
    model = keras.Sequential([
        keras.Input((W1.shape[0],), dtype="float64"),
        keras.layers.Dense(W1.shape[1], activation=hidden_activation, dtype="float64"),
        keras.layers.Dense(W2.shape[1], activation=output_activation, dtype="float64")])
    model.layers[0].set_weights([W1, b1])
    model.layers[1].set_weights([W2, b2])
    return model


def keras_weighted_sum(inputs, weights, bias: float) -> np.ndarray:
    """``sum_i x_i * w_i + b`` for each row of ``inputs``, computed by a Keras ``Dense(1)``.

    Parameters
    ----------
    inputs : ndarray, shape (N, d); weights : ndarray, shape (d,); bias : float

    Returns
    -------
    ndarray, shape (N,), float64
    """
    keras = lesson.import_keras()
    inputs = validation.as_array(inputs, "inputs").astype(np.float64)
    weights = validation.as_array(weights, "weights").astype(np.float64)
    bias = validation.as_float(bias, "bias")
    if inputs.ndim != 2 or weights.shape != (inputs.shape[1],):
        raise ValueError(f"inputs must have shape (N, d) and weights shape (d,), but got "
                         f"inputs {inputs.shape} and weights {weights.shape}.")
    layer = _keras_dense(keras, weights[:, None], np.array([bias]))
    return _numpy(keras, layer(inputs))[:, 0]


def keras_forward(x, W1, b1, W2, b2) -> np.ndarray:
    """Class probabilities of the lesson's network computed by Keras, shape (N, classes)."""
    x, W1, b1, W2, b2 = _as_network(x, W1, b1, W2, b2)
    return np.asarray(keras_network(W1, b1, W2, b2)(x, training=False), dtype=np.float64)


def _network_loss(keras, x, y, W1, b1, W2, b2):
    """Mean categorical cross-entropy of the network, in keras.ops (differentiable)."""
    ops = keras.ops
    hidden = ops.tanh(ops.matmul(x, W1) + b1)
    probabilities = keras.activations.softmax(ops.matmul(hidden, W2) + b2, axis=-1)
    return ops.mean(keras.losses.categorical_crossentropy(y, probabilities))


def network_loss(x, y_true, W1, b1, W2, b2) -> float:
    """Mean categorical cross-entropy of the lesson's network (``keras.losses``), a float."""
    keras = lesson.import_keras()
    x, W1, b1, W2, b2 = _as_network(x, W1, b1, W2, b2)
    y_true = _as_one_hot(y_true, x.shape[0], W2.shape[1])
    ops = keras.ops
    tensors = [ops.convert_to_tensor(a, dtype="float64") for a in (x, y_true, W1, b1, W2, b2)]
    loss = float(ops.convert_to_numpy(_network_loss(keras, *tensors)))
    if not np.isfinite(loss):
        raise ValueError(f"the loss is {loss}: the weights are so large that the network's "
                         f"sums overflow float64. Use weights of a sensible size (about 1).")
    return loss


def autodiff_backward(x, y_true, W1, b1, W2, b2):
    """Gradients of ``network_loss`` by automatic differentiation: (dW1, db1, dW2, db2)."""
    keras = lesson.import_keras()
    x, W1, b1, W2, b2 = _as_network(x, W1, b1, W2, b2)
    y_true = _as_one_hot(y_true, x.shape[0], W2.shape[1])
    grads = gradient(lambda w1, c1, w2, c2: _network_loss(keras, x, y_true, w1, c1, w2, c2),
                     W1, b1, W2, b2)
    for name, grad in zip(("dW1", "db1", "dW2", "db2"), grads):
        if not np.all(np.isfinite(grad)):
            raise ValueError(f"{name} holds NaN or infinite values: the weights are so large "
                             f"that the network's sums overflow. Use weights of a sensible "
                             f"size (about 1).")
    return tuple(grads)


def _as_one_hot(y_true, count, classes):
    y_true = validation.as_array(y_true, "y_true", finite=True).astype(np.float64)
    if y_true.shape != (count, classes):
        raise ValueError(f"y_true must be one-hot rows of shape ({count}, {classes}), but it "
                         f"has shape {y_true.shape}.")
    if np.any(y_true < 0) or not np.allclose(y_true.sum(axis=1), 1.0):
        raise ValueError("y_true must hold one probability distribution per row (one-hot: a "
                         "single 1, the rest 0), but a row has negative values or does not "
                         "sum to 1.")
    return y_true


def numerical_gradient(function, array, step: float = 1e-6) -> np.ndarray:
    """Central-difference estimate of the gradient of ``function(array) -> float``.

    Each element is nudged by ``+step`` and ``-step`` in turn:
    ``(f(a + h) - f(a - h)) / (2 h)``. Slow (two calls per element) but independent of any
    derivative formula, which is why it checks hand-written gradients.

    Returns
    -------
    ndarray, same shape as ``array``, float64
    """
    if not callable(function):
        raise TypeError(f"function must be callable, but got {validation.describe(function)}.")
    array = validation.as_array(array, "array")
    if array.size > 100_000:
        raise ValueError(f"array has {array.size:,} elements; a numerical gradient calls the "
                         f"function twice per element, so it is limited to 100,000 (check a "
                         f"few weights, e.g. one layer of a small network).")
    array = array.astype(np.float64)
    validation.require_finite(array, "array")
    step = validation.as_float(step, "step", minimum=1e-12, maximum=1.0)
    result = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        original = array[index]
        array[index] = original + step
        above = float(function(array))
        array[index] = original - step
        below = float(function(array))
        array[index] = original
        result[index] = (above - below) / (2 * step)
    return result


def relative_error(a, b) -> float:
    """max |a - b| / max(|a| + |b|): about 1e-7 or less means two gradients agree (float64).

    NaN or infinite values raise ValueError: a NaN gradient must never read as agreement.
    """
    a = validation.as_array(a, "a", finite=True).astype(np.float64)
    b = validation.as_array(b, "b", finite=True).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, but they have shapes {a.shape} "
                         f"and {b.shape}.")
    scale = np.max(np.abs(a) + np.abs(b)) if a.size else 0.0
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 0.0


def fit_with_keras(x, y_true, W1, b1, W2, b2, *, learning_rate: float, epochs: int):
    """Train the lesson's network with ``model.fit`` and plain SGD, one full batch per epoch.

    Returns
    -------
    (W1, b1, W2, b2) after training (float64), and the list of losses per epoch.
    """
    keras = lesson.import_keras()
    x, W1, b1, W2, b2 = _as_network(x, W1, b1, W2, b2)
    y_true = _as_one_hot(y_true, x.shape[0], W2.shape[1])
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-6,
                                        maximum=100.0)
    epochs = validation.as_int(epochs, "epochs", minimum=1, maximum=10000)
    model = keras_network(W1, b1, W2, b2)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate, momentum=0.0),
                  loss=keras.losses.CategoricalCrossentropy(dtype="float64"),
                  jit_compile=False)
    with lesson.native_stderr_silenced():
        history = model.fit(x, y_true, batch_size=len(x), epochs=epochs, shuffle=False,
                            verbose=0)
    weights = [np.asarray(w, dtype=np.float64) for w in model.get_weights()]
    losses = [float(v) for v in history.history["loss"]]
    diverged = [epoch for epoch, loss in enumerate(losses, start=1) if not np.isfinite(loss)]
    if diverged or not all(np.all(np.isfinite(w)) for w in weights):
        when = f"at epoch {diverged[0]}" if diverged else "in the weights"
        raise ValueError(f"training diverged: the loss became NaN or infinite {when} with "
                         f"learning_rate={learning_rate:g}. Gradient descent overshot; try a "
                         f"learning rate 10 times smaller.")
    return tuple(weights), losses


# --------------------------------------------------------------------------------------------
# Exercise checks (each compares with Keras: layers, activations, losses, autodiff)
# --------------------------------------------------------------------------------------------


def _keras_dense(keras, weights, bias, activation=None):
    """A float64 Dense layer holding the given weights (shape (inputs, outputs))."""
    layer = keras.layers.Dense(weights.shape[1], activation=activation, dtype="float64")
    layer.build((None, weights.shape[0]))
    layer.set_weights([weights, bias])
    return layer


def _numpy(keras, tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype=np.float64)


#: Library (and kit) functions that would turn an exercise into a look-up (exercises.checker).
_LIBRARY_SHORTCUTS = {
    "weighted_sum": ["lab_utils.perceptrons.keras_weighted_sum", "keras.layers.Dense"],
    "sigmoid": ["keras.activations.sigmoid", "keras.ops.sigmoid", "scipy.special.expit",
                "lab_utils.perceptrons.activation_curves"],
    "relu": ["keras.activations.relu", "keras.ops.relu",
             "lab_utils.perceptrons.activation_curves"],
    "forward": ["lab_utils.perceptrons.keras_forward", "lab_utils.perceptrons.keras_network",
                "keras.Sequential", "keras.layers.Dense", "keras.ops.softmax",
                "keras.activations.softmax", "scipy.special.softmax"],
    "backward": ["lab_utils.perceptrons.autodiff_backward", "lab_utils.perceptrons.gradient",
                 "lab_utils.perceptrons.numerical_gradient", "tensorflow.GradientTape"],
    "mse": ["keras.losses.mean_squared_error", "keras.losses.MeanSquaredError",
            "sklearn.metrics.mean_squared_error"],
    "binary_cross_entropy": ["keras.losses.binary_crossentropy",
                             "keras.losses.BinaryCrossentropy", "sklearn.metrics.log_loss"],
    "categorical_cross_entropy": ["keras.losses.categorical_crossentropy",
                                  "keras.losses.CategoricalCrossentropy",
                                  "sklearn.metrics.log_loss"],
}


_WEIGHTED_SUM_HINT = ("multiply each input by its weight, add up the products of each row "
                      "(one number per example), then add the bias once.")


@exercises.checker("weighted_sum", forbid=_LIBRARY_SHORTCUTS["weighted_sum"])
def check_weighted_sum(weighted_sum):
    """Check ``weighted_sum(inputs, weights, bias)`` against a Keras ``Dense(1)`` layer.

    ``inputs`` has shape (N, d), ``weights`` (d,), ``bias`` is a float; the answer has shape
    (N,): ``sum_i x_i * w_i + b`` for each row.
    """
    __tracebackhide__ = True
    keras = lesson.import_keras()
    rng = np.random.default_rng(30)
    cases = [(np.array([[1.0, 0.5, -2.0]]), np.array([0.4, -1.0, 0.25]), 0.5),
             (rng.normal(size=(5, 3)), rng.normal(size=3), -1.5),
             (rng.uniform(0, 1, size=(4, 2)), np.array([2.0, 3.0]), 0.7)]
    for inputs, weights, bias in cases:
        layer = _keras_dense(keras, weights[:, None], np.array([bias]))
        expected = _numpy(keras, layer(inputs))[:, 0]
        name = f"weighted_sum(inputs of shape {inputs.shape}, weights, bias={bias})"
        result = weighted_sum(inputs.copy(), weights.copy(), bias, name=name,
                              hint=_WEIGHTED_SUM_HINT)
        if isinstance(result, np.ndarray) and result.shape == inputs.shape:
            exercises.fail(f"{name} has shape {result.shape}, one value per input: the "
                           f"products x_i * w_i were not added up along each row.",
                           _WEIGHTED_SUM_HINT)
        exercises.expect_array(result, expected, name=name, hint=_WEIGHTED_SUM_HINT,
                               known_mistakes=[
                                   (inputs @ weights, "the bias b is missing."),
                                   (inputs @ weights - bias, "the bias is subtracted; the "
                                                             "slide adds it: Σ x_i w_i + b."),
                                   ((inputs + bias) @ weights,
                                    "the bias is added to every input before weighting; it "
                                    "is added once, after the sum.")])
    return len(cases)


_ACTIVATION_POINTS = np.array([-6.0, -2.5, -1.0, -0.3, 0.2, 0.7, 1.5, 4.0, 8.0])


def _check_activation(name, student, hint, mistakes, derivative=False):
    """Shared body of the activation checks: values vs ``keras.activations``, slopes vs
    automatic differentiation, on a flat array and on a 3 x 3 array."""
    __tracebackhide__ = True
    exercise = f"{name}_derivative" if derivative else name
    z = _ACTIVATION_POINTS.copy()
    ((values, slopes),) = activation_curves(z, [name]).values()
    expected = slopes if derivative else values
    for shape in [(9,), (3, 3)]:
        inputs = z.reshape(shape)
        result = student(inputs.copy(), name=f"{exercise}(z)", hint=hint)
        exercises.expect_array(result, expected.reshape(shape),
                               name=f"{exercise}(z) for z of shape {shape}", hint=hint,
                               known_mistakes=[(m.reshape(shape), message)
                                               for m, message in mistakes])
    return 2


_SIGMOID_HINT = ("use the exercise's formula with NumPy's elementwise functions (no loops, "
                 "no math module: z is an array); the derivative can be written with the "
                 "sigmoid's own value.")


@exercises.checker("sigmoid", forbid=_LIBRARY_SHORTCUTS["sigmoid"])
def check_sigmoid(sigmoid):
    """Check ``sigmoid(z)`` against ``keras.activations.sigmoid``, elementwise on arrays of any
    shape."""
    __tracebackhide__ = True
    z = _ACTIVATION_POINTS
    return _check_activation("sigmoid", sigmoid, _SIGMOID_HINT, [
        (1 / (1 + np.exp(z)), "exp(z) should be exp(-z): large z must give values close to 1."),
        (np.tanh(z), "this is tanh; the sigmoid's values lie between 0 and 1.")])


@exercises.checker("sigmoid_derivative", forbid=_LIBRARY_SHORTCUTS["sigmoid"])
def check_sigmoid_derivative(sigmoid_derivative):
    """Check ``sigmoid_derivative(z)`` against automatic differentiation of
    ``keras.activations.sigmoid``."""
    __tracebackhide__ = True
    z = _ACTIVATION_POINTS
    s = 1 / (1 + np.exp(-z))
    return _check_activation("sigmoid", sigmoid_derivative, _SIGMOID_HINT, [
        (s, "this is sigmoid(z) itself, not its derivative (slope). The slope is "
            "sigmoid(z) * (1 - sigmoid(z)), at most 0.25 (at z = 0)."),
        (z * (1 - z), "z * (1 - z) uses z where sigmoid(z) belongs: the slope is s * (1 - s) "
                      "with s = sigmoid(z)."),
        (-s * (1 - s), "the sign is flipped: the sigmoid only increases, so its slope is "
                       "positive.")], derivative=True)


_RELU_HINT = ("ReLU keeps positive values and replaces negative ones by 0, element by element "
              "(np.max would reduce the whole array to one number); its slope is 1 where "
              "z > 0 and 0 where z < 0, as floats.")


@exercises.checker("relu", forbid=_LIBRARY_SHORTCUTS["relu"])
def check_relu(relu):
    """Check ``relu(z)`` against ``keras.activations.relu``, elementwise on arrays of any
    shape."""
    __tracebackhide__ = True
    z = _ACTIVATION_POINTS
    return _check_activation("relu", relu, _RELU_HINT, [
        (np.abs(z), "negative inputs became positive (that is abs); ReLU sets them to 0."),
        (z, "this is the identity (linear activation): ReLU sets negative values to 0, so it "
            "does not keep the output as-is.")])


@exercises.checker("relu_derivative", forbid=_LIBRARY_SHORTCUTS["relu"])
def check_relu_derivative(relu_derivative):
    """Check ``relu_derivative(z)`` against automatic differentiation of
    ``keras.activations.relu`` (the test points avoid z = 0, where the slope is undefined)."""
    __tracebackhide__ = True
    z = _ACTIVATION_POINTS
    return _check_activation("relu", relu_derivative, _RELU_HINT, [
        (np.maximum(z, 0), "this is relu(z) itself, not its slope (1 or 0)."),
        (np.ones_like(z), "the slope is 1 only where z > 0; where z < 0 it is 0."),
        ((z < 0).astype(float), "1 and 0 are swapped: the slope is 1 where z > 0.")],
        derivative=True)


_FORWARD_HINT = ("follow the formula of section 5 step by step: a weighted sum and tanh for "
                 "the hidden layer, a weighted sum for the output, then softmax over the "
                 "classes of each example (each row sums to 1). Subtracting each row's "
                 "maximum before exponentiating avoids overflow.")


def _network_cases():
    """Small networks for the forward/backward checks: (x, one-hot y, W1, b1, W2, b2)."""
    rng = np.random.default_rng(33)
    cases = []
    for count, inputs, hidden, classes in [(4, 2, 3, 2), (6, 3, 5, 4), (1, 2, 2, 3)]:
        x = rng.normal(size=(count, inputs))
        y = np.eye(classes)[rng.integers(0, classes, count)]
        cases.append((x, y, rng.normal(size=(inputs, hidden)), rng.normal(size=hidden),
                      rng.normal(size=(hidden, classes)), rng.normal(size=classes)))
    return cases


@exercises.checker("forward", forbid=_LIBRARY_SHORTCUTS["forward"])
def check_forward(forward):
    """Check ``forward(x, W1, b1, W2, b2)`` (tanh hidden layer, softmax output) against a Keras
    model that holds the same weights. The answer has shape (N, classes), rows summing to 1."""
    __tracebackhide__ = True
    keras = lesson.import_keras()
    cases = _network_cases()
    for x, _, W1, b1, W2, b2 in cases:
        expected = keras_forward(x, W1, b1, W2, b2)
        logits_model = keras_network(W1, b1, W2, b2, output_activation="linear")
        logits = _numpy(keras, logits_model(x, training=False))
        mistakes = [
            (logits, "these are the logits: softmax is missing at the output."),
            (np.exp(logits) / np.exp(logits).sum(axis=0, keepdims=True),
             "softmax was taken over the examples (axis=0); each row (one example) must sum "
             "to 1: use axis=1."),
            (keras_forward(x, W1, b1 * 0, W2, b2 * 0), "the biases b1 and b2 are missing."),
            (_numpy(keras, keras_network(W1, b1, W2, b2, hidden_activation="linear")(x)),
             "the hidden layer has no activation (tanh): without it the two layers collapse "
             "into one linear layer."),
            (_numpy(keras, keras_network(W1, b1, W2, b2, hidden_activation="sigmoid")(x)),
             "the hidden layer uses the sigmoid; this network uses tanh.")]
        name = f"forward(x of shape {x.shape}, W1 {W1.shape}, b1, W2 {W2.shape}, b2)"
        result = forward(x.copy(), W1.copy(), b1.copy(), W2.copy(), b2.copy(), name=name,
                         hint=_FORWARD_HINT)
        exercises.expect_array(result, expected, name=name, hint=_FORWARD_HINT, atol=1e-9,
                               rtol=1e-7, known_mistakes=mistakes)
    return len(cases)


_BACKWARD_HINT = ("redo forward's steps, then go backwards through them: the softmax + "
                  "cross-entropy step gives (ŷ − y)/N for z2; a weighted sum passes the "
                  "gradient to its weights through its (transposed) input, to its bias summed "
                  "over the examples, and to its input through the (transposed) weights; "
                  "tanh' = 1 − h². Each gradient has its parameter's shape.")


@exercises.checker("backward", forbid=_LIBRARY_SHORTCUTS["backward"])
def check_backward(backward):
    """Check ``backward(x, y_true, W1, b1, W2, b2) -> (dW1, db1, dW2, db2)``, the gradients of
    the mean categorical cross-entropy, against automatic differentiation (Keras backend)."""
    __tracebackhide__ = True
    cases = _network_cases()
    names = ("dW1", "db1", "dW2", "db2")
    for x, y, W1, b1, W2, b2 in cases:
        expected = autodiff_backward(x, y, W1, b1, W2, b2)
        call = f"backward(x of shape {x.shape}, y_true, W1 {W1.shape}, b1, W2 {W2.shape}, b2)"
        result = backward(x.copy(), y.copy(), W1.copy(), b1.copy(), W2.copy(), b2.copy(),
                          name=call, hint=_BACKWARD_HINT)
        if not isinstance(result, (tuple, list)) or len(result) != 4:
            exercises.fail(f"{call} should return 4 arrays (dW1, db1, dW2, db2), but returned "
                           f"{exercises.describe_argument(result)}.", _BACKWARD_HINT)
        for grad_name, value, reference, parameter in zip(names, result, expected,
                                                          (W1, b1, W2, b2)):
            if isinstance(value, np.ndarray) and value.shape != parameter.shape:
                exercises.fail(f"{grad_name} has shape {value.shape}; a gradient has the shape "
                               f"of its parameter, {parameter.shape}. Check the order of the "
                               f"returned arrays (dW1, db1, dW2, db2) and the transposes.",
                               _BACKWARD_HINT)
            exercises.expect_array(
                value, reference, name=f"{grad_name} from {call}", hint=_BACKWARD_HINT,
                atol=1e-9, rtol=1e-6, known_mistakes=[
                    (-reference, "the sign is flipped: this points uphill. The gradient is "
                                 "(probabilities - y_true), not (y_true - probabilities)."),
                    (reference * len(x), f"it is {len(x)} times too large: the loss is the "
                                         f"mean over the {len(x)} examples, so divide by N.")])
    return len(cases)


def _as_float_answer(result, name, hint):
    __tracebackhide__ = True
    if isinstance(result, np.ndarray) and result.size == 1:
        result = result.reshape(()).item()
    if result is None:
        exercises.fail(f"{name} returned None. Did you forget `return`?", hint)
    if isinstance(result, bool) or not isinstance(result, (int, float, np.number)):
        exercises.fail(f"{name} returned {exercises.describe_argument(result)}; expected a "
                       f"single number (the mean loss over all examples).", hint)
    try:
        return float(result)
    except OverflowError:          # an int too large for a float (NaN and inf are judged later)
        exercises.fail(f"{name} returned an integer too large for a float; expected the mean "
                       f"loss, a number of modest size.", hint)


def _check_loss(name, student, keras_loss, cases, hint, mistakes, clipping_cases=()):
    """Compare a student's loss with ``keras_loss`` averaged over the batch."""
    __tracebackhide__ = True
    keras = lesson.import_keras()
    for index, (y_true, y_pred) in enumerate(cases):
        expected = float(np.mean(_numpy(keras, keras_loss(y_true, y_pred))))
        call = f"{name}(y_true, y_pred) with y_true = {y_true.tolist()}, y_pred = " \
               f"{y_pred.tolist()}"
        answer = student(y_true.copy(), y_pred.copy(), name=call, hint=hint)
        if (isinstance(answer, np.ndarray) and y_true.ndim == 2
                and answer.shape == (len(y_true),)):
            exercises.fail(f"{call} returned one value per example (shape {answer.shape}): "
                           f"the loss is one number, the mean over the examples too.", hint)
        result = _as_float_answer(answer, call, hint)
        if not np.isfinite(result):
            if index in clipping_cases:
                exercises.fail(f"{call} returned {result}: log(0) is -inf. Keras clips the "
                               f"predictions to [eps, 1 - eps] with eps = 1e-7 "
                               f"(keras.config.epsilon()) before taking logs; do the same "
                               f"with np.clip.", hint)
            exercises.fail(f"{call} returned {result}; expected a finite number.", hint)
        if np.isclose(result, expected, rtol=1e-6, atol=1e-9):
            continue
        for factor_or_value, message in mistakes(y_true, y_pred, expected):
            if np.isclose(result, factor_or_value, rtol=1e-6, atol=1e-9):
                exercises.fail(f"{call} returned {result:.6g}, expected {expected:.6g}: "
                               f"{message}", hint)
        exercises.fail(f"{call} returned {result:.6g}, expected {expected:.6g}.", hint)
    return len(cases)


@exercises.checker("mse", forbid=_LIBRARY_SHORTCUTS["mse"])
def check_mse(mse):
    """Check ``mse(y_true, y_pred)`` (a float: the mean of the squared errors over all values)
    against ``keras.losses.mean_squared_error``."""
    __tracebackhide__ = True
    keras = lesson.import_keras()
    cases = [(np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 1.0])),
             (np.array([0.0, -1.0, 4.0, 2.5]), np.array([0.1, -1.2, 3.0, 2.5])),
             (np.array([10.0]), np.array([7.0])),
             # a batch: 3 examples with 2 outputs each; the answer is still one number
             (np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 3.0]]),
              np.array([[1.5, 2.0], [0.0, -0.5], [2.0, 3.5]]))]

    def mistakes(y, p, expected):
        return [(np.sum((y - p) ** 2), "this is the sum; the slide divides by N (the mean)."),
                (np.sqrt(expected), "this is the root of the MSE (RMSE): leave out the sqrt."),
                (np.mean(np.abs(y - p)), "this is the mean absolute error: square the errors."),
                (np.mean(y - p), "the errors are not squared, so positive and negative ones "
                                 "cancel.")]

    return _check_loss("mse", mse, keras.losses.mean_squared_error, cases,
                "square each difference between target and prediction, then average them "
                "over all values.", mistakes)


_BCE_HINT = ("clip the predictions to [1e-7, 1 - 1e-7] first; each value costs -log of the "
             "probability it gives its target (p for a target 1, 1 - p for a target 0); "
             "average over all values.")


@exercises.checker("binary_cross_entropy", forbid=_LIBRARY_SHORTCUTS["binary_cross_entropy"])
def check_binary_cross_entropy(binary_cross_entropy):
    """Check ``binary_cross_entropy(y_true, y_pred)`` against ``keras.losses.binary_crossentropy``.

    Targets are 0 or 1 for each output (several may be 1: multi-label), not one-hot vectors.
    Predictions of exactly 0 or 1 must be clipped to [1e-7, 1 - 1e-7], as Keras does.
    """
    __tracebackhide__ = True
    keras = lesson.import_keras()
    cases = [(np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.9, 0.2, 0.6, 0.4])),
             (np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),     # multi-label: not one-hot
              np.array([[0.8, 0.7, 0.1], [0.3, 0.9, 0.2]])),
             (np.array([1.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0]))]    # certain and wrong

    def mistakes(y, p, expected):
        q = np.clip(p, 1e-7, 1 - 1e-7)
        terms = y * np.log(q) + (1 - y) * np.log(1 - q)
        return [(-expected, "the minus sign is missing: a loss is never negative."),
                (-np.sum(terms), "this is the sum; the slide divides by n (the mean)."),
                (-np.mean(y * np.log(q)), "the (1 - y) * log(1 - p) term is missing, so "
                                          "wrong predictions for targets 0 cost nothing.")]

    return _check_loss("binary_cross_entropy", binary_cross_entropy, keras.losses.binary_crossentropy,
                cases, _BCE_HINT, mistakes, clipping_cases=(2,))


_CCE_HINT = ("clip the predictions to [1e-7, 1 - 1e-7] first; each example costs -log of the "
             "probability it gives its true class (the one-hot row picks it out); average "
             "over the examples, not over the classes.")


@exercises.checker("categorical_cross_entropy", forbid=_LIBRARY_SHORTCUTS["categorical_cross_entropy"])
def check_categorical_cross_entropy(categorical_cross_entropy):
    """Check ``categorical_cross_entropy(y_true, y_pred)`` (one-hot rows of shape (N, K)) against
    ``keras.losses.categorical_crossentropy`` averaged over the N examples."""
    __tracebackhide__ = True
    keras = lesson.import_keras()
    cases = [(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
              np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])),
             (np.eye(4)[[0, 3, 1, 1, 2]],
              np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.1, 0.1, 0.7], [0.25, 0.25, 0.25, 0.25],
                        [0.05, 0.9, 0.03, 0.02], [0.3, 0.3, 0.3, 0.1]])),
             (np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 0.0]]))]

    def mistakes(y, p, expected):
        classes, count = y.shape[1], y.shape[0]
        return [(expected / classes, "it is averaged over the classes too (np.mean of the "
                                     "whole array): sum over the classes, then average over "
                                     "the examples."),
                (expected * count, "this is the sum over the examples; take their mean."),
                (-expected, "the minus sign is missing: a loss is never negative.")]

    return _check_loss("categorical_cross_entropy", categorical_cross_entropy,
                keras.losses.categorical_crossentropy, cases, _CCE_HINT, mistakes,
                clipping_cases=(2,))
