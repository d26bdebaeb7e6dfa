"""lab_utils.perceptrons (lesson 03): datasets, perceptron rule, activations, playground, checks.

Right answers for the checks are written here with NumPy (and compared by the checks with
Keras); typical wrong answers must be recognised with a specific message.
"""

import asyncio
import subprocess
import sys

import numpy as np
import pytest

from lab_utils import exercises, lesson, perceptrons

keras = lesson.import_keras()


# --------------------------------------------------------------------------------------------
# Importing stays light
# --------------------------------------------------------------------------------------------


def test_import_does_not_load_tensorflow():
    code = (
        "import sys, lab_utils.perceptrons; "
        "sys.exit(int('tensorflow' in sys.modules or 'keras' in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# --------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", perceptrons.DATASETS)
def test_every_dataset_has_points_in_the_square_and_balanced_labels(name):
    classes = 3 if name in perceptrons.MULTICLASS_DATASETS else 2
    points, labels = perceptrons.make_dataset(name, 120, classes=classes, seed=4)
    assert points.shape == (120, 2) and points.dtype == np.float64
    assert labels.shape == (120,) and labels.dtype == np.int64
    assert np.abs(points).max() <= perceptrons.EXTENT
    assert set(np.unique(labels)) == set(range(classes))
    assert np.bincount(labels).min() >= 120 // classes - 12


def test_datasets_are_reproducible_from_the_seed():
    first = perceptrons.make_dataset("spiral", 90, classes=3, seed=7)
    again = perceptrons.make_dataset("spiral", 90, classes=3, seed=7)
    other = perceptrons.make_dataset("spiral", 90, classes=3, seed=8)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


def test_xor_labels_follow_the_quadrants_without_noise():
    points, labels = perceptrons.make_dataset("xor", 200, noise=0.0)
    assert np.array_equal(labels, (points[:, 0] * points[:, 1] > 0).astype(int))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(name="spirals"), ValueError, "name must be one of 'blobs'"),
        (dict(name="xor", classes=3), ValueError, "exactly 2 classes"),
        (dict(name="blobs", n_samples=5), ValueError, "n_samples must be at least 10"),
        (dict(name="blobs", n_samples=100.0), TypeError, "n_samples must be a whole number"),
        (dict(name="blobs", noise=-0.1), ValueError, "noise must be at least 0"),
        (dict(name="blobs", classes=9), ValueError, "classes must be at most 6"),
    ],
)
def test_make_dataset_rejects_bad_inputs(kwargs, error, message):
    with pytest.raises(error, match=message):
        perceptrons.make_dataset(**kwargs)


# --------------------------------------------------------------------------------------------
# The perceptron
# --------------------------------------------------------------------------------------------


def test_step_is_one_from_zero_up():
    assert np.array_equal(perceptrons.step(np.array([-1.0, 0.0, 2.0])), [0.0, 1.0, 1.0])


@pytest.mark.parametrize(
    "value, error, message",
    [
        ("abc", TypeError, "z must be a NumPy array"),
        (np.array(["a"]), TypeError, "z must hold numbers"),
        (np.array([1 + 2j]), TypeError, "real numbers"),
    ],
)
def test_step_rejects_bad_inputs(value, error, message):
    with pytest.raises(error, match=message):
        perceptrons.step(value)


def test_perceptron_rule_converges_on_separable_blobs_and_not_on_xor():
    points, labels = perceptrons.make_dataset("blobs", 200, noise=0.0)
    result = perceptrons.train_perceptron(points, labels)
    assert result.converged and np.array_equal(result.predict(points), labels)
    points, labels = perceptrons.make_dataset("xor", 200, noise=0.05)
    result = perceptrons.train_perceptron(points, labels, epochs=50)
    assert not result.converged and len(result.errors) == 50
    assert np.mean(result.predict(points) == labels) < 0.8


@pytest.mark.parametrize(
    "points, labels, kwargs, error, message",
    [
        (np.zeros((4, 3)), np.zeros(4, int), {}, ValueError, r"shape \(N, 2\)"),
        (
            np.zeros((4, 2)),
            np.zeros(3, int),
            {},
            ValueError,
            r"labels must have one class index per example, shape \(4,\)",
        ),
        (np.zeros((4, 2)), np.array([0, 1, 2, 1]), {}, ValueError, "below 2"),
        (np.zeros((4, 2)), np.zeros(4), {}, TypeError, "whole class indices"),
        (
            np.zeros((4, 2)),
            np.zeros(4, int),
            {"learning_rate": 0},
            ValueError,
            "learning_rate must be at least",
        ),
        (
            np.zeros((4, 2)),
            np.zeros(4, int),
            {"epochs": 2.5},
            TypeError,
            "epochs must be a whole number",
        ),
        ([[np.nan, 0.0]], [0], {}, ValueError, "NaN or infinite"),
        (
            np.zeros((4, 2)),
            np.array([-1, 1, 1, -1]),
            {},
            ValueError,
            r"use 0/1 labels.*\(labels \+ 1\) // 2|0/1 labels: use \(labels \+ 1\) // 2",
        ),
    ],
)
def test_train_perceptron_rejects_bad_inputs(points, labels, kwargs, error, message):
    with pytest.raises(error, match=message):
        perceptrons.train_perceptron(points, labels, **kwargs)


def test_perceptron_result_predict_rejects_bad_points():
    result = perceptrons.PerceptronResult(np.ones(2), 0.0, [0], True)
    for bad, error in [(np.zeros(2), ValueError), ("x", TypeError), (np.zeros((0, 2)), ValueError)]:
        with pytest.raises(error, match="points must"):
            result.predict(bad)


def test_draw_perceptron_writes_the_numbers():
    figure = perceptrons.draw_perceptron([1.0, 0.5], [0.4, -1.0], 0.5, "sigmoid")
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert "w = 0.4" in texts and "b = 0.5" in texts
    assert any("= 0.4" in text for text in texts)  # the weighted sum 0.4
    assert "output = 0.599" in texts  # sigmoid(0.4)


@pytest.mark.parametrize(
    "args, error, message",
    [
        (([1.0, 2.0], [1.0], 0.0), ValueError, "one number per input"),
        (([[1.0, 2.0]], [[1.0, 2.0]], 0.0), ValueError, "flat list"),
        (([1.0], [1.0], "b"), TypeError, "bias must be a number"),
        (([1.0], [1.0], 0.0, "softmax"), ValueError, "activation must be one of"),
    ],
)
def test_draw_perceptron_rejects_bad_inputs(args, error, message):
    with pytest.raises(error, match=message):
        perceptrons.draw_perceptron(*args)


# --------------------------------------------------------------------------------------------
# Activations, autodiff, collapse of linear layers
# --------------------------------------------------------------------------------------------


def test_activation_curves_match_formulas_and_derivatives():
    z = np.array([-2.0, -0.5, 0.5, 3.0])
    curves = perceptrons.activation_curves(z)
    s = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(curves["sigmoid"][0], s, rtol=1e-12)
    np.testing.assert_allclose(curves["sigmoid"][1], s * (1 - s), rtol=1e-12)
    np.testing.assert_allclose(curves["tanh"][1], 1 - np.tanh(z) ** 2, rtol=1e-12)
    np.testing.assert_array_equal(curves["relu"][1], [0, 0, 1, 1])
    np.testing.assert_array_equal(curves["step"], (np.array([0, 0, 1, 1.0]), np.zeros(4)))
    np.testing.assert_array_equal(curves["linear"][1], np.ones(4))
    p = np.exp(z) / (np.exp(z) + 2)
    np.testing.assert_allclose(curves["softmax"], (p, p * (1 - p)), rtol=1e-12)


@pytest.mark.parametrize(
    "z, names, error, message",
    [
        (np.zeros((2, 2)), ["relu"], ValueError, r"shape \(N,\)"),
        (np.array([]), ["relu"], ValueError, r"shape \(N,\)"),
        (np.zeros(3), ["swish"], ValueError, "activation name must be one of"),
        ("1.0", ["relu"], TypeError, "z must be a NumPy array"),
    ],
)
def test_activation_curves_reject_bad_inputs(z, names, error, message):
    with pytest.raises(error, match=message):
        perceptrons.activation_curves(z, names)


def test_plot_activations_has_one_panel_per_activation():
    figure = perceptrons.plot_activations(names=["sigmoid", "relu"])
    assert [axis.get_title() for axis in figure.axes if axis.axison] == ["sigmoid", "relu"]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(names=["gelu"]), ValueError, "activation name must be one of"),
        (dict(z=np.zeros((3, 3))), ValueError, r"shape \(N,\)"),
        (dict(z="z"), TypeError, "z must be a NumPy array"),
    ],
)
def test_plot_activations_rejects_bad_inputs(kwargs, error, message):
    with pytest.raises(error, match=message):
        perceptrons.plot_activations(**kwargs)


def test_gradient_of_a_sum_of_squares():
    (result,) = perceptrons.gradient(lambda t: keras.ops.sum(t**2), np.array([1.0, -2.0]))
    np.testing.assert_allclose(result, [2.0, -4.0])


@pytest.mark.parametrize(
    "function, arrays, error, message",
    [
        ("f", (np.zeros(2),), TypeError, "function must be callable"),
        (lambda t: t, (), ValueError, "at least one array"),
        (lambda t: t, ("x",), TypeError, r"arrays\[0\] must be a NumPy array"),
    ],
)
def test_gradient_rejects_bad_inputs(function, arrays, error, message):
    with pytest.raises(error, match=message):
        perceptrons.gradient(function, *arrays)


def test_stacked_linear_layers_collapse_into_one():
    rng = np.random.default_rng(0)
    layers = [
        (rng.normal(size=(2, 4)), rng.normal(size=4)),
        (rng.normal(size=(4, 5)), rng.normal(size=5)),
        (rng.normal(size=(5, 3)), rng.normal(size=3)),
    ]
    weights, bias = perceptrons.collapse_linear_layers(layers)
    x = rng.normal(size=(6, 2))
    stacked = x
    for w, b in layers:
        stacked = stacked @ w + b
    assert weights.shape == (2, 3) and bias.shape == (3,)
    np.testing.assert_allclose(x @ weights + bias, stacked, rtol=1e-12)


@pytest.mark.parametrize(
    "layers, error, message",
    [
        ([], TypeError, "non-empty list of"),
        ([(np.zeros((2, 3)),)], TypeError, r"layers\[0\] must be a pair"),
        ([(np.zeros((2, 3)), np.zeros(2))], ValueError, r"b of shape \(outputs,\)"),
        (
            [(np.zeros((2, 3)), np.zeros(3)), (np.zeros((4, 1)), np.zeros(1))],
            ValueError,
            "expects 4 inputs, but the layer before it has 3 outputs",
        ),
    ],
)
def test_collapse_linear_layers_rejects_bad_inputs(layers, error, message):
    with pytest.raises(error, match=message):
        perceptrons.collapse_linear_layers(layers)


# --------------------------------------------------------------------------------------------
# Pictures: grid, boundary image, SVG plots
# --------------------------------------------------------------------------------------------


def test_grid_points_run_row_by_row_from_the_top_left():
    grid = perceptrons.grid_points(4, extent=1.0)
    assert grid.shape == (16, 2)
    np.testing.assert_allclose(grid[0], [-0.75, 0.75])
    np.testing.assert_allclose(grid[3], [0.75, 0.75])
    np.testing.assert_allclose(grid[-1], [0.75, -0.75])


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(resolution=1), ValueError, "resolution must be at least 2"),
        (dict(resolution="80"), TypeError, "resolution must be a whole number"),
        (dict(extent=0.0), ValueError, "extent must be at least"),
    ],
)
def test_grid_points_rejects_bad_inputs(kwargs, error, message):
    with pytest.raises(error, match=message):
        perceptrons.grid_points(**kwargs)


def test_boundary_image_colours_classes_and_draws_points():
    probabilities = np.zeros((16, 2))
    probabilities[:8, 0] = 1.0  # top half: class 0 (orange)
    probabilities[8:, 1] = 1.0  # bottom half: class 1 (blue)
    image = perceptrons.boundary_image(probabilities, 4, scale=2)
    assert image.shape == (8, 8, 3) and image.dtype == np.uint8
    assert image[0, 0, 0] > image[0, 0, 2] and image[7, 7, 2] > image[7, 7, 0]
    with_point = perceptrons.boundary_image(
        np.full((400, 3), 1 / 3), 20, np.array([[0.0, 0.0]]), np.array([2]), scale=3
    )
    centre = with_point[30, 30].astype(int)
    assert centre[1] > centre[0] and centre[1] > centre[2]  # a green (class 2) dot


@pytest.mark.parametrize(
    "probabilities, kwargs, error, message",
    [
        (np.zeros((15, 2)), {}, ValueError, r"shape \(16, K\)"),
        (np.zeros((16, 7)), {}, ValueError, "K from 2 to 6"),
        (np.full((16, 2), 2.0), {}, ValueError, r"in \[0, 1\]"),
        (
            np.full((16, 2), 0.5),
            dict(points=np.zeros((1, 2)), labels=np.array([5])),
            ValueError,
            "below 2",
        ),
        ("p", {}, TypeError, "probabilities must be a NumPy array"),
    ],
)
def test_boundary_image_rejects_bad_inputs(probabilities, kwargs, error, message):
    with pytest.raises(error, match=message):
        perceptrons.boundary_image(probabilities, 4, **kwargs)


def test_svg_line_plot_draws_one_polyline_per_curve_and_a_marker():
    svg = perceptrons.svg_line_plot(
        np.arange(3), {"a": [0, 1, 2], "b": [2, np.inf, 0]}, marker_x=1.0
    )
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and "<line" in svg


def test_svg_line_plot_labels_round_ticks_outside_the_frame_and_cuts_what_leaves_it():
    svg = perceptrons.svg_line_plot(
        np.linspace(0, 1, 5),
        {"BCE": [9, 4, 2, 1, 0]},
        ylim=(0, 4),
        xlabel="prediction",
        ylabel="loss",
        height=220,
    )
    for tick in ("0", "1", "2", "3", "4"):  # every round value, not 0 and 4
        assert f'text-anchor="end">{tick}</text>' in svg
    assert 'clip-path="url(#' in svg and "<clipPath" in svg  # 9 is cut at the frame
    assert ">-0<" not in svg and "rotate(-90)" in svg


@pytest.mark.parametrize(
    "low, high, count, expected",
    [
        (0, 4, 6, [0, 1, 2, 3, 4]),
        (0.001, 0.999, 6, [0.2, 0.4, 0.6, 0.8]),
        (0, 1.2, 4, [0, 0.5, 1]),
        (-2.5, 7.3, 5, [-2, 0, 2, 4, 6]),
        (0, 3000, 5, [0, 1000, 2000, 3000]),
    ],
)
def test_nice_ticks_are_round_numbers_inside_the_range(low, high, count, expected):
    np.testing.assert_allclose(perceptrons.nice_ticks(low, high, count), expected)


def test_nice_ticks_reject_an_empty_range():
    with pytest.raises(ValueError, match="finite low < high"):
        perceptrons.nice_ticks(1, 1)


@pytest.mark.parametrize(
    "x, curves, error, message",
    [
        (np.arange(1), {"a": [1]}, ValueError, "at least 2 numbers"),
        (np.arange(3), {}, TypeError, "non-empty dict"),
        (np.arange(3), {"a": [1, 2]}, ValueError, r"must have shape \(3,\) like x"),
    ],
)
def test_svg_line_plot_rejects_bad_inputs(x, curves, error, message):
    with pytest.raises(error, match=message):
        perceptrons.svg_line_plot(x, curves)


# --------------------------------------------------------------------------------------------
# The playground: trainer and widget, driven headlessly
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((1, 0, "tanh", 2), {}, ValueError, "units must be at least 1"),
        ((1, 4, "softplus", 2), {}, ValueError, "activation must be one of"),
        ((1, 4, "tanh", 1), {}, ValueError, "classes must be at least 2"),
        ((-1, 4, "tanh", 2), {}, ValueError, "hidden_layers must be at least 0"),
        ((1, 4, "tanh", 2), {"dtype": "int8"}, ValueError, "dtype must be one of"),
    ],
)
def test_build_network_rejects_bad_inputs(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        perceptrons.build_network(*args, **kwargs)


@pytest.mark.slow  # trains a model: seconds to tens of seconds on a loaded machine
def test_trainer_learns_xor_with_a_hidden_layer_but_not_without():
    points, labels = perceptrons.make_dataset("xor", 200, noise=0.05)
    hidden = perceptrons.PlaygroundTrainer(
        points, labels, hidden_layers=1, units=4, activation="tanh", learning_rate=1.0
    )
    first = hidden.train(1)
    hidden.train(199)
    assert hidden.steps == 200 and len(hidden.losses) == 200 and hidden.losses[-1] < first
    assert hidden.accuracy() > 0.9 and hidden.ms_per_step > 0
    single = perceptrons.PlaygroundTrainer(points, labels, hidden_layers=0, learning_rate=1.0)
    single.train(200)
    assert single.accuracy() < 0.8  # a straight line: at most ~3 of 4 quadrants
    probabilities = hidden.probabilities(points[:5])
    assert probabilities.shape == (5, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_trainer_rejects_bad_inputs():
    points, labels = perceptrons.make_dataset("blobs", 20)
    with pytest.raises(
        ValueError, match=r"labels must have one class index per example, shape \(20,\)"
    ):
        perceptrons.PlaygroundTrainer(points, labels[:5])
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        perceptrons.PlaygroundTrainer(points[:, :1], labels)
    with pytest.raises(TypeError, match="whole class indices"):
        perceptrons.PlaygroundTrainer(points, labels.astype(float))
    with pytest.raises(ValueError, match="activation must be one of"):
        perceptrons.PlaygroundTrainer(points, labels, activation="step")
    trainer = perceptrons.PlaygroundTrainer(points, labels)
    with pytest.raises(ValueError, match="steps must be at least 1"):
        trainer.train(0)
    with pytest.raises(TypeError, match="learning_rate must be a number"):
        trainer.set_learning_rate("fast")
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        trainer.probabilities(np.zeros(2))


def test_playground_steps_redraws_and_switches_datasets():
    widget = perceptrons.playground(
        dataset="circles",
        hidden_layers=1,
        units=4,
        learning_rate=1.0,
        steps_per_tick=20,
        resolution=30,
    )
    assert widget.state["step"] == 0 and widget.state["image"].shape == (300, 300, 3)
    assert widget.controls["classes"].disabled  # circles have two classes
    loss = widget.state["loss"]
    widget.step_button.click()  # what a click does
    assert widget.state["step"] == 20 and not widget.state["rebuilt"]
    for _ in range(5):
        widget.step()
    assert widget.state["step"] == 120 and widget.state["loss"] < loss
    assert widget.state["ms_per_step"] > 0

    widget.controls["learning_rate"].value = 0.1  # changes in place
    assert not widget.state["rebuilt"] and widget.state["step"] == 120
    assert np.isclose(float(widget.trainer.model.optimizer.learning_rate), 0.1)

    with widget.hold():  # more than two classes
        widget.controls["dataset"].value = "spiral"
        widget.controls["classes"].value = 4
    assert widget.state["rebuilt"] and widget.state["classes"] == 4
    assert widget.state["step"] == 0 and not widget.controls["classes"].disabled
    widget.step()
    assert widget.trainer.model.output_shape == (None, 4)

    widget.reset_button.click()
    assert widget.state["step"] == 0 and widget.state["rebuilt"]


def test_playground_settings_reuse_the_compiled_network_and_show_the_rate_in_use():
    widget = perceptrons.playground(
        dataset="spiral", classes=3, hidden_layers=1, units=4, resolution=20
    )
    widget.step(2)
    network = widget.trainer.model
    widget.controls["noise"].value = 0.2  # new data, same shape of network
    assert widget.state["rebuilt"] and widget.state["step"] == 0
    assert widget.trainer.model is network  # no new Keras model
    before = [w.copy() for w in widget.trainer.weights]
    widget.step(3)  # trains from its own fresh weights
    assert widget.state["step"] == 3 and not np.allclose(before[0], widget.trainer.weights[0])
    # The drawing is a NumPy forward pass of the same weights as the Keras network
    points = widget.trainer.points[:20]
    np.testing.assert_allclose(
        widget.trainer.probabilities(points),
        np.asarray(network(points.astype(np.float32))),
        atol=1e-5,
    )
    # Learning rate: no editable readout (typed text would be ignored); the value is shown
    rate = widget.controls["learning_rate"]
    assert rate.readout is False and rate.continuous_update
    rate.value = 3.0
    assert "<b>3</b>" in widget.layout.children[0].children[6].children[1].value
    assert "learning rate 3" in widget.layout.children[1].children[1].value


def test_playground_says_when_the_training_diverged():
    widget = perceptrons.playground(dataset="blobs", resolution=20)
    widget.trainer.weights[0][:] = np.nan  # what an exploding training leaves
    state = widget.refresh()
    assert state["diverged"] and "diverged" in widget.layout.children[1].children[1].value
    assert state["image"].shape == (300, 300, 3)


def test_playground_play_runs_on_the_event_loop_and_stops():
    widget = perceptrons.playground(dataset="moons", steps_per_tick=2, resolution=20)
    widget.step()  # build the training graph first

    async def play_for(seconds):
        widget.play_button.value = True
        assert widget.play_button.description == "pause"
        await asyncio.sleep(seconds)
        widget.play_button.value = False
        steps = widget.state["step"]
        await asyncio.sleep(0.2)  # nothing runs after the stop
        return steps, widget.state["step"]

    stopped_at, later = asyncio.run(play_for(0.8))
    assert stopped_at > 2 and later == stopped_at
    assert widget.play_button.description == "play"


def test_playground_step_rejects_bad_step_counts():
    widget = perceptrons.playground(dataset="blobs", resolution=20)
    for steps, error, message in [
        (0, ValueError, "steps must be at least 1"),
        (1.5, TypeError, "steps must be a whole number"),
        ("10", TypeError, "steps must be a whole number"),
    ]:
        with pytest.raises(error, match=message):
            widget.step(steps)
    assert widget.state["step"] == 0


def test_only_one_playground_plays_at_a_time():
    first = perceptrons.playground(dataset="moons", steps_per_tick=1, resolution=20)
    second = perceptrons.playground(dataset="xor", steps_per_tick=1, resolution=20)

    async def press_play_on_both():
        first.play_button.value = True
        second.play_button.value = True  # pauses the first
        playing = (first.play_button.value, second.play_button.value)
        third = perceptrons.playground(dataset="blobs", steps_per_tick=1, resolution=20)
        return playing, second.play_button.value, third

    playing, second_after, third = asyncio.run(press_play_on_both())
    assert playing == (False, True) and second_after is False  # a new one pauses the old
    assert third.play_button.value is False


def test_playground_play_without_an_event_loop_says_to_use_step():
    widget = perceptrons.playground(dataset="blobs", resolution=20)
    widget.play_button.value = True
    assert widget.play_button.value is False
    assert "use step" in widget.state["message"]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(dataset="spirals"), ValueError, "dataset must be one of"),
        (dict(learning_rate=0.2), ValueError, "learning_rate must be one of"),
        (dict(units=0), ValueError, "units must be at least 1"),
        (dict(noise="low"), TypeError, "noise must be a number"),
    ],
)
def test_playground_rejects_bad_inputs(kwargs, error, message):
    with pytest.raises(error, match=message):
        perceptrons.playground(**kwargs)


# --------------------------------------------------------------------------------------------
# Losses: curves and explorer
# --------------------------------------------------------------------------------------------


def test_loss_curves_follow_the_formulas():
    p = np.array([0.1, 0.5, 0.9])
    curves = perceptrons.loss_curves(1, p)
    np.testing.assert_allclose(curves["MSE"], (1 - p) ** 2, rtol=1e-6)
    np.testing.assert_allclose(curves["MAE"], 1 - p, rtol=1e-6)
    np.testing.assert_allclose(curves["BCE"], -np.log(p), rtol=1e-6)


@pytest.mark.parametrize(
    "target, predictions, error, message",
    [
        (2, np.array([0.5]), ValueError, "target must be at most 1"),
        (1, np.array([1.5]), ValueError, r"probabilities in \[0, 1\]"),
        (1, np.zeros((2, 2)), ValueError, r"shape \(N,\)"),
        (0.5, np.array([0.5]), TypeError, "target must be a whole number"),
    ],
)
def test_loss_curves_reject_bad_inputs(target, predictions, error, message):
    with pytest.raises(error, match=message):
        perceptrons.loss_curves(target, predictions)


def test_loss_explorer_updates_when_the_prediction_moves():
    widget = perceptrons.loss_explorer(target=1, prediction=0.5)
    assert np.isclose(widget.state["losses"]["BCE"], np.log(2), rtol=1e-6)
    widget.controls["prediction"].value = 0.01
    assert widget.state["losses"]["BCE"] > 4 > widget.state["losses"]["MSE"]
    widget.controls["target"].value = 0
    assert widget.state["losses"]["BCE"] < 0.02
    for kwargs in [dict(target=3), dict(prediction=1.0), dict(prediction="x")]:
        with pytest.raises((ValueError, TypeError), match="target|prediction"):
            perceptrons.loss_explorer(**kwargs)


# --------------------------------------------------------------------------------------------
# The lesson's network: Keras references, gradients, fit
# --------------------------------------------------------------------------------------------

RNG = np.random.default_rng(5)
X = RNG.normal(size=(7, 3))
Y = np.eye(4)[RNG.integers(0, 4, 7)]
PARAMETERS = [
    RNG.normal(size=(3, 5)),
    RNG.normal(size=5),
    RNG.normal(size=(5, 4)),
    RNG.normal(size=4),
]


def numpy_forward(x, W1, b1, W2, b2):
    hidden = np.tanh(x @ W1 + b1)
    logits = hidden @ W2 + b2
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def numpy_backward(x, y, W1, b1, W2, b2):
    hidden = np.tanh(x @ W1 + b1)
    d_logits = (numpy_forward(x, W1, b1, W2, b2) - y) / len(x)
    d_z1 = (d_logits @ W2.T) * (1 - hidden**2)
    return x.T @ d_z1, d_z1.sum(axis=0), hidden.T @ d_logits, d_logits.sum(axis=0)


def test_keras_references_agree_with_numpy():
    np.testing.assert_allclose(
        perceptrons.keras_forward(X, *PARAMETERS), numpy_forward(X, *PARAMETERS), rtol=1e-12
    )
    probabilities = numpy_forward(X, *PARAMETERS)
    assert np.isclose(
        perceptrons.network_loss(X, Y, *PARAMETERS),
        -np.mean(np.sum(Y * np.log(probabilities), axis=1)),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        perceptrons.keras_weighted_sum(X, np.ones(3), 0.5), X.sum(axis=1) + 0.5, rtol=1e-12
    )


def test_gradient_check_relative_errors_are_tiny_in_float64():
    automatic = perceptrons.autodiff_backward(X, Y, *PARAMETERS)
    by_hand = numpy_backward(X, Y, *PARAMETERS)
    for index, (auto, hand) in enumerate(zip(automatic, by_hand)):
        assert perceptrons.relative_error(auto, hand) < 1e-12

        def loss_of(value, index=index):
            parameters = list(PARAMETERS)
            parameters[index] = value
            return perceptrons.network_loss(X, Y, *parameters)

        numerical = perceptrons.numerical_gradient(loss_of, PARAMETERS[index])
        assert perceptrons.relative_error(hand, numerical) < 1e-6


@pytest.mark.slow  # trains a model: seconds to tens of seconds on a loaded machine
def test_fit_with_keras_reaches_the_weights_of_a_hand_written_loop():
    weights = [p.copy() for p in PARAMETERS]
    for _ in range(15):
        weights = [w - 0.3 * g for w, g in zip(weights, numpy_backward(X, Y, *weights))]
    fitted, losses = perceptrons.fit_with_keras(X, Y, *PARAMETERS, learning_rate=0.3, epochs=15)
    assert len(losses) == 15 and losses[-1] < losses[0]
    for mine, theirs in zip(weights, fitted):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "function", [perceptrons.keras_forward, perceptrons.autodiff_backward, perceptrons.network_loss]
)
@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: [a[0][:, :2]] + a[1:], r"W1 of shape \(3, hidden\)"),
        (lambda a: [a[0], a[1][:, None]] + a[2:], "b1 must be a vector"),
        (lambda a: [a[0][0]] + a[1:], "W1 must be a matrix"),
        (lambda a: ["W"] + a[1:], "W1 must be a NumPy array"),
    ],
)
def test_network_functions_reject_bad_parameters(function, change, message):
    parameters = change(list(PARAMETERS))
    args = (X, *parameters) if function is perceptrons.keras_forward else (X, Y, *parameters)
    with pytest.raises((ValueError, TypeError), match=message):
        function(*args)


@pytest.mark.parametrize(
    "function",
    [perceptrons.autodiff_backward, perceptrons.network_loss, perceptrons.fit_with_keras],
)
def test_network_functions_reject_bad_targets_and_inputs(function):
    extra = {"learning_rate": 0.1, "epochs": 1} if function is perceptrons.fit_with_keras else {}
    with pytest.raises(ValueError, match=r"y_true must be one-hot rows of shape \(7, 4\)"):
        function(X, Y[:, :3], *PARAMETERS, **extra)
    with pytest.raises(ValueError, match=r"x must be a matrix of shape \(N, inputs\)"):
        function(X[0], Y, *PARAMETERS, **extra)
    with pytest.raises(TypeError, match="x must be a NumPy array"):
        function("x", Y, *PARAMETERS, **extra)


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        (
            (PARAMETERS[0], PARAMETERS[1][:2], PARAMETERS[2], PARAMETERS[3]),
            {},
            ValueError,
            r"b1 \(hidden,\)",
        ),
        ((PARAMETERS[0][None], *PARAMETERS[1:]), {}, ValueError, "W1 must be a matrix"),
        ((*PARAMETERS[:3], np.array([np.nan] * 4)), {}, ValueError, "b2 contains NaN"),
        (
            tuple(PARAMETERS),
            {"output_activation": "step"},
            ValueError,
            "output_activation must be one of",
        ),
    ],
)
def test_keras_network_rejects_bad_weights(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        perceptrons.keras_network(*args, **kwargs)


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((X, np.ones(2), 0.0), ValueError, r"weights shape \(d,\)"),
        ((X[0], np.ones(3), 0.0), ValueError, r"inputs must have shape \(N, d\)"),
        ((X, np.ones(3), "b"), TypeError, "bias must be a number"),
        (("x", np.ones(3), 0.0), TypeError, "inputs must be a NumPy array"),
    ],
)
def test_keras_weighted_sum_rejects_bad_inputs(args, error, message):
    with pytest.raises(error, match=message):
        perceptrons.keras_weighted_sum(*args)


def test_fit_and_references_reject_bad_options():
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        perceptrons.fit_with_keras(X, Y, *PARAMETERS, learning_rate=0.1, epochs=0)
    with pytest.raises(ValueError, match="hidden_activation must be one of"):
        perceptrons.keras_network(*PARAMETERS, hidden_activation="swish")
    with pytest.raises(ValueError, match=r"weights shape \(d,\)"):
        perceptrons.keras_weighted_sum(X, np.ones(2), 0.0)


@pytest.mark.parametrize(
    "args, error, message",
    [
        (("f", np.zeros(2)), TypeError, "function must be callable"),
        ((np.sum, "x"), TypeError, "array must be a NumPy array"),
        ((np.sum, np.zeros(2), 0.0), ValueError, "step must be at least"),
    ],
)
def test_numerical_gradient_rejects_bad_inputs(args, error, message):
    with pytest.raises(error, match=message):
        perceptrons.numerical_gradient(*args)


def test_numerical_gradient_and_relative_error():
    np.testing.assert_allclose(
        perceptrons.numerical_gradient(lambda a: float(np.sum(a**3)), np.array([1.0, 2.0])),
        [3.0, 12.0],
        rtol=1e-8,
    )
    assert perceptrons.relative_error(np.ones(3), np.ones(3)) == 0
    assert np.isclose(perceptrons.relative_error(np.array([1.0]), np.array([3.0])), 0.5)
    for a, b, error in [
        (np.ones(2), np.ones(3), ValueError),
        ("a", np.ones(1), TypeError),
        (np.ones(1), np.array(["b"]), TypeError),
    ]:
        with pytest.raises(error, match="must"):
            perceptrons.relative_error(a, b)


# --------------------------------------------------------------------------------------------
# Exercise checks: right answers pass, typical wrong answers are named
# --------------------------------------------------------------------------------------------


def not_started(*args):
    raise NotImplementedError()


CHECKS = [
    perceptrons.check_weighted_sum,
    perceptrons.check_sigmoid,
    perceptrons.check_sigmoid_derivative,
    perceptrons.check_relu,
    perceptrons.check_relu_derivative,
    perceptrons.check_forward,
    perceptrons.check_backward,
    perceptrons.check_mse,
    perceptrons.check_binary_cross_entropy,
    perceptrons.check_categorical_cross_entropy,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_every_check_reports_an_unstarted_exercise_and_a_non_function(check):
    with pytest.raises(exercises.ExerciseNotStarted, match="is not written yet"):
        check(not_started)
    with pytest.raises(exercises.ExerciseIncorrect, match="should be a function"):
        check(3.0)


def test_check_weighted_sum(capsys):
    perceptrons.check_weighted_sum(lambda x, w, b: x @ w + b)
    assert "✔ weighted_sum passed 3 tests." in capsys.readouterr().out
    for wrong, message in [
        (lambda x, w, b: x @ w, "the bias b is missing"),
        (lambda x, w, b: x @ w - b, "the bias is subtracted"),
        (lambda x, w, b: x * w + b, "were not added up along each row"),
        (lambda x, w, b: (x + b) @ w, "added to every input"),
        (lambda x, w, b: None, "returned None"),
    ]:
        with pytest.raises(exercises.ExerciseIncorrect, match=message):
            perceptrons.check_weighted_sum(wrong)


def right_sigmoid(z):
    return 1 / (1 + np.exp(-z))


def right_sigmoid_derivative(z):
    return right_sigmoid(z) * (1 - right_sigmoid(z))


def test_check_sigmoid(capsys):
    perceptrons.check_sigmoid(right_sigmoid)
    assert "✔ sigmoid passed 2 tests." in capsys.readouterr().out
    for function, message in [
        (lambda z: 1 / (1 + np.exp(z)), "exp\\(z\\) should be exp\\(-z\\)"),
        (np.tanh, "this is tanh"),
        (lambda z: np.round(right_sigmoid(z)), "differs from the expected"),
        (lambda z: right_sigmoid(z).ravel(), r"has shape \(9,\); expected \(3, 3\)"),
    ]:
        with pytest.raises(exercises.ExerciseIncorrect, match=message):
            perceptrons.check_sigmoid(function)


def test_check_sigmoid_derivative(capsys):
    perceptrons.check_sigmoid_derivative(right_sigmoid_derivative)
    assert "✔ sigmoid_derivative passed 2 tests." in capsys.readouterr().out
    for derivative, message in [
        (right_sigmoid, "this is sigmoid\\(z\\) itself"),
        (lambda z: z * (1 - z), "uses z where sigmoid\\(z\\) belongs"),
        (lambda z: -right_sigmoid_derivative(z), "the sign is flipped"),
        (lambda z: 1 - np.tanh(z) ** 2, "differs from the expected"),
    ]:
        with pytest.raises(exercises.ExerciseIncorrect, match=message):
            perceptrons.check_sigmoid_derivative(derivative)


def test_check_relu(capsys):
    perceptrons.check_relu(lambda z: np.maximum(z, 0))
    assert "✔ relu passed 2 tests." in capsys.readouterr().out
    for function, message in [
        (np.abs, "that is abs"),
        (lambda z: z, "does not keep the output as-is"),
        (lambda z: np.max(z, 0), "expected a NumPy array of shape"),
        (lambda z: np.maximum(z, 0.5), "differs from the expected"),
    ]:
        with pytest.raises(exercises.ExerciseIncorrect, match=message):
            perceptrons.check_relu(function)


def test_check_relu_derivative(capsys):
    perceptrons.check_relu_derivative(lambda z: (z > 0).astype(float))
    assert "✔ relu_derivative passed 2 tests." in capsys.readouterr().out
    for derivative, message in [
        (lambda z: np.maximum(z, 0), "relu\\(z\\) itself"),
        (np.ones_like, "where z < 0 it is 0"),
        (lambda z: (z < 0).astype(float), "swapped"),
        (lambda z: z > 0, r"dtype bool.*astype\(float\)"),
    ]:
        with pytest.raises(exercises.ExerciseIncorrect, match=message):
            perceptrons.check_relu_derivative(derivative)


def test_check_forward(capsys):
    perceptrons.check_forward(numpy_forward)
    assert "✔ forward passed 3 tests." in capsys.readouterr().out

    def softmax(logits, axis):
        exponentials = np.exp(logits - logits.max(axis=axis, keepdims=True))
        return exponentials / exponentials.sum(axis=axis, keepdims=True)

    for wrong, message in [
        (lambda x, W1, b1, W2, b2: np.tanh(x @ W1 + b1) @ W2 + b2, "softmax is missing"),
        (lambda x, W1, b1, W2, b2: softmax(np.tanh(x @ W1 + b1) @ W2 + b2, 0), "axis=0"),
        (lambda x, W1, b1, W2, b2: softmax(np.tanh(x @ W1) @ W2, 1), "biases b1 and b2"),
        (
            lambda x, W1, b1, W2, b2: softmax((x @ W1 + b1) @ W2 + b2, 1),
            "hidden layer has no activation",
        ),
        (
            lambda x, W1, b1, W2, b2: softmax(right_sigmoid(x @ W1 + b1) @ W2 + b2, 1),
            "uses the sigmoid",
        ),
        (lambda x, W1, b1, W2, b2: x @ W1, "has shape"),
    ]:
        with pytest.raises(exercises.ExerciseIncorrect, match=message):
            perceptrons.check_forward(wrong)


def test_check_backward(capsys):
    perceptrons.check_backward(numpy_backward)
    assert "✔ backward passed 3 tests." in capsys.readouterr().out
    for wrong, message in [
        (lambda *a: tuple(-g for g in numpy_backward(*a)), "the sign is flipped"),
        (lambda *a: tuple(len(a[0]) * g for g in numpy_backward(*a)), "times too large"),
        (lambda *a: numpy_backward(*a)[::-1], "Check the order of the returned arrays"),
        (lambda *a: numpy_backward(*a)[:3], "should return 4 arrays"),
        (lambda *a: tuple(g * 1.1 for g in numpy_backward(*a)), "differs from the expected"),
    ]:
        with pytest.raises(exercises.ExerciseIncorrect, match=message):
            perceptrons.check_backward(wrong)


def test_check_mse(capsys):
    perceptrons.check_mse(lambda y, p: np.mean((y - p) ** 2))
    assert "✔ mse passed 4 tests." in capsys.readouterr().out
    for wrong, message in [
        (lambda y, p: np.sum((y - p) ** 2), "this is the sum"),
        (lambda y, p: np.sqrt(np.mean((y - p) ** 2)), "RMSE"),
        (lambda y, p: np.mean(np.abs(y - p)), "mean absolute error"),
        (lambda y, p: (y - p) ** 2, "expected a single number"),
        # one value per example on a batch (issue 12)
        (lambda y, p: np.mean((y - p) ** 2, axis=-1), r"one value per example \(shape \(3,\)\)"),
        (lambda y, p: 0.0, "returned 0, expected"),
    ]:
        with pytest.raises(exercises.ExerciseIncorrect, match=message):
            perceptrons.check_mse(wrong)


def right_bce(y, p):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_check_binary_cross_entropy(capsys):
    perceptrons.check_binary_cross_entropy(right_bce)
    # Adding epsilon inside the logs instead of clipping differs by ~1e-7: accepted too.
    perceptrons.check_binary_cross_entropy(
        lambda y, p: -np.mean(y * np.log(p + 1e-7) + (1 - y) * np.log(1 - p + 1e-7))
    )
    assert "passed" in capsys.readouterr().out

    def unclipped(y, p):
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

    def sum_instead(y, p):
        p = np.clip(p, 1e-7, 1 - 1e-7)
        return -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p))

    def first_term_only(y, p):
        return -np.mean(y * np.log(np.clip(p, 1e-7, 1 - 1e-7)))

    for wrong, message in [
        (unclipped, "log\\(0\\) is -inf. Keras clips"),
        (lambda y, p: -right_bce(y, p), "minus sign is missing"),
        (sum_instead, "this is the sum"),
        (first_term_only, "\\(1 - y\\) \\* log\\(1 - p\\) term is missing"),
    ]:
        with pytest.raises(exercises.ExerciseIncorrect, match=message):
            perceptrons.check_binary_cross_entropy(wrong)


def test_check_categorical_cross_entropy(capsys):
    def right(y, p):
        return np.mean(-np.sum(y * np.log(np.clip(p, 1e-7, 1 - 1e-7)), axis=1))

    perceptrons.check_categorical_cross_entropy(right)
    assert "passed" in capsys.readouterr().out

    def unclipped(y, p):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.mean(-np.sum(y * np.log(p), axis=1))

    for wrong, message in [
        (lambda y, p: np.mean(-y * np.log(np.clip(p, 1e-7, 1))), "averaged over the classes"),
        (lambda y, p: np.sum(-y * np.log(np.clip(p, 1e-7, 1))), "sum over the examples"),
        (lambda y, p: -right(y, p), "minus sign is missing"),
        (unclipped, "Keras clips the predictions"),
    ]:
        with pytest.raises(exercises.ExerciseIncorrect, match=message):
            perceptrons.check_categorical_cross_entropy(wrong)


def shortcut_weighted_sum(inputs, weights, bias):
    return perceptrons.keras_weighted_sum(inputs, weights, bias)


def shortcut_sigmoid(z):
    return np.asarray(keras.activations.sigmoid(z))


def shortcut_forward(x, W1, b1, W2, b2):
    return perceptrons.keras_forward(x, W1, b1, W2, b2)


def shortcut_backward(x, y, W1, b1, W2, b2):
    return perceptrons.autodiff_backward(x, y, W1, b1, W2, b2)


def shortcut_bce(y, p):
    return float(np.mean(keras.losses.binary_crossentropy(y, p)))


@pytest.mark.parametrize(
    "check, function, name",
    [
        (perceptrons.check_weighted_sum, shortcut_weighted_sum, "keras_weighted_sum"),
        (perceptrons.check_sigmoid, shortcut_sigmoid, "sigmoid"),
        (perceptrons.check_forward, shortcut_forward, "keras_forward"),
        (perceptrons.check_backward, shortcut_backward, "autodiff_backward"),
        (perceptrons.check_binary_cross_entropy, shortcut_bce, "binary_crossentropy"),
    ],
)
def test_checks_refuse_a_library_shortcut_written_in_the_notebook(
    check, function, name, monkeypatch
):
    monkeypatch.setattr(function, "__module__", "__main__")  # as if typed in the notebook
    with pytest.raises(exercises.ExerciseIncorrect, match=f"calls {name}\\(\\)"):
        check(function)


def test_colour_key_names_each_class_colour_of_the_boundary_images():
    key = perceptrons.colour_key(3)
    assert "orange = class 0" in key and "blue = class 1" in key and "green = class 2" in key
    assert len(perceptrons.CLASS_COLOUR_NAMES) == len(perceptrons.CLASS_COLOURS)
    with pytest.raises(ValueError, match="classes"):
        perceptrons.colour_key(9)
