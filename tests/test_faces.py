"""lab_utils.faces (lesson 06): identity splits, distances and ROC, eigenfaces, Haar detection,
the rotation sweep, the embedding network, the widgets driven headlessly, and the checks
tested with right answers (written here) and typical wrong answers."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from lab_utils import boxes as boxes_module
from lab_utils import data, detection, exercises, faces

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def olivetti():
    """The real Olivetti faces (conftest puts ../shared/data's file into the session cache)."""
    faces_set = data.load_dataset("olivetti_faces")
    if faces_set.substitute:
        pytest.skip("../shared/data/olivetti_py3.pkz is not available")
    return faces_set


def test_importing_faces_imports_neither_tensorflow_nor_opencv_nor_dlib():
    code = (
        "import sys, lab_utils.faces; "
        "print(*[m in sys.modules for m in ('tensorflow', 'keras', 'cv2', 'dlib')])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False"] * 4


# --- identity splits ----------------------------------------------------------------------------


def test_identity_split_keeps_people_apart(olivetti):
    split = faces.identity_split(olivetti, range(30, 40), range(25, 30), size=32)
    people = split.identities()
    assert people["test"] == list(range(30, 40)) and people["validation"] == list(range(25, 30))
    assert people["train"] == list(range(25))
    assert split.train_images.shape == (250, 32, 32) and split.test_images.shape == (100, 32, 32)
    assert split.train_images.dtype == np.float32
    assert 0 <= split.test_images.min() and split.test_images.max() <= 1


def test_identity_split_works_on_the_offline_substitute(cache):
    substitute = data.load_dataset("olivetti_faces")
    assert substitute.substitute
    split = faces.identity_split(substitute, range(0, 10))
    assert split.identities()["test"] == list(range(10)) and len(split.validation_labels) == 0


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        ((np.zeros((4, 8, 8)),), TypeError, r"data\.Dataset"),
        (("OLIVETTI",), TypeError, r"data\.Dataset"),
        ((None, [45]), ValueError, "not in the dataset"),
        ((None, []), ValueError, "empty"),
        ((None, [1, 2], [2, 3]), ValueError, "both the test and the validation"),
        ((None, "0-9"), TypeError, "list of person numbers"),
        ((None, range(0, 39)), ValueError, "fewer than two people"),
    ],
)
def test_identity_split_rejects_bad_inputs(olivetti, arguments, error, message):
    arguments = (olivetti if arguments[0] is None else arguments[0],) + arguments[1:]
    with pytest.raises(error, match=message):
        faces.identity_split(*arguments)


def test_as_faces_names_colour_and_shape_problems():
    with pytest.raises(ValueError, match="colour images.*rgb2gray"):
        faces.as_faces(np.zeros((2, 8, 8, 3)))
    with pytest.raises(ValueError, match=r"\(N, height, width\)"):
        faces.as_faces(np.zeros((8, 8)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        faces.as_faces(np.full((1, 4, 4), 3.0))
    assert faces.as_faces(np.full((1, 4, 4, 1), 255, np.uint8)).max() == 1.0


# --- distances and verification -------------------------------------------------------------


def test_squared_distances_match_scipy():
    a, b = RNG.normal(size=(7, 5)), RNG.normal(size=(4, 5))
    np.testing.assert_allclose(faces.squared_distances(a), cdist(a, a, "sqeuclidean"), atol=1e-10)
    np.testing.assert_allclose(
        faces.squared_distances(a, b), cdist(a, b, "sqeuclidean"), atol=1e-10
    )
    assert np.all(np.diag(faces.squared_distances(a)) == 0)


@pytest.mark.parametrize(
    "embeddings, message",
    [
        (np.zeros(5), r"shape \(N, D\)"),
        (np.zeros((0, 3)), "empty"),
        (np.array([[0.0, np.nan]]), "NaN"),
        ("abc", "NumPy array"),
    ],
)
def test_embeddings_are_checked(embeddings, message):
    with pytest.raises((ValueError, TypeError), match=message):
        faces.squared_distances(embeddings)


def test_squared_distances_need_equal_widths():
    with pytest.raises(ValueError, match="same embedding"):
        faces.squared_distances(np.zeros((2, 3)), np.zeros((2, 4)))


def test_pair_distances_and_roc_agree_with_a_direct_count():
    embeddings = RNG.normal(size=(12, 3))
    labels = np.repeat(np.arange(4), 3)
    distances, same = faces.pair_distances(embeddings, labels)
    assert distances.shape == same.shape == (66,) and same.sum() == 12
    roc = faces.verification_roc(distances, same)
    # AUC = probability that a random same-person pair is closer than a different-person pair
    direct = np.mean(
        [
            (d_same < d_diff) + 0.5 * (d_same == d_diff)
            for d_same in distances[same]
            for d_diff in distances[~same]
        ]
    )
    assert roc.auc == pytest.approx(direct)
    assert roc.true_accept[-1] == 1 and roc.false_accept[-1] == 1
    separable = np.repeat(np.eye(4) * 10, 3, axis=0) + RNG.normal(scale=0.01, size=(12, 4))
    assert faces.verification_auc(separable, labels) == 1.0


def test_error_rates_and_best_threshold():
    distances = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    same = np.array([True, True, False, True, False, False])
    rates = faces.error_rates(distances, same, 0.25)
    assert rates == {
        "threshold": 0.25,
        "false_accept": 0.0,
        "false_reject": pytest.approx(1 / 3),
        "accuracy": pytest.approx(5 / 6),
        "balanced_accuracy": pytest.approx(1 - (0 + 1 / 3) / 2),
    }
    # answering "different" to everything: right on 3 of the 6 pairs, balanced accuracy 1/2
    assert faces.error_rates(distances, same, 0.05)["balanced_accuracy"] == 0.5
    threshold = faces.best_threshold(distances, same)
    assert threshold in (0.2, 0.7)  # both maximise TAR - FAR (= 2/3)
    with pytest.raises(ValueError, match="outside the range"):
        faces.error_rates(distances, same, 5.0)
    with pytest.raises(ValueError, match="outside the range"):
        faces.error_rates(distances, same, -0.1)
    with pytest.raises(ValueError, match="both same-person and different-person"):
        faces.error_rates(distances, np.ones(6, bool), 0.5)
    with pytest.raises(ValueError, match="equal length"):
        faces.verification_roc(distances, same[:3])
    with pytest.raises(ValueError, match="NaN"):
        faces.verification_roc(np.array([np.nan, 1.0]), np.array([True, False]))


# --- raw pixels and eigenfaces ----------------------------------------------------------------


def test_eigenfaces_beat_raw_pixels_on_held_out_people(olivetti):
    split = faces.identity_split(olivetti, range(30, 40))
    pca = faces.fit_eigenfaces(split.train_images, 50)
    eigen = faces.eigenface_embeddings(pca, split.test_images)
    assert eigen.shape == (100, 50)
    np.testing.assert_allclose(np.linalg.norm(eigen, axis=1), 1.0, atol=1e-9)
    pixels_auc = faces.verification_auc(
        faces.pixel_embeddings(split.test_images), split.test_labels
    )
    eigen_auc = faces.verification_auc(eigen, split.test_labels)
    assert 0.8 < pixels_auc < eigen_auc < 0.99


def test_eigenfaces_reject_bad_inputs(olivetti):
    with pytest.raises(TypeError, match="fit_eigenfaces"):
        faces.eigenface_embeddings("pca", olivetti.images[:3])
    pca = faces.fit_eigenfaces(olivetti.images[:40], 5)
    with pytest.raises(ValueError, match="pixels"):
        faces.eigenface_embeddings(pca, olivetti.images[:3, :32, :32])
    with pytest.raises(ValueError, match="at most"):
        faces.fit_eigenfaces(olivetti.images[:10], 50)


# --- Haar cascades and the rotation sweep ---------------------------------------------------------


def test_haar_finds_the_one_face_in_the_sample_portraits():
    for name in ("astronaut", "grace_hopper"):
        image = data.load_image(name)
        boxes = faces.detect_faces_haar(image)
        assert boxes.shape == (1, 4), name
        assert faces.detect_faces_haar(image / 255.0).shape == (1, 4)  # float RGB too
    # where the hand annotation of data/detection_photos.csv puts the astronaut's face
    truth = detection.photo_truths(data.load_table("detection_photos"), "astronaut", "face")
    found = faces.detect_faces_haar(data.load_image("astronaut"))
    assert boxes_module.iou_matrix(found, truth)[0, 0] > 0.5


def test_haar_finds_nothing_in_a_face_free_photo():
    assert faces.detect_faces_haar(data.load_image("coffee")).shape == (0, 4)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"scale_factor": 1.0}, ValueError, "at least"),
        ({"min_neighbors": -1}, ValueError, "at least 0"),
        ({"min_size": 2.5}, TypeError, "whole number"),
        ({"cascade": "cat_face"}, ValueError, "frontalface_default"),
    ],
)
def test_haar_rejects_bad_settings(kwargs, error, message):
    with pytest.raises(error, match=message):
        faces.detect_faces_haar(np.zeros((40, 40), np.uint8), **kwargs)


def test_haar_rejects_images_that_are_not_images():
    with pytest.raises(ValueError, match="shape"):
        faces.detect_faces_haar(np.zeros((40, 40, 4), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        faces.detect_faces_haar(np.full((40, 40), 7.0))


def test_box_hits_and_draw_boxes():
    reference = (10, 10, 20, 20)
    assert faces.box_hits([[12, 12, 18, 18]], reference)
    assert not faces.box_hits([[40, 40, 18, 18]], reference)  # elsewhere
    assert not faces.box_hits([[0, 0, 60, 60]], reference)  # far too large
    assert not faces.box_hits(np.zeros((0, 4)), reference)
    canvas = faces.draw_boxes(
        np.zeros((30, 30), np.uint8), [[5, 5, 10, 10]], colour=(255, 40, 40), thickness=2
    )
    assert canvas.shape == (30, 30, 3) and canvas[5, 7].tolist() == [255, 40, 40]
    assert canvas[10, 10].tolist() == [0, 0, 0]


def test_rotation_sweep_shows_haar_failing_at_large_angles(olivetti):
    images, boxes = faces.padded_faces(olivetti.images[::40], pad=32)  # 10 people
    sweep = faces.rotation_sweep(
        lambda image: faces.detect_faces_haar(image, min_size=40), images, boxes, angles=(0, 45)
    )
    upright, tilted = sweep["rate"]
    assert upright >= 0.7 and tilted < upright
    assert sweep["seconds"] > 0


def test_rotation_sweep_rejects_bad_inputs():
    with pytest.raises(TypeError, match="function"):
        faces.rotation_sweep("haar", [np.zeros((8, 8))], [(0, 0, 4, 4)])
    with pytest.raises(ValueError, match="equal length"):
        faces.rotation_sweep(faces.detect_faces_haar, [np.zeros((8, 8))], [])


def test_rotate_about_keeps_shape_and_dtype():
    image = data.load_image("astronaut")[:64, :64]
    turned = faces.rotate_about(image, 30, (32, 32))
    assert turned.shape == image.shape and turned.dtype == np.uint8
    np.testing.assert_array_equal(faces.rotate_about(image, 0, (32, 32)), image)


# --- enrolment / identification -------------------------------------------------------------


def test_identify_names_near_faces_and_rejects_strangers():
    gallery = np.array([[0.0, 0.0], [10.0, 0.0]])
    probes = np.array([[0.1, 0.0], [9.8, 0.1], [50.0, 50.0]])
    assert faces.identify(gallery, ["ann", "bob"], probes, 1.0) == ["ann", "bob", "unknown"]


@pytest.mark.parametrize(
    "gallery, names, threshold, message",
    [
        (np.zeros((0, 2)), [], 1.0, "empty"),
        (np.zeros((2, 2)), ["a"], 1.0, "one name per gallery row"),
        (np.array([[np.nan, 0.0]]), ["a"], 1.0, "NaN"),
        (np.array([[0.0, 0.0], [1.0, 1.0]]), ["a", "b"], 1e6, "outside the range"),
        (np.array([[0.0, 0.0], [1.0, 1.0]]), ["a", "b"], -1.0, "outside the range"),
    ],
)
def test_identify_rejects_bad_inputs(gallery, names, threshold, message):
    with pytest.raises(ValueError, match=message):
        faces.identify(gallery, names, np.ones((2, 2)), threshold)


def test_enrolment_experiment_counts_right_and_strangers():
    embeddings = np.repeat(np.eye(4) * 5, 3, axis=0) + RNG.normal(scale=0.05, size=(12, 4))
    labels = np.repeat(np.arange(4), 3)
    result = faces.enrolment_experiment(embeddings, labels, enrolled=2, threshold=1.0)
    assert result == {"correct": 1.0, "rejected_strangers": 1.0, "gallery_size": 2, "probes": 10}
    # the lesson passes the student's identify: it is the one that names the probes
    asked = []

    def nobody(gallery, names, probes, threshold):
        asked.append((len(gallery), list(names), len(probes), threshold))
        return ["unknown"] * len(probes)

    result = faces.enrolment_experiment(
        embeddings, labels, enrolled=2, threshold=1.0, identify_with=nobody
    )
    assert asked == [(2, ["person 0", "person 1"], 10, 1.0)]
    assert result["correct"] == 0.0 and result["rejected_strangers"] == 1.0


# --- exercise checks: right answers pass, typical mistakes get specific messages ------------------


def right_distances(embeddings):
    difference = embeddings[:, None, :] - embeddings[None, :, :]
    return (difference**2).sum(axis=2)


def test_pairwise_squared_distances_check(capsys):
    faces.check_pairwise_squared_distances(right_distances)
    assert "✔ pairwise_squared_distances passed 4 tests." in capsys.readouterr().out
    with pytest.raises(exercises.ExerciseIncorrect, match="do not take the square root"):
        faces.check_pairwise_squared_distances(lambda e: np.sqrt(right_distances(e)))
    with pytest.raises(exercises.ExerciseIncorrect, match=r"add \|a\|\^2"):
        faces.check_pairwise_squared_distances(lambda e: -2 * e @ e.T)
    with pytest.raises(exercises.ExerciseIncorrect, match="shape"):
        faces.check_pairwise_squared_distances(lambda e: (e**2).sum(1))
    with pytest.raises(exercises.ExerciseIncorrect, match="returned None"):
        faces.check_pairwise_squared_distances(lambda e: None)
    with pytest.raises(exercises.ExerciseNotStarted):
        faces.check_pairwise_squared_distances(_not_started)


def _not_started(*args):
    raise NotImplementedError()


def test_pairwise_squared_distances_check_refuses_scipy():
    namespace = {}
    exec(
        "from scipy.spatial.distance import cdist\n"
        "def shortcut(e):\n    return cdist(e, e, 'sqeuclidean')\n",
        namespace,
    )
    namespace["shortcut"].__module__ = "__main__"
    with pytest.raises(exercises.ExerciseIncorrect, match="cdist"):
        faces.check_pairwise_squared_distances(namespace["shortcut"])


def right_triplet(anchor, positive, negative, margin):
    d_ap = ((anchor - positive) ** 2).sum(axis=1)
    d_an = ((anchor - negative) ** 2).sum(axis=1)
    return np.maximum(d_ap - d_an + margin, 0)


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda a, p, n, m: ((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) + m, r"max\(\.\.\., 0\)"),
        (
            lambda a, p, n, m: np.maximum(
                np.linalg.norm(a - p, axis=1) - np.linalg.norm(a - n, axis=1) + m, 0
            ),
            "squared",
        ),
        (lambda a, p, n, m: right_triplet(a, n, p, m), "swapped"),
        (
            lambda a, p, n, m: np.maximum(((a - p) ** 2).sum(1) - ((a - n) ** 2).sum(1) - m, 0),
            "margin is added",
        ),
        (lambda a, p, n, m: float(right_triplet(a, p, n, m).mean()), "one loss per triplet"),
        (lambda a, p, n, m: right_triplet(a, p, n, 0.2), "differs"),
    ],
)
def test_triplet_loss_check(wrong, message, capsys):
    faces.check_triplet_loss(right_triplet)
    assert "✔ triplet_loss passed 5 tests." in capsys.readouterr().out
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        faces.check_triplet_loss(wrong)


def test_triplet_loss_check_agrees_with_the_keras_loss(keras):
    """The training loss (keras.ops, one negative per anchor-positive pair) and the exercise
    give the same number on a batch of one anchor-positive-negative triplet."""
    rng = np.random.default_rng(3)
    points = rng.normal(size=(3, 5)).astype("float32")
    labels = np.array([0, 0, 1])
    for mining in ("batch_hard", "semi_hard", "random"):
        loss = faces.triplet_loss_keras(0.3, mining)(labels, points)
        expected = right_triplet(points[[0, 1]], points[[1, 0]], points[[2, 2]], 0.3).mean()
        assert float(loss) == pytest.approx(expected, rel=1e-5), mining
    collapse = faces.triplet_loss_keras(0.3, "positives_only")(labels, points)
    assert float(collapse) == pytest.approx(((points[0] - points[1]) ** 2).sum(), rel=1e-5)


def right_semi_hard(distances, labels, anchor, positive, margin):
    d_ap = distances[anchor, positive]
    best, best_distance = -1, np.inf
    for j, d in enumerate(distances[anchor]):
        if labels[j] != labels[anchor] and d_ap < d < d_ap + margin and d < best_distance:
            best, best_distance = j, d
    return best


def hardest_negative(distances, labels, anchor, positive, margin):
    row = np.where(labels != labels[anchor], distances[anchor], np.inf)
    return int(np.argmin(row))


def no_margin(distances, labels, anchor, positive, margin):
    row = np.where(
        (labels != labels[anchor]) & (distances[anchor] > distances[anchor, positive]),
        distances[anchor],
        np.inf,
    )
    return int(np.argmin(row)) if np.isfinite(row).any() else -1


@pytest.mark.parametrize(
    "wrong, message",
    [
        (hardest_negative, "hardest negative"),
        (no_margin, "return -1"),
        (lambda d, labels, a, p, m: float(d[a, p]) + 0.5, "a distance"),
        (lambda d, labels, a, p, m: "3", "one whole number"),
        (lambda d, labels, a, p, m: p, "own person"),
    ],
)
def test_semi_hard_negative_check(wrong, message, capsys):
    faces.check_semi_hard_negative(right_semi_hard)
    assert "✔ semi_hard_negative passed" in capsys.readouterr().out
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        faces.check_semi_hard_negative(wrong)


def right_threshold(distances, same):
    best, best_score = None, -np.inf
    for t in np.unique(distances):
        accepted = distances <= t
        score = accepted[same].mean() - accepted[~same].mean()
        if score > best_score:
            best, best_score = t, score
    return best


def best_accuracy_then_index(distances, same):
    ordered = np.sort(distances)
    scores = [(np.sort(distances) <= t).mean() for t in ordered]
    return int(np.argmax(scores))


@pytest.mark.parametrize(
    "wrong, message",
    [
        (lambda d, s: -right_threshold(d, s), "negative threshold"),
        (lambda d, s: float(np.median(d)), "TAR - FAR"),
        (lambda d, s: np.array([right_threshold(d, s)]), "one threshold"),
        (lambda d, s: float("nan"), "finite"),
    ],
)
def test_choose_threshold_check(wrong, message, capsys):
    faces.check_choose_threshold(right_threshold)
    assert "✔ choose_threshold passed 4 tests." in capsys.readouterr().out
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        faces.check_choose_threshold(wrong)


def test_choose_threshold_check_names_a_position_instead_of_a_distance():
    def position(distances, same):
        return int(np.searchsorted(np.sort(distances), right_threshold(distances, same)))

    with pytest.raises(exercises.ExerciseIncorrect, match="position"):
        faces.check_choose_threshold(position)


def right_identify(gallery, names, probes, threshold):
    distances = ((probes[:, None, :] - gallery[None, :, :]) ** 2).sum(axis=2)
    nearest = distances.argmin(axis=1)
    return [names[j] if distances[i, j] <= threshold else "unknown" for i, j in enumerate(nearest)]


@pytest.mark.parametrize(
    "wrong, message",
    [
        (
            lambda g, n, p, t: [n[j] for j in ((p[:, None] - g[None]) ** 2).sum(2).argmin(1)],
            "strangers too",
        ),
        (lambda g, n, p, t: list(((p[:, None] - g[None]) ** 2).sum(2).argmin(1)), "indices"),
        (lambda g, n, p, t: right_identify(g, n, p, t)[:-1], "one per probe"),
        (lambda g, n, p, t: ["unknown"] * len(p), "expected"),
    ],
)
def test_identify_check(wrong, message, capsys):
    faces.check_identify(right_identify)
    assert "✔ identify passed 6 tests." in capsys.readouterr().out
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        faces.check_identify(wrong)


# --- the embedding network ------------------------------------------------------------------------


def test_siamese_model_shares_one_embedding(keras):
    embedding = faces.embedding_network(32, 16)
    siamese = faces.siamese_model(embedding)
    assert [layer.name for layer in siamese.layers].count("embedding") == 1
    assert siamese.count_params() == embedding.count_params()
    faces_a = np.random.default_rng(0).random((3, 32, 32, 1)).astype("float32")
    distances = keras.ops.convert_to_numpy(siamese([faces_a, faces_a], training=False))
    np.testing.assert_allclose(distances, 0, atol=1e-5)
    vectors = faces.embed(embedding, faces_a[..., 0])
    # Unit length up to float32 and the normalisation's epsilon (an untrained network's
    # embeddings are small before normalising, so the epsilon shows at 1e-5).
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)


def test_pk_batches_hold_people_times_photos():
    labels = np.repeat(np.arange(6), 4)
    order = faces.pk_batches(labels, 3, 2, batches=5, seed=1)
    assert order.shape == (30,)
    for batch in order.reshape(5, 6):
        assert sorted(np.bincount(labels[batch], minlength=6)[np.unique(labels[batch])]) == [
            2,
            2,
            2,
        ]
    with pytest.raises(ValueError, match="only 6"):
        faces.pk_batches(labels, 7, 2)
    with pytest.raises(ValueError, match="only 4 images"):
        faces.pk_batches(labels, 3, 5)


def test_train_embedding_rejects_bad_inputs(keras):
    model = faces.embedding_network(16, 8)
    images = np.zeros((20, 16, 16), np.float32)
    labels = np.repeat(np.arange(4), 5)
    with pytest.raises(ValueError, match="resize_faces"):
        faces.train_embedding(model, np.zeros((20, 32, 32), np.float32), labels)
    with pytest.raises(ValueError, match="mining"):
        faces.train_embedding(model, images, labels, mining="hardest")
    with pytest.raises(ValueError, match="colour"):
        faces.embed(model, np.zeros((2, 16, 16, 3)))
    with pytest.raises(TypeError, match="Keras model"):
        faces.embed("model", images)


def test_positives_only_training_collapses_and_triplets_do_not(olivetti, keras):
    """The slide's loss without negatives maps every face to (nearly) one point."""
    split = faces.identity_split(olivetti, range(30, 40), size=16)
    spreads = {}
    for mining in ("positives_only", "batch_all"):
        keras.utils.set_random_seed(0)
        model = faces.embedding_network(16, 8, filters=(8, 16))
        faces.train_embedding(
            model,
            split.train_images,
            split.train_labels,
            mining=mining,
            epochs=2,
            batches_per_epoch=15,
            cache=False,
        )
        spreads[mining] = faces.squared_distances(faces.embed(model, split.test_images)).mean()
    assert spreads["positives_only"] < 0.05 < spreads["batch_all"]


# --- Haar-like features and OpenCV's cascade -------------------------------------------------------


def test_haar_features_are_rectangle_sums_read_from_the_integral_image():
    """A two-rectangle feature is one rectangle's pixel sum minus the other's (scikit-image's
    sign: the second minus the first), summed here directly over the pixels."""
    lfw = data.load_dataset("lfw_subset")
    coords, types = faces.haar_feature_sample(25, 300, seed=0)
    assert len(coords) == len(types) == 300
    two_rectangles = [k for k, kind in enumerate(types) if kind in ("type-2-x", "type-2-y")][:5]
    values = faces.haar_features(lfw.images[:3], coords[two_rectangles], types[two_rectangles])
    for image, row in zip(lfw.images[:3], values):
        for value, k in zip(row, two_rectangles):
            first, second = (
                image[r0 : r1 + 1, c0 : c1 + 1].sum() for (r0, c0), (r1, c1) in coords[k]
            )
            assert value == pytest.approx(second - first, abs=1e-9)
    picture = faces.draw_haar_feature(lfw.images[0], coords[0])
    assert picture.shape == (25, 25, 3)


def test_haar_features_separate_faces_from_non_faces():
    """Boosted stumps on 300 random Haar-like features tell held-out faces from non-faces
    (lfw_subset: 100 of each) far better than chance; shuffled labels do not."""
    from sklearn.ensemble import AdaBoostClassifier

    lfw = data.load_dataset("lfw_subset")
    coords, types = faces.haar_feature_sample(25, 300, seed=0)
    values = faces.haar_features(lfw.images, coords, types)
    assert values.shape == (200, 300) and np.isfinite(values).all()
    is_face = lfw.labels == lfw.class_names.index("face")
    train = np.arange(len(values)) % 2 == 0

    def held_out_accuracy(labels):
        model = AdaBoostClassifier(n_estimators=20, random_state=0)
        return model.fit(values[train], labels[train]).score(values[~train], labels[~train])

    assert held_out_accuracy(is_face) >= 0.9
    shuffled = np.random.default_rng(0).permutation(is_face)
    assert held_out_accuracy(shuffled) < 0.7


def test_opencv_cascade_summary_reads_the_xml():
    summary = faces.opencv_cascade_summary()
    assert summary["window"] == (24, 24) and summary["stages"] == 25
    assert len(summary["weak_per_stage"]) == 25 and summary["weak_per_stage"][0] == 9
    assert all(len(rect) == 5 for feature in summary["first_stage"] for rect in feature)
    with pytest.raises(ValueError, match="frontalface_default"):
        faces.opencv_cascade_summary("no_such_cascade")
    figure = faces.plot_cascade_features(summary)
    assert len([axes for axes in figure.axes if axes.has_data()]) == 9  # the first stage


# --- dlib: detectors, landmarks, alignment, ResNet descriptors ------------------------------------

dlib = pytest.importorskip("dlib")


def test_dlib_hog_finds_the_portraits_face_and_landmarks_are_numbered_groups():
    photo = data.load_image("grace_hopper")
    boxes = faces.detect_faces_dlib(photo)
    assert boxes.shape == (1, 4)
    points = faces.landmarks(photo)
    assert points.shape == (68, 2)
    x, y, w, h = boxes[0]
    inside = (
        (points[:, 0] > x - w * 0.2)
        & (points[:, 0] < x + w * 1.2)
        & (points[:, 1] > y - h * 0.2)
        & (points[:, 1] < y + h * 1.2)
    )
    assert inside.mean() > 0.9
    right_eye, left_eye = faces.eye_centres(points)
    assert right_eye[0] < left_eye[0]  # the person's right eye is on the left
    nose_tip, chin = points[30], points[8]  # points 31 and 9 on the slide's numbering
    assert right_eye[1] < nose_tip[1] < chin[1]
    assert sorted(n for group in faces.LANDMARK_GROUPS.values() for n in group) == list(
        range(1, 69)
    )


def test_landmarks_refuse_an_image_without_a_face():
    with pytest.raises(ValueError, match="no face found"):
        faces.landmarks(data.load_image("coffee"))
    with pytest.raises(ValueError, match="positive width"):
        faces.landmarks(data.load_image("coffee"), (0, 0, 0, 10))
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        faces.eye_centres(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="method"):
        faces.detect_faces_dlib(np.zeros((50, 50), np.uint8), method="sift")


def test_align_face_puts_the_eyes_level(olivetti):
    image = olivetti.images[3]
    turned = faces.rotate_about(image, 15, (32, 32))
    points = faces.landmarks(turned, (0, 0, 64, 64))
    aligned = faces.align_face(turned, points)
    assert aligned.shape == (64, 64) and aligned.dtype == np.float32
    again = faces.landmarks(aligned, (0, 0, 64, 64))
    right_eye, left_eye = faces.eye_centres(again)
    before = np.subtract(*faces.eye_centres(points)[::-1])
    after = left_eye - right_eye
    assert abs(np.degrees(np.arctan2(after[1], after[0]))) < abs(
        np.degrees(np.arctan2(before[1], before[0]))
    )


def test_dlib_embeddings_separate_people_and_are_cached(olivetti, cache):
    images = olivetti.images[:30]  # people 0-2
    first = faces.dlib_embeddings(images)
    assert first.shape == (30, 128)
    assert faces.verification_auc(first, olivetti.labels[:30]) > 0.95
    assert len(list((cache / "dlib").glob("*.npy"))) == 1
    np.testing.assert_array_equal(faces.dlib_embeddings(images), first)
    with pytest.raises(ValueError, match="non-empty batch"):
        faces.dlib_embeddings(np.zeros((0, 8, 8)))
    with pytest.raises(ValueError, match="NaN"):
        faces.dlib_embeddings(np.full((1, 8, 8), np.nan))


# --- widgets, driven headlessly ---------------------------------------------------------------------


def test_threshold_explorer_trades_false_accepts_for_false_rejects():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(5), 4)
    embeddings = np.repeat(rng.normal(size=(5, 6)), 4, axis=0) + rng.normal(scale=0.4, size=(20, 6))
    images = rng.random((20, 16, 16)).astype(np.float32)
    widget = faces.threshold_explorer(embeddings, labels, images, examples=3)
    start = dict(widget.state)
    assert len(start["accepted"]) == 6
    widget.controls["threshold"].value = 0.0
    assert widget.state["false_accept"] == 0.0 and widget.state["false_reject"] == 1.0
    widget.controls["threshold"].value = widget.controls["threshold"].max
    assert widget.state["false_accept"] == 1.0 and widget.state["false_reject"] == 0.0
    assert all(widget.state["accepted"])
    with pytest.raises(ValueError, match="one row per face"):
        faces.threshold_explorer(embeddings, labels, images[:5])
    with pytest.raises(ValueError, match="outside the range"):
        faces.threshold_explorer(embeddings, labels, images, threshold=1e9)


def test_haar_explorer_reacts_to_every_control():
    photo = data.load_image("astronaut")[::2, ::2]
    widget = faces.haar_explorer(
        {"astronaut": photo, "coffee": data.load_image("coffee")[::2, ::2]}
    )
    assert widget.state["faces"] == 1
    widget.controls["min_neighbors"].value = 0
    raw = widget.state["faces"]
    assert raw > 1
    widget.controls["min_size"].value = 150
    assert widget.state["faces"] < raw
    widget.controls["photo"].value = "coffee"
    widget.controls["min_size"].value = 30
    widget.controls["min_neighbors"].value = 5
    assert widget.state["faces"] == 0
    with pytest.raises(TypeError, match="non-empty dict"):
        faces.haar_explorer({})
    with pytest.raises(ValueError, match="shape"):
        faces.haar_explorer({"bad": np.zeros((4, 4, 2))})


def test_failure_photos_keep_the_size():
    photo = data.load_image("grace_hopper")
    variants = faces.failure_photos(photo, faces.detect_faces_haar(photo)[0])
    assert list(variants) == ["as taken", "turned 40°", "eyes covered", "dim side light"]
    assert all(v.shape == photo.shape and v.dtype == np.uint8 for v in variants.values())


def test_plots_return_figures(olivetti):
    roc = faces.verification_roc(np.array([0.1, 0.5, 0.9]), np.array([True, False, False]))
    figure = faces.plot_roc({"x": roc})
    (curve,) = [line for line in figure.axes[0].get_lines() if line.get_label().startswith("x")]
    np.testing.assert_allclose(curve.get_xdata(), roc.false_accept)
    assert faces.plot_distance_histograms(
        np.array([0.1, 0.5, 0.9]), np.array([True, False, False]), threshold=0.3
    )
    points = np.column_stack([np.linspace(10, 50, 68), np.linspace(10, 50, 68)])
    figure = faces.plot_landmarks(olivetti.images[0], points)
    texts = [text.get_text() for text in figure.axes[0].texts]
    assert texts == [str(number) for number in range(1, 69)]  # numbered 1-68, as on the slide
    with pytest.raises(ValueError, match=r"\(68, 2\)"):
        faces.plot_landmarks(olivetti.images[0], points[:10])
    with pytest.raises(TypeError, match="non-empty dict"):
        faces.plot_roc({})


# --- the student's loss and semi-hard rule inside the training (issue 21) --------------------------


def numpy_triplet(anchor, positive, negative, margin):
    """The exercise's answer as a student writes it, for NumPy arrays."""
    positive_distance = ((anchor - positive) ** 2).sum(axis=1)
    negative_distance = np.sum(np.square(anchor - negative), axis=1)
    return np.maximum(positive_distance - negative_distance + margin, 0.0)


def converts_to_numpy(anchor, positive, negative, margin):
    anchor, positive, negative = (np.asarray(x) for x in (anchor, positive, negative))
    return numpy_triplet(anchor, positive, negative, margin)


def _batch(keras, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(10), 5)
    embeddings = rng.normal(size=(50, 8)).astype("float32")
    embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
    return labels, embeddings


@pytest.mark.parametrize("mining", ["batch_all", "batch_hard", "semi_hard", "random"])
def test_a_numpy_triplet_loss_drives_the_keras_loss_with_the_kits_value_and_gradient(keras, mining):
    import tensorflow as tf

    labels, embeddings = _batch(keras)
    variable = tf.Variable(embeddings)
    values, gradients = [], []
    for per_triplet in (None, numpy_triplet):
        loss = faces.triplet_loss_keras(
            0.5, mining, seed=3, per_triplet=per_triplet, positives_per_anchor=4
        )
        with tf.GradientTape() as tape:
            value = loss(tf.constant(labels), variable)
        values.append(float(value))
        gradients.append(tf.convert_to_tensor(tape.gradient(value, variable)).numpy())
    if mining != "random":  # the two paths draw their random negatives differently
        assert values[0] == pytest.approx(values[1], abs=1e-5)
        np.testing.assert_allclose(gradients[0], gradients[1], atol=1e-5)
    assert values[1] > 0 and np.abs(gradients[1]).sum() > 0


def test_a_triplet_loss_that_leaves_the_tensors_is_explained():
    assert faces.trainable_triplet_formula(numpy_triplet) is None
    assert "NumPy arrays" in faces.trainable_triplet_formula(converts_to_numpy)
    wrong = faces.trainable_triplet_formula(lambda a, p, n, margin: ((a - p) ** 2).sum(axis=1))
    assert "other values" in wrong


def test_on_keras_runs_numpy_style_code_as_keras_ops(keras):
    ops = keras.ops
    x = ops.convert_to_tensor(np.array([[1.0, -2.0], [3.0, 4.0]], "float32"))
    result = faces.on_keras(lambda a: np.maximum(abs(a) ** 2 - 1, 0).sum(axis=1) / 2)(x)
    np.testing.assert_allclose(ops.convert_to_numpy(result), [1.5, 11.5])
    with pytest.raises(TypeError, match="one value per triplet"):
        faces.on_keras(lambda a: "nothing")(x)


def right_semi_hard_loop(distances, labels, anchor, positive, margin):
    d_ap = distances[anchor, positive]
    best, best_distance = -1, np.inf
    for j in range(len(labels)):
        d = distances[anchor, j]
        if labels[j] != labels[anchor] and d_ap < d < d_ap + margin and d < best_distance:
            best, best_distance = j, d
    return best


def test_semi_hard_choice_and_the_mined_negatives():
    labels, embeddings = np.repeat(np.arange(4), 3), RNG.normal(size=(12, 3))
    distances = cdist(embeddings, embeddings, "sqeuclidean")
    for anchor in range(12):
        for positive in np.flatnonzero(labels == labels[anchor]):
            for margin in (0.1, 1.0, 5.0):
                expected = right_semi_hard_loop(distances, labels, anchor, positive, margin)
                assert (
                    faces.semi_hard_choice(distances, labels, anchor, positive, margin) == expected
                )
    from lab_utils.faces import siamese

    table = siamese._mined_negatives(embeddings, labels, right_semi_hard_loop, 1.0)
    same = labels[:, None] == labels[None, :]
    np.fill_diagonal(same, False)
    assert np.all(table[~same] == -1) and np.all(table[same] >= 0)
    chosen = table[same]
    anchors = np.nonzero(same)[0]
    assert np.all(labels[chosen] != labels[anchors])  # every chosen negative is another person


def test_train_embedding_uses_the_given_rules(keras, capsys):
    labels = np.repeat(np.arange(4), 4)
    images = np.random.default_rng(0).random((16, 16, 16)).astype("float32")
    calls = []

    def counting_rule(distances, labels, anchor, positive, margin):
        calls.append(anchor)
        return faces.semi_hard_choice(distances, labels, anchor, positive, margin)

    weights = []
    for _ in range(2):  # the same training twice: the same weights (the cache relies on it)
        keras.utils.set_random_seed(0)
        model = faces.embedding_network(16, 8, filters=(4,))
        result = faces.train_embedding(
            model,
            images,
            labels,
            mining="semi_hard",
            epochs=2,
            batches_per_epoch=2,
            people=2,
            per_person=4,
            per_triplet=numpy_triplet,
            semi_hard=counting_rule,
            cache=False,
        )
        weights.append(model.get_weights())
    assert len(result.history["loss"]) == 2 and np.isfinite(result.history["loss"]).all()
    # at least epochs x batches x anchors x positives per anchor, twice (Keras also peeks)
    assert len(calls) >= 2 * (2 * 2 * 8 * 3)
    for first, second in zip(*weights):
        np.testing.assert_array_equal(first, second)
    model = faces.embedding_network(16, 8, filters=(4,))
    faces.train_embedding(
        model,
        images,
        labels,
        epochs=1,
        batches_per_epoch=1,
        people=2,
        per_person=4,
        per_triplet=converts_to_numpy,
        cache=False,
    )
    assert "uses the kit's triplet_formula" in capsys.readouterr().out
    faces.train_embedding(  # the fallback of an unsolved exercise runs without a word
        model,
        images,
        labels,
        epochs=1,
        batches_per_epoch=1,
        people=2,
        per_person=4,
        per_triplet=faces.triplet_formula,
        cache=False,
    )
    assert "cannot run" not in capsys.readouterr().out
    with pytest.raises(ValueError, match="mining='semi_hard'"):
        faces.train_embedding(
            model, images, labels, semi_hard=counting_rule, people=2, per_person=4
        )
    with pytest.raises(TypeError, match="per_triplet must be a function"):
        faces.train_embedding(model, images, labels, per_triplet="mine", people=2, per_person=4)


# --- what the lesson's sentences rest on (issue 20) ----------------------------------------------


def test_true_accept_at_a_fixed_false_accept_rate():
    distances = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    same = np.array([True, True, False, True, False, False])
    roc = faces.verification_roc(distances, same)
    point = faces.true_accept_at(roc, 0.0)
    assert point["true_accept"] == pytest.approx(2 / 3) and point["false_accept"] == 0.0
    assert point["threshold"] == pytest.approx(0.2)
    assert faces.true_accept_at(roc, 0.34)["true_accept"] == 1.0
    with pytest.raises(TypeError, match="verification_roc"):
        faces.true_accept_at({"auc": 1}, 0.1)


def test_spread_is_zero_for_one_point_and_separates_same_from_different():
    labels = np.array([0, 0, 1, 1])
    assert faces.spread(np.ones((4, 3)), labels)["all"] == 0.0
    points = np.array([[0.0, 0], [0, 0.1], [1, 0], [1, 0.1]])
    measured = faces.spread(points, labels)
    assert measured["same"] == pytest.approx(0.01)
    assert measured["different"] == pytest.approx(np.mean([1, 1.01, 1.01, 1]))


def test_gallery_false_accepts_grow_with_the_gallery_and_the_visitor_threshold():
    gallery = np.array([[0.0, 0], [1, 0], [0, 1]])
    visitors = np.array([[0.05, 0], [0.95, 0], [5, 5]])
    np.testing.assert_allclose(
        faces.gallery_false_accepts(gallery, visitors, 0.01), [1 / 3, 2 / 3, 2 / 3]
    )
    rng = np.random.default_rng(1)
    distances, same = rng.random(400), rng.random(400) < 0.2
    distances[same] *= 0.3
    door = faces.threshold_for_visitors(distances, same, reject_rate=0.95, gallery_size=5)
    assert door["pair_false_accept"] == pytest.approx(1 - 0.95**0.2)
    accepted = distances <= door["threshold"]
    assert accepted[~same].mean() <= door["pair_false_accept"]
    assert door["threshold"] < faces.threshold_for_visitors(distances, same, 0.95, 1)["threshold"]


def test_the_data_banner_cannot_be_missed_on_the_substitute(cache):
    substitute = data.load_dataset("olivetti_faces")
    assert substitute.substitute
    banner = faces.data_banner(substitute)
    assert "SUBSTITUTE" in banner and "--add-data olivetti_faces" in banner
    assert banner.splitlines()[0].startswith("!!!!")


def test_dlibs_face_resnet_has_29_convolution_layers():
    assert faces.dlib_resnet_conv_layers() == 29


def test_the_gallery_plot_returns_a_figure():
    figure = faces.plot_gallery_false_accepts(np.array([0.1, 0.2, 0.4]), title="t")
    assert figure.axes[0].get_ylabel() == "visitors let in (%)"
    with pytest.raises(ValueError, match="one rate per gallery size"):
        faces.plot_gallery_false_accepts(np.zeros((2, 2)))
