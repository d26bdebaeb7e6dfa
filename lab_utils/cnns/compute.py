"""Lesson 04's computation: one stratified split of the data, the parameter counts that show
why dense networks fail on images, the comparison runner (SVM, dense network and CNN trained
in one run) and its evaluation (confusion matrix, misclassified examples).

What the CNN learned (filters, feature maps, receptive fields) is in ``features``; its
robustness to lesson 01's perturbations in ``robustness``. Models are built and trained with
``lab_utils.models``. Importing this module does not import TensorFlow.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import time
from collections.abc import Iterator

import numpy as np

from lab_utils import lesson, models, validation

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
        """How many images each part holds: {"train": ..., "validation": ..., "test": ...}."""
        return {
            "train": len(self.train_labels),
            "validation": len(self.validation_labels),
            "test": len(self.test_labels),
        }


#: Fraction of the whole set held out for the validation curves.
VALIDATION_FRACTION = 0.1


def split_dataset(
    dataset: object, *, test_fraction: float = 0.2, seed: int = 0, max_value: float | None = None
) -> Split:
    """Split a ``data.Dataset`` into train / validation / test parts, stratified by class.

    Parameters
    ----------
    dataset : data.Dataset
        Images (N, H, W), each at most ``validation.MAX_IMAGE_PIXELS``: floats in [0, 1],
        uint8 in [0, 255], or gray levels up to ``dataset.max_value`` (16 for the digits).
    test_fraction : float
        Fraction of the whole set held out for testing (``VALIDATION_FRACTION`` more is held
        out for the validation curves).
    seed : int
        Fixes which images land in which part.
    max_value : float, optional
        The largest possible gray level, which becomes 1.0 (default: ``dataset.max_value``,
        else 1 for floats and 255 for uint8). The scale is never guessed from the values
        present: images whose values exceed it are refused with an explanation.
    """
    from sklearn.model_selection import train_test_split

    if not hasattr(dataset, "images") or not hasattr(dataset, "labels"):
        raise TypeError(
            f"dataset must be a data.Dataset (with .images and .labels), e.g. "
            f"data.load_dataset('placed_digits'), but got "
            f"{validation.describe(dataset)}."
        )
    test_fraction = validation.as_float(test_fraction, "test_fraction", minimum=0.05, maximum=0.5)
    seed = validation.as_seed(seed)
    images = validation.as_array(dataset.images, "dataset.images")
    if images.ndim != 3:
        raise ValueError(
            f"dataset.images must have shape (N, height, width), but it has shape {images.shape}."
        )
    validation.check_size(images.shape[1:], "each image of dataset.images")
    validation.require_finite(images, "dataset.images")
    images = images.astype(np.float32) / np.float32(_gray_scale(images, dataset, max_value))
    labels = models.as_labels(dataset.labels, len(images), name="dataset.labels")
    indices = np.arange(len(images))
    rest, test = train_test_split(
        indices, test_size=test_fraction, stratify=labels, random_state=seed
    )
    train, held = train_test_split(
        rest,
        test_size=VALIDATION_FRACTION / (1 - test_fraction),
        stratify=labels[rest],
        random_state=seed,
    )
    return Split(
        images[train],
        labels[train],
        images[held],
        labels[held],
        images[test],
        labels[test],
        list(dataset.class_names),
    )


def _gray_scale(images: np.ndarray, dataset: object, max_value: float | None) -> float:
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
            raise TypeError(
                f"dataset.images has dtype {images.dtype}, whose scale the kit "
                f"does not guess: pass max_value=<the largest possible gray "
                f"level> (4095 for 12-bit, 65535 for 16-bit images)."
            )
    max_value = validation.as_float(max_value, source, minimum=1e-12)
    if images.size == 0:
        return max_value
    low, high = float(images.min()), float(images.max())
    if low < 0:
        raise ValueError(
            f"dataset.images has negative values (down to {low:g}); gray levels "
            f"run from 0 (black) to {max_value:g} (white)."
        )
    if high > max_value:
        raise ValueError(
            f"dataset.images has values up to {high:g}, above the largest gray "
            f"level {max_value:g} ({source}). The kit does not guess the scale: "
            f"pass max_value=<the largest possible gray level>, e.g. 16 for "
            f"scikit-learn's digits, 255 for 8-bit photos, 100 for percentages."
        )
    if images.dtype == np.uint8 and high == 1:
        raise ValueError(
            "dataset.images is uint8 but holds only 0 and 1: it looks like [0, 1] "
            "floats cast with .astype(np.uint8), which rounds every value down. "
            "Keep the floats, or convert with np.round(images * 255).astype("
            "np.uint8)."
        )
    return max_value


# --------------------------------------------------------------------------------------------
# Dense limitations, measured
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def scratch_names() -> Iterator[None]:
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
    except Exception:  # another Keras layout: names are cosmetic, go on without
        yield
        return
    try:
        yield
    finally:
        global_state.set_global_attribute(
            "object_name_uids", collections.defaultdict(int, saved or {})
        )


def dense_vs_conv_parameters(
    input_shape: tuple = (224, 224, 3), *, units: int = 100, filters: int = 64, kernel_size: int = 3
) -> list[dict]:
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
    kernel_size = validation.as_int(kernel_size, "kernel_size", minimum=1, maximum=min(shape[:2]))
    pixels_in = int(np.prod(shape))
    if pixels_in * units > 400_000_000:
        raise ValueError(
            f"a dense layer with {units} units on {shape} would need "
            f"{pixels_in * units:,} weights (more than 1.6 GB): use fewer units."
        )
    rows = []
    with scratch_names():
        # A Dense layer sees a flat vector: Flatten first, as a dense network would.
        dense = models.layer_facts(keras.layers.Dense(units), (pixels_in,))
        conv = models.layer_facts(keras.layers.Conv2D(filters, kernel_size, padding="same"), shape)
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
        """The row of the classifier called ``name`` ("SVM", "dense", "CNN"...)."""
        for row in self.rows:
            if row["model"] == name:
                return row
        raise KeyError(
            f"no classifier called {name!r}; there are {', '.join(r['model'] for r in self.rows)}."
        )

    def joined(self, other: Comparison) -> Comparison:
        """This comparison followed by ``other``'s classifiers, as one comparison.

        A lesson trains its networks in two cells (each cell stays short) and then reads
        one table; the SVM is kept from whichever of the two fitted it.
        """
        if not isinstance(other, Comparison):
            raise TypeError(
                f"other must be the result of cnns.compare_classifiers(...), but got "
                f"{validation.describe(other)}."
            )
        shared = {row["model"] for row in self.rows} & {row["model"] for row in other.rows}
        if shared:
            raise ValueError(
                f"both comparisons have a classifier called {', '.join(sorted(shared))}; "
                f"give the networks different names."
            )
        svm = self.svm if self.svm is not None else other.svm
        return Comparison(self.rows + other.rows, {**self.trained, **other.trained}, svm)

    def table(self) -> str:
        """The rows as a fixed-width text table.

        For the SVM, "parameters" counts the numbers it stores to classify (its support
        vectors, i.e. training images, plus their weights), not learned weights.
        """
        width = max([10] + [len(row["model"]) for row in self.rows])
        lines = [
            f"{'model':<{width}} {'test accuracy':>13} {'parameters':>11} "
            f"{'training s':>10} {'CPU s':>7}"
        ]
        for row in self.rows:
            lines.append(
                f"{row['model']:<{width}} {row['test_accuracy']:>13.1%} "
                f"{row['parameters']:>11,} {row['training_seconds']:>10.1f} "
                f"{row['cpu_seconds']:>7.1f}"
            )
        return "\n".join(lines)


#: The lesson's settings for the placed-digits comparison (the notebook and
#: ``benchmarks/cnns.py`` use the same): hidden units of the dense network, epochs per network.
DENSE_UNITS = (256, 128)

EPOCHS = {"dense": 30, "CNN": 15}


def _svm_parameters(svm: object) -> int:
    """Numbers an RBF SVM stores to classify: its support vectors, their weights, intercepts."""
    return int(svm.support_vectors_.size + svm.dual_coef_.size + svm.intercept_.size)


#: The SVM's regularisation constant C. 10 was the best of 1, 10 and 100 on the validation
#: images of ``placed_digits`` (41 %, 52 %, 52 %), so the baseline is tuned, not a straw man.
SVM_C = 10.0

#: Adam's learning rate for every network of the comparison.
LEARNING_RATE = 3e-3

#: Images per forward pass when the lesson measures accuracies. The default of
#: ``models.predict_probabilities`` (512) runs the 360 test images at once, and the feature maps
#: of the unpooled 32 x 32 networks then raise the kernel's peak memory: 6 passes of the two
#: Flatten networks added 300 MiB at 512, 92 MiB at 64 (measured, TensorFlow 2.21).
PREDICT_BATCH = 64


def batched_accuracy(network: object, images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of ``images`` (N, H, W) that ``network`` classifies as ``labels`` (0-1),
    computed ``PREDICT_BATCH`` images at a time (same result as ``models.accuracy``)."""
    probabilities = models.predict_probabilities(network, images, batch_size=PREDICT_BATCH)
    labels = models.as_labels(labels, len(probabilities), probabilities.shape[1])
    return float(np.mean(probabilities.argmax(axis=1) == labels))


def compare_classifiers(
    split: Split,
    networks: dict,
    *,
    epochs: int | dict = 15,
    batch_size: int = 64,
    svm: bool = True,
    seed: int = 0,
) -> Comparison:
    """Train an SVM (optional) and each Keras network on ``split``; measure them on its test set.

    Parameters
    ----------
    split : Split
    networks : dict of str -> keras.Model
        New, untrained models (e.g. ``{"dense": ..., "CNN": ...}``), trained in this order.
    epochs : int or dict of str -> int
        Epochs for every network, or per network name.
    batch_size : training setting shared by the networks (Adam, learning rate
        ``LEARNING_RATE``).
    svm : bool
        Also fit scikit-learn's ``SVC`` (RBF kernel, ``gamma="scale"``, C = ``SVM_C``) on the
        raw pixels.
    seed : int

    Returns
    -------
    Comparison
    """
    epochs = _check_comparison_arguments(split, networks, epochs)
    rows, trained, classifier = [], {}, None
    if svm:
        row, classifier = _fit_svm(split)
        rows.append(row)
    for name, network in networks.items():
        # Initial weights drawn from ``seed`` alone, not from whatever earlier cells drew:
        # the lesson and benchmarks/cnns.py then train identical networks and print the
        # same figures (the README quotes the benchmark).
        with scratch_names():  # the clone's layers use up no automatic names
            models.reinitialise(network, seed)
        result = models.train(
            network,
            split.train_images,
            split.train_labels,
            validation_data=(split.validation_images, split.validation_labels),
            epochs=epochs[name],
            batch_size=batch_size,
            learning_rate=LEARNING_RATE,
            seed=seed,
        )
        trained[name] = result
        rows.append(
            {
                "model": name,
                "test_accuracy": batched_accuracy(network, split.test_images, split.test_labels),
                "parameters": models.parameter_count(network),
                "training_seconds": result.seconds,
                "cpu_seconds": result.cpu_seconds,
            }
        )
    return Comparison(rows, trained, classifier)


def _check_comparison_arguments(split: Split, networks: dict, epochs: int | dict) -> dict:
    """Check ``compare_classifiers``' arguments; return the epochs per network name."""
    keras = lesson.import_keras()
    if not isinstance(split, Split):
        raise TypeError(
            f"split must be the result of cnns.split_dataset(...), but got "
            f"{validation.describe(split)}."
        )
    if not isinstance(networks, dict) or not all(
        isinstance(m, keras.Model) for m in networks.values()
    ):
        raise TypeError(
            "networks must be a dict mapping a name to a Keras model, e.g. "
            "{'CNN': models.cnn_classifier((32, 32, 1), 10)}."
        )
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
            raise ValueError(
                f"networks[{name!r}] has no input shape yet: build it with "
                f"keras.Input(shape={expected})."
            ) from None
        if shape not in (expected, expected[:2]):
            raise ValueError(
                f"networks[{name!r}] expects inputs of shape {shape}, but the "
                f"split's images have shape {expected}: build it with "
                f"input_shape=split.image_shape."
            )
    return epochs


def _fit_svm(split: Split) -> tuple[dict, object]:
    """Fit the SVM baseline on the raw pixels: (its row of the comparison, the SVC)."""
    from sklearn.svm import SVC

    flat = split.train_images.reshape(len(split.train_images), -1)
    start, cpu_start = time.perf_counter(), time.process_time()
    classifier = SVC(C=SVM_C).fit(flat, split.train_labels)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    score = classifier.score(
        split.test_images.reshape(len(split.test_images), -1), split.test_labels
    )
    row = {
        "model": "SVM",
        "test_accuracy": float(score),
        "parameters": _svm_parameters(classifier),
        "training_seconds": seconds,
        "cpu_seconds": cpu,
        "support_vectors": int(classifier.support_vectors_.shape[0]),
    }
    return row, classifier


# --------------------------------------------------------------------------------------------
# Evaluation: confusion matrix and misclassified examples
# --------------------------------------------------------------------------------------------


def confusion(labels: np.ndarray, predictions: np.ndarray, classes: int) -> np.ndarray:
    """Confusion matrix (classes, classes) int64: row = true class, column = predicted class."""
    from sklearn.metrics import confusion_matrix

    classes = validation.as_int(classes, "classes", minimum=2)
    labels = models.as_labels(labels, len(validation.as_array(labels, "labels")), classes)
    predictions = models.as_labels(predictions, len(labels), classes, name="predictions")
    return confusion_matrix(labels, predictions, labels=np.arange(classes)).astype(np.int64)


def misclassified(probabilities: np.ndarray, labels: np.ndarray) -> list[dict]:
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
        raise ValueError(
            f"probabilities must have shape (N, classes), but it has shape {probabilities.shape}."
        )
    labels = models.as_labels(labels, len(probabilities), probabilities.shape[1])
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    confidence = probabilities[wrong, predicted[wrong]]
    return [
        {
            "index": int(i),
            "label": int(labels[i]),
            "predicted": int(predicted[i]),
            "confidence": float(c),
        }
        for i, c in sorted(zip(wrong, confidence), key=lambda pair: -pair[1])
    ]
