"""lab_utils.models (introduced by lesson 04): builders, training, inference, saving."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

from lab_utils import lesson, models

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def small_cnn(keras):
    return models.cnn_classifier((12, 12, 1), 3, filters=(4, 8))


def test_importing_models_does_not_import_tensorflow():
    code = (
        "import sys, lab_utils.models; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


# --- inputs -----------------------------------------------------------------------------------


def test_as_batch_adds_a_channel_axis_and_scales_uint8():
    batch = models.as_batch(np.full((2, 4, 5), 255, np.uint8))
    assert batch.shape == (2, 4, 5, 1) and batch.dtype == np.float32 and batch.max() == 1.0
    assert models.as_batch(np.zeros((1, 3, 3, 3))).shape == (1, 3, 3, 3)


@pytest.mark.parametrize(
    "images, error, message",
    [
        (np.zeros((4, 4)), ValueError, r"\(N, height, width\).*image\[None\]"),
        ("digits", TypeError, "NumPy array"),
        (np.full((1, 2, 2), 2.0), ValueError, r"\[0, 1\].*range from 2 to 2"),
        (np.full((1, 2, 2), np.nan), ValueError, "NaN"),
        (np.zeros((0, 2, 2)), ValueError, "empty batch"),
        (np.zeros((1, 2, 2), np.int32), TypeError, "dtype is int32"),
    ],
)
def test_as_batch_bad_input(images, error, message):
    with pytest.raises(error, match=message):
        models.as_batch(images)


@pytest.mark.parametrize(
    "labels, error, message",
    [
        (np.zeros(3, int), ValueError, r"shape \(2,\)"),
        (np.array([0.0, 1.0]), TypeError, "whole class indices"),
        (np.array([0, 5]), ValueError, "below 3"),
        (np.array([-1, 0]), ValueError, "from 0"),
    ],
)
def test_as_labels_bad_input(labels, error, message):
    with pytest.raises(error, match=message):
        models.as_labels(labels, 2, 3)


# --- builders ---------------------------------------------------------------------------------


def test_dense_classifier_layers_and_parameters(keras):
    model = models.dense_classifier((8, 8, 1), 10, hidden_units=(16,))
    assert model.output_shape == (None, 10)
    assert model.count_params() == (64 * 16 + 16) + (16 * 10 + 10)
    assert [type(layer).__name__ for layer in model.layers] == [
        "InputLayer",
        "Flatten",
        "Dense",
        "Dense",
    ]
    assert models.dense_classifier((8, 8, 1), 10, (16,), dropout=0.5).layers[3].rate == 0.5


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"input_shape": (8, 8), "classes": 10}, ValueError, r"\(height, width, channels\)"),
        ({"input_shape": (8, 8, 1), "classes": 1}, ValueError, "classes must be at least 2"),
        (
            {"input_shape": (8, 8, 1), "classes": 10, "hidden_units": 16},
            TypeError,
            "hidden_units must be a list",
        ),
        (
            {"input_shape": (8, 8, 1), "classes": 10, "dropout": 1.5},
            ValueError,
            "dropout must be at most",
        ),
    ],
)
def test_dense_classifier_bad_input(keras, kwargs, error, message):
    with pytest.raises(error, match=message):
        models.dense_classifier(**kwargs)


def test_cnn_classifier_variants(keras):
    pooled = models.cnn_classifier((32, 32, 1), 10, filters=(8, 16), head="flatten")
    flat = models.cnn_classifier((32, 32, 1), 10, filters=(8, 16), head="flatten", pooling=False)
    assert pooled.get_layer("flatten").output.shape[1] == 16 * 16 * 16
    assert flat.get_layer("flatten").output.shape[1] == 32 * 32 * 16
    assert models.cnn_classifier((32, 32, 1), 10, head="global_average").output_shape == (None, 10)
    assert models.cnn_classifier((32, 32, 3), 4, dropout=0.2).get_layer("dropout").rate == 0.2
    normalised = models.cnn_classifier(
        (16, 16, 1), 3, filters=(4, 8), batch_norm=True, random_shift=0.1
    )
    assert [type(layer).__name__ for layer in normalised.layers][1:5] == [
        "RandomTranslation",
        "Conv2D",
        "BatchNormalization",
        "Activation",
    ]
    assert not normalised.get_layer("conv_1").use_bias
    assert normalised.get_layer("batch_norm_1").momentum == 0.9


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"filters": []}, TypeError, "non-empty list"),
        ({"head": "average"}, ValueError, "head must be one of"),
        ({"pooling": "yes"}, TypeError, "pooling must be True or False"),
        ({"filters": (4, 4, 4, 4, 4, 4)}, ValueError, "too small for 5 2x2 poolings"),
        ({"kernel_size": 0}, ValueError, "kernel_size must be at least 1"),
        ({"batch_norm": 1}, TypeError, "batch_norm must be True or False"),
        ({"random_shift": 0.7}, ValueError, "random_shift must be at most 0.49"),
    ],
)
def test_cnn_classifier_bad_input(keras, kwargs, error, message):
    with pytest.raises(error, match=message):
        models.cnn_classifier((16, 16, 1), 10, **kwargs)


# --- inspecting -------------------------------------------------------------------------------


def test_layer_facts_match_keras(keras):
    facts = models.layer_facts(keras.layers.Conv2D(8, 3, strides=2), (9, 11, 3))
    assert facts == {"output_shape": (4, 5, 8), "parameters": 3 * 3 * 3 * 8 + 8}
    assert models.layer_facts(keras.layers.MaxPooling2D(2), (5, 5, 4)) == {
        "output_shape": (2, 2, 4),
        "parameters": 0,
    }


@pytest.mark.parametrize(
    "layer, shape, error, message",
    [
        ("conv", (4, 4, 1), TypeError, "Keras layer"),
        (None, "4x4", TypeError, "input_shape must be a tuple"),
        (None, (4, 0, 1), ValueError, r"input_shape\[1\] must be at least 1"),
    ],
)
def test_layer_facts_bad_input(keras, layer, shape, error, message):
    layer = keras.layers.Conv2D(2, 3) if layer is None else layer
    with pytest.raises(error, match=message):
        models.layer_facts(layer, shape)


def test_layer_facts_rejects_a_whole_model(small_cnn):
    with pytest.raises(TypeError, match="Keras layer"):
        models.layer_facts(small_cnn, (12, 12, 1))


def test_parameter_count_layer_table_and_summary(keras, small_cnn):
    assert models.parameter_count(small_cnn) == small_cnn.count_params()
    table = models.layer_table(small_cnn)
    assert [row["type"] for row in table][:3] == ["InputLayer", "Conv2D", "MaxPooling2D"]
    assert sum(row["parameters"] for row in table) == small_cnn.count_params()
    assert table[1]["output_shape"] == (12, 12, 4)
    assert "Total params" in models.summary_text(small_cnn)


@pytest.mark.parametrize(
    "value, error, message",
    [
        ("model", TypeError, "Keras model or layer"),
        (None, ValueError, "not built yet"),
        (3, TypeError, "Keras model or layer"),
    ],
)
def test_parameter_count_bad_input(keras, value, error, message):
    value = keras.layers.Dense(3) if value is None else value
    with pytest.raises(error, match=message):
        models.parameter_count(value)


@pytest.mark.parametrize("function", [models.layer_table, models.summary_text])
@pytest.mark.parametrize("value", ["cnn", None, np.zeros(3)])
def test_model_inspectors_bad_input(keras, function, value):
    with pytest.raises(TypeError, match="must be a Keras model"):
        function(value)


# --- training and inference -------------------------------------------------------------------


def _tiny_data(count=48):
    images = RNG.random((count, 12, 12)).astype(np.float32) * 0.2
    labels = np.arange(count) % 3
    for image, label in zip(images, labels):  # class = which third holds a bright bar
        image[:, 4 * label : 4 * label + 4] += 0.8
    return np.clip(images, 0, 1), labels


@pytest.mark.slow  # trains a model: seconds to tens of seconds on a loaded machine
def test_train_returns_history_and_seconds_and_learns(keras):
    images, labels = _tiny_data()
    model = models.cnn_classifier((12, 12, 1), 3, filters=(4, 8))
    result = models.train(
        model,
        images,
        labels,
        validation_data=(images[:12], labels[:12]),
        epochs=3,
        batch_size=16,
        learning_rate=0.01,
        seed=1,
    )
    assert result.model is model and result.epochs == 3
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert result.seconds > 0 and result.cpu_seconds > 0
    assert models.accuracy(model, images, labels) > 0.5


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"model": "cnn"}, TypeError, "Keras model"),
        ({"labels": np.zeros(5, int)}, ValueError, r"one class index per example, shape \(48,\)"),
        ({"epochs": 0}, ValueError, "epochs must be at least 1"),
        ({"validation_data": np.zeros((2, 12, 12))}, TypeError, r"pair \(images, labels\)"),
        ({"labels": np.full(48, 7)}, ValueError, "below 3"),
        ({"cosine_decay": "yes"}, TypeError, "cosine_decay must be True or False"),
        ({"learning_rate": 0.0}, ValueError, "learning_rate must be at least"),
    ],
)
def test_train_bad_input(small_cnn, kwargs, error, message):
    images, labels = _tiny_data()
    arguments = {"model": small_cnn, "images": images, "labels": labels, **kwargs}
    with pytest.raises(error, match=message):
        models.train(
            arguments.pop("model"), arguments.pop("images"), arguments.pop("labels"), **arguments
        )


def test_predict_probabilities_sums_to_one_in_batches(small_cnn):
    images, _ = _tiny_data(10)
    probabilities = models.predict_probabilities(small_cnn, images, batch_size=3)
    assert probabilities.shape == (10, 3) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize(
    "model, images, error, message",
    [
        ("cnn", np.zeros((1, 12, 12)), TypeError, "Keras model"),
        (None, np.zeros((12, 12)), ValueError, r"image\[None\]"),
        (None, np.full((1, 12, 12), 300.0), ValueError, r"\[0, 1\]"),
    ],
)
def test_predict_probabilities_bad_input(small_cnn, model, images, error, message):
    with pytest.raises(error, match=message):
        models.predict_probabilities(small_cnn if model is None else model, images)


# --- saving -----------------------------------------------------------------------------------


def test_save_and_load_round_trip(tmp_path, small_cnn):
    images, _ = _tiny_data(4)
    path = models.save(small_cnn, tmp_path / "sub" / "cnn.keras")
    restored = models.load(str(path))
    np.testing.assert_allclose(
        models.predict_probabilities(restored, images),
        models.predict_probabilities(small_cnn, images),
        atol=1e-6,
    )


def test_a_model_whose_optimizer_never_ran_loads_without_warnings(tmp_path, keras):
    # What a training restored from the cache leaves: compiled, optimizer not built. Loading
    # it used to warn "Skipping variable loading for optimizer" (stderr in lesson 04).
    model = models.cnn_classifier((8, 8, 1), 10, filters=(4,))
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    path = models.save(model, tmp_path / "fresh.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models.load(path)


def test_load_keeps_safe_mode_on(tmp_path, keras):
    inputs = keras.Input((3,))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ValueError, match="safe_mode"):
        models.load(path)


@pytest.mark.parametrize(
    "path, error, message",
    [
        ("cnn.h5", ValueError, r"end in '\.keras'"),
        (42, TypeError, "file name"),
        ("folder/cnn", ValueError, r"end in '\.keras'"),
    ],
)
def test_save_bad_input(tmp_path, small_cnn, path, error, message):
    with pytest.raises(error, match=message):
        models.save(small_cnn, tmp_path / path if isinstance(path, str) else path)


def test_save_rejects_something_that_is_not_a_model(tmp_path, keras):
    with pytest.raises(TypeError, match="Keras model"):
        models.save("cnn", tmp_path / "cnn.keras")


@pytest.mark.parametrize(
    "path, error, message",
    [
        ("missing.keras", FileNotFoundError, "no model file"),
        ("cnn.h5", ValueError, r"end in '\.keras'"),
        (None, TypeError, r"'\.keras' file"),
    ],
)
def test_load_bad_input(tmp_path, keras, path, error, message):
    with pytest.raises(error, match=message):
        models.load(tmp_path / path if isinstance(path, str) else path)


def _tiny_training(seed=0):
    rng = np.random.default_rng(seed)
    images = rng.random((24, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 2, 24)
    lesson.import_keras().utils.set_random_seed(0)
    return models.cnn_classifier((8, 8, 1), 2, filters=(4,)), images, labels


@pytest.mark.slow  # trains a model: seconds to tens of seconds on a loaded machine
def test_train_caches_identical_trainings_and_retrains_on_change(cache, capsys, monkeypatch):
    model, images, labels = _tiny_training()
    first = models.train(model, images, labels, epochs=2, batch_size=8)
    assert not first.from_cache and list(cache.glob("trained/*.weights.h5"))
    again_model, _, _ = _tiny_training()
    again = models.train(again_model, images, labels, epochs=2, batch_size=8)
    assert again.from_cache and again.history == first.history
    assert "loaded the weights of an identical earlier training" in capsys.readouterr().out
    for a, b in zip(model.get_weights(), again_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    changed_model, _, _ = _tiny_training()
    assert not models.train(changed_model, images, labels, epochs=3, batch_size=8).from_cache
    monkeypatch.setenv("LAB_UTILS_RETRAIN", "1")
    retrain_model, _, _ = _tiny_training()
    assert not models.train(retrain_model, images, labels, epochs=2, batch_size=8).from_cache


def _unnamed_network(keras, units=10, nested=False):
    """A network whose layers Keras names itself (conv2d, conv2d_1, ... per session)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(keras.layers.Conv2D(4, 3)(inputs))
    if nested:
        inner = keras.Input(x.shape[1:])
        x = keras.Model(inner, keras.layers.Dense(6)(inner))(x)
    return keras.Model(inputs, keras.layers.Dense(units)(x))


def test_the_training_key_ignores_the_names_keras_gives_to_layers(keras):
    """The same unnamed network built twice (names conv2d and conv2d_1, ...) has one training
    key, nested models included; another architecture or other initial weights another key."""
    images = np.zeros((4, 8, 8), np.float32)
    for nested in (False, True):
        first, second = (
            _unnamed_network(keras, nested=nested),
            _unnamed_network(keras, nested=nested),
        )
        assert first.layers[1].name != second.layers[1].name  # conv2d_<n> vs conv2d_<n + 1>
        assert models._training_key(first, [images], {}) == models._training_key(
            second, [images], {}
        )
    same = models._training_key(_unnamed_network(keras), [images], {})
    assert models._training_key(_unnamed_network(keras, units=9), [images], {}) != same
    assert models._training_key(_unnamed_network(keras, nested=True), [images], {}) != same
    reinitialised = _unnamed_network(keras)
    reinitialised.layers[1].kernel.assign(reinitialised.layers[1].kernel * 2)
    assert models._training_key(reinitialised, [images], {}) != same


@pytest.mark.slow  # trains a model: seconds to tens of seconds on a loaded machine
def test_train_ignores_a_corrupted_cache_entry(cache, capsys):
    model, images, labels = _tiny_training()
    models.train(model, images, labels, epochs=1, batch_size=8)
    for path in cache.glob("trained/*.weights.h5"):
        path.write_bytes(b"not hdf5")
    again_model, _, _ = _tiny_training()
    assert not models.train(again_model, images, labels, epochs=1, batch_size=8).from_cache
    assert "damaged training cache entry" in capsys.readouterr().out
    assert list(cache.glob("trained/*.weights.h5.damaged")), "the damaged file is set aside"


def test_train_cache_argument_must_be_a_bool():
    model, images, labels = _tiny_training()
    with pytest.raises(TypeError, match="cache must be True or False"):
        models.train(model, images, labels, epochs=1, cache="yes")


@pytest.mark.parametrize("activation", [None, "relu", "sigmoid"])
def test_train_refuses_a_model_without_softmax_output(keras, activation):
    images, labels = _tiny_data()
    inputs = keras.Input((12, 12, 1))
    outputs = keras.layers.Dense(3, activation=activation)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, outputs, name="logits")
    with pytest.raises(ValueError, match=r"ends with activation .* activation='softmax'"):
        models.train(model, images, labels, epochs=1)


def test_train_accepts_a_separate_softmax_layer(keras):
    inputs = keras.Input((12, 12, 1))
    x = keras.layers.Dense(3)(keras.layers.Flatten()(inputs))
    for last in (keras.layers.Activation("softmax"), keras.layers.Softmax()):
        assert models._output_activation(keras.Model(inputs, last(x))) == "softmax"


def test_dense_classifier_can_shift_its_training_images_like_the_cnn(keras):
    model = models.dense_classifier((12, 12, 1), 3, hidden_units=(4,), random_shift=0.2)
    assert type(model.layers[1]).__name__ == "RandomTranslation"
    images = np.random.default_rng(0).random((2, 12, 12, 1)).astype("float32")
    plain = models.dense_classifier((12, 12, 1), 3, hidden_units=(4,))
    plain.set_weights(model.get_weights())  # the shift layer has no weights
    np.testing.assert_allclose(
        model(images, training=False), plain(images, training=False), rtol=1e-6
    )  # no shift at prediction time
    with pytest.raises(ValueError, match="random_shift"):
        models.dense_classifier((12, 12, 1), 3, random_shift=0.7)
