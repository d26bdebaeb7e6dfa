"""Lesson 04 "CNNs": why dense networks fail on images, and what a CNN learns.

Which file holds what:

* ``compute``: the data split, the parameter counts (dense against convolution), the
  comparison runner (SVM, dense network and CNN trained in one run) and its evaluation;
* ``features``: what the CNN learned: first-layer filters against lesson 02's kernels,
  feature maps, receptive fields;
* ``robustness``: accuracy under lesson 01's perturbations (``pixels.perturb``), and one
  perturbed digit classified;
* ``widgets``: the live prediction demo;
* ``plots``: learning curves, confusion matrix, filters, feature maps, receptive fields,
  ImageNet errors;
* ``checks``: the checks of the lesson's exercises and ``CNN_SPEC``, the network exercise 4
  asks for.

Models are built and trained with ``lab_utils.models``. Importing this package does not
import TensorFlow.
"""

from lab_utils.cnns.checks import (
    CNN_SPEC,
    check_build_cnn,
    check_conv_output_shape,
    check_conv_parameters,
    check_pool_output_shape,
    describe_spec,
)
from lab_utils.cnns.compute import (
    DENSE_UNITS,
    EPOCHS,
    Comparison,
    Split,
    compare_classifiers,
    confusion,
    dense_vs_conv_parameters,
    misclassified,
    split_dataset,
)
from lab_utils.cnns.features import (
    bright_centroid,
    chance_similarity,
    feature_maps,
    first_layer_filters,
    most_similar_filters,
    receptive_fields,
)
from lab_utils.cnns.plots import (
    plot_confusion,
    plot_feature_maps,
    plot_filters_and_kernels,
    plot_imagenet_errors,
    plot_learning_curves,
    plot_receptive_fields,
)
from lab_utils.cnns.robustness import (
    DEMO_RANGES,
    SWEEP_STRENGTHS,
    describe_perturbation,
    perturbed_prediction,
    robustness_sweep,
)
from lab_utils.cnns.widgets import prediction_demo, probability_bars_html

__all__ = [
    "CNN_SPEC",
    "DEMO_RANGES",
    "DENSE_UNITS",
    "EPOCHS",
    "SWEEP_STRENGTHS",
    "Comparison",
    "Split",
    "bright_centroid",
    "chance_similarity",
    "check_build_cnn",
    "check_conv_output_shape",
    "check_conv_parameters",
    "check_pool_output_shape",
    "compare_classifiers",
    "confusion",
    "dense_vs_conv_parameters",
    "describe_perturbation",
    "describe_spec",
    "feature_maps",
    "first_layer_filters",
    "misclassified",
    "most_similar_filters",
    "perturbed_prediction",
    "plot_confusion",
    "plot_feature_maps",
    "plot_filters_and_kernels",
    "plot_imagenet_errors",
    "plot_learning_curves",
    "plot_receptive_fields",
    "prediction_demo",
    "probability_bars_html",
    "receptive_fields",
    "robustness_sweep",
    "split_dataset",
]
