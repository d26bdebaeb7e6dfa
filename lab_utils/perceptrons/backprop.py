"""Lesson 03's two-layer network (tanh hidden layer, softmax output) computed by Keras: the
references of the forward and backward exercises, its loss and gradients (automatic
differentiation), a numerical gradient to check hand-written ones, and training with
``model.fit``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lab_utils import lesson, validation
from lab_utils.perceptrons.compute import enable_float64, gradient


def _as_weights(
    W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray, inputs: int | None = None
) -> tuple:
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
    if (
        W1.shape[0] != inputs
        or b1.shape != (W1.shape[1],)
        or W2.shape[0] != W1.shape[1]
        or b2.shape != (W2.shape[1],)
    ):
        raise ValueError(
            f"the shapes do not fit together: {inputs} inputs need W1 of shape "
            f"({inputs}, hidden), b1 (hidden,), W2 (hidden, classes) and b2 "
            f"(classes,); got W1 {W1.shape}, b1 {b1.shape}, W2 {W2.shape}, b2 "
            f"{b2.shape}."
        )
    return W1, b1, W2, b2


def _as_network(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> tuple:
    """Check a two-layer network's input (N, inputs) and parameters; return float64 arrays."""
    x = validation.as_array(x, "x")
    if x.ndim != 2 or x.shape[0] == 0:  # checked before converting: no big copy
        raise ValueError(
            f"x must be a matrix of shape (N, inputs), one example per row, but "
            f"it has shape {x.shape}."
        )
    x = x.astype(np.float64)
    validation.require_finite(x, "x")
    return (x, *_as_weights(W1, b1, W2, b2, inputs=x.shape[1]))


def keras_network(
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
    *,
    hidden_activation: str = "tanh",
    output_activation: str = "softmax",
) -> object:
    """A float64 Keras model Dense(tanh) -> Dense(softmax) holding the given weights."""
    keras = lesson.import_keras()
    W1, b1, W2, b2 = _as_weights(W1, b1, W2, b2)
    for name, value in [
        ("hidden_activation", hidden_activation),
        ("output_activation", output_activation),
    ]:
        validation.one_of(value, name, ["tanh", "sigmoid", "relu", "linear", "softmax"])
    model = keras.Sequential(
        [
            keras.Input((W1.shape[0],), dtype="float64"),
            keras.layers.Dense(W1.shape[1], activation=hidden_activation, dtype="float64"),
            keras.layers.Dense(W2.shape[1], activation=output_activation, dtype="float64"),
        ]
    )
    model.layers[0].set_weights([W1, b1])
    model.layers[1].set_weights([W2, b2])
    return model


def keras_dense(keras: object, weights: np.ndarray, bias: np.ndarray) -> object:
    """A float64 Dense layer holding the given weights (shape (inputs, outputs))."""
    layer = keras.layers.Dense(weights.shape[1], dtype="float64")
    layer.build((None, weights.shape[0]))
    layer.set_weights([weights, bias])
    return layer


def to_numpy(keras: object, tensor: object) -> np.ndarray:
    """A Keras tensor as a float64 NumPy array."""
    return np.asarray(keras.ops.convert_to_numpy(tensor), dtype=np.float64)


def keras_weighted_sum(inputs: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
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
        raise ValueError(
            f"inputs must have shape (N, d) and weights shape (d,), but got "
            f"inputs {inputs.shape} and weights {weights.shape}."
        )
    layer = keras_dense(keras, weights[:, None], np.array([bias]))
    return to_numpy(keras, layer(inputs))[:, 0]


def keras_forward(
    x: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray, b2: np.ndarray
) -> np.ndarray:
    """Class probabilities of the lesson's network computed by Keras, shape (N, classes)."""
    x, W1, b1, W2, b2 = _as_network(x, W1, b1, W2, b2)
    return np.asarray(keras_network(W1, b1, W2, b2)(x, training=False), dtype=np.float64)


def _network_loss(
    keras: object, x: object, y: object, W1: object, b1: object, W2: object, b2: object
) -> object:
    """Mean categorical cross-entropy of the network, in keras.ops (differentiable).

    Written to stay in float64 on every backend: under JAX and PyTorch, Keras computes
    ``ops.tanh`` and ``ops.mean`` of float64 tensors in float32, so tanh is taken as
    ``2 sigmoid(2 z) - 1`` (the same function) and the mean as a sum divided by the count.
    """
    ops = keras.ops
    hidden = 2.0 * ops.sigmoid(2.0 * (ops.matmul(x, W1) + b1)) - 1.0  # tanh, in float64
    probabilities = keras.activations.softmax(ops.matmul(hidden, W2) + b2, axis=-1)
    losses = keras.losses.categorical_crossentropy(y, probabilities)
    return ops.sum(losses) / ops.shape(losses)[0]


def network_loss(
    x: np.ndarray,
    y_true: np.ndarray,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
) -> float:
    """Mean categorical cross-entropy of the lesson's network (``keras.losses``), a float."""
    keras = lesson.import_keras()
    x, W1, b1, W2, b2 = _as_network(x, W1, b1, W2, b2)
    y_true = _as_one_hot(y_true, x.shape[0], W2.shape[1])
    ops = keras.ops
    enable_float64(keras)  # JAX too: the lesson's numerical gradient needs float64 losses
    tensors = [ops.convert_to_tensor(a, dtype="float64") for a in (x, y_true, W1, b1, W2, b2)]
    loss = float(ops.convert_to_numpy(_network_loss(keras, *tensors)))
    if not np.isfinite(loss):
        raise ValueError(
            f"the loss is {loss}: the weights are so large that the network's "
            f"sums overflow float64. Use weights of a sensible size (about 1)."
        )
    return loss


def autodiff_backward(
    x: np.ndarray,
    y_true: np.ndarray,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
) -> tuple:
    """Gradients of ``network_loss`` by automatic differentiation: (dW1, db1, dW2, db2)."""
    keras = lesson.import_keras()
    x, W1, b1, W2, b2 = _as_network(x, W1, b1, W2, b2)
    y_true = _as_one_hot(y_true, x.shape[0], W2.shape[1])
    grads = gradient(
        lambda w1, c1, w2, c2: _network_loss(keras, x, y_true, w1, c1, w2, c2), W1, b1, W2, b2
    )
    for name, grad in zip(("dW1", "db1", "dW2", "db2"), grads):
        if not np.all(np.isfinite(grad)):
            raise ValueError(
                f"{name} holds NaN or infinite values: the weights are so large "
                f"that the network's sums overflow. Use weights of a sensible "
                f"size (about 1)."
            )
    return tuple(grads)


def _as_one_hot(y_true: np.ndarray, count: int, classes: int) -> np.ndarray:
    """Check one-hot targets (count, classes); return them as float64."""
    y_true = validation.as_array(y_true, "y_true", finite=True).astype(np.float64)
    if y_true.shape != (count, classes):
        raise ValueError(
            f"y_true must be one-hot rows of shape ({count}, {classes}), but it "
            f"has shape {y_true.shape}."
        )
    if np.any(y_true < 0) or not np.allclose(y_true.sum(axis=1), 1.0):
        raise ValueError(
            "y_true must hold one probability distribution per row (one-hot: a "
            "single 1, the rest 0), but a row has negative values or does not "
            "sum to 1."
        )
    return y_true


def numerical_gradient(function: Callable, array: np.ndarray, step: float = 1e-6) -> np.ndarray:
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
        raise ValueError(
            f"array has {array.size:,} elements; a numerical gradient calls the "
            f"function twice per element, so it is limited to 100,000 (check a "
            f"few weights, e.g. one layer of a small network)."
        )
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


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|): about 1e-7 or less means two gradients agree (float64).

    NaN or infinite values raise ValueError: a NaN gradient must never read as agreement.
    """
    a = validation.as_array(a, "a", finite=True).astype(np.float64)
    b = validation.as_array(b, "b", finite=True).astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must have the same shape, but they have shapes {a.shape} and {b.shape}."
        )
    scale = np.max(np.abs(a) + np.abs(b)) if a.size else 0.0
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 0.0


def fit_with_keras(
    x: np.ndarray,
    y_true: np.ndarray,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
    *,
    learning_rate: float,
    epochs: int,
) -> tuple[tuple, list]:
    """Train the lesson's network with ``model.fit`` and plain SGD, one full batch per epoch.

    Returns
    -------
    (W1, b1, W2, b2) after training (float64), and the list of losses per epoch.
    """
    keras = lesson.import_keras()
    x, W1, b1, W2, b2 = _as_network(x, W1, b1, W2, b2)
    y_true = _as_one_hot(y_true, x.shape[0], W2.shape[1])
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-6, maximum=100.0)
    epochs = validation.as_int(epochs, "epochs", minimum=1, maximum=10000)
    model = keras_network(W1, b1, W2, b2)
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rate, momentum=0.0),
        loss=keras.losses.CategoricalCrossentropy(dtype="float64"),
        jit_compile=False,
    )
    with lesson.native_stderr_silenced():
        history = model.fit(x, y_true, batch_size=len(x), epochs=epochs, shuffle=False, verbose=0)
    weights = [np.asarray(w, dtype=np.float64) for w in model.get_weights()]
    losses = [float(v) for v in history.history["loss"]]
    diverged = [epoch for epoch, loss in enumerate(losses, start=1) if not np.isfinite(loss)]
    if diverged or not all(np.all(np.isfinite(w)) for w in weights):
        when = f"at epoch {diverged[0]}" if diverged else "in the weights"
        raise ValueError(
            f"training diverged: the loss became NaN or infinite {when} with "
            f"learning_rate={learning_rate:g}. Gradient descent overshot; try a "
            f"learning rate 10 times smaller."
        )
    return tuple(weights), losses
