"""Lesson 04, what the CNN learned: its first-layer filters compared with lesson 02's
hand-made kernels (and with chance), its feature maps for one image, and the receptive field
of each layer (lesson 02's formula applied to the model's layers).
"""

from __future__ import annotations

import numpy as np

from lab_utils import lesson, models, validation
from lab_utils.cnns import compute
from lab_utils.kernels import receptive_field

# --------------------------------------------------------------------------------------------
# Filters: the first layer's kernels, compared with the hand-made ones
# --------------------------------------------------------------------------------------------


def _conv_layers(model: object) -> list:
    """The model's Conv2D layers, in order."""
    keras = lesson.import_keras()
    models.require_model(model)
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def first_layer_filters(model: object) -> np.ndarray:
    """The kernels of the model's first Conv2D layer: (filters, k, k), first input channel."""
    keras = lesson.import_keras()
    layers = _conv_layers(model)
    if not layers:
        raise ValueError(f"model {model.name!r} has no Conv2D layer, so it has no filters to show.")
    kernel = keras.ops.convert_to_numpy(layers[0].kernel)  # (k, k, in_channels, filters)
    return np.transpose(kernel[:, :, 0, :], (2, 0, 1)).astype(np.float64)


def _zero_mean_unit(kernel: np.ndarray) -> np.ndarray:
    """``kernel`` minus its mean, scaled to unit length (unless it is flat)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    kernel = kernel - kernel.mean()
    norm = np.linalg.norm(kernel)
    return kernel / norm if norm > 0 else kernel


def most_similar_filters(filters: np.ndarray, kernels: dict) -> list[dict]:
    """For each hand-made kernel, the learned filter with the most similar pattern.

    Similarity is the absolute cosine between the two kernels after removing their means
    (1 = the same pattern up to brightness, scale and sign). A 3x3 pattern has only 8 free
    values, so with many filters high similarities happen by chance: compare with
    ``chance_similarity``.

    Parameters
    ----------
    filters : ndarray (F, k, k)
    kernels : dict of str -> ndarray (k, k), e.g. ``kernels.CLASSIC_KERNELS``
    """
    filters = validation.as_array(filters, "filters")
    if filters.ndim != 3 or filters.shape[1] != filters.shape[2]:
        raise ValueError(
            f"filters must have shape (count, k, k), but it has shape {filters.shape}."
        )
    if not isinstance(kernels, dict) or not kernels:
        raise TypeError(
            "kernels must be a non-empty dict of name -> (k, k) array, e.g. "
            "kernels.CLASSIC_KERNELS."
        )
    learned = np.stack([_zero_mean_unit(f).ravel() for f in filters])
    rows = []
    for name, kernel in kernels.items():
        kernel = validation.as_array(kernel, f"kernels[{name!r}]")
        if kernel.shape != filters.shape[1:]:
            raise ValueError(
                f"kernels[{name!r}] has shape {kernel.shape}, but the filters are "
                f"{filters.shape[1:]}."
            )
        target = _zero_mean_unit(kernel).ravel()
        if not target.any():  # the identity minus its mean is fine; a flat blur is not
            continue
        scores = np.abs(learned @ target)
        best = int(scores.argmax())
        rows.append({"kernel": name, "filter": best, "similarity": float(scores[best])})
    return rows


def chance_similarity(kernels: dict, count: int = 32, *, trials: int = 200, seed: int = 0) -> float:
    """Median similarity (as in ``most_similar_filters``) for ``count`` random Gaussian filters.

    The baseline to compare learned filters with: with many filters, some random one always
    looks a bit like any given 3x3 kernel.
    """
    if not isinstance(kernels, dict) or not kernels:
        raise TypeError(
            "kernels must be a non-empty dict of name -> (k, k) array, e.g. "
            "kernels.CLASSIC_KERNELS."
        )
    count = validation.as_int(count, "count", minimum=1, maximum=4096)
    trials = validation.as_int(trials, "trials", minimum=1, maximum=10_000)
    shape = np.shape(next(iter(kernels.values())))
    rng = np.random.default_rng(validation.as_seed(seed))
    scores = [
        row["similarity"]
        for _ in range(trials)
        for row in most_similar_filters(rng.normal(size=(count,) + shape), kernels)
    ]
    return float(np.median(scores))


# --------------------------------------------------------------------------------------------
# Feature maps: what each layer outputs for one image
# --------------------------------------------------------------------------------------------


def layer_outputs(model: object) -> tuple:
    """``(inputs, [(layer, symbolic output), ...])`` for the layers of ``model``.

    A Functional model has them already. A ``keras.Sequential`` model may have none ("has
    never been called and thus has no defined input"), so its layers are called in turn on
    a fresh ``keras.Input(model.input_shape[1:])``: the same layers and weights, a new graph.
    """
    keras = lesson.import_keras()
    models.require_model(model)
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(model, keras.Sequential):
        try:
            shape = tuple(model.input_shape[1:])
        except (AttributeError, ValueError):
            shape = None
        if not shape or None in shape:
            raise ValueError(
                f"the Sequential model {model.name!r} has no input shape yet: "
                f"start it with keras.Input(shape=(height, width, channels))."
            )
        with compute.scratch_names():
            inputs = x = keras.Input(shape=shape)
            pairs = []
            for layer in layers:
                x = layer(x)
                pairs.append((layer, x))
        return inputs, pairs
    try:
        return model.input, [(layer, layer.output) for layer in layers]
    except (AttributeError, ValueError):
        raise ValueError(
            f"model {model.name!r} has no defined input: build it with "
            f"keras.Input(shape=...) (Functional API or keras.Sequential)."
        ) from None


def feature_maps(model: object, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """The output of every Conv2D and pooling layer for one image.

    Parameters
    ----------
    model : keras.Model (Functional, or Sequential starting with keras.Input)
    image : ndarray (H, W), float in [0, 1]

    Returns
    -------
    list of (layer name, ndarray (h, w, channels)) in the order of the layers: each
    convolution (after its ReLU) and each pooling layer.
    """
    keras = lesson.import_keras()
    models.require_model(model)
    image = validation.as_image(image, "image", channels=(None,))
    models.check_input_shape(model, image.shape + (1,), images="the image")
    kinds = (keras.layers.Conv2D, keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)
    layers = [layer for layer in model.layers if isinstance(layer, kinds)]
    if not layers:
        raise ValueError(f"model {model.name!r} has no Conv2D or pooling layer.")
    # A Conv2D without its own activation (followed by BatchNormalization and ReLU) is shown
    # after the ReLU: that is what the next layer receives.
    inputs, pairs = layer_outputs(model)
    pairs = [
        (layer, output)
        for layer, output in pairs
        if isinstance(layer, kinds)
        and getattr(layer, "activation", None) is not keras.activations.linear
        or isinstance(layer, keras.layers.Activation)
        and len(output.shape) == 4
    ]
    with compute.scratch_names():
        probe = keras.Model(inputs, [output for _, output in pairs])
    outputs = probe(models.as_batch(image[None]), training=False)
    return [
        (layer.name, keras.ops.convert_to_numpy(output)[0])
        for (layer, _), output in zip(pairs, outputs)
    ]


# --------------------------------------------------------------------------------------------
# Depth: receptive fields
# --------------------------------------------------------------------------------------------


def receptive_fields(model: object) -> list[dict]:
    """Receptive field of one unit after each Conv2D / pooling layer of ``model``.

    Uses lesson 02's ``kernels.receptive_field`` on the kernel sizes and strides met so far.
    Global pooling layers see the whole image.

    Returns
    -------
    list of dict with "layer", "output_size" (height of the feature map) and
    "receptive_field" (side of the input square one unit depends on, in pixels, capped by
    nothing: it may exceed the image, whose border is zero padding).
    """
    keras = lesson.import_keras()
    models.require_model(model)
    sizes, strides, rows = [], [], []
    _, pairs = layer_outputs(model)
    for layer, output in pairs:
        if isinstance(layer, keras.layers.Conv2D):
            sizes.append(int(layer.kernel_size[0]))
            strides.append(int(layer.strides[0]))
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            sizes.append(int(layer.pool_size[0]))
            strides.append(int(layer.strides[0]))
        elif isinstance(
            layer, (keras.layers.GlobalMaxPooling2D, keras.layers.GlobalAveragePooling2D)
        ):
            rows.append(
                {
                    "layer": layer.name,
                    "output_size": 1,
                    "receptive_field": int(model.input_shape[1]),
                }
            )
            continue
        else:
            continue
        rows.append(
            {
                "layer": layer.name,
                "output_size": int(output.shape[1]),
                "receptive_field": receptive_field(sizes, strides),
            }
        )
    return rows


def bright_centroid(image: np.ndarray) -> tuple[float, float]:
    """(row, column) of the centre of mass of the image's bright pixels (> half the maximum).

    The image centre for an all-black image.
    """
    image = validation.as_image(image, "image", channels=(None,))
    values = np.asarray(image, dtype=np.float64)
    top = values.max()
    if top <= 0:
        return ((values.shape[0] - 1) / 2, (values.shape[1] - 1) / 2)
    rows, columns = np.nonzero(values > top / 2)
    return (float(rows.mean()), float(columns.mean()))
