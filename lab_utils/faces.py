"""Lesson 06 "Faces": detection with Haar cascades, recognition as few-shot learning with a
Siamese network and the triplet loss, verification, enrolment, and facial landmarks.

Compute functions (pure, tested), the embedding network and its triplet training, the
comparison of raw pixels / eigenfaces / Siamese network / dlib's ResNet, plots, the two
widgets (verification threshold, Haar cascade) and the checks of the lesson's exercises.
Models are built with ``keras.layers`` / ``keras.ops`` only (any Keras 3 backend) and their
trainings are cached like ``models.train``'s. Importing this module imports neither
TensorFlow nor OpenCV nor dlib.

Vocabulary: ``images`` are (N, H, W) float32 in [0, 1] (grayscale faces) unless said
otherwise; ``embeddings`` are (N, D) float arrays, one row per image; a *distance* between
two embeddings is the squared Euclidean distance of the slide's triplet loss; boxes are
(x, y, w, h) in pixels, x to the right and y down, as OpenCV returns them.
"""

from __future__ import annotations

import dataclasses
import html
import time

import numpy as np

from lab_utils import exercises, lesson, models, validation, widgets
from lab_utils.plots import _new_figure

# --------------------------------------------------------------------------------------------
# Data: splits by identity (the people of the test set are never seen in training)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class FaceSplit:
    """Face images split by *person*: no identity appears in two parts.

    Images (N, H, W) float32 in [0, 1]; labels (N,) int64 person numbers (the dataset's own).
    ``validation_*`` may be empty (shape (0, H, W)) when no validation identities are asked for.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    validation_images: np.ndarray
    validation_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray

    def identities(self) -> dict:
        """The person numbers of each part."""
        return {part: sorted(int(k) for k in np.unique(getattr(self, f"{part}_labels")))
                for part in ("train", "validation", "test")}


def _as_identity_list(values, name: str, known) -> list:
    if isinstance(values, range):
        values = list(values)
    if not isinstance(values, (list, tuple, np.ndarray)):
        raise TypeError(f"{name} must be a list of person numbers such as range(30, 40), but "
                        f"got {validation.describe(values)}.")
    people = [validation.as_int(v, f"{name}[{i}]", minimum=0) for i, v in enumerate(values)]
    unknown = sorted(set(people) - set(known))
    if unknown:
        raise ValueError(f"{name} names people that are not in the dataset: {unknown} "
                         f"(it has people {min(known)} to {max(known)}).")
    return people


def identity_split(dataset, test_identities=range(30, 40), validation_identities=(),
                   *, size: int | None = None) -> FaceSplit:
    """Split a face ``data.Dataset`` by person.

    Parameters
    ----------
    dataset : data.Dataset
        Images (N, H, W) in [0, 1] and person labels (N,), e.g. ``olivetti_faces``.
    test_identities, validation_identities : sequences of int
        The people of the test and validation parts; everyone else is for training.
    size : int, optional
        Resize every image to ``size`` x ``size`` (anti-aliased), e.g. 32 for a fast network.

    Returns
    -------
    FaceSplit
    """
    images = getattr(dataset, "images", None)
    labels = getattr(dataset, "labels", None)
    if not isinstance(images, np.ndarray) or not isinstance(labels, np.ndarray):
        raise TypeError(f"dataset must be a data.Dataset (with .images and .labels), such as "
                        f"data.load_dataset('olivetti_faces'), but got "
                        f"{validation.describe(dataset)}.")
    images = as_faces(images, "dataset.images")
    labels = validation.as_labels(labels, len(images), name="dataset.labels")
    known = np.unique(labels).tolist()
    test = _as_identity_list(test_identities, "test_identities", known)
    held = _as_identity_list(validation_identities, "validation_identities", known)
    if not test:
        raise ValueError("test_identities is empty: name at least two people to test on.")
    if set(test) & set(held):
        raise ValueError(f"people {sorted(set(test) & set(held))} are in both the test and "
                         f"the validation identities; each person belongs to one part.")
    if size is not None:
        size = validation.as_int(size, "size", minimum=8, maximum=512)
        images = resize_faces(images, size)
    in_test, in_held = np.isin(labels, test), np.isin(labels, held)
    train = ~(in_test | in_held)
    if len(np.unique(labels[train])) < 2:
        raise ValueError("fewer than two people are left for training; hold out fewer.")
    return FaceSplit(images[train], labels[train], images[in_held], labels[in_held],
                     images[in_test], labels[in_test])


def as_faces(images, name: str = "images") -> np.ndarray:
    """Check a batch of grayscale faces and return it as float32 (N, H, W) in [0, 1].

    RGB batches (N, H, W, 3) are refused with a message (the lesson's faces are grayscale:
    convert with skimage.color.rgb2gray); uint8 batches are divided by 255.
    """
    batch = validation.as_array(images, name)
    if batch.ndim == 4 and batch.shape[-1] == 3:
        raise ValueError(f"{name} are colour images (shape {batch.shape}); these functions "
                         f"take grayscale faces of shape (N, height, width): convert them "
                         f"with skimage.color.rgb2gray first.")
    if batch.ndim == 4 and batch.shape[-1] == 1:
        batch = batch[..., 0]
    if batch.ndim != 3:
        raise ValueError(f"{name} must be a batch of grayscale images, shape (N, height, "
                         f"width), but it has shape {batch.shape}. For one image use "
                         f"image[None].")
    if len(batch) == 0:
        raise ValueError(f"{name} is empty: its shape is {batch.shape}.")
    return models.as_batch(batch, name)[..., 0]


def resize_faces(images, size: int) -> np.ndarray:
    """Anti-aliased resize of (N, H, W) faces to (N, size, size) float32 in [0, 1]."""
    from skimage import transform
    images = as_faces(images)
    size = validation.as_int(size, "size", minimum=2, maximum=1024)
    if images.shape[1:] == (size, size):
        return images
    return np.stack([transform.resize(face, (size, size), anti_aliasing=True)
                     for face in images]).astype(np.float32).clip(0, 1)


# --------------------------------------------------------------------------------------------
# Distances, pairs, ROC
# --------------------------------------------------------------------------------------------


def as_embeddings(embeddings, name: str = "embeddings") -> np.ndarray:
    """Check (N, D) embeddings (finite numbers) and return them as float64."""
    array = validation.as_array(embeddings, name)
    if array.ndim != 2:
        raise ValueError(f"{name} must have shape (N, D): one row of D numbers per image, "
                         f"but it has shape {array.shape}.")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty: its shape is {array.shape}.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values (a diverged training or "
                         f"a division by a zero norm?).")
    return array


def squared_distances(embeddings, others=None) -> np.ndarray:
    """Squared Euclidean distances between rows: (N, D) [and (M, D)] -> (N, N) or (N, M).

    Uses |a|^2 + |b|^2 - 2 a.b (one matrix product, fast); tiny negative values from rounding
    are clipped to 0.
    """
    a = as_embeddings(embeddings)
    b = a if others is None else as_embeddings(others, "others")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"embeddings have {a.shape[1]} numbers per row but others have "
                         f"{b.shape[1]}: they must come from the same embedding.")
    distances = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    distances = np.maximum(distances, 0.0)
    if others is None:
        np.fill_diagonal(distances, 0.0)
    return distances


def pair_distances(embeddings, labels):
    """Every unordered pair of images (i < j): its distance and whether it is one person.

    Returns
    -------
    distances : ndarray (P,) float64, squared Euclidean distances
    same : ndarray (P,) bool, True for pairs of the same person
    """
    embeddings = as_embeddings(embeddings)
    labels = validation.as_labels(labels, len(embeddings))
    if len(embeddings) < 2:
        raise ValueError("at least two images are needed to form a pair.")
    upper = np.triu_indices(len(embeddings), 1)
    same = (labels[:, None] == labels[None, :])[upper]
    return squared_distances(embeddings)[upper], same


def _as_pairs(distances, same):
    distances = validation.as_array(distances, "distances").astype(np.float64)
    same = validation.as_array(same, "same")
    if distances.ndim != 1 or same.shape != distances.shape:
        raise ValueError(f"distances and same must be 1-D arrays of equal length (one value "
                         f"per pair), but have shapes {distances.shape} and {same.shape}.")
    if not np.all(np.isfinite(distances)):
        raise ValueError("distances contain NaN or infinite values.")
    if same.dtype != bool:
        if not np.isin(same, (0, 1)).all():
            raise ValueError("same must hold True/False (or 1/0) for each pair.")
        same = same.astype(bool)
    if same.all() or not same.any():
        raise ValueError("the pairs must include both same-person and different-person "
                         "pairs to measure verification.")
    return distances, same


@dataclasses.dataclass
class Roc:
    """A verification ROC curve (a smaller distance means "same person").

    ``thresholds[k]`` accepts pairs with distance <= thresholds[k]; at it, ``true_accept[k]``
    of the same-person pairs and ``false_accept[k]`` of the different-person pairs are
    accepted. ``auc`` is the area under the curve (1 = perfect, 0.5 = chance).
    """

    false_accept: np.ndarray
    true_accept: np.ndarray
    thresholds: np.ndarray
    auc: float


def verification_roc(distances, same) -> Roc:
    """ROC curve and AUC of "same person if distance <= threshold" (scikit-learn's roc_curve
    on the score -distance)."""
    from sklearn.metrics import roc_auc_score, roc_curve
    distances, same = _as_pairs(distances, same)
    false_accept, true_accept, scores = roc_curve(same, -distances, drop_intermediate=False)
    with np.errstate(over="ignore"):
        thresholds = -scores                     # the first score is +inf: accept nothing
    return Roc(false_accept, true_accept, thresholds, float(roc_auc_score(same, -distances)))


def verification_auc(embeddings, labels) -> float:
    """ROC AUC over every pair of ``embeddings`` (one of the lesson's comparison numbers)."""
    return verification_roc(*pair_distances(embeddings, labels)).auc


def error_rates(distances, same, threshold) -> dict:
    """What the threshold does to the pairs.

    Returns a dict: "false_accept" (different people accepted, fraction of the different-person
    pairs), "false_reject" (same person rejected, fraction of the same-person pairs),
    "accuracy" (all pairs) and "threshold".
    """
    distances, same = _as_pairs(distances, same)
    threshold = as_threshold(threshold, distances)
    accepted = distances <= threshold
    return {"threshold": threshold,
            "false_accept": float(accepted[~same].mean()),
            "false_reject": float((~accepted[same]).mean()),
            "accuracy": float((accepted == same).mean())}


def as_threshold(threshold, distances) -> float:
    """Check a threshold against the range of the distances it will cut."""
    threshold = validation.as_float(threshold, "threshold")
    low, high = float(np.min(distances)), float(np.max(distances))
    if threshold < 0 or threshold > 2 * high + 1e-12:
        raise ValueError(f"threshold {threshold:g} is outside the range of the distances "
                         f"({low:.3g} to {high:.3g}); pick a value in that range.")
    return threshold


def best_threshold(distances, same) -> float:
    """The threshold with the largest true-accept minus false-accept rate (Youden's J) on
    these pairs: choose it on validation identities, then apply it to the test identities."""
    roc = verification_roc(distances, same)
    finite = np.isfinite(roc.thresholds)
    score = np.where(finite, roc.true_accept - roc.false_accept, -np.inf)
    return float(roc.thresholds[int(np.argmax(score))])


# --------------------------------------------------------------------------------------------
# Classical peers: raw pixels and eigenfaces
# --------------------------------------------------------------------------------------------


def pixel_embeddings(images) -> np.ndarray:
    """Raw pixels as embeddings: (N, H, W) -> (N, H*W) float64."""
    images = as_faces(images)
    return images.reshape(len(images), -1).astype(np.float64)


def fit_eigenfaces(train_images, components: int = 50, *, seed: int = 0):
    """PCA on the training faces (whitened): the classical face embedding ("eigenfaces").

    Returns a fitted scikit-learn ``PCA``; ``eigenface_embeddings(pca, images)`` projects.
    """
    from sklearn.decomposition import PCA
    flat = pixel_embeddings(train_images)
    components = validation.as_int(components, "components", minimum=1,
                                   maximum=min(flat.shape))
    return PCA(components, whiten=True, random_state=seed).fit(flat)


def eigenface_embeddings(pca, images) -> np.ndarray:
    """Project faces on fitted eigenfaces and scale each projection to length 1,
    (N, H, W) -> (N, components).

    Whitening gives every eigenface the same weight; normalising the length makes the squared
    distance a cosine distance (2 - 2 cos), which ignores overall contrast. On Olivetti this
    pair of choices gave the best eigenface AUCs (PCA 50 whitened + cosine 0.929 on average
    over the four 10-person splits, against 0.878 without normalising).
    """
    if not hasattr(pca, "components_"):
        raise TypeError(f"pca must be the result of fit_eigenfaces, but got "
                        f"{validation.describe(pca)}.")
    flat = pixel_embeddings(images)
    if flat.shape[1] != pca.components_.shape[1]:
        raise ValueError(f"the images have {flat.shape[1]} pixels but the eigenfaces were "
                         f"fitted on images of {pca.components_.shape[1]} pixels.")
    projected = pca.transform(flat)
    return projected / np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12)


# --------------------------------------------------------------------------------------------
# Face detection: OpenCV's Haar cascades, rotation sweep
# --------------------------------------------------------------------------------------------

_CASCADES: dict = {}


def haar_cascade(name: str = "frontalface_default"):
    """One of OpenCV's shipped Haar cascades (``cv2.data.haarcascades``), loaded once."""
    import cv2
    from pathlib import Path
    folder = Path(cv2.data.haarcascades)
    available = sorted(p.name[len("haarcascade_"):-4] for p in folder.glob("haarcascade_*.xml"))
    validation.one_of(name, "name", available)
    if name not in _CASCADES:
        cascade = cv2.CascadeClassifier(str(folder / f"haarcascade_{name}.xml"))
        if cascade.empty():
            raise RuntimeError(f"OpenCV could not read haarcascade_{name}.xml.")
        _CASCADES[name] = cascade
    return _CASCADES[name]


def as_gray_uint8(image, name: str = "image") -> np.ndarray:
    """A grayscale or RGB image (uint8 or float in [0, 1]) as (H, W) uint8 for the detectors."""
    image = validation.as_image(image, name)
    if image.dtype != np.uint8:
        image = np.round(image * 255).astype(np.uint8)
    if image.ndim == 3:
        weights = np.array([0.299, 0.587, 0.114])
        image = np.clip(np.round(image @ weights), 0, 255).astype(np.uint8)
    return image


def detect_faces_haar(image, *, scale_factor: float = 1.1, min_neighbors: int = 5,
                      min_size: int = 30, cascade: str = "frontalface_default") -> np.ndarray:
    """Faces found by an OpenCV Haar cascade.

    Parameters
    ----------
    image : (H, W) or (H, W, 3) uint8 or float in [0, 1]
    scale_factor : float > 1
        The image pyramid's step: the detector window grows by this factor per level
        (1.05 = thorough and slow, 1.4 = fast, may miss faces between sizes).
    min_neighbors : int >= 0
        How many overlapping raw detections a face needs (higher = fewer false faces).
    min_size : int
        Smallest face side in pixels.

    Returns
    -------
    boxes : ndarray (F, 4) int, (x, y, w, h) per face
    """
    gray = as_gray_uint8(image)
    scale_factor = validation.as_float(scale_factor, "scale_factor", minimum=1.001,
                                       maximum=3.0)
    min_neighbors = validation.as_int(min_neighbors, "min_neighbors", minimum=0, maximum=100)
    min_size = validation.as_int(min_size, "min_size", minimum=1)
    found = haar_cascade(cascade).detectMultiScale(
        gray, scaleFactor=scale_factor, minNeighbors=min_neighbors, minSize=(min_size, min_size))
    return np.asarray(found, dtype=np.int64).reshape(-1, 4)


def rotate_about(image, angle: float, centre) -> np.ndarray:
    """Rotate ``image`` by ``angle`` degrees (counter-clockwise) about ``centre`` = (x, y);
    the corners are filled by repeating the edge pixels. Same dtype and shape."""
    from skimage import transform
    image = validation.as_image(image)
    angle = validation.as_float(angle, "angle", minimum=-360, maximum=360)
    rotated = transform.rotate(image, angle, center=tuple(float(c) for c in centre),
                               mode="edge", preserve_range=True)
    return rotated.round().astype(np.uint8) if image.dtype == np.uint8 else \
        rotated.astype(image.dtype)


def box_hits(boxes, reference, *, size_ratio: float = 2.0) -> bool:
    """True if one of ``boxes`` is the reference face: its centre inside the reference box
    and its side within a factor ``size_ratio`` of the reference side (boxes (x, y, w, h))."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x, y, w, h = (float(v) for v in reference)
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    inside = ((centres[:, 0] >= x) & (centres[:, 0] <= x + w) &
              (centres[:, 1] >= y) & (centres[:, 1] <= y + h))
    ratio = np.sqrt(boxes[:, 2] * boxes[:, 3] / (w * h))
    return bool(np.any(inside & (ratio <= size_ratio) & (ratio >= 1 / size_ratio)))


def rotation_sweep(detect, images, references, angles=tuple(range(-60, 61, 10))) -> dict:
    """Detection rate of a face detector as the faces turn in the image plane.

    Each image is rotated about the centre of its reference face box, so the face stays where
    it was and only its angle changes; a detection counts when ``box_hits`` the reference.

    Parameters
    ----------
    detect : callable(image) -> boxes (F, 4) as (x, y, w, h)
    images : list of images (H, W) or (H, W, 3)
    references : list of (x, y, w, h), the true face of each image
    angles : sequence of degrees

    Returns
    -------
    dict with "angles" (list), "rate" (fraction detected per angle) and "seconds" (mean
    seconds per image per call).
    """
    if not callable(detect):
        raise TypeError(f"detect must be a function image -> boxes, but got "
                        f"{validation.describe(detect)}.")
    if len(images) == 0 or len(images) != len(references):
        raise ValueError(f"images and references must be non-empty and of equal length, "
                         f"got {len(images)} and {len(references)}.")
    angles = [validation.as_float(a, "angle", minimum=-180, maximum=180) for a in angles]
    rates, seconds = [], []
    for angle in angles:
        hits = 0
        for image, box in zip(images, references):
            x, y, w, h = box
            turned = rotate_about(image, angle, (x + w / 2, y + h / 2)) if angle else image
            start = time.perf_counter()
            found = detect(turned)
            seconds.append(time.perf_counter() - start)
            hits += box_hits(found, box)
        rates.append(hits / len(images))
    return {"angles": angles, "rate": rates, "seconds": float(np.mean(seconds))}


def padded_faces(images, pad: int = 32) -> tuple[list, list]:
    """Tight face crops (N, S, S) framed by ``pad`` pixels of edge-repeated border, so a
    detector sees the face with some surroundings; returns (uint8 images, reference boxes)."""
    images = as_faces(images)
    pad = validation.as_int(pad, "pad", minimum=0, maximum=512)
    framed = [np.pad(np.round(face * 255).astype(np.uint8), pad, mode="edge")
              for face in images]
    side = images.shape[1]
    return framed, [(pad, pad, images.shape[2], side)] * len(framed)


def draw_boxes(image, boxes, *, colour=(255, 40, 40), thickness: int = 2) -> np.ndarray:
    """An RGB uint8 copy of ``image`` with rectangles (x, y, w, h) drawn on it."""
    image = validation.as_image(image)
    if image.dtype != np.uint8:
        image = np.round(image * 255).astype(np.uint8)
    canvas = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image.copy()
    height, width = canvas.shape[:2]
    for x, y, w, h in np.asarray(boxes, dtype=np.int64).reshape(-1, 4):
        x0, y0 = max(int(x), 0), max(int(y), 0)
        x1, y1 = min(int(x + w), width) - 1, min(int(y + h), height) - 1
        if x1 < x0 or y1 < y0:
            continue
        t = thickness
        canvas[y0:y0 + t, x0:x1 + 1] = colour
        canvas[max(y1 - t + 1, 0):y1 + 1, x0:x1 + 1] = colour
        canvas[y0:y1 + 1, x0:x0 + t] = colour
        canvas[y0:y1 + 1, max(x1 - t + 1, 0):x1 + 1] = colour
    return canvas
