"""lab_utils.faces (lesson 06): identity splits, distances and ROC, eigenfaces, Haar detection,
the rotation sweep, the embedding network, the widgets driven headlessly, and the checks
tested with right answers (written here) and typical wrong answers."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from lab_utils import data, exercises, faces

RNG = np.random.default_rng(0)


@pytest.fixture(scope="module")
def olivetti():
    """The real Olivetti faces (conftest puts ../shared/data's file into the session cache)."""
    faces_set = data.load_dataset("olivetti_faces")
    if faces_set.substitute:
        pytest.skip("../shared/data/olivetti_py3.pkz is not available")
    return faces_set


def test_importing_faces_imports_neither_tensorflow_nor_opencv_nor_dlib():
    code = ("import sys, lab_utils.faces; "
            "print(*[m in sys.modules for m in ('tensorflow', 'keras', 'cv2', 'dlib')])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
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


@pytest.mark.parametrize("arguments, error, message", [
    ((np.zeros((4, 8, 8)),), TypeError, r"data\.Dataset"),
    (("OLIVETTI",), TypeError, r"data\.Dataset"),
    ((None, [45]), ValueError, "not in the dataset"),
    ((None, []), ValueError, "empty"),
    ((None, [1, 2], [2, 3]), ValueError, "both the test and the validation"),
    ((None, "0-9"), TypeError, "list of person numbers"),
    ((None, range(0, 39)), ValueError, "fewer than two people"),
])
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
    np.testing.assert_allclose(faces.squared_distances(a), cdist(a, a, "sqeuclidean"),
                               atol=1e-10)
    np.testing.assert_allclose(faces.squared_distances(a, b), cdist(a, b, "sqeuclidean"),
                               atol=1e-10)
    assert np.all(np.diag(faces.squared_distances(a)) == 0)


@pytest.mark.parametrize("embeddings, message", [
    (np.zeros(5), r"shape \(N, D\)"),
    (np.zeros((0, 3)), "empty"),
    (np.array([[0.0, np.nan]]), "NaN"),
    ("abc", "NumPy array"),
])
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
    direct = np.mean([(d_same < d_diff) + 0.5 * (d_same == d_diff)
                      for d_same in distances[same] for d_diff in distances[~same]])
    assert roc.auc == pytest.approx(direct)
    assert roc.true_accept[-1] == 1 and roc.false_accept[-1] == 1
    separable = np.repeat(np.eye(4) * 10, 3, axis=0) + RNG.normal(scale=0.01, size=(12, 4))
    assert faces.verification_auc(separable, labels) == 1.0


def test_error_rates_and_best_threshold():
    distances = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    same = np.array([True, True, False, True, False, False])
    rates = faces.error_rates(distances, same, 0.25)
    assert rates == {"threshold": 0.25, "false_accept": 0.0, "false_reject": pytest.approx(1 / 3),
                     "accuracy": pytest.approx(5 / 6)}
    threshold = faces.best_threshold(distances, same)
    assert threshold in (0.2, 0.7)                    # both maximise TAR - FAR (= 2/3)
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
    pixels_auc = faces.verification_auc(faces.pixel_embeddings(split.test_images),
                                        split.test_labels)
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
        assert faces.detect_faces_haar(image / 255.0).shape == (1, 4)   # float RGB too


def test_haar_finds_nothing_in_a_face_free_photo():
    assert faces.detect_faces_haar(data.load_image("coffee")).shape == (0, 4)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"scale_factor": 1.0}, ValueError, "at least"),
    ({"min_neighbors": -1}, ValueError, "at least 0"),
    ({"min_size": 2.5}, TypeError, "whole number"),
    ({"cascade": "cat_face"}, ValueError, "frontalface_default"),
])
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
    assert not faces.box_hits([[40, 40, 18, 18]], reference)          # elsewhere
    assert not faces.box_hits([[0, 0, 60, 60]], reference)            # far too large
    assert not faces.box_hits(np.zeros((0, 4)), reference)
    canvas = faces.draw_boxes(np.zeros((30, 30), np.uint8), [[5, 5, 10, 10]])
    assert canvas.shape == (30, 30, 3) and canvas[5, 7].tolist() == [255, 40, 40]
    assert canvas[10, 10].tolist() == [0, 0, 0]


def test_rotation_sweep_shows_haar_failing_at_large_angles(olivetti):
    images, boxes = faces.padded_faces(olivetti.images[::40], pad=32)   # 10 people
    sweep = faces.rotation_sweep(lambda image: faces.detect_faces_haar(image, min_size=40),
                                 images, boxes, angles=(0, 45))
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
