"""lab_utils.cnns (lesson 04): compute functions, plots, the demo widget driven headlessly,
and the checks tested with right answers (written here) and typical wrong answers."""

import math
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure

from lab_utils import cnns, data, exercises, kernels, lesson, models, plots

RNG = np.random.default_rng(0)


def spec_cnn(input_shape, classes):
    """The architecture of exercise 4 from the kit's generic builder (the notebook's fallback;
    no solution is kept in lab_utils)."""
    return models.cnn_classifier(
        input_shape,
        classes,
        filters=(32, 64, 64),
        head="global_max",
        batch_norm=True,
        random_shift=0.1,
        name="cnn",
    )


@pytest.fixture(scope="module")
def cnn(keras):
    """The lesson's architecture, untrained (fixed seed): enough for shapes and widgets."""
    keras.utils.set_random_seed(0)
    return spec_cnn((32, 32, 1), 10)


@pytest.fixture(scope="module")
def dense(keras):
    return models.dense_classifier((32, 32, 1), 10, hidden_units=(8,))


@pytest.fixture(scope="module")
def placed_split():
    return cnns.split_dataset(data.load_dataset("placed_digits", seed=0), seed=0)


def test_importing_cnns_does_not_import_tensorflow():
    code = "import sys, lab_utils.cnns; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


# --- data -------------------------------------------------------------------------------------


def test_split_dataset_is_stratified_scaled_and_repeatable(placed_split):
    assert placed_split.sizes() == {"train": 1257, "validation": 180, "test": 360}
    assert placed_split.image_shape == (32, 32, 1)
    assert np.bincount(placed_split.test_labels).min() >= 34  # ~36 per class
    again = cnns.split_dataset(data.load_dataset("placed_digits", seed=0), seed=0)
    np.testing.assert_array_equal(again.test_labels, placed_split.test_labels)
    digits = cnns.split_dataset(data.load_dataset("digits"), seed=0)
    assert digits.train_images.max() == 1.0 and digits.train_images.dtype == np.float32


class _FakeDataset:
    def __init__(self, images, labels):
        self.images, self.labels, self.class_names = images, labels, ["a", "b"]


@pytest.mark.parametrize(
    "dataset, kwargs, error, message",
    [
        (np.zeros((10, 4, 4)), {}, TypeError, r"data\.Dataset"),
        (
            _FakeDataset(np.zeros((10, 4)), np.zeros(10, int)),
            {},
            ValueError,
            r"\(N, height, width\)",
        ),
        (
            _FakeDataset(np.zeros((10, 4, 4)), np.zeros(10, int)),
            {"test_fraction": 0.9},
            ValueError,
            "test_fraction must be at most 0.5",
        ),
        (
            _FakeDataset(np.zeros((10, 4, 4)), np.zeros(9, int)),
            {},
            ValueError,
            "one class index per example",
        ),
    ],
)
def test_split_dataset_bad_input(dataset, kwargs, error, message):
    with pytest.raises(error, match=message):
        cnns.split_dataset(dataset, **kwargs)


def test_imagenet_table_is_registered_with_sources():
    assert "imagenet_top5" in data.names("table")
    entry = data.info("imagenet_top5")
    assert entry.source == "project file" and entry.licence
    table = data.load_table("imagenet_top5")
    winners = [i for i, kind in enumerate(table["kind"]) if kind == "winner"]
    years = [table["year"][i] for i in winners]
    assert years == list(range(2010, 2018))
    errors = [table["top5_error_percent"][i] for i in winners]
    assert errors == sorted(errors, reverse=True)  # every winner beat the last
    assert table["top5_error_percent"][table["year"].index(2012)] == 15.3
    assert all(len(source) > 20 for source in table["source"])
    # Every winning entry from 2012 on averaged several networks (issue 12): the table says so,
    # and where a paper gives one network's error, it is worse than the ensemble's.
    for index in winners:
        if table["year"][index] >= 2012:
            assert table["entry"][index].startswith("ensemble"), table["team"][index]
        single = table["single_model_top5_error_percent"][index]
        assert single is None or single > table["top5_error_percent"][index]
    single = {table["year"][i]: table["single_model_top5_error_percent"][i] for i in winners}
    assert (single[2012], single[2014], single[2015]) == (18.2, 10.07, 4.49)
    assert table["top5_error_percent"][table["year"].index(2014)] == 6.67


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.load_image("imagenet_top5"), "is a table"),
        (lambda: data.load_dataset("imagenet_top5"), "is a table"),
        (lambda: data.load_table("digits"), "not a table"),
    ],
)
def test_tables_are_not_images_or_datasets(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- dense limitations ------------------------------------------------------------------------


def test_dense_vs_conv_parameters_are_counted_by_keras(keras):
    dense_row, conv_row = cnns.dense_vs_conv_parameters((224, 224, 3), units=100, filters=64)
    assert dense_row["parameters"] == 224 * 224 * 3 * 100 + 100
    assert conv_row["parameters"] == 3 * 3 * 3 * 64 + 64
    assert conv_row["output_shape"] == (224, 224, 64) and dense_row["output_shape"] == (100,)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"input_shape": (224, 224)}, ValueError, r"\(height, width, channels\)"),
        ({"units": 0}, ValueError, "units must be at least 1"),
        ({"units": 5000, "input_shape": (512, 512, 3)}, ValueError, "use fewer units"),
        ({"kernel_size": 2.5}, TypeError, "kernel_size must be a whole number"),
    ],
)
def test_dense_vs_conv_parameters_bad_input(keras, kwargs, error, message):
    with pytest.raises(error, match=message):
        cnns.dense_vs_conv_parameters(**kwargs)


# --- comparison -------------------------------------------------------------------------------


def _tiny_split():
    images = RNG.random((60, 12, 12)).astype(np.float32) * 0.2
    labels = np.arange(60) % 3
    for image, label in zip(images, labels):
        image[4 * label : 4 * label + 4] += 0.8
    images = np.clip(images, 0, 1)
    return cnns.Split(
        images[:36],
        labels[:36],
        images[36:48],
        labels[36:48],
        images[48:],
        labels[48:],
        ["0", "1", "2"],
    )


@pytest.mark.slow
def test_compare_classifiers_trains_everything_in_one_run(keras):
    split = _tiny_split()
    comparison = cnns.compare_classifiers(
        split,
        {
            "dense": models.dense_classifier((12, 12, 1), 3, (8,)),
            "CNN": models.cnn_classifier((12, 12, 1), 3, filters=(4, 4)),
        },
        epochs={"dense": 2, "CNN": 3},
        batch_size=12,
    )
    assert [row["model"] for row in comparison.rows] == ["SVM", "dense", "CNN"]
    assert comparison.row("SVM")["test_accuracy"] == 1.0  # an easy task
    assert comparison.trained["CNN"].epochs == 3 and comparison.trained["dense"].epochs == 2
    assert comparison.row("dense")["parameters"] == 144 * 8 + 8 + 8 * 3 + 3
    assert "test accuracy" in comparison.table() and "CNN" in comparison.table()
    assert isinstance(cnns.plot_learning_curves(comparison.trained), Figure)
    with pytest.raises(KeyError, match="no classifier called 'svm'"):
        comparison.row("svm")


def _row(model, accuracy):
    return {
        "model": model,
        "test_accuracy": accuracy,
        "parameters": 10,
        "training_seconds": 1.0,
        "cpu_seconds": 1.0,
    }


def test_batched_accuracy_is_models_accuracy(keras):
    from lab_utils.cnns.compute import PREDICT_BATCH, batched_accuracy

    network = models.cnn_classifier((12, 12, 1), 3, filters=(4, 4))
    images = np.random.default_rng(0).random((PREDICT_BATCH * 2 + 5, 12, 12))  # 3 batches
    labels = np.arange(len(images)) % 3
    assert batched_accuracy(network, images, labels) == models.accuracy(network, images, labels)
    predicted = models.predict_probabilities(network, images).argmax(axis=1)
    assert batched_accuracy(network, images, predicted) == 1.0
    assert batched_accuracy(network, images, (predicted + 1) % 3) == 0.0
    with pytest.raises(ValueError):
        batched_accuracy(network, images, labels[:-1])


def test_comparisons_trained_in_two_cells_join_into_one_table():
    first = cnns.Comparison([_row("SVM", 0.5), _row("dense", 0.4)], {"dense": "d"}, svm="svc")
    second = cnns.Comparison([_row("CNN", 0.9)], {"CNN": "c"})
    joined = first.joined(second)
    assert [row["model"] for row in joined.rows] == ["SVM", "dense", "CNN"]
    assert joined.trained == {"dense": "d", "CNN": "c"} and joined.svm == "svc"
    assert joined.row("CNN")["test_accuracy"] == 0.9 and "CNN" in joined.table()
    assert second.joined(first).svm == "svc"  # kept from whichever fitted it
    assert [row["model"] for row in first.rows] == ["SVM", "dense"]  # the parts are unchanged
    with pytest.raises(ValueError, match="both comparisons have a classifier called dense"):
        first.joined(cnns.Comparison([_row("dense", 0.3)], {}))
    with pytest.raises(TypeError, match=r"cnns\.compare_classifiers"):
        first.joined([_row("CNN", 0.9)])


@pytest.mark.parametrize(
    "split, networks, kwargs, error, message",
    [
        ("split", {}, {}, TypeError, r"cnns\.split_dataset"),
        (None, {"CNN": "model"}, {}, TypeError, "dict mapping a name to a Keras model"),
        (None, "CNN", {}, TypeError, "dict mapping a name to a Keras model"),
        (None, None, {"epochs": {"other": 2}}, ValueError, "epochs has no entry for dense"),
        (
            None,
            "wrong shape",
            {},
            ValueError,
            r"expects inputs of shape \(32, 32, 1\), but the split's images have shape \(12, 12, 1\)",
        ),
    ],
)
def test_compare_classifiers_bad_input(keras, split, networks, kwargs, error, message):
    split = _tiny_split() if split is None else split
    if networks is None:
        networks = {"dense": models.dense_classifier((12, 12, 1), 3, (4,))}
    elif networks == "wrong shape":
        networks = {"dense": models.dense_classifier((32, 32, 1), 3, (4,))}
    with pytest.raises(error, match=message):
        cnns.compare_classifiers(split, networks, **kwargs)


@pytest.mark.parametrize("trained", [{}, {"CNN": 0.9}, [1, 2]])
def test_plot_learning_curves_bad_input(trained):
    with pytest.raises(TypeError, match="models.TrainingResult"):
        cnns.plot_learning_curves(trained)


# --- evaluation -------------------------------------------------------------------------------


def test_confusion_and_its_plot():
    matrix = cnns.confusion(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), classes=3)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 1], [0, 0, 1]])
    assert isinstance(cnns.plot_confusion(matrix, ["a", "b", "c"], title="t"), Figure)


@pytest.mark.parametrize(
    "labels, predictions, classes, error, message",
    [
        (np.array([0, 1]), np.array([0]), 3, ValueError, r"shape \(2,\)"),
        (np.array([0, 1]), np.array([0, 1]), 1, ValueError, "classes must be at least 2"),
        (np.array([0, 4]), np.array([0, 1]), 3, ValueError, "below 3"),
        (np.array([0.0, 1.0]), np.array([0, 1]), 3, TypeError, "whole class indices"),
    ],
)
def test_confusion_bad_input(labels, predictions, classes, error, message):
    with pytest.raises(error, match=message):
        cnns.confusion(labels, predictions, classes)


@pytest.mark.parametrize(
    "matrix, names, error, message",
    [
        (np.zeros((2, 3)), ["a", "b"], ValueError, "must be square"),
        (np.zeros((2, 2)), ["a"], ValueError, "name the 2 classes"),
        (np.zeros((10, 10)), 10, TypeError, "list of the 10 class names"),
        (np.zeros((2, 2)), "ab", TypeError, "list of the 2 class names"),
        ("matrix", ["a"], TypeError, "NumPy array"),
    ],
)
def test_plot_confusion_bad_input(matrix, names, error, message):
    with pytest.raises(error, match=message):
        cnns.plot_confusion(matrix, names)


def test_misclassified_lists_the_most_confident_mistakes_first():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    mistakes = cnns.misclassified(probabilities, np.array([0, 0, 1, 1]))
    assert [m["index"] for m in mistakes] == [1, 2]
    assert mistakes[0] == {"index": 1, "label": 0, "predicted": 1, "confidence": 0.8}


@pytest.mark.parametrize(
    "probabilities, labels, error, message",
    [
        (np.zeros(4), np.zeros(4, int), ValueError, r"\(N, classes\)"),
        (np.zeros((4, 2)), np.zeros(3, int), ValueError, r"shape \(4,\)"),
        (np.zeros((2, 2)), np.array([0.0, 1.0]), TypeError, "whole class indices"),
    ],
)
def test_misclassified_bad_input(probabilities, labels, error, message):
    with pytest.raises(error, match=message):
        cnns.misclassified(probabilities, labels)


# --- what the CNN learned ---------------------------------------------------------------------


def test_first_layer_filters_and_their_plot(cnn):
    filters = cnns.first_layer_filters(cnn)
    assert filters.shape == (32, 3, 3)
    first_conv = next(layer for layer in cnn.layers if "conv" in layer.name)
    weights = first_conv.get_weights()[0]  # (k, k, channels, filters)
    for index in (0, 7, 31):  # filter k is the kernel of output channel k, input channel 0
        np.testing.assert_allclose(filters[index], weights[:, :, 0, index])
    figure = cnns.plot_filters_and_kernels(filters, kernels.CLASSIC_KERNELS)
    assert isinstance(figure, Figure)
    assert sum(axis.has_data() for axis in figure.axes) == 32 + len(kernels.CLASSIC_KERNELS)


@pytest.mark.parametrize(
    "model, error, message",
    [
        ("cnn", TypeError, "Keras model"),
        (None, ValueError, "has no Conv2D layer"),
        (np.zeros(3), TypeError, "Keras model"),
    ],
)
def test_first_layer_filters_bad_input(dense, model, error, message):
    with pytest.raises(error, match=message):
        cnns.first_layer_filters(dense if model is None else model)


def test_most_similar_filters_finds_a_planted_kernel():
    filters = RNG.normal(size=(6, 3, 3))
    filters[4] = -2 * kernels.CLASSIC_KERNELS["sobel x"] + 0.3  # same pattern, flipped sign
    rows = {
        row["kernel"]: row
        for row in cnns.most_similar_filters(
            filters, {"sobel x": kernels.CLASSIC_KERNELS["sobel x"], "flat": np.ones((3, 3))}
        )
    }
    assert rows["sobel x"]["filter"] == 4 and rows["sobel x"]["similarity"] == pytest.approx(1)
    assert "flat" not in rows  # a constant kernel has no pattern to compare


@pytest.mark.parametrize(
    "filters, kernel_set, error, message",
    [
        (np.zeros((3, 3)), {"a": np.ones((3, 3))}, ValueError, r"\(count, k, k\)"),
        (np.zeros((2, 3, 3)), [], TypeError, "non-empty dict"),
        (np.zeros((2, 3, 3)), {"a": np.ones((5, 5))}, ValueError, r"shape \(5, 5\)"),
    ],
)
def test_most_similar_filters_bad_input(filters, kernel_set, error, message):
    with pytest.raises(error, match=message):
        cnns.most_similar_filters(filters, kernel_set)


def test_chance_similarity_is_high_for_many_random_filters():
    few = cnns.chance_similarity(kernels.CLASSIC_KERNELS, count=1, trials=50)
    many = cnns.chance_similarity(kernels.CLASSIC_KERNELS, count=32, trials=50)
    assert 0.2 < few < many < 0.9


@pytest.mark.parametrize(
    "kernel_set, count, error, message",
    [
        ({}, 32, TypeError, "non-empty dict"),
        (None, 0, ValueError, "count must be at least 1"),
        (None, 2.5, TypeError, "count must be a whole number"),
    ],
)
def test_chance_similarity_bad_input(kernel_set, count, error, message):
    kernel_set = kernels.CLASSIC_KERNELS if kernel_set is None else kernel_set
    with pytest.raises(error, match=message):
        cnns.chance_similarity(kernel_set, count)


@pytest.mark.parametrize(
    "filters, kernel_set, columns, error, message",
    [
        (np.zeros((3, 3)), {}, 8, ValueError, r"\(count, k, k\)"),
        (np.zeros((2, 3, 3)), [np.ones((3, 3))], 8, TypeError, "dict of name"),
        (np.zeros((2, 3, 3)), {}, 0, ValueError, "columns must be at least 1"),
    ],
)
def test_plot_filters_and_kernels_bad_input(filters, kernel_set, columns, error, message):
    with pytest.raises(error, match=message):
        cnns.plot_filters_and_kernels(filters, kernel_set, columns=columns)


def test_feature_maps_follow_the_layers(cnn):
    maps = cnns.feature_maps(cnn, RNG.random((32, 32)))
    assert [(name, values.shape) for name, values in maps] == [
        ("relu_1", (32, 32, 32)),
        ("pool_1", (16, 16, 32)),
        ("relu_2", (16, 16, 64)),
        ("pool_2", (8, 8, 64)),
        ("relu_3", (8, 8, 64)),
    ]
    plain = models.cnn_classifier((32, 32, 1), 10, filters=(4, 8))  # ReLU inside Conv2D
    assert [name for name, _ in cnns.feature_maps(plain, np.zeros((32, 32)))] == [
        "conv_1",
        "pool_1",
        "conv_2",
    ]
    assert all(values.min() >= 0 for name, values in maps)  # ReLU outputs
    figure = cnns.plot_feature_maps(maps, channels=4)
    assert isinstance(figure, Figure)
    assert len(figure.axes) == len(maps) * 4 + len(maps)  # one colour bar per layer
    shown = [axis.images[0] for axis in figure.axes[:4]]  # the first layer's maps
    assert len({image.get_clim() for image in shown}) == 1  # ... share one scale


@pytest.mark.parametrize(
    "model, image, error, message",
    [
        ("cnn", np.zeros((32, 32)), TypeError, "Keras model"),
        (None, np.zeros((32, 32, 3)), ValueError, r"\(height, width\) for grayscale"),
        (None, np.full((32, 32), 2.0), ValueError, r"\[0, 1\]"),
    ],
)
def test_feature_maps_bad_input(cnn, model, image, error, message):
    with pytest.raises(error, match=message):
        cnns.feature_maps(cnn if model is None else model, image)


def test_feature_maps_and_receptive_fields_of_a_sequential_model(keras):
    """A Sequential model has no symbolic input until called: its layers are re-chained."""
    model = build_cnn_sequential((32, 32, 1), 10)
    maps = cnns.feature_maps(model, RNG.random((32, 32)))
    assert [values.shape for _, values in maps] == [
        (32, 32, 32),
        (16, 16, 32),
        (16, 16, 64),
        (8, 8, 64),
        (8, 8, 64),
    ]
    assert [row["receptive_field"] for row in cnns.receptive_fields(model)] == [3, 4, 8, 10, 18, 32]
    layers = keras.layers  # built without keras.Input, then model.build(...)
    built = keras.Sequential(
        [
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.GlobalMaxPooling2D(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    built.build((None, 12, 12, 1))
    assert [values.shape for _, values in cnns.feature_maps(built, np.zeros((12, 12)))] == [
        (10, 10, 4),
        (5, 5, 4),
    ]
    unbuilt = keras.Sequential([layers.Conv2D(4, 3), layers.Dense(3, activation="softmax")])
    with pytest.raises(ValueError, match="has no input shape yet"):
        cnns.feature_maps(unbuilt, np.zeros((12, 12)))


def test_feature_maps_needs_convolutions(dense):
    with pytest.raises(ValueError, match="no Conv2D or pooling layer"):
        cnns.feature_maps(dense, np.zeros((32, 32)))


@pytest.mark.parametrize(
    "maps, channels, error, message",
    [
        ([], 8, TypeError, r"cnns\.feature_maps"),
        ("maps", 8, TypeError, r"cnns\.feature_maps"),
        ([("conv", np.zeros((4, 4, 2)))], 0, ValueError, "channels must be at least 1"),
    ],
)
def test_plot_feature_maps_bad_input(maps, channels, error, message):
    with pytest.raises(error, match=message):
        cnns.plot_feature_maps(maps, channels=channels)


# --- robustness and receptive fields ----------------------------------------------------------


def test_robustness_sweep_structure(cnn, dense, placed_split):
    images, labels = placed_split.test_images[:20], placed_split.test_labels[:20]
    sweep = cnns.robustness_sweep(
        {"CNN": cnn, "dense": dense}, images, labels, {"shift": [0, 3], "noise": [0.1]}, seed=0
    )
    assert set(sweep) == {"shift", "noise"} and set(sweep["shift"]) == {"CNN", "dense"}
    assert len(sweep["shift"]["CNN"]) == 2 and len(sweep["noise"]["dense"]) == 1
    assert sweep["shift"]["CNN"][0] == models.accuracy(cnn, images, labels)
    assert all(0 <= value <= 1 for value in sweep["shift"]["dense"])


@pytest.mark.parametrize(
    "networks, strengths, error, message",
    [
        ({}, None, TypeError, "non-empty dict"),
        (None, {"blur": [1]}, ValueError, "perturbation must be one of"),
        (None, [0, 1], TypeError, "strengths must be a dict"),
        (None, {"occlusion": [50]}, ValueError, r"fraction of the image side, in \[0, 1\]"),
        (None, {"shift": 2}, TypeError, r"strengths\['shift'\] must be a non-empty list"),
        (None, {"noise": []}, TypeError, "non-empty list"),
        (None, {"shift": [-1]}, ValueError, "at least 0"),
        (None, {"scale": [1, 0]}, ValueError, "scale factor of 0"),
    ],
)
def test_robustness_sweep_bad_input(cnn, networks, strengths, error, message):
    networks = {"CNN": cnn} if networks is None else networks
    with pytest.raises(error, match=message):
        cnns.robustness_sweep(networks, np.zeros((2, 32, 32)), np.zeros(2, int), strengths)


def test_receptive_fields_of_the_lesson_cnn(cnn):
    fields = cnns.receptive_fields(cnn)
    assert [(row["layer"], row["receptive_field"]) for row in fields] == [
        ("conv_1", 3),
        ("pool_1", 4),
        ("conv_2", 8),
        ("pool_2", 10),
        ("conv_3", 18),
        ("global_max", 32),
    ]
    assert [row["output_size"] for row in fields] == [32, 16, 16, 8, 8, 1]
    assert fields[2]["receptive_field"] == kernels.receptive_field([3, 2, 3], [1, 2, 1])
    assert isinstance(cnns.plot_receptive_fields(np.zeros((32, 32)), fields), Figure)


@pytest.mark.parametrize("value", ["cnn", None, 3])
def test_receptive_fields_bad_input(value):
    with pytest.raises(TypeError, match="Keras model"):
        cnns.receptive_fields(value)


def test_receptive_field_squares_are_centred_on_the_digit():
    image = np.zeros((32, 32))
    image[2:8, 22:30] = 1.0  # a "digit" in the top right corner
    assert cnns.bright_centroid(image) == (4.5, 25.5)
    assert cnns.bright_centroid(np.zeros((8, 8))) == (3.5, 3.5)
    figure = cnns.plot_receptive_fields(image, [{"layer": "conv", "receptive_field": 3}])
    (square,) = figure.axes[0].patches
    assert square.get_xy() == (24.0, 3.0)  # (column, row) of its corner


def test_receptive_field_squares_are_clipped_to_the_image():
    image = np.zeros((32, 32))
    image[2:8, 22:30] = 1.0  # centre (4.5, 25.5): a 18x18 square sticks out
    figure = cnns.plot_receptive_fields(
        image, [{"layer": "conv", "receptive_field": 3}, {"layer": "deep", "receptive_field": 18}]
    )
    small, large = figure.axes[0].patches
    assert (small.get_width(), small.get_height()) == (3, 3)
    x, y = large.get_xy()
    assert (x, y) == (16.5, -0.5)
    assert x + large.get_width() == 31.5 and y + large.get_height() == 13.5
    assert "clipped" in large.get_label() and "clipped" not in small.get_label()
    assert figure.axes[0].get_xlim() == (-1.0, 32.0)


@pytest.mark.parametrize(
    "image, fields, error, message",
    [
        (np.zeros((8, 8)), [], TypeError, r"cnns\.receptive_fields"),
        (np.zeros((8, 8, 3)), [{"layer": "c", "receptive_field": 3}], ValueError, "grayscale"),
        ("digit", [{"layer": "c", "receptive_field": 3}], TypeError, "NumPy array"),
    ],
)
def test_plot_receptive_fields_bad_input(image, fields, error, message):
    with pytest.raises(error, match=message):
        cnns.plot_receptive_fields(image, fields)


def test_plot_imagenet_errors():
    assert isinstance(cnns.plot_imagenet_errors(data.load_table("imagenet_top5")), Figure)


@pytest.mark.parametrize("table", [{}, {"year": [2012]}, [1, 2]])
def test_plot_imagenet_errors_bad_input(table):
    with pytest.raises(TypeError, match="load_table"):
        cnns.plot_imagenet_errors(table)


# --- the live demo ----------------------------------------------------------------------------


def test_perturbed_prediction(cnn, placed_split):
    image = placed_split.test_images[0]
    plain = cnns.perturbed_prediction(cnn, image)
    np.testing.assert_array_equal(plain["image"], image)
    assert plain["strength"] == 0 and plain["probabilities"].shape == (10,)
    shifted = cnns.perturbed_prediction(cnn, image, "shift", 0.5)
    assert shifted["strength"] == 5.0 and not np.array_equal(shifted["image"], image)
    assert cnns.perturbed_prediction(cnn, image, "scale", 1.0)["strength"] == pytest.approx(0.4)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"perturbation": "blur"}, ValueError, "perturbation must be one of 'none'"),
        ({"amount": 1.5}, ValueError, "amount must be at most 1"),
        ({"image": np.zeros((32, 32, 3))}, ValueError, "grayscale"),
        ({"model": "cnn"}, TypeError, "Keras model"),
    ],
)
def test_perturbed_prediction_bad_input(cnn, kwargs, error, message):
    arguments = {"model": cnn, "image": np.zeros((32, 32)), **kwargs}
    with pytest.raises(error, match=message):
        cnns.perturbed_prediction(**arguments)


def test_probability_bars_html():
    text = cnns.probability_bars_html(np.array([0.1, 0.9]), ["a", "b"], true_label=0)
    wrong, right = plots.hex_colour(plots.WRONG), plots.hex_colour(plots.RIGHT)
    assert text.count("<div") == 2 and "90%" in text and wrong in text and right not in text
    text = cnns.probability_bars_html(np.array([0.1, 0.9]), ["a", "b"], true_label=1)
    assert right in text and wrong not in text


@pytest.mark.parametrize(
    "probabilities, names, error, message",
    [
        (np.array([0.5, 0.5]), ["a"], ValueError, r"one value per class \(1\)"),
        (np.zeros((2, 2)), ["a", "b"], ValueError, "one value per class"),
        ("0.5", ["a"], TypeError, "NumPy array"),
    ],
)
def test_probability_bars_html_bad_input(probabilities, names, error, message):
    with pytest.raises(error, match=message):
        cnns.probability_bars_html(probabilities, names)


def test_prediction_demo_driven_headlessly(cnn, placed_split):
    images, labels = placed_split.test_images[:5], placed_split.test_labels[:5]
    demo = cnns.prediction_demo(cnn, images, labels, placed_split.class_names)
    assert demo.state["strength"] == 0 and demo.state["label"] == labels[0]
    np.testing.assert_array_equal(demo.state["image"], images[0])
    demo.controls["index"].value = 3
    assert demo.state["label"] == labels[3]
    np.testing.assert_allclose(
        demo.state["probabilities"], models.predict_probabilities(cnn, images[3:4])[0], atol=1e-6
    )
    with demo.hold():
        demo.controls["perturbation"].value = "rotation"
        demo.controls["amount"].value = 0.5
    assert demo.state["strength"] == 45.0
    assert abs(demo.state["probabilities"].sum() - 1) < 1e-4
    assert demo.last_render_seconds < 1.0


def test_prediction_demo_says_what_is_shown(cnn, placed_split):
    images, labels = placed_split.test_images[:5], placed_split.test_labels[:5]
    demo = cnns.prediction_demo(cnn, images, labels, placed_split.class_names)
    caption = demo.layout.children[2].value
    assert f"Test image no. 0, a <b>{placed_split.class_names[labels[0]]}</b>" in caption
    with demo.hold():
        demo.controls["amount"].value = 0.3
    assert (
        "shifted by 3.0 pixels (amount 30%; at 100%: shifted by 10.0 pixels)"
        in demo.layout.children[2].value
    )  # the unit, not "strength 3.00"
    demo.controls["perturbation"].value = "none"  # the slider is greyed, not ignored
    assert demo.controls["amount"].disabled and "unchanged" in demo.layout.children[2].value
    np.testing.assert_array_equal(demo.state["image"], images[0])
    demo.controls["perturbation"].value = "rotation"
    assert (
        not demo.controls["amount"].disabled and "rotated by 27°" in demo.layout.children[2].value
    )
    assert demo.controls["perturbation"].style.description_width == "initial"  # not cut


@pytest.mark.parametrize(
    "perturbation, strength, words",
    [
        ("shift", 2.5, "shifted by 2.5 pixels"),
        ("scale", 0.7, "scaled to 0.70× its size"),
        ("rotation", 45, "rotated by 45°"),
        ("occlusion", 0.3, "black square 30% of the image"),
        ("noise", 0.1, "standard deviation 0.10"),
        ("none", 0, "unchanged"),
    ],
)
def test_describe_perturbation_gives_the_unit(perturbation, strength, words):
    assert words in cnns.describe_perturbation(perturbation, strength)


def test_describe_perturbation_bad_input():
    with pytest.raises(ValueError, match="perturbation must be one of"):
        cnns.describe_perturbation("blur", 1)
    with pytest.raises(ValueError, match="strength must be at least 0"):
        cnns.describe_perturbation("shift", -1)


def test_prediction_demo_bad_class_names(cnn):
    images, labels = np.zeros((2, 32, 32)), np.zeros(2, int)
    with pytest.raises(ValueError, match="class_names has 2 names, but the model has 10 outputs"):
        cnns.prediction_demo(cnn, images, labels, ["a", "b"])
    with pytest.raises(TypeError, match="list of the 10 class names"):
        cnns.prediction_demo(cnn, images, labels, 10)


@pytest.mark.parametrize(
    "model, images, labels, error, message",
    [
        ("cnn", np.zeros((2, 32, 32)), np.zeros(2, int), TypeError, "trained Keras model"),
        (None, np.zeros((32, 32)), np.zeros(2, int), ValueError, r"\(N, height, width\)"),
        (None, np.zeros((2, 32, 32)), np.zeros(3, int), ValueError, "one class index per example"),
    ],
)
def test_prediction_demo_bad_input(cnn, model, images, labels, error, message):
    with pytest.raises(error, match=message):
        cnns.prediction_demo(
            cnn if model is None else model, images, labels, [str(d) for d in range(10)]
        )


# --- exercise checks: right answers -----------------------------------------------------------


def conv_output_shape(input_shape, filters, kernel_size, strides, padding):
    height, width, _ = input_shape
    if padding == "same":
        return (math.ceil(height / strides), math.ceil(width / strides), filters)
    return ((height - kernel_size) // strides + 1, (width - kernel_size) // strides + 1, filters)


def pool_output_shape(input_shape, pool_size, strides, padding):
    height, width, channels = input_shape
    if padding == "same":
        return (-(-height // strides), -(-width // strides), channels)
    return ((height - pool_size) // strides + 1, (width - pool_size) // strides + 1, channels)


def build_cnn(input_shape, classes):
    keras = lesson.import_keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant")(inputs)
    for index, filters in enumerate((32, 64, 64)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.Activation("relu")(x)
        if index < 2:
            x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalMaxPooling2D()(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))


def build_cnn_sequential(input_shape, classes):
    keras = lesson.import_keras()
    layers = keras.layers

    def block(filters):
        return [
            layers.Conv2D(filters, (3, 3), padding="same", use_bias=False),
            layers.BatchNormalization(momentum=0.9),
            layers.Activation("relu"),
        ]

    return keras.Sequential(
        [
            keras.Input(shape=input_shape),
            layers.RandomTranslation(0.1, 0.1, fill_mode="constant"),
            *block(32),
            layers.MaxPooling2D((2, 2)),
            *block(64),
            layers.MaxPooling2D(2),
            *block(64),
            layers.GlobalMaxPooling2D(),
            layers.Dropout(0.2),
            layers.Dense(classes, activation="softmax"),
        ]
    )


def build_cnn_with_relu_layers(input_shape, classes):
    """keras.layers.ReLU() instead of Activation('relu'): the same computation."""
    keras = lesson.import_keras()
    layers = keras.layers
    x = inputs = keras.Input(shape=input_shape)
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant")(x)
    for index, filters in enumerate((32, 64, 64)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))
        x = layers.MaxPooling2D(2)(x) if index < 2 else x
    x = layers.GlobalMaxPooling2D()(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))


@pytest.mark.parametrize(
    "check, answer",
    [
        (cnns.check_conv_output_shape, conv_output_shape),
        (
            cnns.check_conv_output_shape,
            lambda s, f, k, st, p: np.array(conv_output_shape(s, f, k, st, p)),
        ),  # arrays are fine
        (cnns.check_conv_parameters, lambda c, f, k: k * k * c * f + f),
        (cnns.check_conv_parameters, lambda c, f, k: np.int64((k * k * c + 1) * f)),
        (cnns.check_pool_output_shape, pool_output_shape),
        (cnns.check_build_cnn, build_cnn),
        (cnns.check_build_cnn, build_cnn_sequential),
        (cnns.check_build_cnn, build_cnn_with_relu_layers),
    ],
)
def test_checks_pass_right_answers(keras, check, answer, capsys):
    check(answer)
    assert "passed" in capsys.readouterr().out


# --- exercise checks: typical wrong answers ---------------------------------------------------


def _raise_not_implemented(*args):
    raise NotImplementedError()


def _swap_padding(function):
    return lambda *args: function(*args[:-1], "valid" if args[-1] == "same" else "same")


@pytest.mark.parametrize(
    "answer, message",
    [
        (_raise_not_implemented, None),
        (_swap_padding(conv_output_shape), "that is the shape for padding="),
        (
            lambda s, f, k, st, p: conv_output_shape(s, f, k, st, p)[:2] + (s[2],),
            "number of filters, not the input's channels",
        ),
        (
            lambda s, f, k, st, p: (
                ((s[0] - k) // st, (s[1] - k) // st, f)
                if p == "valid"
                else conv_output_shape(s, f, k, st, p)
            ),
            "count the first position",
        ),
        (
            lambda s, f, k, st, p: (
                (s[0] // st, s[1] // st, f) if p == "same" else conv_output_shape(s, f, k, st, p)
            ),
            r"rounds up: ceil\(n / s\).*not n // s",
        ),
        (
            lambda s, f, k, st, p: (
                (
                    (s[0] + 2 * ((k - 1) // 2) - k) // st + 1,
                    (s[1] + 2 * ((k - 1) // 2) - k) // st + 1,
                    f,
                )
                if p == "same"
                else conv_output_shape(s, f, k, st, p)
            ),
            r"with an even kernel \(4 x 4\) it loses a pixel",
        ),
        (lambda s, f, k, st, p: None, "returned None"),
        (lambda s, f, k, st, p: "26x26x8", "tuple of 3 whole numbers"),
        (lambda s, f, k, st, p: (1,) + conv_output_shape(s, f, k, st, p), "without the batch axis"),
        ("conv_output_shape", "should be a function"),
    ],
)
def test_check_conv_output_shape_wrong_answers(keras, answer, message):
    if message == r"rounds up: ceil\(n / s\).*not n // s":  # not blamed on the padding
        with pytest.raises(exercises.ExerciseIncorrect) as error:
            cnns.check_conv_output_shape(answer)
        assert "that is the shape for padding" not in str(error.value)
    if message is None:
        with pytest.raises(exercises.ExerciseNotStarted):
            cnns.check_conv_output_shape(answer)
        return
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        cnns.check_conv_output_shape(answer)


@pytest.mark.parametrize(
    "answer, message",
    [
        (lambda c, f, k: k * k * c * f, "biases are missing"),
        (lambda c, f, k: k * k * f + f, "multiply by input_channels"),
        (lambda c, f, k: k * k * c * f + c, "one bias per filter"),
        (lambda c, f, k: (k * k + 1) * c * f, "one bias per filter, not one per filter and input"),
        (lambda c, f, k: k * c * f + f, "kernel is square"),
        (lambda c, f, k: str(k * k * c * f + f), "expected a single number"),
        (lambda c, f, k: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_check_conv_parameters_wrong_answers(keras, answer, message):
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        cnns.check_conv_parameters(answer)


@pytest.mark.parametrize(
    "answer, message",
    [
        (_swap_padding(pool_output_shape), "off by one"),  # valid -> same on (5, 5, 3)
        (
            lambda s, p, st, pad: (
                (math.ceil((s[0] - p) / st) + 1, math.ceil((s[1] - p) / st) + 1, s[2])
                if pad == "valid"
                else pool_output_shape(s, p, st, pad)
            ),
            "off by one",
        ),
        (lambda s, p, st, pad: pool_output_shape(s, p, st, pad)[:2] + (1,), "keeps all of them"),
        (lambda s, p, st, pad: ((s[0] - p) + 1, (s[1] - p) + 1, s[2]), "stride is ignored"),
        (lambda s, p, st, pad: (s[0] // p, s[1] // p, s[2]), "'same' rounds up"),
        (
            lambda s, p, st, pad: pool_output_shape(s, p, p, pad),
            r"that is the shape for strides=3: the window moves by `strides` \(2\)",
        ),
    ],
)
def test_check_pool_output_shape_wrong_answers(keras, answer, message):
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        cnns.check_pool_output_shape(answer)


def _variant(**changes):
    """build_cnn with one deliberate mistake."""

    def build(input_shape, classes):
        keras = lesson.import_keras()
        layers = keras.layers
        inputs = keras.Input(shape=changes.get("input_shape", input_shape))
        x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant")(inputs)
        if changes.get("unchained"):
            x = inputs  # the augmentation's output is dropped: Keras leaves it out
        for index, filters in enumerate((changes.get("filters", 32), 64, 64)):
            x = layers.Conv2D(
                filters,
                3,
                padding=changes.get("padding", "same"),
                use_bias=changes.get("use_bias", False),
            )(x)
            x = layers.BatchNormalization(momentum=changes.get("momentum", 0.9))(x)
            x = layers.Activation("relu")(x)
            if index < 2 and not (index == 1 and changes.get("skip_pool")):
                x = layers.MaxPooling2D(2)(x)
        x = layers.Flatten()(x) if changes.get("flatten") else layers.GlobalMaxPooling2D()(x)
        outputs = layers.Dense(
            changes.get("classes", classes), activation=changes.get("activation", "softmax")
        )(x)
        return keras.Model(inputs, outputs)

    return build


@pytest.mark.parametrize(
    "answer, message",
    [
        (_variant(flatten=True), "Flatten keeps every position"),
        (_variant(filters=16), r"layer 2 \(Conv2D\) has filters=16; the spec says filters=32"),
        (_variant(padding="valid"), "padding='valid'; the spec says padding='same'"),
        (_variant(use_bias=True), "use_bias=True; the spec says use_bias=False"),
        (_variant(momentum=0.99), "momentum=0.99; the spec says momentum=0.9"),
        (_variant(activation=None), "activation='linear'; the spec says activation='softmax'"),
        (_variant(classes=10), "units=10; the spec says units=5"),
        (_variant(skip_pool=True), "has 13 layers after the Input, the spec has 14"),
        (
            _variant(unchained=True),
            r"the spec has 14(.|\n)*Missing: RandomTranslation\.(.|\n)*a "
            r"layer whose output is never used is not part of the model",
        ),
        (
            _variant(input_shape=(32, 32, 1)),
            r"input shape is \(32, 32, 1\), expected \(24, 20, 3\)",
        ),
        (lambda shape, classes: None, "returned None"),
        (lambda shape, classes: "cnn", "expected a keras.Model"),
        (_raise_not_implemented, None),
    ],
)
def test_check_build_cnn_wrong_answers(keras, answer, message):
    if message is None:
        with pytest.raises(exercises.ExerciseNotStarted):
            cnns.check_build_cnn(answer)
        return
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        cnns.check_build_cnn(answer)


def _relu_inside_conv(input_shape, classes):
    keras = lesson.import_keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = layers.RandomTranslation(0.1, 0.1, fill_mode="constant")(inputs)
    for index, filters in enumerate((32, 64, 64)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, activation="relu")(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        if index < 2:
            x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalMaxPooling2D()(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))


def _no_augmentation(input_shape, classes):
    keras = lesson.import_keras()
    layers = keras.layers
    inputs = keras.Input(shape=input_shape)
    x = inputs
    for index, filters in enumerate((32, 64, 64)):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.Activation("relu")(layers.BatchNormalization(momentum=0.9)(x))
        if index < 2:
            x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalMaxPooling2D()(x)
    return keras.Model(inputs, layers.Dense(classes, activation="softmax")(x))


@pytest.mark.parametrize(
    "answer, message, not_said",
    [
        (
            _relu_inside_conv,
            r"apply the activation themselves \(activation='relu'\)",
            "not part of the model",
        ),
        (_no_augmentation, "Your code has no RandomTranslation layer", "not part of the model"),
        (
            _variant(unchained=True),
            "Your code creates RandomTranslation, but the model does not contain it",
            "Your code has no",
        ),
    ],
)
def test_check_build_cnn_names_why_layers_are_missing(keras, answer, message, not_said):
    with pytest.raises(exercises.ExerciseIncorrect, match=message) as error:
        cnns.check_build_cnn(answer)
    assert not_said not in str(error.value)


def test_describe_spec_lists_every_layer():
    text = cnns.describe_spec()
    assert text.count("\n") == len(cnns.CNN_SPEC) - 1
    assert "units=classes" in text and text.startswith("1. RandomTranslation(")
    assert "'classes'" not in text  # the argument's name, not a string


def test_checks_do_not_use_up_keras_layer_names(keras):
    before = keras.layers.Conv2D(1, 1).name
    with_pool_before = keras.layers.MaxPooling2D().name
    exercises.solution_or(build_cnn, check=cnns.check_build_cnn, fallback=spec_cnn)
    cnns.check_conv_output_shape(conv_output_shape)
    cnns.check_pool_output_shape(pool_output_shape)
    cnns.dense_vs_conv_parameters((8, 8, 1), units=2, filters=2)

    def number(name):
        return int(name.rsplit("_", 1)[1]) if name.rsplit("_", 1)[-1].isdigit() else 0

    assert number(keras.layers.Conv2D(1, 1).name) == number(before) + 1
    assert number(keras.layers.MaxPooling2D().name) == number(with_pool_before) + 1


def test_lesson_figures_do_not_depend_on_which_checks_ran(keras):
    """Issue 12 item 15: the model a lesson builds after its checks starts from the same
    weights whether the checks passed, failed or never ran."""
    lesson.reseed(0)
    untouched = spec_cnn((32, 32, 1), 10).get_weights()
    lesson.reseed(0)
    cnns.check_build_cnn(build_cnn)  # passes
    with pytest.raises(exercises.ExerciseIncorrect):
        cnns.check_build_cnn(_variant(filters=16))  # fails half-way
    with pytest.raises(exercises.ExerciseIncorrect):
        cnns.check_conv_output_shape(lambda *args: (1, 1, 1))
    after_checks = spec_cnn((32, 32, 1), 10).get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(untouched, after_checks))
