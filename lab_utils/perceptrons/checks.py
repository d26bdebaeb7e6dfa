"""Lesson 03's exercise checks: each compares with Keras (layers, activations, losses, a model
holding the student's weights, automatic gradients), never with a solution kept here, and
names the typical mistakes.

Known mistakes are rows of data: (the wrong answer a mistake gives, as a function of the case's
inputs; the message it earns), tried in one loop.
"""

from __future__ import annotations

import types
from collections.abc import Callable

import numpy as np

from lab_utils import exercises, lesson
from lab_utils.perceptrons.backprop import (
    autodiff_backward,
    keras_dense,
    keras_forward,
    keras_network,
    to_numpy,
)
from lab_utils.perceptrons.compute import activation_curves

#: Library (and kit) functions that would turn an exercise into a look-up (exercises.checker).
_LIBRARY_SHORTCUTS = {
    "weighted_sum": ["lab_utils.perceptrons.keras_weighted_sum", "keras.layers.Dense"],
    "sigmoid": [
        "keras.activations.sigmoid",
        "keras.ops.sigmoid",
        "scipy.special.expit",
        "lab_utils.perceptrons.activation_curves",
    ],
    "relu": ["keras.activations.relu", "keras.ops.relu", "lab_utils.perceptrons.activation_curves"],
    "forward": [
        "lab_utils.perceptrons.keras_forward",
        "lab_utils.perceptrons.keras_network",
        "keras.Sequential",
        "keras.layers.Dense",
        "keras.ops.softmax",
        "keras.activations.softmax",
        "scipy.special.softmax",
    ],
    "backward": [
        "lab_utils.perceptrons.autodiff_backward",
        "lab_utils.perceptrons.gradient",
        "lab_utils.perceptrons.numerical_gradient",
        "tensorflow.GradientTape",
    ],
    "mse": [
        "keras.losses.mean_squared_error",
        "keras.losses.MeanSquaredError",
        "sklearn.metrics.mean_squared_error",
    ],
    "binary_cross_entropy": [
        "keras.losses.binary_crossentropy",
        "keras.losses.BinaryCrossentropy",
        "sklearn.metrics.log_loss",
    ],
    "categorical_cross_entropy": [
        "keras.losses.categorical_crossentropy",
        "keras.losses.CategoricalCrossentropy",
        "sklearn.metrics.log_loss",
    ],
}

# --------------------------------------------------------------------------------------------
# weighted_sum
# --------------------------------------------------------------------------------------------

_WEIGHTED_SUM_HINT = (
    "multiply each input by its weight, add up the products of each row "
    "(one number per example), then add the bias once."
)

#: (the answer a mistake gives for (inputs, weights, bias), message)
WEIGHTED_SUM_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (lambda inputs, weights, bias: inputs @ weights, "the bias b is missing."),
    (
        lambda inputs, weights, bias: inputs @ weights - bias,
        "the bias is subtracted; the slide adds it: Σ x_i w_i + b.",
    ),
    (
        lambda inputs, weights, bias: (inputs + bias) @ weights,
        "the bias is added to every input before weighting; it is added once, after the sum.",
    ),
)


@exercises.checker("weighted_sum", forbid=_LIBRARY_SHORTCUTS["weighted_sum"])
def check_weighted_sum(weighted_sum: exercises.Student) -> int:
    """Check ``weighted_sum(inputs, weights, bias)`` against a Keras ``Dense(1)`` layer.

    ``inputs`` has shape (N, d), ``weights`` (d,), ``bias`` is a float; the answer has shape
    (N,): ``sum_i x_i * w_i + b`` for each row.
    """
    __tracebackhide__ = True
    keras = lesson.import_keras()
    rng = np.random.default_rng(30)
    cases = [
        (np.array([[1.0, 0.5, -2.0]]), np.array([0.4, -1.0, 0.25]), 0.5),
        (rng.normal(size=(5, 3)), rng.normal(size=3), -1.5),
        (rng.uniform(0, 1, size=(4, 2)), np.array([2.0, 3.0]), 0.7),
    ]
    for inputs, weights, bias in cases:
        layer = keras_dense(keras, weights[:, None], np.array([bias]))
        expected = to_numpy(keras, layer(inputs))[:, 0]
        name = f"weighted_sum(inputs of shape {inputs.shape}, weights, bias={bias})"
        result = weighted_sum(
            inputs.copy(), weights.copy(), bias, name=name, hint=_WEIGHTED_SUM_HINT
        )
        if isinstance(result, np.ndarray) and result.shape == inputs.shape:
            exercises.fail(
                f"{name} has shape {result.shape}, one value per input: the "
                f"products x_i * w_i were not added up along each row.",
                _WEIGHTED_SUM_HINT,
            )
        exercises.expect_array(
            result,
            expected,
            name=name,
            hint=_WEIGHTED_SUM_HINT,
            known_mistakes=[
                (wrong(inputs, weights, bias), message) for wrong, message in WEIGHTED_SUM_MISTAKES
            ],
        )
    return len(cases)


# --------------------------------------------------------------------------------------------
# Activations and their derivatives
# --------------------------------------------------------------------------------------------

_ACTIVATION_POINTS = np.array([-6.0, -2.5, -1.0, -0.3, 0.2, 0.7, 1.5, 4.0, 8.0])


def _check_activation(
    name: str, student: exercises.Student, hint: str, mistakes: tuple, derivative: bool = False
) -> int:
    """Shared body of the activation checks: values vs ``keras.activations``, slopes vs
    automatic differentiation, on a flat array and on a 3 x 3 array.

    ``mistakes``: rows (the answer a mistake gives for the points z, message)."""
    __tracebackhide__ = True
    exercise = f"{name}_derivative" if derivative else name
    z = _ACTIVATION_POINTS.copy()
    ((values, slopes),) = activation_curves(z, [name]).values()
    expected = slopes if derivative else values
    wrong_answers = [(wrong(_ACTIVATION_POINTS), message) for wrong, message in mistakes]
    for shape in [(9,), (3, 3)]:
        inputs = z.reshape(shape)
        result = student(inputs.copy(), name=f"{exercise}(z)", hint=hint)
        exercises.expect_array(
            result,
            expected.reshape(shape),
            name=f"{exercise}(z) for z of shape {shape}",
            hint=hint,
            known_mistakes=[(m.reshape(shape), message) for m, message in wrong_answers],
        )
    return 2


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """The sigmoid, for the wrong answers below (the check compares with Keras's)."""
    return 1 / (1 + np.exp(-z))


_SIGMOID_HINT = (
    "use the exercise's formula with NumPy's elementwise functions (no loops, "
    "no math module: z is an array); the derivative can be written with the "
    "sigmoid's own value."
)

#: (the answer a mistake gives for the points z, message)
SIGMOID_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (
        lambda z: 1 / (1 + np.exp(z)),
        "exp(z) should be exp(-z): large z must give values close to 1.",
    ),
    (np.tanh, "this is tanh; the sigmoid's values lie between 0 and 1."),
)

SIGMOID_DERIVATIVE_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (
        _sigmoid,
        "this is sigmoid(z) itself, not its derivative (slope). The slope is "
        "sigmoid(z) * (1 - sigmoid(z)), at most 0.25 (at z = 0).",
    ),
    (
        lambda z: z * (1 - z),
        "z * (1 - z) uses z where sigmoid(z) belongs: the slope is s * (1 - s) with "
        "s = sigmoid(z).",
    ),
    (
        lambda z: -_sigmoid(z) * (1 - _sigmoid(z)),
        "the sign is flipped: the sigmoid only increases, so its slope is positive.",
    ),
)


@exercises.checker("sigmoid", forbid=_LIBRARY_SHORTCUTS["sigmoid"])
def check_sigmoid(sigmoid: exercises.Student) -> int:
    """Check ``sigmoid(z)`` against ``keras.activations.sigmoid``, elementwise on arrays of any
    shape."""
    __tracebackhide__ = True
    return _check_activation("sigmoid", sigmoid, _SIGMOID_HINT, SIGMOID_MISTAKES)


@exercises.checker("sigmoid_derivative", forbid=_LIBRARY_SHORTCUTS["sigmoid"])
def check_sigmoid_derivative(sigmoid_derivative: exercises.Student) -> int:
    """Check ``sigmoid_derivative(z)`` against automatic differentiation of
    ``keras.activations.sigmoid``."""
    __tracebackhide__ = True
    return _check_activation(
        "sigmoid", sigmoid_derivative, _SIGMOID_HINT, SIGMOID_DERIVATIVE_MISTAKES, derivative=True
    )


_RELU_HINT = (
    "ReLU keeps positive values and replaces negative ones by 0, element by element "
    "(np.max would reduce the whole array to one number); its slope is 1 where "
    "z > 0 and 0 where z < 0, as floats."
)

RELU_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (np.abs, "negative inputs became positive (that is abs); ReLU sets them to 0."),
    (
        lambda z: z,
        "this is the identity (linear activation): ReLU sets negative values to 0, so it does "
        "not keep the output as-is.",
    ),
)

RELU_DERIVATIVE_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (lambda z: np.maximum(z, 0), "this is relu(z) itself, not its slope (1 or 0)."),
    (np.ones_like, "the slope is 1 only where z > 0; where z < 0 it is 0."),
    (lambda z: (z < 0).astype(float), "1 and 0 are swapped: the slope is 1 where z > 0."),
)


@exercises.checker("relu", forbid=_LIBRARY_SHORTCUTS["relu"])
def check_relu(relu: exercises.Student) -> int:
    """Check ``relu(z)`` against ``keras.activations.relu``, elementwise on arrays of any
    shape."""
    __tracebackhide__ = True
    return _check_activation("relu", relu, _RELU_HINT, RELU_MISTAKES)


@exercises.checker("relu_derivative", forbid=_LIBRARY_SHORTCUTS["relu"])
def check_relu_derivative(relu_derivative: exercises.Student) -> int:
    """Check ``relu_derivative(z)`` against automatic differentiation of
    ``keras.activations.relu`` (the test points avoid z = 0, where the slope is undefined)."""
    __tracebackhide__ = True
    return _check_activation(
        "relu", relu_derivative, _RELU_HINT, RELU_DERIVATIVE_MISTAKES, derivative=True
    )


# --------------------------------------------------------------------------------------------
# forward and backward propagation
# --------------------------------------------------------------------------------------------

_FORWARD_HINT = (
    "follow the formula of section 5 step by step: a weighted sum and tanh for "
    "the hidden layer, a weighted sum for the output, then softmax over the "
    "classes of each example (each row sums to 1). Subtracting each row's "
    "maximum before exponentiating avoids overflow."
)


def _network_cases() -> list[tuple]:
    """Small networks for the forward/backward checks: (x, one-hot y, W1, b1, W2, b2)."""
    rng = np.random.default_rng(33)
    cases = []
    for count, inputs, hidden, classes in [(4, 2, 3, 2), (6, 3, 5, 4), (1, 2, 2, 3)]:
        x = rng.normal(size=(count, inputs))
        y = np.eye(classes)[rng.integers(0, classes, count)]
        cases.append(
            (
                x,
                y,
                rng.normal(size=(inputs, hidden)),
                rng.normal(size=hidden),
                rng.normal(size=(hidden, classes)),
                rng.normal(size=classes),
            )
        )
    return cases


#: (the answer a mistake gives for a case, message). A case has keras, x, W1, b1, W2, b2 and
#: logits (the network's outputs before the softmax, computed once per case).
FORWARD_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (lambda c: c.logits, "these are the logits: softmax is missing at the output."),
    (
        lambda c: np.exp(c.logits) / np.exp(c.logits).sum(axis=0, keepdims=True),
        "softmax was taken over the examples (axis=0); each row (one example) must sum to 1: use "
        "axis=1.",
    ),
    (
        lambda c: keras_forward(c.x, c.W1, c.b1 * 0, c.W2, c.b2 * 0),
        "the biases b1 and b2 are missing.",
    ),
    (
        lambda c: to_numpy(
            c.keras, keras_network(c.W1, c.b1, c.W2, c.b2, hidden_activation="linear")(c.x)
        ),
        "the hidden layer has no activation (tanh): without it the two layers collapse into one "
        "linear layer.",
    ),
    (
        lambda c: to_numpy(
            c.keras, keras_network(c.W1, c.b1, c.W2, c.b2, hidden_activation="sigmoid")(c.x)
        ),
        "the hidden layer uses the sigmoid; this network uses tanh.",
    ),
)


@exercises.checker("forward", forbid=_LIBRARY_SHORTCUTS["forward"])
def check_forward(forward: exercises.Student) -> int:
    """Check ``forward(x, W1, b1, W2, b2)`` (tanh hidden layer, softmax output) against a Keras
    model that holds the same weights. The answer has shape (N, classes), rows summing to 1."""
    __tracebackhide__ = True
    keras = lesson.import_keras()
    cases = _network_cases()
    for x, _, W1, b1, W2, b2 in cases:
        expected = keras_forward(x, W1, b1, W2, b2)
        logits_model = keras_network(W1, b1, W2, b2, output_activation="linear")
        case = types.SimpleNamespace(
            keras=keras,
            x=x,
            W1=W1,
            b1=b1,
            W2=W2,
            b2=b2,
            logits=to_numpy(keras, logits_model(x, training=False)),
        )
        mistakes = [(wrong(case), message) for wrong, message in FORWARD_MISTAKES]
        name = f"forward(x of shape {x.shape}, W1 {W1.shape}, b1, W2 {W2.shape}, b2)"
        result = forward(
            x.copy(), W1.copy(), b1.copy(), W2.copy(), b2.copy(), name=name, hint=_FORWARD_HINT
        )
        exercises.expect_array(
            result,
            expected,
            name=name,
            hint=_FORWARD_HINT,
            atol=1e-9,
            rtol=1e-7,
            known_mistakes=mistakes,
        )
    return len(cases)


_BACKWARD_HINT = (
    "redo forward's steps, then go backwards through them: the softmax + "
    "cross-entropy step gives (ŷ − y)/N for z2; a weighted sum passes the "
    "gradient to its weights through its (transposed) input, to its bias summed "
    "over the examples, and to its input through the (transposed) weights; "
    "tanh' = 1 − h². Each gradient has its parameter's shape."
)

#: (the answer a mistake gives for the right gradient and the number of examples N, message
#: written from N)
BACKWARD_MISTAKES: tuple[tuple[Callable, Callable], ...] = (
    (
        lambda reference, count: -reference,
        lambda count: (
            "the sign is flipped: this points uphill. The gradient is (probabilities - "
            "y_true), not (y_true - probabilities)."
        ),
    ),
    (
        lambda reference, count: reference * count,
        lambda count: (
            f"it is {count} times too large: the loss is the mean over the {count} "
            f"examples, so divide by N."
        ),
    ),
)


@exercises.checker("backward", forbid=_LIBRARY_SHORTCUTS["backward"])
def check_backward(backward: exercises.Student) -> int:
    """Check ``backward(x, y_true, W1, b1, W2, b2) -> (dW1, db1, dW2, db2)``, the gradients of
    the mean categorical cross-entropy, against automatic differentiation (Keras backend)."""
    __tracebackhide__ = True
    cases = _network_cases()
    names = ("dW1", "db1", "dW2", "db2")
    for x, y, W1, b1, W2, b2 in cases:
        expected = autodiff_backward(x, y, W1, b1, W2, b2)
        call = f"backward(x of shape {x.shape}, y_true, W1 {W1.shape}, b1, W2 {W2.shape}, b2)"
        result = backward(
            x.copy(),
            y.copy(),
            W1.copy(),
            b1.copy(),
            W2.copy(),
            b2.copy(),
            name=call,
            hint=_BACKWARD_HINT,
        )
        if not isinstance(result, (tuple, list)) or len(result) != 4:
            exercises.fail(
                f"{call} should return 4 arrays (dW1, db1, dW2, db2), but returned "
                f"{exercises.describe_argument(result)}.",
                _BACKWARD_HINT,
            )
        for grad_name, value, reference, parameter in zip(
            names, result, expected, (W1, b1, W2, b2)
        ):
            if isinstance(value, np.ndarray) and value.shape != parameter.shape:
                exercises.fail(
                    f"{grad_name} has shape {value.shape}; a gradient has the shape "
                    f"of its parameter, {parameter.shape}. Check the order of the "
                    f"returned arrays (dW1, db1, dW2, db2) and the transposes.",
                    _BACKWARD_HINT,
                )
            exercises.expect_array(
                value,
                reference,
                name=f"{grad_name} from {call}",
                hint=_BACKWARD_HINT,
                atol=1e-9,
                rtol=1e-6,
                known_mistakes=[
                    (wrong(reference, len(x)), message(len(x)))
                    for wrong, message in BACKWARD_MISTAKES
                ],
            )
    return len(cases)


# --------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------


def _as_float_answer(result: object, name: str, hint: str) -> float:
    """The student's loss as a float; fails for None, non-numbers and huge integers."""
    __tracebackhide__ = True
    if isinstance(result, np.ndarray) and result.size == 1:
        result = result.reshape(()).item()
    if result is None:
        exercises.fail(f"{name} returned None. Did you forget `return`?", hint)
    if isinstance(result, bool) or not isinstance(result, (int, float, np.number)):
        exercises.fail(
            f"{name} returned {exercises.describe_argument(result)}; expected a "
            f"single number (the mean loss over all examples).",
            hint,
        )
    try:
        return float(result)
    except OverflowError:  # an int too large for a float (NaN and inf are judged later)
        exercises.fail(
            f"{name} returned an integer too large for a float; expected the mean "
            f"loss, a number of modest size.",
            hint,
        )


def _check_loss(
    name: str,
    student: exercises.Student,
    keras_loss: Callable,
    cases: list,
    hint: str,
    mistakes: tuple,
    clipping_cases: tuple = (),
) -> int:
    """Compare a student's loss with ``keras_loss`` averaged over the batch.

    ``mistakes``: rows (the value a mistake gives for (y_true, y_pred, expected), message)."""
    __tracebackhide__ = True
    keras = lesson.import_keras()
    for index, (y_true, y_pred) in enumerate(cases):
        expected = float(np.mean(to_numpy(keras, keras_loss(y_true, y_pred))))
        call = f"{name}(y_true, y_pred) with y_true = {y_true.tolist()}, y_pred = {y_pred.tolist()}"
        answer = student(y_true.copy(), y_pred.copy(), name=call, hint=hint)
        if isinstance(answer, np.ndarray) and y_true.ndim == 2 and answer.shape == (len(y_true),):
            exercises.fail(
                f"{call} returned one value per example (shape {answer.shape}): "
                f"the loss is one number, the mean over the examples too.",
                hint,
            )
        result = _as_float_answer(answer, call, hint)
        if not np.isfinite(result):
            if index in clipping_cases:
                exercises.fail(
                    f"{call} returned {result}: log(0) is -inf. Keras clips the "
                    f"predictions to [eps, 1 - eps] with eps = 1e-7 "
                    f"(keras.config.epsilon()) before taking logs; do the same "
                    f"with np.clip.",
                    hint,
                )
            exercises.fail(f"{call} returned {result}; expected a finite number.", hint)
        if np.isclose(result, expected, rtol=1e-6, atol=1e-9):
            continue
        for wrong, message in mistakes:
            if np.isclose(result, wrong(y_true, y_pred, expected), rtol=1e-6, atol=1e-9):
                exercises.fail(
                    f"{call} returned {result:.6g}, expected {expected:.6g}: {message}", hint
                )
        exercises.fail(f"{call} returned {result:.6g}, expected {expected:.6g}.", hint)
    return len(cases)


#: (the value a mistake gives for (y, p, expected), message)
MSE_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (
        lambda y, p, expected: np.sum((y - p) ** 2),
        "this is the sum; the slide divides by N (the mean).",
    ),
    (
        lambda y, p, expected: np.sqrt(expected),
        "this is the root of the MSE (RMSE): leave out the sqrt.",
    ),
    (
        lambda y, p, expected: np.mean(np.abs(y - p)),
        "this is the mean absolute error: square the errors.",
    ),
    (
        lambda y, p, expected: np.mean(y - p),
        "the errors are not squared, so positive and negative ones cancel.",
    ),
)


@exercises.checker("mse", forbid=_LIBRARY_SHORTCUTS["mse"])
def check_mse(mse: exercises.Student) -> int:
    """Check ``mse(y_true, y_pred)`` (a float: the mean of the squared errors over all values)
    against ``keras.losses.mean_squared_error``."""
    __tracebackhide__ = True
    keras = lesson.import_keras()
    cases = [
        (np.array([1.0, 2.0, 3.0]), np.array([1.5, 2.0, 1.0])),
        (np.array([0.0, -1.0, 4.0, 2.5]), np.array([0.1, -1.2, 3.0, 2.5])),
        (np.array([10.0]), np.array([7.0])),
        # a batch: 3 examples with 2 outputs each; the answer is still one number
        (
            np.array([[1.0, 2.0], [0.5, -1.0], [3.0, 3.0]]),
            np.array([[1.5, 2.0], [0.0, -0.5], [2.0, 3.5]]),
        ),
    ]
    return _check_loss(
        "mse",
        mse,
        keras.losses.mean_squared_error,
        cases,
        "square each difference between target and prediction, then average them over all values.",
        MSE_MISTAKES,
    )


_BCE_HINT = (
    "clip the predictions to [1e-7, 1 - 1e-7] first; each value costs -log of the "
    "probability it gives its target (p for a target 1, 1 - p for a target 0); "
    "average over all values."
)


def _bce_terms(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """The binary cross-entropy's log terms, predictions clipped as Keras does."""
    q = np.clip(p, 1e-7, 1 - 1e-7)
    return y * np.log(q) + (1 - y) * np.log(1 - q)


BCE_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (lambda y, p, expected: -expected, "the minus sign is missing: a loss is never negative."),
    (
        lambda y, p, expected: -np.sum(_bce_terms(y, p)),
        "this is the sum; the slide divides by n (the mean).",
    ),
    (
        lambda y, p, expected: -np.mean(y * np.log(np.clip(p, 1e-7, 1 - 1e-7))),
        "the (1 - y) * log(1 - p) term is missing, so wrong predictions for targets 0 cost "
        "nothing.",
    ),
)


@exercises.checker("binary_cross_entropy", forbid=_LIBRARY_SHORTCUTS["binary_cross_entropy"])
def check_binary_cross_entropy(binary_cross_entropy: exercises.Student) -> int:
    """Check ``binary_cross_entropy(y_true, y_pred)`` against ``keras.losses.binary_crossentropy``.

    Targets are 0 or 1 for each output (several may be 1: multi-label), not one-hot vectors.
    Predictions of exactly 0 or 1 must be clipped to [1e-7, 1 - 1e-7], as Keras does.
    """
    __tracebackhide__ = True
    keras = lesson.import_keras()
    cases = [
        (np.array([1.0, 0.0, 1.0, 0.0]), np.array([0.9, 0.2, 0.6, 0.4])),
        (
            np.array([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]),  # multi-label: not one-hot
            np.array([[0.8, 0.7, 0.1], [0.3, 0.9, 0.2]]),
        ),
        (np.array([1.0, 0.0, 1.0]), np.array([0.0, 1.0, 1.0])),
    ]  # certain and wrong
    return _check_loss(
        "binary_cross_entropy",
        binary_cross_entropy,
        keras.losses.binary_crossentropy,
        cases,
        _BCE_HINT,
        BCE_MISTAKES,
        clipping_cases=(2,),
    )


_CCE_HINT = (
    "clip the predictions to [1e-7, 1 - 1e-7] first; each example costs -log of the "
    "probability it gives its true class (the one-hot row picks it out); average "
    "over the examples, not over the classes."
)

CCE_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (
        lambda y, p, expected: expected / y.shape[1],
        "it is averaged over the classes too (np.mean of the whole array): sum over the classes, "
        "then average over the examples.",
    ),
    (
        lambda y, p, expected: expected * y.shape[0],
        "this is the sum over the examples; take their mean.",
    ),
    (lambda y, p, expected: -expected, "the minus sign is missing: a loss is never negative."),
)


@exercises.checker(
    "categorical_cross_entropy", forbid=_LIBRARY_SHORTCUTS["categorical_cross_entropy"]
)
def check_categorical_cross_entropy(categorical_cross_entropy: exercises.Student) -> int:
    """Check ``categorical_cross_entropy(y_true, y_pred)`` (one-hot rows of shape (N, K)) against
    ``keras.losses.categorical_crossentropy`` averaged over the N examples."""
    __tracebackhide__ = True
    keras = lesson.import_keras()
    cases = [
        (
            np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
            np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]),
        ),
        (
            np.eye(4)[[0, 3, 1, 1, 2]],
            np.array(
                [
                    [0.4, 0.3, 0.2, 0.1],
                    [0.1, 0.1, 0.1, 0.7],
                    [0.25, 0.25, 0.25, 0.25],
                    [0.05, 0.9, 0.03, 0.02],
                    [0.3, 0.3, 0.3, 0.1],
                ]
            ),
        ),
        (np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 0.0], [1.0, 0.0]])),
    ]
    return _check_loss(
        "categorical_cross_entropy",
        categorical_cross_entropy,
        keras.losses.categorical_crossentropy,
        cases,
        _CCE_HINT,
        CCE_MISTAKES,
        clipping_cases=(2,),
    )
