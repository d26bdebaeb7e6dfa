"""Lesson 03 "Perceptrons": weighted sums, activations, forward and backward propagation, losses.

Which file holds what:

* ``compute``: toy 2-D datasets, the perceptron learning rule, activation curves and their
  derivatives (``keras.activations`` and automatic differentiation), the collapse of stacked
  linear layers, the losses' curves;
* ``backprop``: the lesson's two-layer network computed by Keras (the references of the
  forward and backward exercises), its loss, gradients (automatic and numerical), training;
* ``training``: the playground's live training: decision-boundary images, the shared Keras
  networks and ``PlaygroundTrainer``;
* ``widgets``: the playground and the loss explorer, with their SVG line plots;
* ``plots``: one perceptron drawn with its numbers, the activations and their derivatives;
* ``checks``: the checks of the lesson's exercises, each comparing with Keras.

Keras is imported inside the functions that need it (``lesson.import_keras``), so importing
this package stays light.
"""

from lab_utils.perceptrons.backprop import (
    autodiff_backward,
    fit_with_keras,
    keras_forward,
    keras_network,
    keras_weighted_sum,
    network_loss,
    numerical_gradient,
    relative_error,
)
from lab_utils.perceptrons.checks import (
    check_backward,
    check_binary_cross_entropy,
    check_categorical_cross_entropy,
    check_forward,
    check_mse,
    check_relu,
    check_relu_derivative,
    check_sigmoid,
    check_sigmoid_derivative,
    check_weighted_sum,
)
from lab_utils.perceptrons.compute import (
    ACTIVATIONS,
    DATASETS,
    EXTENT,
    MULTICLASS_DATASETS,
    PerceptronResult,
    activation_curves,
    collapse_linear_layers,
    gradient,
    loss_curves,
    make_dataset,
    step,
    train_perceptron,
)
from lab_utils.perceptrons.plots import draw_perceptron, plot_activations
from lab_utils.perceptrons.training import (
    CLASS_COLOUR_NAMES,
    CLASS_COLOURS,
    LEARNING_RATES,
    PLAYGROUND_ACTIVATIONS,
    PlaygroundTrainer,
    boundary_image,
    build_network,
    colour_key,
    grid_points,
)
from lab_utils.perceptrons.widgets import (
    Playground,
    loss_explorer,
    nice_ticks,
    playground,
    svg_line_plot,
)

__all__ = [
    "ACTIVATIONS",
    "CLASS_COLOURS",
    "CLASS_COLOUR_NAMES",
    "DATASETS",
    "EXTENT",
    "LEARNING_RATES",
    "MULTICLASS_DATASETS",
    "PLAYGROUND_ACTIVATIONS",
    "PerceptronResult",
    "Playground",
    "PlaygroundTrainer",
    "activation_curves",
    "autodiff_backward",
    "boundary_image",
    "build_network",
    "check_backward",
    "check_binary_cross_entropy",
    "check_categorical_cross_entropy",
    "check_forward",
    "check_mse",
    "check_relu",
    "check_relu_derivative",
    "check_sigmoid",
    "check_sigmoid_derivative",
    "check_weighted_sum",
    "collapse_linear_layers",
    "colour_key",
    "draw_perceptron",
    "fit_with_keras",
    "gradient",
    "grid_points",
    "keras_forward",
    "keras_network",
    "keras_weighted_sum",
    "loss_curves",
    "loss_explorer",
    "make_dataset",
    "network_loss",
    "nice_ticks",
    "numerical_gradient",
    "playground",
    "plot_activations",
    "relative_error",
    "step",
    "svg_line_plot",
    "train_perceptron",
]
