"""Every exercise check refuses a one-line shortcut: calling the library (or kit) function that
computes the answer, written in a notebook cell.

``SHORTCUTS`` holds one such line per check registered in ``exercises.CHECKS``. A new check
fails ``test_every_registered_check_has_a_shortcut_test`` until its shortcut is added here, so
a check without a forbid list cannot slip in. ``HIDDEN_SHORTCUTS`` reaches the same functions
through ``getattr`` (invisible to the source check): the run-time watch must catch them.
"""

import importlib
import linecache
import pkgutil

import numpy as np
import pytest

import lab_utils
from lab_utils import exercises

#: check ("module.check_name") -> the source of a notebook cell defining the shortcut ``f``.
SHORTCUTS = {
    # lesson 01
    "lab_utils.pixels.check_to_grayscale": "from skimage import color\ndef f(image):\n    return color.rgb2gray(image)\n",
    "lab_utils.pixels.check_normalise": "from skimage import util\ndef f(image):\n    return util.img_as_float(image)\n",
    "lab_utils.pixels.check_pixel_distance": "from scipy.spatial import distance\ndef f(a, b):\n"
    "    return distance.euclidean(a.ravel().astype(float), b.ravel().astype(float))\n",
    # lesson 02
    "lab_utils.kernels.check_output_size": "def f(n, k, s, p):\n    return keras.layers.Conv2D(1, k, strides=s)"
    ".compute_output_shape((1, n + 2 * p, n + 2 * p, 1))[1]\n",
    "lab_utils.kernels.check_conv2d_loops": "from scipy import signal\ndef f(image, kernel):\n"
    "    return signal.correlate2d(image, kernel, 'valid')\n",
    "lab_utils.kernels.check_conv2d": "from lab_utils import kernels\ndef f(image, kernel, stride, padding):\n"
    "    return kernels.correlate(image, kernel, padding, stride)\n",
    "lab_utils.kernels.check_max_pool2d": "from lab_utils import kernels\ndef f(m, size, stride):\n"
    "    return kernels.pool(m, size)\n",
    "lab_utils.kernels.check_average_pool2d": "from skimage.measure import block_reduce\ndef f(m, size, stride):\n"
    "    return block_reduce(m, (size, size), np.mean)\n",
    # lesson 03
    "lab_utils.perceptrons.check_weighted_sum": "from lab_utils import perceptrons\ndef f(x, w, b):\n"
    "    return perceptrons.keras_weighted_sum(x, w, b)\n",
    "lab_utils.perceptrons.check_sigmoid": "from scipy.special import expit\ndef f(z):\n    return expit(z)\n",
    "lab_utils.perceptrons.check_sigmoid_derivative": "def f(z):\n    s = np.asarray(keras.ops.sigmoid(z))\n    return s * (1 - s)\n",
    "lab_utils.perceptrons.check_relu": "def f(z):\n    return np.asarray(keras.activations.relu(z))\n",
    "lab_utils.perceptrons.check_relu_derivative": "from lab_utils import perceptrons\ndef f(z):\n"
    "    return perceptrons.activation_curves(z, ['relu'])['relu'][1]\n",
    "lab_utils.perceptrons.check_forward": "from lab_utils import perceptrons\ndef f(x, W1, b1, W2, b2):\n"
    "    return perceptrons.keras_forward(x, W1, b1, W2, b2)\n",
    "lab_utils.perceptrons.check_backward": "from lab_utils import perceptrons\ndef f(x, y, W1, b1, W2, b2):\n"
    "    return perceptrons.autodiff_backward(x, y, W1, b1, W2, b2)\n",
    "lab_utils.perceptrons.check_mse": "from sklearn.metrics import mean_squared_error\ndef f(y, p):\n"
    "    return mean_squared_error(y, p)\n",
    "lab_utils.perceptrons.check_binary_cross_entropy": "def f(y, p):\n    return float(np.mean(keras.losses.binary_crossentropy(y, p)))\n",
    "lab_utils.perceptrons.check_categorical_cross_entropy": "from sklearn.metrics import log_loss\ndef f(y, p):\n    return log_loss(y, p)\n",
    # lesson 04
    "lab_utils.cnns.check_conv_output_shape": "def f(shape, filters, size, strides, padding):\n"
    "    return keras.layers.Conv2D(filters, size, strides=strides, padding=padding)"
    ".compute_output_shape((None,) + shape)[1:]\n",
    "lab_utils.cnns.check_conv_parameters": "def f(channels, filters, size):\n    layer = keras.layers.Conv2D(filters, size)\n"
    "    layer.build((None, 9, 9, channels))\n    return layer.count_params()\n",
    "lab_utils.cnns.check_pool_output_shape": "def f(shape, size, strides, padding):\n"
    "    return keras.layers.MaxPooling2D(size, strides=strides, padding=padding)"
    ".compute_output_shape((None,) + shape)[1:]\n",
    "lab_utils.cnns.check_build_cnn": "from lab_utils import models\ndef f(shape, classes):\n"
    "    return models.cnn_classifier(shape, classes, filters=(32, 64, 64), "
    "head='global_max', batch_norm=True, random_shift=0.1)\n",
    # lesson 05
    "lab_utils.detection.check_xywh_to_xyxy": "from keras.utils import bounding_boxes\ndef f(boxes):\n"
    "    return np.asarray(bounding_boxes.convert_format(boxes, 'xywh', 'xyxy'))\n",
    "lab_utils.detection.check_iou": "from keras.utils import bounding_boxes\ndef f(a, b):\n"
    "    return float(np.asarray(bounding_boxes.compute_iou(a[None], b[None], 'xyxy'))[0, 0])\n",
    "lab_utils.detection.check_nms": "import tensorflow as tf\ndef f(boxes, scores, t):\n"
    "    return tf.image.non_max_suppression(boxes[:, [1, 0, 3, 2]], scores, len(boxes), "
    "iou_threshold=t).numpy()\n",
    "lab_utils.detection.check_multitask_loss": "def f(p, labels, boxes, targets, w):\n"
    "    return float(keras.losses.SparseCategoricalCrossentropy()(labels, p)) + "
    "w * float(keras.losses.MeanSquaredError()(targets, boxes))\n",
    "lab_utils.detection.check_match_detections": "from lab_utils import detection\ndef f(found, scores, truths, t):\n"
    "    return detection.match_detections(found, scores, truths, iou_threshold=t)\n",
    "lab_utils.detection.check_label_anchors": "from keras.utils import bounding_boxes\ndef f(anchors, truths):\n"
    "    iou = np.asarray(bounding_boxes.compute_iou(anchors, truths, 'xyxy'))\n"
    "    return np.where(iou.max(1) >= 0.5, iou.argmax(1), -1), np.asarray(bounding_boxes."
    "encode_box_to_deltas(anchors, truths[iou.argmax(1)], 'xyxy', 'xyxy', encoding_format='center_xywh'))\n",
    # lesson 06 (the source check stops these before any call)
    "lab_utils.faces.check_pairwise_squared_distances": "from scipy.spatial.distance import cdist\ndef f(embeddings):\n"
    "    return cdist(embeddings, embeddings, 'sqeuclidean')\n",
    "lab_utils.faces.check_triplet_loss": "from lab_utils import faces\ndef f(anchor, positive, negative, margin):\n"
    "    return faces.triplet_loss_keras(anchor, positive, negative, margin)\n",
    "lab_utils.faces.check_choose_threshold": "from sklearn.metrics import roc_curve\ndef f(distances, same):\n"
    "    return roc_curve(same, -distances)[2][1]\n",
    "lab_utils.faces.check_identify": "from lab_utils import faces\ndef f(gallery, names, probes, threshold):\n"
    "    return faces.identify(gallery, names, probes, threshold)\n",
    "lab_utils.faces.check_semi_hard_negative": "from lab_utils import faces\n"
    "def f(distances, labels, anchor, positive, margin):\n"
    "    return faces.semi_hard_choice(distances, labels, anchor, positive, margin)\n",
}

#: The same kind of shortcut, hidden from the source check by getattr (run-time watch only).
HIDDEN_SHORTCUTS = {
    "lab_utils.pixels.check_to_grayscale": "from skimage import color\ndef f(image):\n"
    "    return getattr(color, 'rgb2' + 'gray')(image)\n",
    "lab_utils.pixels.check_pixel_distance": "from scipy.spatial import distance\ndef f(a, b):\n    return getattr(distance, "
    "'eucl' + 'idean')(a.ravel().astype(float), b.ravel().astype(float))\n",
    "lab_utils.kernels.check_conv2d_loops": "from scipy import signal\ndef f(image, kernel):\n"
    "    return getattr(signal, 'correlate' + '2d')(image, kernel, 'valid')\n",
    "lab_utils.kernels.check_max_pool2d": "from lab_utils import kernels\ndef f(m, size, stride):\n"
    "    return getattr(kernels, 'po' + 'ol')(m, size)\n",
    "lab_utils.perceptrons.check_forward": "from lab_utils import perceptrons\ndef f(x, W1, b1, W2, b2):\n"
    "    return getattr(perceptrons, 'keras_' + 'forward')(x, W1, b1, W2, b2)\n",
    "lab_utils.perceptrons.check_mse": "def f(y, p):\n    return float(np.mean(getattr(keras.losses, 'mean_squared' + "
    "'_error')(y, p)))\n",
    "lab_utils.detection.check_iou": "from keras.utils import bounding_boxes\ndef f(a, b):\n"
    "    return float(np.asarray(getattr(bounding_boxes, 'compute' + '_iou')(a[None], b[None], "
    "'xyxy'))[0, 0])\n",
    "lab_utils.detection.check_nms": "import tensorflow as tf\ndef f(boxes, scores, t):\n"
    "    return getattr(tf.image, 'non_max' + '_suppression')(boxes[:, [1, 0, 3, 2]], scores, "
    "len(boxes), iou_threshold=t).numpy()\n",
    "lab_utils.cnns.check_conv_output_shape": "def f(shape, filters, size, strides, padding):\n"
    "    layer = getattr(keras.layers, 'Con' + 'v2D')(filters, size, strides=strides, "
    "padding=padding)\n    return getattr(layer, 'compute_output' + '_shape')"
    "((None,) + shape)[1:]\n",
    "lab_utils.cnns.check_conv_parameters": "def f(channels, filters, size):\n"
    "    layer = getattr(keras.layers, 'Con' + 'v2D')(filters, size)\n"
    "    layer.build((None, 9, 9, channels))\n"
    "    return getattr(layer, 'count' + '_params')()\n",
    "lab_utils.cnns.check_build_cnn": "from lab_utils import models\ndef f(shape, classes):\n"
    "    return getattr(models, 'cnn_' + 'classifier')(shape, classes, filters=(32, 64, 64), "
    "head='global_max', batch_norm=True, random_shift=0.1)\n",
}


def _all_checks() -> dict:
    """exercises.CHECKS after importing every lab_utils module (each registers its checks).

    The instructor-only modules (grading and its nbgrader plug-ins) hold no checks and need
    packages that `make test-fast` does not install, so they are left out.
    """
    for module in pkgutil.iter_modules(lab_utils.__path__):
        if not module.name.startswith("_") and module.name not in INSTRUCTOR_MODULES:
            importlib.import_module(f"lab_utils.{module.name}")
    return exercises.CHECKS


INSTRUCTOR_MODULES = {"grading", "sandbox", "trusted", "prepare"}


def _registered(key: str):
    """The check ``key``, or a skip while its lesson module is not in this checkout yet."""
    checks = _all_checks()
    if key not in checks:
        pytest.skip(f"{key} is not registered (its lesson module is not here)")
    return checks[key]


def _notebook_function(source: str, key: str):
    """Run ``source`` as a notebook cell would (module __main__, source findable) -> ``f``."""
    from lab_utils import lesson

    name = f"<shortcut {key}>"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    namespace = {"__name__": "__main__", "np": np, "keras": lesson.import_keras()}
    exec(compile(source, name, "exec"), namespace)
    return namespace["f"]


def test_every_registered_check_has_a_shortcut_test():
    # A check with an empty forbid list declares that no library function computes its answer.
    # Checks that tests define for themselves (tests.test_exercises...) are not lessons'.
    missing = sorted(
        key
        for key, check in _all_checks().items()
        if key.startswith("lab_utils.") and check.forbid and key not in SHORTCUTS
    )
    assert not missing, (
        f"add a one-line library shortcut for {missing} to SHORTCUTS in "
        f"tests/test_shortcuts.py (and give the check a forbid list)"
    )


@pytest.mark.parametrize("key", sorted(SHORTCUTS))
def test_check_rejects_a_one_line_shortcut(key):
    check = _registered(key)
    with pytest.raises(exercises.ExerciseIncorrect, match=r"calls \S+\(\)"):
        check(_notebook_function(SHORTCUTS[key], key))


@pytest.mark.parametrize("key", sorted(HIDDEN_SHORTCUTS))
def test_check_rejects_a_shortcut_hidden_by_getattr(key):
    check = _registered(key)
    with pytest.raises(exercises.ExerciseIncorrect, match=r"\(reached at run time\)"):
        check(_notebook_function(HIDDEN_SHORTCUTS[key], key))


def test_shortcut_tables_have_no_duplicate_keys():
    # A repeated key in a dict literal silently replaces the earlier entry (and its test).
    import ast
    import collections
    import pathlib

    tree = ast.parse(pathlib.Path(__file__).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys = [key.value for key in node.keys if isinstance(key, ast.Constant)]
            repeated = [key for key, count in collections.Counter(keys).items() if count > 1]
            assert not repeated, f"keys given twice (line {node.lineno}): {repeated}"
