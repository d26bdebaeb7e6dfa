"""Lesson 04 "CNNs": why dense networks fail on images, and what a CNN learns.

Compute functions (pure, tested), the comparison runner (SVM, dense net and CNN trained in one
run), plots, the live prediction widget and the checks of the lesson's exercises. Models are
built and trained with ``lab_utils.models``; the perturbations come from lesson 01
(``pixels.perturb``) and the hand-made kernels and receptive-field formula from lesson 02
(``kernels``). Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import html
import time

import numpy as np

from lab_utils import exercises, lesson, models, pixels, validation, widgets
from lab_utils.plots import new_figure

# --------------------------------------------------------------------------------------------
# Data: one stratified split, reused by every model of the lesson
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Split:
    """Train, validation and test parts of a labelled image set.

    Images have shape (N, H, W), float32 in [0, 1]; labels (N,) int64. ``models`` functions
    add the channel axis themselves.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    validation_images: np.ndarray
    validation_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: list

    @property
    def image_shape(self) -> tuple:
        """(height, width, channels) of one image, as Keras models expect it."""
        return tuple(self.train_images.shape[1:]) + (1,)

    def sizes(self) -> dict:
        return {"train": len(self.train_labels), "validation": len(self.validation_labels),
                "test": len(self.test_labels)}


def split_dataset(dataset, *, test_fraction: float = 0.2, validation_fraction: float = 0.1,
                  seed: int = 0, max_value: float | None = None) -> Split:
    """Split a ``data.Dataset`` into train / validation / test parts, stratified by class.

    Parameters
    ----------
    dataset : data.Dataset
        Images (N, H, W), each at most ``validation.MAX_IMAGE_PIXELS``: floats in [0, 1],
        uint8 in [0, 255], or gray levels up to ``dataset.max_value`` (16 for the digits).
    test_fraction, validation_fraction : float
        Fractions of the whole set held out for testing and for the validation curves.
    seed : int
        Fixes which images land in which part.
    max_value : float, optional
        The largest possible gray level, which becomes 1.0 (default: ``dataset.max_value``,
        else 1 for floats and 255 for uint8). The scale is never guessed from the values
        present: images whose values exceed it are refused with an explanation.
    """
    from sklearn.model_selection import train_test_split
    if not hasattr(dataset, "images") or not hasattr(dataset, "labels"):
        raise TypeError(f"dataset must be a data.Dataset (with .images and .labels), e.g. "
                        f"data.load_dataset('placed_digits'), but got "
                        f"{validation.describe(dataset)}.")
    test_fraction = validation.as_float(test_fraction, "test_fraction", minimum=0.05,
                                        maximum=0.5)
    validation_fraction = validation.as_float(validation_fraction, "validation_fraction",
                                              minimum=0.05, maximum=0.5)
    seed = validation.as_seed(seed)
    images = validation.as_array(dataset.images, "dataset.images")
    if images.ndim != 3:
        raise ValueError(f"dataset.images must have shape (N, height, width), but it has "
                         f"shape {images.shape}.")
    validation.check_size(images.shape[1:], "each image of dataset.images")
    validation.require_finite(images, "dataset.images")
    images = images.astype(np.float32) / np.float32(_gray_scale(images, dataset, max_value))
    labels = models.as_labels(dataset.labels, len(images), name="dataset.labels")
    indices = np.arange(len(images))
    rest, test = train_test_split(indices, test_size=test_fraction, stratify=labels,
                                  random_state=seed)
    train, held = train_test_split(rest, test_size=validation_fraction / (1 - test_fraction),
                                   stratify=labels[rest], random_state=seed)
    return Split(images[train], labels[train], images[held], labels[held], images[test],
                 labels[test], list(dataset.class_names))


def _gray_scale(images, dataset, max_value) -> float:
    """The largest possible gray level of ``images`` (stated, never guessed); checks the range."""
    source = "max_value"
    if max_value is None:
        max_value, source = getattr(dataset, "max_value", None), "dataset.max_value"
    if max_value is None:
        if images.dtype == np.uint8:
            max_value, source = 255.0, "uint8 images"
        elif np.issubdtype(images.dtype, np.floating) or images.dtype == bool:
            max_value, source = 1.0, "float images"
        else:
            raise TypeError(f"dataset.images has dtype {images.dtype}, whose scale the kit "
                            f"does not guess: pass max_value=<the largest possible gray "
                            f"level> (4095 for 12-bit, 65535 for 16-bit images).")
    max_value = validation.as_float(max_value, source, minimum=1e-12)
    if images.size == 0:
        return max_value
    low, high = float(images.min()), float(images.max())
    if low < 0:
        raise ValueError(f"dataset.images has negative values (down to {low:g}); gray levels "
                         f"run from 0 (black) to {max_value:g} (white).")
    if high > max_value:
        raise ValueError(f"dataset.images has values up to {high:g}, above the largest gray "
                         f"level {max_value:g} ({source}). The kit does not guess the scale: "
                         f"pass max_value=<the largest possible gray level>, e.g. 16 for "
                         f"scikit-learn's digits, 255 for 8-bit photos, 100 for percentages.")
    if images.dtype == np.uint8 and high == 1:
        raise ValueError("dataset.images is uint8 but holds only 0 and 1: it looks like [0, 1] "
                         "floats cast with .astype(np.uint8), which rounds every value down. "
                         "Keep the floats, or convert with np.round(images * 255).astype("
                         "np.uint8).")
    return max_value


# --------------------------------------------------------------------------------------------
# Dense limitations, measured
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _scratch_names():
    """Layers made inside do not use up Keras's automatic names.

    The checks and the parameter table build throwaway layers; without this, the student's
    model built afterwards would be called ``conv2d_14``, ``input_layer_4``... in its
    summary. The random state is not touched (unlike ``keras.backend.clear_session``, which
    also forgets the seed set by ``lesson.setup``).
    """
    try:
        from keras.src.backend.common import global_state
        saved = global_state.get_global_attribute("object_name_uids")
        saved = None if saved is None else dict(saved)
    except Exception:          # another Keras layout: names are cosmetic, go on without
        yield
        return
    try:
        yield
    finally:
        global_state.set_global_attribute("object_name_uids",
                                          collections.defaultdict(int, saved or {}))


def dense_vs_conv_parameters(input_shape=(224, 224, 3), *, units: int = 100,
                             filters: int = 64, kernel_size: int = 3) -> list[dict]:
    """Parameters of one Dense layer and one Conv2D layer on the same input, counted by Keras.

    Parameters
    ----------
    input_shape : (height, width, channels)
        The slide's example: a 224 x 224 RGB photo.
    units : int
        Neurons of the dense layer (each connected to every input pixel and channel).
    filters, kernel_size : int
        The convolution: ``filters`` kernels of ``kernel_size`` x ``kernel_size`` x channels,
        each shared by every position of the image.

    Returns
    -------
    list of two dicts with "layer", "output_shape" (without batch axis) and "parameters".
    """
    keras = lesson.import_keras()
    shape = models.as_input_shape(input_shape)
    units = validation.as_int(units, "units", minimum=1, maximum=10_000)
    filters = validation.as_int(filters, "filters", minimum=1, maximum=4096)
    kernel_size = validation.as_int(kernel_size, "kernel_size", minimum=1,
                                    maximum=min(shape[:2]))
    pixels_in = int(np.prod(shape))
    if pixels_in * units > 400_000_000:
        raise ValueError(f"a dense layer with {units} units on {shape} would need "
                         f"{pixels_in * units:,} weights (more than 1.6 GB): use fewer units.")
    rows = []
    with _scratch_names():
        # A Dense layer sees a flat vector: Flatten first, as a dense network would.
        dense = models.layer_facts(keras.layers.Dense(units), (pixels_in,))
        conv = models.layer_facts(keras.layers.Conv2D(filters, kernel_size, padding="same"),
                                  shape)
    rows.append({"layer": f"Dense({units}) on the flattened {shape} image", **dense})
    rows.append({"layer": f"Conv2D({filters}, {kernel_size}x{kernel_size}, 'same')", **conv})
    return rows


# --------------------------------------------------------------------------------------------
# The comparison: SVM, dense network and CNN trained in the same run
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Comparison:
    """What ``compare_classifiers`` measured.

    Attributes
    ----------
    rows : list of dict
        One per classifier: "model", "test_accuracy" (0-1), "parameters",
        "training_seconds" (wall clock) and "cpu_seconds".
    trained : dict of str -> models.TrainingResult
        The trained Keras models with their histories (the SVM is under ``svm``).
    svm : sklearn.svm.SVC or None
    """

    rows: list
    trained: dict
    svm: object = None

    def row(self, name: str) -> dict:
        for row in self.rows:
            if row["model"] == name:
                return row
        raise KeyError(f"no classifier called {name!r}; there are "
                       f"{', '.join(r['model'] for r in self.rows)}.")

    def table(self) -> str:
        """The rows as a fixed-width text table.

        For the SVM, "parameters" counts the numbers it stores to classify (its support
        vectors, i.e. training images, plus their weights), not learned weights.
        """
        width = max([10] + [len(row["model"]) for row in self.rows])
        lines = [f"{'model':<{width}} {'test accuracy':>13} {'parameters':>11} "
                 f"{'training s':>10} {'CPU s':>7}"]
        for row in self.rows:
            lines.append(f"{row['model']:<{width}} {row['test_accuracy']:>13.1%} "
                         f"{row['parameters']:>11,} {row['training_seconds']:>10.1f} "
                         f"{row['cpu_seconds']:>7.1f}")
        return "\n".join(lines)


#: The lesson's settings for the placed-digits comparison (the notebook and
#: ``benchmarks/cnns.py`` use the same): hidden units of the dense network, epochs per network.
DENSE_UNITS = (256, 128)
EPOCHS = {"dense": 30, "CNN": 15}


def _svm_parameters(svm) -> int:
    """Numbers an RBF SVM stores to classify: its support vectors, their weights, intercepts."""
    return int(svm.support_vectors_.size + svm.dual_coef_.size + svm.intercept_.size)


def compare_classifiers(split: Split, networks: dict, *, epochs=15, batch_size: int = 64,
                        learning_rate: float = 3e-3, svm: bool = True, svm_c: float = 10.0,
                        seed: int = 0) -> Comparison:
    """Train an SVM (optional) and each Keras network on ``split``; measure them on its test set.

    Parameters
    ----------
    split : Split
    networks : dict of str -> keras.Model
        New, untrained models (e.g. ``{"dense": ..., "CNN": ...}``), trained in this order.
    epochs : int or dict of str -> int
        Epochs for every network, or per network name.
    batch_size, learning_rate : training settings shared by the networks (Adam).
    svm : bool
        Also fit scikit-learn's ``SVC`` (RBF kernel, ``gamma="scale"``) on the raw pixels.
    svm_c : float
        The SVM's regularisation constant C. 10 was the best of 1, 10 and 100 on the
        validation images of ``placed_digits`` (41 %, 52 %, 52 %), so the baseline is tuned,
        not a straw man.
    seed : int

    Returns
    -------
    Comparison
    """
    keras = lesson.import_keras()
    if not isinstance(split, Split):
        raise TypeError(f"split must be the result of cnns.split_dataset(...), but got "
                        f"{validation.describe(split)}.")
    if not isinstance(networks, dict) or not all(isinstance(m, keras.Model)
                                                 for m in networks.values()):
        raise TypeError("networks must be a dict mapping a name to a Keras model, e.g. "
                        "{'CNN': models.cnn_classifier((32, 32, 1), 10)}.")
    if not isinstance(epochs, dict):
        epochs = {name: epochs for name in networks}
    missing = set(networks) - set(epochs)
    if missing:
        raise ValueError(f"epochs has no entry for {', '.join(sorted(missing))}.")
    for name, network in networks.items():
        expected = split.image_shape
        try:
            shape = tuple(network.input_shape[1:])
        except (AttributeError, ValueError):
            raise ValueError(f"networks[{name!r}] has no input shape yet: build it with "
                             f"keras.Input(shape={expected}).") from None
        if shape not in (expected, expected[:2]):
            raise ValueError(f"networks[{name!r}] expects inputs of shape {shape}, but the "
                             f"split's images have shape {expected}: build it with "
                             f"input_shape=split.image_shape.")
    svm_c = validation.as_float(svm_c, "svm_c", minimum=1e-6)
    rows, trained, classifier = [], {}, None
    if svm:
        from sklearn.svm import SVC
        flat = split.train_images.reshape(len(split.train_images), -1)
        start, cpu_start = time.perf_counter(), time.process_time()
        classifier = SVC(C=svm_c).fit(flat, split.train_labels)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        score = classifier.score(split.test_images.reshape(len(split.test_images), -1),
                                 split.test_labels)
        rows.append({"model": "SVM", "test_accuracy": float(score),
                     "parameters": _svm_parameters(classifier), "training_seconds": seconds,
                     "cpu_seconds": cpu,
                     "support_vectors": int(classifier.support_vectors_.shape[0])})
    for name, network in networks.items():
        # Initial weights drawn from ``seed`` alone, not from whatever earlier cells drew:
        # the lesson and benchmarks/cnns.py then train identical networks and print the
        # same figures (the README quotes the benchmark).
        with _scratch_names():         # the clone's layers use up no automatic names
            models.reinitialise(network, seed)
        result = models.train(network, split.train_images, split.train_labels,
                              validation_data=(split.validation_images,
                                               split.validation_labels),
                              epochs=epochs[name], batch_size=batch_size,
                              learning_rate=learning_rate, seed=seed)
        trained[name] = result
        rows.append({"model": name,
                     "test_accuracy": models.accuracy(network, split.test_images,
                                                      split.test_labels),
                     "parameters": models.parameter_count(network),
                     "training_seconds": result.seconds, "cpu_seconds": result.cpu_seconds})
    return Comparison(rows, trained, classifier)


def plot_learning_curves(trained: dict):
    """Training and validation accuracy per epoch, one panel per trained network.

    Parameters
    ----------
    trained : dict of str -> models.TrainingResult (e.g. ``Comparison.trained``)
    """
    if not isinstance(trained, dict) or not trained or not all(
            isinstance(r, models.TrainingResult) for r in trained.values()):
        raise TypeError("trained must be a non-empty dict of name -> models.TrainingResult, "
                        "e.g. comparison.trained.")
    figure = new_figure(figsize=(3.4 * len(trained), 3.0))
    axes = np.atleast_1d(figure.subplots(1, len(trained), sharey=True))
    for axis, (name, result) in zip(axes, trained.items()):
        epochs = np.arange(1, result.epochs + 1)
        axis.plot(epochs, result.history["accuracy"], marker="o", label="training")
        if "val_accuracy" in result.history:
            axis.plot(epochs, result.history["val_accuracy"], marker="o", label="validation")
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.set_ylim(0, 1)
        axis.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].legend()
    return figure


# --------------------------------------------------------------------------------------------
# Evaluation: confusion matrix and misclassified examples
# --------------------------------------------------------------------------------------------


def confusion(labels, predictions, classes: int) -> np.ndarray:
    """Confusion matrix (classes, classes) int64: row = true class, column = predicted class."""
    from sklearn.metrics import confusion_matrix
    classes = validation.as_int(classes, "classes", minimum=2)
    labels = models.as_labels(labels, len(validation.as_array(labels, "labels")), classes)
    predictions = models.as_labels(predictions, len(labels), classes, name="predictions")
    return confusion_matrix(labels, predictions, labels=np.arange(classes)).astype(np.int64)


def plot_confusion(matrix, class_names, *, title: str | None = None):
    """Draw a confusion matrix with the count written in every cell."""
    matrix = validation.as_array(matrix, "matrix")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square (classes, classes), but it has shape "
                         f"{matrix.shape}.")
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, (list, tuple)):
        raise TypeError(f"class_names must be a list of the {matrix.shape[0]} class names, "
                        f"e.g. split.class_names, but got {validation.describe(class_names)}.")
    if len(class_names) != matrix.shape[0]:
        raise ValueError(f"class_names must name the {matrix.shape[0]} classes, but it has "
                         f"{len(class_names)} entries.")
    figure = new_figure(figsize=(4.6, 4.0))
    axis = figure.subplots()
    axis.imshow(matrix, cmap="Blues")
    for (row, column), count in np.ndenumerate(matrix):
        if count:
            axis.text(column, row, str(count), ha="center", va="center", fontsize=8,
                      color="white" if count > matrix.max() / 2 else "black")
    axis.set_xticks(range(len(class_names)), class_names)
    axis.set_yticks(range(len(class_names)), class_names)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if title:
        axis.set_title(title)
    return figure


def misclassified(probabilities, labels) -> list[dict]:
    """The wrongly classified examples, most confident mistakes first.

    Parameters
    ----------
    probabilities : ndarray (N, classes)
    labels : ndarray (N,) int

    Returns
    -------
    list of dict with "index", "label", "predicted" and "confidence" (probability of the
    predicted class).
    """
    probabilities = validation.as_array(probabilities, "probabilities")
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must have shape (N, classes), but it has shape "
                         f"{probabilities.shape}.")
    labels = models.as_labels(labels, len(probabilities), probabilities.shape[1])
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    return [{"index": int(i), "label": int(labels[i]), "predicted": int(predicted[i]),
             "confidence": float(c)} for i, c in sorted(zip(wrong, confidence),
                                                        key=lambda pair: -pair[1])]


# --------------------------------------------------------------------------------------------
# What the CNN learned: filters and feature maps
# --------------------------------------------------------------------------------------------


def _conv_layers(model):
    keras = lesson.import_keras()
    models.require_model(model)
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def first_layer_filters(model) -> np.ndarray:
    """The kernels of the model's first Conv2D layer: (filters, k, k), first input channel."""
    keras = lesson.import_keras()
    layers = _conv_layers(model)
    if not layers:
        raise ValueError(f"model {model.name!r} has no Conv2D layer, so it has no filters "
                         f"to show.")
    kernel = keras.ops.convert_to_numpy(layers[0].kernel)     # (k, k, in_channels, filters)
    return np.transpose(kernel[:, :, 0, :], (2, 0, 1)).astype(np.float64)


def _zero_mean_unit(kernel):
    kernel = np.asarray(kernel, dtype=np.float64)
    kernel = kernel - kernel.mean()
    norm = np.linalg.norm(kernel)
    return kernel / norm if norm > 0 else kernel


def most_similar_filters(filters, kernels: dict) -> list[dict]:
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
        raise ValueError(f"filters must have shape (count, k, k), but it has shape "
                         f"{filters.shape}.")
    if not isinstance(kernels, dict) or not kernels:
        raise TypeError("kernels must be a non-empty dict of name -> (k, k) array, e.g. "
                        "kernels.CLASSIC_KERNELS.")
    learned = np.stack([_zero_mean_unit(f).ravel() for f in filters])
    rows = []
    for name, kernel in kernels.items():
        kernel = validation.as_array(kernel, f"kernels[{name!r}]")
        if kernel.shape != filters.shape[1:]:
            raise ValueError(f"kernels[{name!r}] has shape {kernel.shape}, but the filters are "
                             f"{filters.shape[1:]}.")
        target = _zero_mean_unit(kernel).ravel()
        if not target.any():          # the identity minus its mean is fine; a flat blur is not
            continue
        scores = np.abs(learned @ target)
        best = int(scores.argmax())
        rows.append({"kernel": name, "filter": best, "similarity": float(scores[best])})
    return rows


def chance_similarity(kernels: dict, count: int = 32, *, trials: int = 200,
                      seed: int = 0) -> float:
    """Median similarity (as in ``most_similar_filters``) for ``count`` random Gaussian filters.

    The baseline to compare learned filters with: with many filters, some random one always
    looks a bit like any given 3x3 kernel.
    """
    if not isinstance(kernels, dict) or not kernels:
        raise TypeError("kernels must be a non-empty dict of name -> (k, k) array, e.g. "
                        "kernels.CLASSIC_KERNELS.")
    count = validation.as_int(count, "count", minimum=1, maximum=4096)
    trials = validation.as_int(trials, "trials", minimum=1, maximum=10_000)
    shape = np.shape(next(iter(kernels.values())))
    rng = np.random.default_rng(validation.as_seed(seed))
    scores = [row["similarity"] for _ in range(trials)
              for row in most_similar_filters(rng.normal(size=(count,) + shape), kernels)]
    return float(np.median(scores))


def plot_filters_and_kernels(filters, kernels: dict, *, columns: int = 8):
    """Learned first-layer filters (top rows) and the hand-made kernels (bottom row).

    Each panel has its own symmetric colour scale: red positive, blue negative, white zero.
    """
    filters = validation.as_array(filters, "filters", finite=True)
    if filters.ndim != 3 or not 1 <= len(filters) <= 256 or max(filters.shape[1:]) > 15:
        raise ValueError(f"filters must have shape (count, k, k) with 1 to 256 filters of at "
                         f"most 15x15 (first_layer_filters(model) gives them), but it has "
                         f"shape {filters.shape}.")
    if not isinstance(kernels, dict):
        raise TypeError("kernels must be a dict of name -> (k, k) array.")
    columns = validation.as_int(columns, "columns", minimum=1)
    filter_rows = -(-len(filters) // columns)
    kernel_rows = -(-len(kernels) // columns)
    figure = new_figure(figsize=(1.2 * columns, 1.35 * (filter_rows + kernel_rows) + 0.5))
    axes = figure.subplots(filter_rows + kernel_rows, columns, squeeze=False)
    panels = [(f"filter {i}", f) for i, f in enumerate(filters)]
    panels += [None] * (filter_rows * columns - len(panels))
    panels += [(name, np.asarray(k)) for name, k in kernels.items()]
    for axis, panel in zip(axes.flat, panels + [None] * axes.size):
        axis.set_axis_off()
        if panel is None:
            continue
        name, values = panel
        scale = float(np.abs(values).max()) or 1.0
        axis.imshow(values, cmap="bwr", vmin=-scale, vmax=scale)
        axis.set_title(name, fontsize=7)
    figure.suptitle("learned 3x3 filters of the first layer (top) and hand-made kernels "
                    "(bottom)", fontsize=9)
    return figure


def _layer_outputs(model):
    """``(inputs, [(layer, symbolic output), ...])`` for the layers of ``model``.

    A Functional model has them already. A ``keras.Sequential`` model may have none ("has
    never been called and thus has no defined input"), so its layers are called in turn on
    a fresh ``keras.Input(model.input_shape[1:])``: the same layers and weights, a new graph.
    """
    keras = lesson.import_keras()
    models.require_model(model)
    layers = [layer for layer in model.layers
              if not isinstance(layer, keras.layers.InputLayer)]
    if isinstance(model, keras.Sequential):
        try:
            shape = tuple(model.input_shape[1:])
        except (AttributeError, ValueError):
            shape = None
        if not shape or None in shape:
            raise ValueError(f"the Sequential model {model.name!r} has no input shape yet: "
                             f"start it with keras.Input(shape=(height, width, channels)).")
        with _scratch_names():
            inputs = x = keras.Input(shape=shape)
            pairs = []
            for layer in layers:
                x = layer(x)
                pairs.append((layer, x))
        return inputs, pairs
    try:
        return model.input, [(layer, layer.output) for layer in layers]
    except (AttributeError, ValueError):
        raise ValueError(f"model {model.name!r} has no defined input: build it with "
                         f"keras.Input(shape=...) (Functional API or keras.Sequential).") \
            from None


def feature_maps(model, image) -> list[tuple[str, np.ndarray]]:
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
    inputs, pairs = _layer_outputs(model)
    pairs = [(layer, output) for layer, output in pairs if isinstance(layer, kinds)
             and getattr(layer, "activation", None) is not keras.activations.linear
             or isinstance(layer, keras.layers.Activation) and len(output.shape) == 4]
    with _scratch_names():
        probe = keras.Model(inputs, [output for _, output in pairs])
    outputs = probe(models.as_batch(image[None]), training=False)
    return [(layer.name, keras.ops.convert_to_numpy(output)[0])
            for (layer, _), output in zip(pairs, outputs)]


def plot_feature_maps(maps, *, channels: int = 8):
    """One row per layer: the ``channels`` most active feature maps of that layer.

    The maps of one row share one colour scale, shown by the colour bar at the row's end
    (0 = no response), so brightness can be compared across the channels of a layer.
    """
    if not isinstance(maps, list) or not maps:
        raise TypeError("maps must be the list returned by cnns.feature_maps(model, image).")
    channels = validation.as_int(channels, "channels", minimum=1, maximum=32)
    figure = new_figure(figsize=(1.25 * channels, 1.35 * len(maps)))
    axes = figure.subplots(len(maps), channels, squeeze=False)
    for row, (name, values) in zip(axes, maps):
        strongest = np.argsort(values.reshape(-1, values.shape[-1]).max(axis=0))[::-1]
        low, high = min(float(values.min()), 0.0), max(float(values.max()), 1e-12)
        shown = None
        for column, (axis, channel) in enumerate(
                zip(row, list(strongest[:channels]) + [None] * channels)):
            axis.set_axis_off()
            if column == 0:       # the layer's name and size, written left of the row
                axis.text(-0.08, 0.5, f"{name}\n{values.shape[0]}x{values.shape[1]}",
                          transform=axis.transAxes, rotation=90, ha="right", va="center",
                          fontsize=7)
            if channel is None:
                continue
            shown = axis.imshow(values[..., channel], cmap="viridis", vmin=low, vmax=high)
            axis.set_title(f"channel {channel}", fontsize=7)
        if shown is not None:
            colour_bar = figure.colorbar(shown, ax=list(row), fraction=0.015, pad=0.01)
            colour_bar.ax.tick_params(labelsize=6)
    return figure


# --------------------------------------------------------------------------------------------
# Robustness: accuracy as the test digits are perturbed (lesson 01's perturbations)
# --------------------------------------------------------------------------------------------

#: Strengths for each perturbation of ``pixels.perturb``: pixels, zoom factor, degrees,
#: fraction of the side, noise standard deviation. The first value leaves images unchanged.
SWEEP_STRENGTHS = {
    "shift": [0, 2, 4, 6, 8],
    "scale": [1.0, 0.85, 0.7, 0.55],
    "rotation": [0, 15, 30, 45],
    "occlusion": [0, 0.2, 0.35, 0.5],
    "noise": [0, 0.1, 0.2, 0.3],
}


def robustness_sweep(networks: dict, images, labels, strengths=None, *,
                     seed: int = 0) -> dict:
    """Test accuracy of each network as ``images`` are perturbed more and more.

    Every network sees the same perturbed images (``pixels.perturb`` with ``seed``).

    Parameters
    ----------
    networks : dict of str -> keras.Model
    images : ndarray (N, H, W), float in [0, 1]
    labels : ndarray (N,)
    strengths : dict of perturbation -> list of strengths (default ``SWEEP_STRENGTHS``)

    Returns
    -------
    dict of perturbation -> dict of network name -> list of accuracies (0-1)
    """
    keras = lesson.import_keras()
    if not isinstance(networks, dict) or not networks or not all(
            isinstance(m, keras.Model) for m in networks.values()):
        raise TypeError("networks must be a non-empty dict of name -> Keras model.")
    strengths = SWEEP_STRENGTHS if strengths is None else strengths
    if not isinstance(strengths, dict) or not strengths:
        raise TypeError("strengths must be a dict of perturbation -> list of strengths, e.g. "
                        "{'shift': [0, 2, 4]}.")
    for perturbation, values in strengths.items():
        validation.one_of(perturbation, "perturbation", pixels.PERTURBATIONS)
        if not isinstance(values, (list, tuple)) or not values:
            raise TypeError(f"strengths[{perturbation!r}] must be a non-empty list of "
                            f"strengths, e.g. {{{perturbation!r}: "
                            f"{SWEEP_STRENGTHS[perturbation][:3]}}}, but got "
                            f"{validation.describe(values)}.")
        for value in values:
            value = validation.as_float(value, f"a strength of {perturbation!r}", minimum=0.0)
            if perturbation == "occlusion" and value > 1:
                raise ValueError(f"occlusion strengths are the side of the black square as a "
                                 f"fraction of the image side, in [0, 1], but got {value:g}; "
                                 f"for {value:g} pixels of a 32-pixel image write "
                                 f"{value / 32:.2f}.")
            if perturbation == "scale" and value == 0:
                raise ValueError("a scale factor of 0 would shrink the digits to nothing; "
                                 "1 leaves them unchanged, 0.5 halves them.")
    images = validation.as_array(images, "images")
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, height, width), but it has shape "
                         f"{images.shape}.")
    for name, network in networks.items():
        models.check_input_shape(network, images.shape[1:] + (1,), name=f"networks[{name!r}]")
    labels = models.as_labels(labels, len(images))
    seed = validation.as_seed(seed)
    results = {}
    for perturbation, values in strengths.items():
        results[perturbation] = {name: [] for name in networks}
        for value in values:
            varied = pixels.perturb(images, perturbation, value, seed=seed)
            for name, network in networks.items():
                results[perturbation][name].append(models.accuracy(network, varied, labels))
    return results


# --------------------------------------------------------------------------------------------
# Depth: receptive fields
# --------------------------------------------------------------------------------------------


def receptive_fields(model) -> list[dict]:
    """Receptive field of one unit after each Conv2D / pooling layer of ``model``.

    Uses lesson 02's ``kernels.receptive_field`` on the kernel sizes and strides met so far.
    Global pooling layers see the whole image.

    Returns
    -------
    list of dict with "layer", "output_size" (height of the feature map) and
    "receptive_field" (side of the input square one unit depends on, in pixels, capped by
    nothing: it may exceed the image, whose border is zero padding).
    """
    from lab_utils import kernels
    keras = lesson.import_keras()
    models.require_model(model)
    sizes, strides, rows = [], [], []
    _, pairs = _layer_outputs(model)
    for layer, output in pairs:
        if isinstance(layer, keras.layers.Conv2D):
            sizes.append(int(layer.kernel_size[0]))
            strides.append(int(layer.strides[0]))
        elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            sizes.append(int(layer.pool_size[0]))
            strides.append(int(layer.strides[0]))
        elif isinstance(layer, (keras.layers.GlobalMaxPooling2D,
                                keras.layers.GlobalAveragePooling2D)):
            rows.append({"layer": layer.name, "output_size": 1,
                         "receptive_field": int(model.input_shape[1])})
            continue
        else:
            continue
        rows.append({"layer": layer.name, "output_size": int(output.shape[1]),
                     "receptive_field": kernels.receptive_field(sizes, strides)})
    return rows


def bright_centroid(image) -> tuple[float, float]:
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


def plot_receptive_fields(image, fields: list[dict], *, centre=None):
    """The image with one square per layer: the region one unit of that layer sees.

    The squares are centred on ``centre`` = (row, column); by default on the digit
    (``bright_centroid``), so that they show how much of the digit each layer takes in.
    """
    image = validation.as_image(image, "image", channels=(None,))
    if not isinstance(fields, list) or not fields:
        raise TypeError("fields must be the list returned by cnns.receptive_fields(model).")
    if centre is None:
        centre = bright_centroid(image)
    if not isinstance(centre, (tuple, list)) or len(centre) != 2:
        raise TypeError(f"centre must be (row, column), but got {validation.describe(centre)}.")
    row_centre, column_centre = (float(value) for value in centre)
    from matplotlib import patches
    figure = new_figure(figsize=(4.2, 4.2))
    axis = figure.subplots()
    axis.imshow(image, cmap="gray", vmin=0, vmax=1)
    colours = ["#e41a1c", "#ff7f00", "#4daf4a", "#377eb8", "#984ea3", "#a65628"]
    height, width = image.shape[:2]
    for colour, row in zip(colours * 4, fields):
        side = row["receptive_field"]
        # Only the part inside the image carries pixels: the rest would be padding zeros.
        left, right = max(-0.5, column_centre - side / 2), min(width - 0.5,
                                                              column_centre + side / 2)
        top, bottom = max(-0.5, row_centre - side / 2), min(height - 0.5, row_centre + side / 2)
        clipped = (right - left, bottom - top) != (side, side)
        axis.add_patch(patches.Rectangle((left, top), right - left, bottom - top,
                                         fill=False, edgecolor=colour, linewidth=2,
                                         label=f"{row['layer']}: {side}x{side}"
                                               + (" (clipped to the image)" if clipped else "")))
    axis.set_xlim(-0.5 - 0.5, width - 0.5 + 0.5)
    axis.set_ylim(height - 0.5 + 0.5, -0.5 - 0.5)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axis.set_title("what one unit of each layer sees (centred on the digit)", fontsize=9)
    return figure


# --------------------------------------------------------------------------------------------
# History: ImageNet top-5 error by year
# --------------------------------------------------------------------------------------------


def plot_imagenet_errors(table: dict):
    """Top-5 error of the ILSVRC winners by year, the human estimate dashed.

    Bars: grey before CNNs, blue for CNN entries (AlexNet's year in red). Every winning entry
    from 2012 on averaged several networks (an ensemble); where the paper gives the error of
    one network, a black dash marks it.

    Parameters
    ----------
    table : dict of columns, as returned by ``data.load_table("imagenet_top5")``
    """
    needed = {"year", "team", "model", "entry", "top5_error_percent",
              "single_model_top5_error_percent", "kind"}
    if not isinstance(table, dict) or not needed <= set(table):
        raise TypeError(f"table must be data.load_table('imagenet_top5') (columns "
                        f"{', '.join(sorted(needed))}).")
    lengths = {name: len(table[name]) for name in sorted(needed)}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"table's columns must have one entry per row, but their lengths "
                         f"differ: {lengths}.")
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool)
               for value in table["top5_error_percent"] + table["year"]):
        raise TypeError("table's 'year' and 'top5_error_percent' columns must hold numbers "
                        "(data.load_table converts them).")
    if "winner" not in table["kind"]:
        raise ValueError("table has no row whose kind is 'winner': nothing to plot.")
    winners = [i for i, kind in enumerate(table["kind"]) if kind == "winner"]
    humans = [i for i, kind in enumerate(table["kind"]) if kind != "winner"]
    years = [table["year"][i] for i in winners]
    errors = [table["top5_error_percent"][i] for i in winners]
    figure = new_figure(figsize=(6.8, 3.6))
    axis = figure.subplots()
    colours = ["#d62728" if "AlexNet" in table["model"][i] else
               ("#1f77b4" if table["year"][i] > 2012 else "#7f7f7f") for i in winners]
    axis.bar(years, errors, color=colours)
    for year, error, index in zip(years, errors, winners):
        axis.text(year, error + 0.5, f"{error:g}%\n{table['team'][index]}", ha="center",
                  fontsize=7)
        single = table["single_model_top5_error_percent"][index]
        if single is not None:
            axis.plot([year - 0.4, year + 0.4], [single, single], color="black", linewidth=2)
    for index in humans:
        axis.axhline(table["top5_error_percent"][index], color="black", linestyle="--",
                     linewidth=1)
        axis.text(years[0] - 0.4, table["top5_error_percent"][index] + 0.4,
                  f"human estimate {table['top5_error_percent'][index]:g}%", fontsize=7)
    axis.set_xticks(years)
    axis.set_xlabel("ILSVRC year (grey: before CNNs, red: AlexNet, blue: later CNNs; every "
                    "bar from 2012 on is an ensemble,\nblack dash: one network alone, "
                    "on the validation set)", fontsize=8)
    axis.set_ylabel("top-5 error (%)")
    axis.set_ylim(0, max(errors) * 1.25)
    return figure


# --------------------------------------------------------------------------------------------
# Live demo: perturb a test digit, watch the probabilities
# --------------------------------------------------------------------------------------------

#: Slider position 1.0 means this much of each perturbation (0 leaves the digit unchanged).
DEMO_RANGES = {"shift": (0.0, 10.0), "scale": (1.0, 0.4), "rotation": (0.0, 90.0),
               "occlusion": (0.0, 0.6), "noise": (0.0, 0.5)}


def perturbed_prediction(model, image, perturbation: str = "none", amount: float = 0.0,
                         seed: int = 0) -> dict:
    """Perturb one image and classify it.

    Parameters
    ----------
    model : keras.Model with softmax outputs
    image : ndarray (H, W), float in [0, 1]
    perturbation : "none" or one of ``pixels.PERTURBATIONS``
    amount : float in [0, 1]
        0 = unchanged, 1 = the strongest setting of ``DEMO_RANGES``.
    seed : int
        Fixes the direction of the shift, the position of the occluder, the noise.

    Returns
    -------
    dict with "image" (H, W) float32, "strength" (in the perturbation's own unit),
    "probabilities" (classes,) float32 and "predicted" (int).
    """
    picture, strength = _perturbed_image(image, perturbation, amount, seed)
    probabilities = models.predict_probabilities(model, picture[None])[0]
    return {"image": picture, "strength": strength, "probabilities": probabilities,
            "predicted": int(probabilities.argmax())}


def _perturbed_image(image, perturbation: str, amount: float, seed: int):
    """``perturbed_prediction``'s image half: (picture float32 in [0, 1], strength)."""
    image = validation.as_image(image, "image", channels=(None,))
    validation.one_of(perturbation, "perturbation", ("none",) + tuple(pixels.PERTURBATIONS))
    amount = validation.as_float(amount, "amount", minimum=0.0, maximum=1.0)
    picture = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    strength = 0.0
    if perturbation != "none":
        low, high = DEMO_RANGES[perturbation]
        strength = low + amount * (high - low)
        picture = pixels.perturb(picture[None], perturbation, strength, seed=seed)[0]
    return picture, float(strength)


def describe_perturbation(perturbation: str, strength: float) -> str:
    """The perturbation in words, with its unit (for captions): 'shifted by 3.0 pixels'."""
    validation.one_of(perturbation, "perturbation", ("none",) + tuple(pixels.PERTURBATIONS))
    strength = validation.as_float(strength, "strength", minimum=0.0)
    if perturbation == "shift":
        return f"shifted by {strength:.1f} pixels"
    if perturbation == "scale":
        return f"scaled to {strength:.2f}× its size"
    if perturbation == "rotation":
        return f"rotated by {strength:.0f}°"
    if perturbation == "occlusion":
        return f"partly hidden by a black square {strength:.0%} of the image's side"
    if perturbation == "noise":
        return f"with Gaussian noise of standard deviation {strength:.2f} (pixel values 0-1)"
    return "unchanged (no perturbation)"


def probability_bars_html(probabilities, class_names, *, true_label: int | None = None) -> str:
    """An HTML bar chart of class probabilities (fast to update in a widget)."""
    probabilities = validation.as_array(probabilities, "probabilities")
    if probabilities.ndim != 1 or len(probabilities) != len(class_names):
        raise ValueError(f"probabilities must have one value per class "
                         f"({len(class_names)}), but it has shape {probabilities.shape}.")
    best = int(probabilities.argmax())
    rows = []
    for index, (name, value) in enumerate(zip(class_names, probabilities)):
        colour = "#2ca02c" if index == best and (true_label in (None, best)) else (
            "#d62728" if index == best else "#9ecae1")
        marker = " ✔" if index == true_label else ""
        rows.append(f'<div style="display:flex;align-items:center;font:12px monospace">'
                    f'<span style="width:2.5em">{html.escape(str(name))}{marker}</span>'
                    f'<span style="display:inline-block;height:12px;width:{value * 220:.0f}px;'
                    f'background:{colour}"></span><span>&nbsp;{value:.0%}</span></div>')
    return "".join(rows)


def prediction_demo(model, images, labels, class_names, *, seed: int = 0) \
        -> widgets.Interactive:
    """Widget: choose a test digit and a perturbation; the softmax probabilities update.

    Parameters
    ----------
    model : keras.Model with softmax outputs
    images : ndarray (N, H, W), float in [0, 1]
    labels : ndarray (N,)
    class_names : list of str
    """
    import ipywidgets
    keras = lesson.import_keras()
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a trained Keras model, but got "
                        f"{validation.describe(model)}.")
    images = validation.as_array(images, "images")
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"images must have shape (N, height, width) with N >= 1, but it has "
                         f"shape {images.shape}.")
    models.check_input_shape(model, images.shape[1:] + (1,))
    models.as_batch(images)            # floats in [0, 1] or uint8, finite: refused up front
    labels = models.as_labels(labels, len(images))
    seed = validation.as_seed(seed)
    classes = int(model.output_shape[-1])
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, (list, tuple)):
        raise TypeError(f"class_names must be a list of the {classes} class names, e.g. "
                        f"split.class_names, but got {validation.describe(class_names)}.")
    if len(class_names) != classes:
        raise ValueError(f"class_names has {len(class_names)} names, but the model has "
                         f"{classes} outputs (one per class): pass split.class_names.")
    wide = {"style": {"description_width": "initial"}}
    controls = {
        "index": ipywidgets.IntSlider(0, 0, len(images) - 1, description="test image no.",
                                      **wide),
        "perturbation": ipywidgets.Dropdown(options=["none"] + list(pixels.PERTURBATIONS),
                                            value="shift", description="perturbation",
                                            layout=ipywidgets.Layout(width="14em"), **wide),
        # A fraction of the strongest setting (DEMO_RANGES); the caption gives it in the
        # perturbation's own unit. Greyed out while the perturbation is "none".
        "amount": ipywidgets.FloatSlider(0.0, min=0.0, max=1.0, step=0.05, readout_format=".0%",
                                         description="amount", **wide),
    }
    picture = ipywidgets.Image(format="png", width=160, height=160)
    bars = ipywidgets.HTML()
    caption = ipywidgets.HTML()
    shape = (1,) + images.shape[1:] + (1,)

    def probabilities_of(picture_array):
        # The model's compiled predict function: ~1 ms per call against ~5 ms (more under
        # load) for an eager model(x) call. Traced once, by the first render.
        with lesson.native_stderr_silenced():
            output = model.predict_on_batch(picture_array.reshape(shape))
        return np.asarray(output, dtype=np.float32)[0]

    def render(values):
        controls["amount"].disabled = values["perturbation"] == "none"
        picture_array, strength = _perturbed_image(images[values["index"]],
                                                   values["perturbation"], values["amount"],
                                                   seed)
        probabilities = probabilities_of(picture_array)
        predicted = int(probabilities.argmax())
        label = int(labels[values["index"]])
        picture.value = widgets.encode(widgets.upscale(picture_array, 5), "png")
        bars.value = probability_bars_html(probabilities, class_names, true_label=label)
        verdict = ("<b style='color:#2ca02c'>right</b>" if predicted == label
                   else "<b style='color:#d62728'>wrong</b>")
        change = describe_perturbation(values["perturbation"], strength)
        if values["perturbation"] == "none":
            change += ": choose a perturbation to use the amount slider"
        else:
            strongest = describe_perturbation(values["perturbation"],
                                              DEMO_RANGES[values["perturbation"]][1])
            change += f" (amount {values['amount']:.0%}; at 100%: {strongest})"
        caption.value = (f"Test image no. {values['index']}, a <b>"
                         f"{html.escape(str(class_names[label]))}</b>, {html.escape(change)}."
                         f"<br>Predicted <b>{html.escape(str(class_names[predicted]))}</b> "
                         f"({verdict}).")
        return {"image": picture_array, "strength": strength, "probabilities": probabilities,
                "predicted": predicted, "label": label}

    layout = ipywidgets.VBox([controls["index"],
                              ipywidgets.HBox([controls["perturbation"], controls["amount"]]),
                              caption, ipywidgets.HBox([picture, bars])])
    return widgets.Interactive(controls, render, layout)


# --------------------------------------------------------------------------------------------
# Exercise checks (each compares with what Keras layers report, never a stored solution)
# --------------------------------------------------------------------------------------------


def _keras_conv_shape(input_shape, filters, kernel_size, strides, padding):
    keras = lesson.import_keras()
    with _scratch_names():
        layer = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding)
    return tuple(int(s) for s in layer.compute_output_shape((None,) + tuple(input_shape))[1:])


def _keras_pool_shape(input_shape, pool_size, strides, padding):
    keras = lesson.import_keras()
    with _scratch_names():
        layer = keras.layers.MaxPooling2D(pool_size, strides=strides, padding=padding)
    return tuple(int(s) for s in layer.compute_output_shape((None,) + tuple(input_shape))[1:])


def _keras_conv_parameters(input_channels, filters, kernel_size):
    keras = lesson.import_keras()
    with _scratch_names():
        layer = keras.layers.Conv2D(filters, kernel_size)
        layer.build((None, kernel_size + 2, kernel_size + 2, input_channels))
    return int(layer.count_params())


def _as_shape_tuple(result):
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


def _expect_shape(result, expected, *, name, hint, mistakes):
    __tracebackhide__ = True
    shape = _as_shape_tuple(result)
    if result is None:
        exercises.fail(f"{name} returned None. Did you forget `return`?", hint)
    if shape is None:
        exercises.fail(f"{name} returned {exercises.describe_argument(result)}; expected a "
                       f"tuple of 3 whole numbers (height, width, channels) such as "
                       f"{expected}.", hint)
    if len(shape) != 3:
        exercises.fail(f"{name} returned {shape} ({len(shape)} numbers); expected 3: "
                       f"(height, width, channels), without the batch axis.", hint)
    if shape == expected:
        return
    for value, message in mistakes:
        if shape == value:
            exercises.fail(f"{name} returned {shape}, expected {expected}: {message}", hint)
    exercises.fail(f"{name} returned {shape}, expected {expected} (what Keras's layer "
                   f"gives).", hint)


_CONV_SHAPE_HINT = ("'valid': the kernel must fit inside the image, (n - k) // s + 1 "
                    "positions; 'same': Keras pads so that the output has ceil(n / s) "
                    "positions. The output has one channel per filter.")

CONV_SHAPE_CASES = [((28, 28, 1), 8, 3, 1, "valid"), ((28, 28, 1), 8, 3, 1, "same"),
                    ((32, 32, 3), 16, 5, 2, "valid"), ((32, 32, 3), 16, 5, 2, "same"),
                    ((7, 9, 3), 4, 3, 2, "same"), ((224, 224, 3), 64, 7, 2, "same"),
                    ((10, 12, 2), 6, 4, 3, "valid"), ((10, 12, 2), 6, 4, 1, "same")]


#: Library and kit functions that answer exercises 1-3 (and 4) directly (exercises.checker).
_SHAPE_SHORTCUTS = ["keras.layers.Conv2D", "keras.layers.MaxPooling2D",
                    "keras.layers.AveragePooling2D", "keras.layers.Layer.compute_output_shape",
                    "keras.layers.Conv2D.compute_output_shape",
                    "keras.layers.MaxPooling2D.compute_output_shape",
                    "keras.layers.Layer.count_params", "keras.ops.conv", "keras.ops.max_pool",
                    "keras.Model.summary", "lab_utils.models.layer_facts",
                    "lab_utils.models.layer_table", "lab_utils.models.summary_text",
                    "lab_utils.models.parameter_count", "lab_utils.cnns.dense_vs_conv_parameters",
                    "lab_utils.kernels.correlate", "lab_utils.kernels.window_positions",
                    "lab_utils.kernels.pool"]


@exercises.checker("conv_output_shape", forbid=_SHAPE_SHORTCUTS, time_limit=30)
def check_conv_output_shape(conv_output_shape):
    """Check ``conv_output_shape(input_shape, filters, kernel_size, strides, padding)``.

    Compared with ``keras.layers.Conv2D(...).compute_output_shape`` on square and
    non-square inputs, 'valid' and 'same' padding, strides 1-3.
    """
    __tracebackhide__ = True
    for shape, filters, size, stride, padding in CONV_SHAPE_CASES:
        name = (f"conv_output_shape({shape}, filters={filters}, kernel_size={size}, "
                f"strides={stride}, padding={padding!r})")
        result = conv_output_shape(shape, filters, size, stride, padding, name=name,
                                   hint=_CONV_SHAPE_HINT)
        expected = _keras_conv_shape(shape, filters, size, stride, padding)
        height, width, channels = shape
        other = "same" if padding == "valid" else "valid"
        half = (size - 1) // 2
        # The specific mistakes first: a wrong 'same' formula can give the 'valid' shape by
        # coincidence, and the message should name the formula, not the padding.
        mistakes = [
            (expected[:2] + (channels,), "the number of output channels is the number of "
                                         "filters, not the input's channels."),
            (((height - size) // stride, (width - size) // stride, filters),
             "one too small: count the first position of the kernel too (+ 1)."),
            (((height - size) + 1, (width - size) + 1, filters), "the stride is ignored."),
            ((-(-(height - size) // stride) + 1, -(-(width - size) // stride) + 1, filters)
             if padding == "valid" else None,
             "it rounds up; a kernel that would stick out of the image is not used (//)."),
            ((height // stride, width // stride, filters) if padding == "same" else None,
             "'same' with a stride rounds up: ceil(n / s), e.g. 7 / 2 -> 4, not n // s."),
            (((height + 2 * half - size) // stride + 1, (width + 2 * half - size) // stride + 1,
              filters) if padding == "same" else None,
             f"padding (k - 1) // 2 = {half} pixels on each side is the textbook rule for an "
             f"odd kernel; with an even kernel ({size} x {size}) it loses a pixel. Keras's "
             f"'same' pads k - 1 = {size - 1} pixels in total (one more at the bottom and "
             f"right), so the output always has ceil(n / s) positions."),
            (_keras_conv_shape(shape, filters, size, stride, other),
             f"that is the shape for padding={other!r}. "
             + ("'same' keeps the size (divided by the stride)." if padding == "same"
                else "'valid' adds no padding, so the kernel loses k - 1 pixels.")),
        ]
        _expect_shape(result, expected, name=name, hint=_CONV_SHAPE_HINT,
                      mistakes=[m for m in mistakes if m[0] is not None and m[0] != expected])
    return len(CONV_SHAPE_CASES)


_CONV_PARAMETERS_HINT = ("each filter has kernel_size x kernel_size x input_channels weights "
                         "plus one bias; there are `filters` of them.")

CONV_PARAMETER_CASES = [(1, 8, 3), (3, 64, 3), (32, 64, 3), (3, 16, 5), (64, 10, 1),
                        (16, 32, 7)]


@exercises.checker("conv_parameters", forbid=_SHAPE_SHORTCUTS, time_limit=30)
def check_conv_parameters(conv_parameters):
    """Check ``conv_parameters(input_channels, filters, kernel_size)`` against Keras.

    The expected value is ``count_params()`` of a built ``keras.layers.Conv2D``.
    """
    __tracebackhide__ = True
    for channels, filters, size in CONV_PARAMETER_CASES:
        name = (f"conv_parameters(input_channels={channels}, filters={filters}, "
                f"kernel_size={size})")
        result = conv_parameters(channels, filters, size, name=name, hint=_CONV_PARAMETERS_HINT)
        expected = _keras_conv_parameters(channels, filters, size)
        if validation.is_finite_number(result):
            mistakes = [
                (size * size * channels * filters, "the biases are missing: every filter "
                                                   "has one bias, so add `filters`."),
                (size * size * filters + filters, "each filter spans every input channel: "
                                                  "multiply by input_channels."),
                (size * size * channels * filters + channels,
                 "there is one bias per filter (output channel), not per input channel."),
                ((size * size + 1) * channels * filters,
                 "there is one bias per filter, not one per filter and input channel."),
                (size * channels * filters + filters, "a kernel is square: kernel_size x "
                                                      "kernel_size weights per channel."),
            ]
            for value, message in mistakes:
                if value != expected and float(result) == value:
                    exercises.fail(f"{name} returned {int(value)}, expected {expected}: "
                                   f"{message}", _CONV_PARAMETERS_HINT)
        exercises.expect_number(result, expected, name=name, hint=_CONV_PARAMETERS_HINT)
    return len(CONV_PARAMETER_CASES)


_POOL_SHAPE_HINT = ("a pooling window of size p with stride s fits (n - p) // s + 1 times "
                    "with 'valid' padding (a partial window at the edge is dropped), "
                    "ceil(n / s) times with 'same'. Pooling keeps the number of channels.")

POOL_SHAPE_CASES = [((4, 4, 1), 2, 2, "valid"), ((5, 5, 3), 2, 2, "valid"),
                    ((5, 5, 3), 2, 2, "same"), ((7, 6, 8), 3, 2, "valid"),
                    ((32, 32, 16), 2, 2, "valid"), ((9, 9, 4), 3, 1, "valid"),
                    ((13, 10, 2), 3, 3, "same")]


@exercises.checker("pool_output_shape", forbid=_SHAPE_SHORTCUTS, time_limit=30)
def check_pool_output_shape(pool_output_shape):
    """Check ``pool_output_shape(input_shape, pool_size, strides, padding)``.

    Compared with ``keras.layers.MaxPooling2D(...).compute_output_shape``.
    """
    __tracebackhide__ = True
    for shape, size, stride, padding in POOL_SHAPE_CASES:
        name = (f"pool_output_shape({shape}, pool_size={size}, strides={stride}, "
                f"padding={padding!r})")
        result = pool_output_shape(shape, size, stride, padding, name=name,
                                   hint=_POOL_SHAPE_HINT)
        expected = _keras_pool_shape(shape, size, stride, padding)
        height, width, channels = shape
        other = "same" if padding == "valid" else "valid"
        mistakes = [
            (_keras_pool_shape(shape, size, size, padding) if stride != size else None,
             f"that is the shape for strides={size}: the window moves by `strides` "
             f"({stride}) positions, which need not be the pool size ({size}; Keras uses "
             f"the pool size only when strides is not given)."),
            ((-(-(height - size) // stride) + 1, -(-(width - size) // stride) + 1, channels)
             if padding == "valid" else None,
             "off by one: with 'valid' padding a window that would stick out of the input is "
             "dropped, so round down (//)."),
            ((height // size, width // size, channels) if padding == "same" else None,
             "'same' rounds up: a partial window at the edge still gives an output."),
            (_keras_pool_shape(shape, size, stride, other),
             f"that is the shape for padding={other!r}."),
            (((height - size) // stride, (width - size) // stride, channels),
             "one too small: count the first window too (+ 1)."),
            (((height - size) + 1, (width - size) + 1, channels), "the stride is ignored."),
            (expected[:2] + (1,), "pooling works on each channel separately and keeps "
                                  "all of them."),
        ]
        _expect_shape(result, expected, name=name, hint=_POOL_SHAPE_HINT,
                      mistakes=[m for m in mistakes if m[0] is not None and m[0] != expected])
    return len(POOL_SHAPE_CASES)


#: The CNN that exercise 4 asks for, layer by layer (after the Input). ``None`` values come
#: from the arguments of ``build_cnn(input_shape, classes)``.
_CONV = {"kernel_size": (3, 3), "strides": (1, 1), "padding": "same", "activation": "linear",
         "use_bias": False}
_POOL = {"type": "MaxPooling2D", "pool_size": (2, 2), "strides": (2, 2), "padding": "valid"}
_NORMALISE = [{"type": "BatchNormalization", "momentum": 0.9},
              {"type": "Activation", "activation": "relu"}]
CNN_SPEC = [
    {"type": "RandomTranslation", "height_factor": 0.1, "width_factor": 0.1,
     "fill_mode": "constant"},
    {"type": "Conv2D", "filters": 32, **_CONV}, *_NORMALISE, _POOL,
    {"type": "Conv2D", "filters": 64, **_CONV}, *_NORMALISE, _POOL,
    {"type": "Conv2D", "filters": 64, **_CONV}, *_NORMALISE,
    {"type": "GlobalMaxPooling2D"},
    {"type": "Dense", "units": None, "activation": "softmax"},
]


def describe_spec(spec=None) -> str:
    """The spec as numbered lines, as the exercise shows it to students."""
    spec = CNN_SPEC if spec is None else spec
    if not isinstance(spec, (list, tuple)) or not all(
            isinstance(entry, dict) and isinstance(entry.get("type"), str) for entry in spec):
        raise TypeError(f"spec must be a list of layer descriptions, each a dict with a "
                        f"'type' such as {{'type': 'Conv2D', 'filters': 32}} (like "
                        f"cnns.CNN_SPEC), but got {validation.describe(spec)}.")
    lines = []
    for number, entry in enumerate(spec, start=1):
        options = ", ".join(f"{key}={'classes' if value is None else repr(value)}"
                            for key, value in entry.items() if key != "type")
        lines.append(f"{number}. {entry['type']}({options})")
    return "\n".join(lines)


def _layer_text(layer) -> str:
    config = layer.get_config()
    keys = [k for k in ("filters", "units", "kernel_size", "pool_size", "strides", "padding",
                        "activation", "use_bias", "momentum", "height_factor", "width_factor",
                        "fill_mode") if k in config]
    return f"{type(layer).__name__}(" + ", ".join(f"{k}={config[k]!r}" for k in keys) + ")"


_BUILD_HINT = ("use keras.Input(shape=input_shape), then call each layer on the previous "
               "output: x = keras.layers.Conv2D(32, 3, padding='same', use_bias=False)(x), "
               "x = keras.layers.BatchNormalization(momentum=0.9)(x), ..., and return "
               "keras.Model(inputs, outputs). Use the arguments input_shape and classes rather "
               "than fixed numbers.")


@exercises.checker("build_cnn", forbid=["lab_utils.models.cnn_classifier",
                                         "lab_utils.models.load", "keras.saving.load_model",
                                         "keras.models.clone_model",
                                         "keras.models.model_from_json"], time_limit=120)
def check_build_cnn(build_cnn):
    """Check ``build_cnn(input_shape, classes)`` layer by layer against ``CNN_SPEC``.

    For two input shapes and class counts, the model's layers must have the spec's types
    and settings in order, and each layer's output shape and parameter count must equal
    those of the same Keras layer applied to the expected input.
    """
    __tracebackhide__ = True
    keras = lesson.import_keras()
    cases = [((32, 32, 1), 10), ((24, 20, 3), 5)]
    with _scratch_names():      # the student's own model, built later, gets the plain names
        _check_build_cnn_cases(build_cnn, cases, keras)
    return len(cases)


def _is_plain_relu_layer(layer) -> bool:
    """keras.layers.ReLU() with its defaults computes exactly Activation('relu')."""
    if type(layer).__name__ != "ReLU":
        return False
    config = layer.get_config()
    return (config.get("max_value") is None and not config.get("negative_slope")
            and not config.get("threshold"))


def _source_mentions(student, name: str) -> bool:
    """Whether the student's source code mentions ``name`` (a layer type); True if unknown."""
    import inspect
    try:
        return name in inspect.getsource(student.function)
    except (OSError, TypeError):
        return True


def _missing_layers_message(student, layers) -> str:
    """Say why layers of the spec are missing: a ReLU inside Conv2D, a layer never written, or
    a layer written but not connected (Keras leaves those out)."""
    kinds = [type(layer).__name__ for layer in layers]
    spec_kinds = [entry["type"] for entry in CNN_SPEC]
    missing = list(dict.fromkeys(kind for kind in spec_kinds
                                 if kinds.count(kind) < spec_kinds.count(kind)))
    inside = [layer for layer in layers if type(layer).__name__ == "Conv2D"
              and layer.get_config().get("activation") not in (None, "linear")]
    lines = [f"\nMissing: {', '.join(missing)}."]
    if inside and "Activation" in missing:
        lines.append(f"Your Conv2D layers apply the activation themselves "
                     f"(activation={inside[0].get_config()['activation']!r}). The spec keeps "
                     f"each Conv2D linear and applies the ReLU after the normalisation, as its "
                     f"own layer: Conv2D(..., use_bias=False), BatchNormalization(momentum=0.9), "
                     f"Activation('relu').")
        missing.remove("Activation")
    never_written = [kind for kind in missing if not _source_mentions(student, kind)]
    unconnected = [kind for kind in missing if kind not in never_written]
    if never_written:
        lines.append(f"Your code has no {' or '.join(never_written)} layer: add "
                     f"{'it' if len(never_written) == 1 else 'them'} where the spec says.")
    if unconnected:
        lines.append(f"Your code creates {' and '.join(unconnected)}, but the model does not "
                     f"contain {'it' if len(unconnected) == 1 else 'them'}: a layer whose output "
                     f"is never used is not part of the model (Keras silently leaves it out). "
                     f"Did you call the next layer on the previous input (e.g. on `inputs`) "
                     f"instead of on the layer's output `x`?")
    return " ".join(lines) if len(lines) > 1 else ""


def _check_build_cnn_cases(build_cnn, cases, keras):
    __tracebackhide__ = True
    for input_shape, classes in cases:
        name = f"build_cnn({input_shape}, classes={classes})"
        model = build_cnn(input_shape, classes, name=name, hint=_BUILD_HINT)
        if model is None:
            exercises.fail(f"{name} returned None. Did you forget `return model`?",
                           _BUILD_HINT)
        if not isinstance(model, keras.Model):
            exercises.fail(f"{name} returned {exercises.describe_argument(model)}; expected "
                           f"a keras.Model.", _BUILD_HINT)
        if tuple(model.input_shape[1:]) != input_shape:
            exercises.fail(f"{name}: the model's input shape is {model.input_shape[1:]}, "
                           f"expected {input_shape}.", _BUILD_HINT)
        layers = [layer for layer in model.layers
                  if type(layer).__name__ not in ("InputLayer", "Dropout")]
        if len(layers) != len(CNN_SPEC):
            found = "\n".join(f"  {i}. {_layer_text(layer)}"
                              for i, layer in enumerate(layers, start=1))
            unused = ""
            if len(layers) < len(CNN_SPEC):
                unused = _missing_layers_message(build_cnn, layers)
            exercises.fail(f"{name} has {len(layers)} layers after the Input, the spec has "
                           f"{len(CNN_SPEC)}. Yours:\n{found}\nThe spec:\n"
                           f"{describe_spec()}{unused}", _BUILD_HINT)
        shape = input_shape
        for number, (layer, entry) in enumerate(zip(layers, CNN_SPEC), start=1):
            where = f"{name}, layer {number}"
            kind = type(layer).__name__
            if (entry["type"] == "Activation" and entry.get("activation") == "relu"
                    and _is_plain_relu_layer(layer)):
                continue        # keras.layers.ReLU() is Activation('relu'); same shape
            if kind != entry["type"]:
                extra = ""
                if kind == "Flatten" and entry["type"] == "GlobalMaxPooling2D":
                    extra = (" Flatten keeps every position (and makes the last Dense layer "
                             "much larger); GlobalMaxPooling2D keeps each filter's strongest "
                             "response anywhere in the image.")
                exercises.fail(f"{where} is {_layer_text(layer)}; the spec asks for "
                               f"{entry['type']} here.{extra}", _BUILD_HINT)
            config = layer.get_config()
            for key, wanted in entry.items():
                if key == "type":
                    continue
                wanted = classes if wanted is None else wanted
                actual = config.get(key)
                if isinstance(actual, list):
                    actual = tuple(actual)
                if actual != wanted:
                    exercises.fail(f"{where} ({kind}) has {key}={actual!r}; the spec says "
                                   f"{key}={wanted!r}.", _BUILD_HINT)
            reference = keras.layers.deserialize({"class_name": kind, "config": config,
                                                  "module": "keras.layers"})
            facts = models.layer_facts(reference, shape)
            actual_shape = tuple(int(s) for s in layer.output.shape[1:])
            if actual_shape != facts["output_shape"]:
                exercises.fail(f"{where} ({kind}) outputs {actual_shape}, but on the output "
                               f"of the previous layer, {shape}, it should give "
                               f"{facts['output_shape']}: is it connected to the previous "
                               f"layer?", _BUILD_HINT)
            if int(layer.count_params()) != facts["parameters"]:
                exercises.fail(f"{where} ({kind}) has {layer.count_params()} parameters, "
                               f"expected {facts['parameters']}.", _BUILD_HINT)
            shape = facts["output_shape"]
        if tuple(model.output_shape[1:]) != (classes,):
            exercises.fail(f"{name} outputs shape {model.output_shape[1:]}, expected "
                           f"({classes},): one probability per class.", _BUILD_HINT)
