"""Lesson 04's exercise checks: each compares with what Keras layers report (never a stored
solution) and names the typical mistakes.

Known mistakes are rows of data: (the wrong answer a mistake gives for the case, or None
where it cannot occur; the message it earns), tried in one loop. ``CNN_SPEC`` is the network
exercise 4 asks for, layer by layer.
"""

from __future__ import annotations

import types
from collections.abc import Callable

import numpy as np

from lab_utils import exercises, lesson, models, validation
from lab_utils.cnns.compute import scratch_names


def _keras_conv_shape(
    input_shape: tuple, filters: int, kernel_size: int, strides: int, padding: str
) -> tuple:
    """Output shape (without the batch axis) of Keras's Conv2D."""
    keras = lesson.import_keras()
    with scratch_names():
        layer = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding)
    return tuple(int(s) for s in layer.compute_output_shape((None,) + tuple(input_shape))[1:])


def _keras_pool_shape(input_shape: tuple, pool_size: int, strides: int, padding: str) -> tuple:
    """Output shape (without the batch axis) of Keras's MaxPooling2D."""
    keras = lesson.import_keras()
    with scratch_names():
        layer = keras.layers.MaxPooling2D(pool_size, strides=strides, padding=padding)
    return tuple(int(s) for s in layer.compute_output_shape((None,) + tuple(input_shape))[1:])


def _keras_conv_parameters(input_channels: int, filters: int, kernel_size: int) -> int:
    """Parameters of a built Keras Conv2D, as count_params() reports them."""
    keras = lesson.import_keras()
    with scratch_names():
        layer = keras.layers.Conv2D(filters, kernel_size)
        layer.build((None, kernel_size + 2, kernel_size + 2, input_channels))
    return int(layer.count_params())


def _as_shape_tuple(result: object) -> tuple | None:
    """A tuple of ints if ``result`` is a sequence of whole numbers, else None."""
    if isinstance(result, np.ndarray):
        result = result.tolist()
    if not isinstance(result, (tuple, list)):
        return None
    try:
        if all(float(v) == int(v) for v in result):
            return tuple(int(v) for v in result)
    except (TypeError, ValueError, OverflowError):  # NaN, infinity, huge numbers
        return None
    return None


def _expect_shape(result: object, expected: tuple, *, name: str, hint: str, mistakes: list) -> None:
    """Fail unless ``result`` is the shape ``expected``; name the mistake among ``mistakes``
    (rows (shape, message)) when one matches."""
    __tracebackhide__ = True
    shape = _as_shape_tuple(result)
    if result is None:
        exercises.fail(f"{name} returned None. Did you forget `return`?", hint)
    if shape is None:
        exercises.fail(
            f"{name} returned {exercises.describe_argument(result)}; expected a "
            f"tuple of 3 whole numbers (height, width, channels) such as "
            f"{expected}.",
            hint,
        )
    if len(shape) != 3:
        exercises.fail(
            f"{name} returned {shape} ({len(shape)} numbers); expected 3: "
            f"(height, width, channels), without the batch axis.",
            hint,
        )
    if shape == expected:
        return
    for value, message in mistakes:
        if shape == value:
            exercises.fail(f"{name} returned {shape}, expected {expected}: {message}", hint)
    exercises.fail(
        f"{name} returned {shape}, expected {expected} (what Keras's layer gives).", hint
    )


_CONV_SHAPE_HINT = (
    "'valid': the kernel must fit inside the image, (n - k) // s + 1 "
    "positions; 'same': Keras pads so that the output has ceil(n / s) "
    "positions. The output has one channel per filter."
)

CONV_SHAPE_CASES = [
    ((28, 28, 1), 8, 3, 1, "valid"),
    ((28, 28, 1), 8, 3, 1, "same"),
    ((32, 32, 3), 16, 5, 2, "valid"),
    ((32, 32, 3), 16, 5, 2, "same"),
    ((7, 9, 3), 4, 3, 2, "same"),
    ((224, 224, 3), 64, 7, 2, "same"),
    ((10, 12, 2), 6, 4, 3, "valid"),
    ((10, 12, 2), 6, 4, 1, "same"),
]

#: Library and kit functions that answer exercises 1-3 (and 4) directly (exercises.checker).
_SHAPE_SHORTCUTS = [
    "keras.layers.Conv2D",
    "keras.layers.MaxPooling2D",
    "keras.layers.AveragePooling2D",
    "keras.layers.Layer.compute_output_shape",
    "keras.layers.Conv2D.compute_output_shape",
    "keras.layers.MaxPooling2D.compute_output_shape",
    "keras.layers.Layer.count_params",
    "keras.ops.conv",
    "keras.ops.max_pool",
    "keras.Model.summary",
    "lab_utils.models.layer_facts",
    "lab_utils.models.layer_table",
    "lab_utils.models.summary_text",
    "lab_utils.models.parameter_count",
    "lab_utils.cnns.dense_vs_conv_parameters",
    "lab_utils.kernels.correlate",
    "lab_utils.kernels.window_positions",
    "lab_utils.kernels.pool",
]


def _same_padding_text(c: types.SimpleNamespace) -> str:
    half = (c.size - 1) // 2
    return (
        f"padding (k - 1) // 2 = {half} pixels on each side is the textbook rule for an "
        f"odd kernel; with an even kernel ({c.size} x {c.size}) it loses a pixel. Keras's "
        f"'same' pads k - 1 = {c.size - 1} pixels in total (one more at the bottom and "
        f"right), so the output always has ceil(n / s) positions."
    )


def _other_padding_text(c: types.SimpleNamespace) -> str:
    return f"that is the shape for padding={c.other!r}. " + (
        "'same' keeps the size (divided by the stride)."
        if c.padding == "same"
        else "'valid' adds no padding, so the kernel loses k - 1 pixels."
    )


#: (the shape a mistake gives for a case, or None where it cannot occur; the message, or a
#: function of the case that writes it). A case has height, width, channels, filters, size,
#: stride, padding, other (the other padding) and expected (Keras's shape). The specific
#: mistakes come first: a wrong 'same' formula can give the 'valid' shape by coincidence, and
#: the message should name the formula, not the padding.
CONV_SHAPE_MISTAKES: tuple[tuple[Callable, str | Callable], ...] = (
    (
        lambda c: c.expected[:2] + (c.channels,),
        "the number of output channels is the number of filters, not the input's channels.",
    ),
    (
        lambda c: ((c.height - c.size) // c.stride, (c.width - c.size) // c.stride, c.filters),
        "one too small: count the first position of the kernel too (+ 1).",
    ),
    (
        lambda c: ((c.height - c.size) + 1, (c.width - c.size) + 1, c.filters),
        "the stride is ignored.",
    ),
    (
        lambda c: (
            (
                -(-(c.height - c.size) // c.stride) + 1,
                -(-(c.width - c.size) // c.stride) + 1,
                c.filters,
            )
            if c.padding == "valid"
            else None
        ),
        "it rounds up; a kernel that would stick out of the image is not used (//).",
    ),
    (
        lambda c: (
            (c.height // c.stride, c.width // c.stride, c.filters) if c.padding == "same" else None
        ),
        "'same' with a stride rounds up: ceil(n / s), e.g. 7 / 2 -> 4, not n // s.",
    ),
    (
        lambda c: (
            (
                (c.height + 2 * ((c.size - 1) // 2) - c.size) // c.stride + 1,
                (c.width + 2 * ((c.size - 1) // 2) - c.size) // c.stride + 1,
                c.filters,
            )
            if c.padding == "same"
            else None
        ),
        _same_padding_text,
    ),
    (
        lambda c: _keras_conv_shape(
            (c.height, c.width, c.channels), c.filters, c.size, c.stride, c.other
        ),
        _other_padding_text,
    ),
)


def _shape_mistakes(rows: tuple, case: types.SimpleNamespace) -> list:
    """(shape, message) of every row of ``rows`` that applies to ``case`` and differs from the
    expected shape, in the rows' order."""
    mistakes = [
        (shape(case), message(case) if callable(message) else message) for shape, message in rows
    ]
    return [m for m in mistakes if m[0] is not None and m[0] != case.expected]


@exercises.checker("conv_output_shape", forbid=_SHAPE_SHORTCUTS, time_limit=30)
def check_conv_output_shape(conv_output_shape: exercises.Student) -> int:
    """Check ``conv_output_shape(input_shape, filters, kernel_size, strides, padding)``.

    Compared with ``keras.layers.Conv2D(...).compute_output_shape`` on square and
    non-square inputs, 'valid' and 'same' padding, strides 1-3.
    """
    __tracebackhide__ = True
    for shape, filters, size, stride, padding in CONV_SHAPE_CASES:
        name = (
            f"conv_output_shape({shape}, filters={filters}, kernel_size={size}, "
            f"strides={stride}, padding={padding!r})"
        )
        result = conv_output_shape(
            shape, filters, size, stride, padding, name=name, hint=_CONV_SHAPE_HINT
        )
        expected = _keras_conv_shape(shape, filters, size, stride, padding)
        case = _shape_case(
            shape, expected, filters=filters, size=size, stride=stride, padding=padding
        )
        _expect_shape(
            result,
            expected,
            name=name,
            hint=_CONV_SHAPE_HINT,
            mistakes=_shape_mistakes(CONV_SHAPE_MISTAKES, case),
        )
    return len(CONV_SHAPE_CASES)


def _shape_case(shape: tuple, expected: tuple, **settings: object) -> types.SimpleNamespace:
    """One shape-check case as the known-mistake rows read it (height, width, channels, the
    layer's settings, the other padding and the expected shape)."""
    height, width, channels = shape
    other = "same" if settings["padding"] == "valid" else "valid"
    return types.SimpleNamespace(
        height=height, width=width, channels=channels, other=other, expected=expected, **settings
    )


_CONV_PARAMETERS_HINT = (
    "each filter has kernel_size x kernel_size x input_channels weights "
    "plus one bias; there are `filters` of them."
)

CONV_PARAMETER_CASES = [(1, 8, 3), (3, 64, 3), (32, 64, 3), (3, 16, 5), (64, 10, 1), (16, 32, 7)]


#: (the count a mistake gives for input channels c, filters f, kernel size k; message)
CONV_PARAMETER_MISTAKES: tuple[tuple[Callable, str], ...] = (
    (
        lambda c, f, k: k * k * c * f,
        "the biases are missing: every filter has one bias, so add `filters`.",
    ),
    (
        lambda c, f, k: k * k * f + f,
        "each filter spans every input channel: multiply by input_channels.",
    ),
    (
        lambda c, f, k: k * k * c * f + c,
        "there is one bias per filter (output channel), not per input channel.",
    ),
    (
        lambda c, f, k: (k * k + 1) * c * f,
        "there is one bias per filter, not one per filter and input channel.",
    ),
    (
        lambda c, f, k: k * c * f + f,
        "a kernel is square: kernel_size x kernel_size weights per channel.",
    ),
)


@exercises.checker("conv_parameters", forbid=_SHAPE_SHORTCUTS, time_limit=30)
def check_conv_parameters(conv_parameters: exercises.Student) -> int:
    """Check ``conv_parameters(input_channels, filters, kernel_size)`` against Keras.

    The expected value is ``count_params()`` of a built ``keras.layers.Conv2D``.
    """
    __tracebackhide__ = True
    for channels, filters, size in CONV_PARAMETER_CASES:
        name = f"conv_parameters(input_channels={channels}, filters={filters}, kernel_size={size})"
        result = conv_parameters(channels, filters, size, name=name, hint=_CONV_PARAMETERS_HINT)
        expected = _keras_conv_parameters(channels, filters, size)
        if validation.is_finite_number(result):
            for wrong, message in CONV_PARAMETER_MISTAKES:
                value = wrong(channels, filters, size)
                if value != expected and float(result) == value:
                    exercises.fail(
                        f"{name} returned {int(value)}, expected {expected}: {message}",
                        _CONV_PARAMETERS_HINT,
                    )
        exercises.expect_number(result, expected, name=name, hint=_CONV_PARAMETERS_HINT)
    return len(CONV_PARAMETER_CASES)


_POOL_SHAPE_HINT = (
    "a pooling window of size p with stride s fits (n - p) // s + 1 times "
    "with 'valid' padding (a partial window at the edge is dropped), "
    "ceil(n / s) times with 'same'. Pooling keeps the number of channels."
)

POOL_SHAPE_CASES = [
    ((4, 4, 1), 2, 2, "valid"),
    ((5, 5, 3), 2, 2, "valid"),
    ((5, 5, 3), 2, 2, "same"),
    ((7, 6, 8), 3, 2, "valid"),
    ((32, 32, 16), 2, 2, "valid"),
    ((9, 9, 4), 3, 1, "valid"),
    ((13, 10, 2), 3, 3, "same"),
]


def _pool_stride_text(c: types.SimpleNamespace) -> str:
    return (
        f"that is the shape for strides={c.size}: the window moves by `strides` "
        f"({c.stride}) positions, which need not be the pool size ({c.size}; Keras uses "
        f"the pool size only when strides is not given)."
    )


#: (the shape a mistake gives for a case, or None where it cannot occur; the message, or a
#: function of the case that writes it). A case has height, width, channels, size (the pool
#: size), stride, padding, other (the other padding) and expected (Keras's shape).
POOL_SHAPE_MISTAKES: tuple[tuple[Callable, str | Callable], ...] = (
    (
        lambda c: (
            _keras_pool_shape((c.height, c.width, c.channels), c.size, c.size, c.padding)
            if c.stride != c.size
            else None
        ),
        _pool_stride_text,
    ),
    (
        lambda c: (
            (
                -(-(c.height - c.size) // c.stride) + 1,
                -(-(c.width - c.size) // c.stride) + 1,
                c.channels,
            )
            if c.padding == "valid"
            else None
        ),
        "off by one: with 'valid' padding a window that would stick out of the input is "
        "dropped, so round down (//).",
    ),
    (
        lambda c: (
            (c.height // c.size, c.width // c.size, c.channels) if c.padding == "same" else None
        ),
        "'same' rounds up: a partial window at the edge still gives an output.",
    ),
    (
        lambda c: _keras_pool_shape((c.height, c.width, c.channels), c.size, c.stride, c.other),
        lambda c: f"that is the shape for padding={c.other!r}.",
    ),
    (
        lambda c: ((c.height - c.size) // c.stride, (c.width - c.size) // c.stride, c.channels),
        "one too small: count the first window too (+ 1).",
    ),
    (
        lambda c: ((c.height - c.size) + 1, (c.width - c.size) + 1, c.channels),
        "the stride is ignored.",
    ),
    (
        lambda c: c.expected[:2] + (1,),
        "pooling works on each channel separately and keeps all of them.",
    ),
)


@exercises.checker("pool_output_shape", forbid=_SHAPE_SHORTCUTS, time_limit=30)
def check_pool_output_shape(pool_output_shape: exercises.Student) -> int:
    """Check ``pool_output_shape(input_shape, pool_size, strides, padding)``.

    Compared with ``keras.layers.MaxPooling2D(...).compute_output_shape``.
    """
    __tracebackhide__ = True
    for shape, size, stride, padding in POOL_SHAPE_CASES:
        name = (
            f"pool_output_shape({shape}, pool_size={size}, strides={stride}, padding={padding!r})"
        )
        result = pool_output_shape(shape, size, stride, padding, name=name, hint=_POOL_SHAPE_HINT)
        expected = _keras_pool_shape(shape, size, stride, padding)
        case = _shape_case(shape, expected, size=size, stride=stride, padding=padding)
        _expect_shape(
            result,
            expected,
            name=name,
            hint=_POOL_SHAPE_HINT,
            mistakes=_shape_mistakes(POOL_SHAPE_MISTAKES, case),
        )
    return len(POOL_SHAPE_CASES)


#: The CNN that exercise 4 asks for, layer by layer (after the Input). ``None`` values come
#: from the arguments of ``build_cnn(input_shape, classes)``.
_CONV = {
    "kernel_size": (3, 3),
    "strides": (1, 1),
    "padding": "same",
    "activation": "linear",
    "use_bias": False,
}

_POOL = {"type": "MaxPooling2D", "pool_size": (2, 2), "strides": (2, 2), "padding": "valid"}

_NORMALISE = [
    {"type": "BatchNormalization", "momentum": 0.9},
    {"type": "Activation", "activation": "relu"},
]

CNN_SPEC = [
    {
        "type": "RandomTranslation",
        "height_factor": 0.1,
        "width_factor": 0.1,
        "fill_mode": "constant",
    },
    {"type": "Conv2D", "filters": 32, **_CONV},
    *_NORMALISE,
    _POOL,
    {"type": "Conv2D", "filters": 64, **_CONV},
    *_NORMALISE,
    _POOL,
    {"type": "Conv2D", "filters": 64, **_CONV},
    *_NORMALISE,
    {"type": "GlobalMaxPooling2D"},
    {"type": "Dense", "units": None, "activation": "softmax"},
]


def describe_spec(spec: list | None = None) -> str:
    """The spec as numbered lines, as the exercise shows it to students."""
    spec = CNN_SPEC if spec is None else spec
    if not isinstance(spec, (list, tuple)) or not all(
        isinstance(entry, dict) and isinstance(entry.get("type"), str) for entry in spec
    ):
        raise TypeError(
            f"spec must be a list of layer descriptions, each a dict with a "
            f"'type' such as {{'type': 'Conv2D', 'filters': 32}} (like "
            f"cnns.CNN_SPEC), but got {validation.describe(spec)}."
        )
    lines = []
    for number, entry in enumerate(spec, start=1):
        options = ", ".join(
            f"{key}={'classes' if value is None else repr(value)}"
            for key, value in entry.items()
            if key != "type"
        )
        lines.append(f"{number}. {entry['type']}({options})")
    return "\n".join(lines)


def _layer_text(layer: object) -> str:
    """A layer and its main settings, e.g. \"Conv2D(filters=32, kernel_size=(3, 3), ...)\"."""
    config = layer.get_config()
    keys = [
        k
        for k in (
            "filters",
            "units",
            "kernel_size",
            "pool_size",
            "strides",
            "padding",
            "activation",
            "use_bias",
            "momentum",
            "height_factor",
            "width_factor",
            "fill_mode",
        )
        if k in config
    ]
    return f"{type(layer).__name__}(" + ", ".join(f"{k}={config[k]!r}" for k in keys) + ")"


#: A layer type used where the spec asks for another: (used, asked for) -> the explanation.
LAYER_MIX_UPS = {
    (
        "Flatten",
        "GlobalMaxPooling2D",
    ): " Flatten keeps every position (and makes the last Dense layer much larger); "
    "GlobalMaxPooling2D keeps each filter's strongest response anywhere in the image.",
}

_BUILD_HINT = (
    "use keras.Input(shape=input_shape), then call each layer on the previous "
    "output: x = keras.layers.Conv2D(32, 3, padding='same', use_bias=False)(x), "
    "x = keras.layers.BatchNormalization(momentum=0.9)(x), ..., and return "
    "keras.Model(inputs, outputs). Use the arguments input_shape and classes rather "
    "than fixed numbers."
)


@exercises.checker(
    "build_cnn",
    forbid=[
        "lab_utils.models.cnn_classifier",
        "lab_utils.models.load",
        "keras.saving.load_model",
        "keras.models.clone_model",
        "keras.models.model_from_json",
    ],
    time_limit=120,
)
def check_build_cnn(build_cnn: exercises.Student) -> int:
    """Check ``build_cnn(input_shape, classes)`` layer by layer against ``CNN_SPEC``.

    For two input shapes and class counts, the model's layers must have the spec's types
    and settings in order, and each layer's output shape and parameter count must equal
    those of the same Keras layer applied to the expected input.
    """
    __tracebackhide__ = True
    keras = lesson.import_keras()
    cases = [((32, 32, 1), 10), ((24, 20, 3), 5)]
    with scratch_names():  # the student's own model, built later, gets the plain names
        _check_build_cnn_cases(build_cnn, cases, keras)
    return len(cases)


def _is_plain_relu_layer(layer: object) -> bool:
    """keras.layers.ReLU() with its defaults computes exactly Activation('relu')."""
    if type(layer).__name__ != "ReLU":
        return False
    config = layer.get_config()
    return (
        config.get("max_value") is None
        and not config.get("negative_slope")
        and not config.get("threshold")
    )


def _source_mentions(student: exercises.Student, name: str) -> bool:
    """Whether the student's source code mentions ``name`` (a layer type); True if unknown."""
    source = student.source
    return name in source if source else True


def _missing_layers_message(student: exercises.Student, layers: list) -> str:
    """Say why layers of the spec are missing: a ReLU inside Conv2D, a layer never written, or
    a layer written but not connected (Keras leaves those out)."""
    kinds = [type(layer).__name__ for layer in layers]
    spec_kinds = [entry["type"] for entry in CNN_SPEC]
    missing = list(
        dict.fromkeys(kind for kind in spec_kinds if kinds.count(kind) < spec_kinds.count(kind))
    )
    inside = [
        layer
        for layer in layers
        if type(layer).__name__ == "Conv2D"
        and layer.get_config().get("activation") not in (None, "linear")
    ]
    lines = [f"\nMissing: {', '.join(missing)}."]
    if inside and "Activation" in missing:
        lines.append(
            f"Your Conv2D layers apply the activation themselves "
            f"(activation={inside[0].get_config()['activation']!r}). The spec keeps "
            f"each Conv2D linear and applies the ReLU after the normalisation, as its "
            f"own layer: Conv2D(..., use_bias=False), BatchNormalization(momentum=0.9), "
            f"Activation('relu')."
        )
        missing.remove("Activation")
    never_written = [kind for kind in missing if not _source_mentions(student, kind)]
    unconnected = [kind for kind in missing if kind not in never_written]
    if never_written:
        lines.append(
            f"Your code has no {' or '.join(never_written)} layer: add "
            f"{'it' if len(never_written) == 1 else 'them'} where the spec says."
        )
    if unconnected:
        lines.append(
            f"Your code creates {' and '.join(unconnected)}, but the model does not "
            f"contain {'it' if len(unconnected) == 1 else 'them'}: a layer whose output "
            f"is never used is not part of the model (Keras silently leaves it out). "
            f"Did you call the next layer on the previous input (e.g. on `inputs`) "
            f"instead of on the layer's output `x`?"
        )
    return " ".join(lines) if len(lines) > 1 else ""


def _check_build_cnn_cases(build_cnn: exercises.Student, cases: list, keras: object) -> None:
    """The body of ``check_build_cnn``: each case's model compared with ``CNN_SPEC``."""
    __tracebackhide__ = True
    for input_shape, classes in cases:
        name = f"build_cnn({input_shape}, classes={classes})"
        model = _built_model(build_cnn, name, input_shape, classes, keras)
        layers = _spec_sized_layers(build_cnn, model, name)
        shape = input_shape
        for number, (layer, entry) in enumerate(zip(layers, CNN_SPEC), start=1):
            shape = _check_spec_layer(
                layer, entry, f"{name}, layer {number}", shape, classes, keras
            )
        if tuple(model.output_shape[1:]) != (classes,):
            exercises.fail(
                f"{name} outputs shape {model.output_shape[1:]}, expected "
                f"({classes},): one probability per class.",
                _BUILD_HINT,
            )


def _built_model(
    build_cnn: exercises.Student, name: str, input_shape: tuple, classes: int, keras: object
) -> object:
    """``build_cnn``'s model for one case, checked to be a keras.Model with the input shape."""
    __tracebackhide__ = True
    model = build_cnn(input_shape, classes, name=name, hint=_BUILD_HINT)
    if model is None:
        exercises.fail(f"{name} returned None. Did you forget `return model`?", _BUILD_HINT)
    if not isinstance(model, keras.Model):
        exercises.fail(
            f"{name} returned {exercises.describe_argument(model)}; expected a keras.Model.",
            _BUILD_HINT,
        )
    if tuple(model.input_shape[1:]) != input_shape:
        exercises.fail(
            f"{name}: the model's input shape is {model.input_shape[1:]}, expected {input_shape}.",
            _BUILD_HINT,
        )
    return model


def _spec_sized_layers(build_cnn: exercises.Student, model: object, name: str) -> list:
    """The model's layers after the Input (Dropout left out), checked to be as many as the
    spec's."""
    __tracebackhide__ = True
    layers = [
        layer for layer in model.layers if type(layer).__name__ not in ("InputLayer", "Dropout")
    ]
    if len(layers) != len(CNN_SPEC):
        found = "\n".join(f"  {i}. {_layer_text(layer)}" for i, layer in enumerate(layers, start=1))
        unused = ""
        if len(layers) < len(CNN_SPEC):
            unused = _missing_layers_message(build_cnn, layers)
        exercises.fail(
            f"{name} has {len(layers)} layers after the Input, the spec has "
            f"{len(CNN_SPEC)}. Yours:\n{found}\nThe spec:\n"
            f"{describe_spec()}{unused}",
            _BUILD_HINT,
        )
    return layers


def _check_spec_layer(
    layer: object, entry: dict, where: str, shape: tuple, classes: int, keras: object
) -> tuple:
    """Check one layer against its ``CNN_SPEC`` entry (type, settings, output shape and
    parameter count, given the input ``shape``); returns its output shape."""
    __tracebackhide__ = True
    kind = type(layer).__name__
    if (
        entry["type"] == "Activation"
        and entry.get("activation") == "relu"
        and _is_plain_relu_layer(layer)
    ):
        return shape  # keras.layers.ReLU() is Activation('relu'); same shape
    if kind != entry["type"]:
        extra = LAYER_MIX_UPS.get((kind, entry["type"]), "")
        exercises.fail(
            f"{where} is {_layer_text(layer)}; the spec asks for {entry['type']} here.{extra}",
            _BUILD_HINT,
        )
    config = layer.get_config()
    for key, wanted in entry.items():
        if key == "type":
            continue
        wanted = classes if wanted is None else wanted
        actual = config.get(key)
        if isinstance(actual, list):
            actual = tuple(actual)
        if actual != wanted:
            exercises.fail(
                f"{where} ({kind}) has {key}={actual!r}; the spec says {key}={wanted!r}.",
                _BUILD_HINT,
            )
    reference = keras.layers.deserialize(
        {"class_name": kind, "config": config, "module": "keras.layers"}
    )
    facts = models.layer_facts(reference, shape)
    actual_shape = tuple(int(s) for s in layer.output.shape[1:])
    if actual_shape != facts["output_shape"]:
        exercises.fail(
            f"{where} ({kind}) outputs {actual_shape}, but on the output "
            f"of the previous layer, {shape}, it should give "
            f"{facts['output_shape']}: is it connected to the previous "
            f"layer?",
            _BUILD_HINT,
        )
    if int(layer.count_params()) != facts["parameters"]:
        exercises.fail(
            f"{where} ({kind}) has {layer.count_params()} parameters, "
            f"expected {facts['parameters']}.",
            _BUILD_HINT,
        )
    return facts["output_shape"]
