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
from lab_utils.plots import new_figure

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


def padded_faces(images, pad: int = 32, *, scale: int = 1) -> tuple[list, list]:
    """Tight face crops (N, S, S), enlarged ``scale`` times (pixel repetition) and framed by
    ``pad`` pixels of edge-repeated border, so a detector sees the face with some
    surroundings (dlib's HOG detector needs faces of about 80 pixels).

    Returns (list of uint8 images, list of reference boxes (x, y, w, h)).
    """
    images = as_faces(images)
    pad = validation.as_int(pad, "pad", minimum=0, maximum=512)
    scale = validation.as_int(scale, "scale", minimum=1, maximum=8)
    framed = [np.pad(widgets.upscale(np.round(face * 255).astype(np.uint8), scale), pad,
                     mode="edge") for face in images]
    height, width = images.shape[1] * scale, images.shape[2] * scale
    return framed, [(pad, pad, width, height)] * len(framed)


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


# --------------------------------------------------------------------------------------------
# The Siamese embedding network and its triplet training
# --------------------------------------------------------------------------------------------

MINING = ("batch_all", "batch_hard", "semi_hard", "random", "positives_only")
INPUT_SIZE = 32          # faces are resized to 32x32 for the network (4x fewer pixels than 64x64)
# The lesson's Siamese training, also run by benchmarks/faces.py on four splits: 420 steps of
# 10 people x 5 photos with the default network (24-48-96 filters). Measured on 2026-12-02
# (one seed each; mean AUC over the benchmark's four splits, and on the lesson's own split):
# 24-48-96 filters, 420 steps: 0.967 and 0.962, about 60 CPU s per split; 32-64-128, 600
# steps: 0.967, 123-131 CPU s; 32-64-128, 300 steps: 0.959; the same without random shifts:
# 0.971, but 0.909 on the lesson's split, below raw pixels (0.920).
SIAMESE_SETTINGS = {"mining": "batch_all", "margin": 0.5, "epochs": 7, "batches_per_epoch": 60,
                    "people": 10, "per_person": 5, "learning_rate": 3e-3}


def embedding_network(input_size: int = INPUT_SIZE, dimensions: int = 64, *,
                      filters=(24, 48, 96), shift: float = 0.05, flip: bool = True,
                      name: str = "embedding"):
    """The CNN f(x) of the slide: a face in, a point on the unit sphere out.

    Conv2D (no bias) -> BatchNormalization -> ReLU -> 2x2 max pooling per block, global
    average pooling, Dense(dimensions), then every embedding is scaled to length 1
    (``UnitNormalization``), so squared distances lie in [0, 4] and the margin has a fixed
    scale. Training-only augmentation: random shifts of up to ``shift`` of the side and
    horizontal flips (a mirrored face is the same person).

    Returns
    -------
    keras.Model mapping (N, input_size, input_size, 1) float32 to (N, dimensions).
    """
    keras = lesson.import_keras()
    input_size = validation.as_int(input_size, "input_size", minimum=8, maximum=256)
    dimensions = validation.as_int(dimensions, "dimensions", minimum=2, maximum=1024)
    shift = validation.as_float(shift, "shift", minimum=0.0, maximum=0.49)
    if not isinstance(flip, bool):
        raise TypeError(f"flip must be True or False, but got {flip!r}.")
    if not isinstance(filters, (list, tuple)) or not filters:
        raise TypeError(f"filters must be a non-empty list such as [24, 48, 96], but got "
                        f"{validation.describe(filters)}.")
    counts = [validation.as_int(f, f"filters[{i}]", minimum=1) for i, f in enumerate(filters)]
    inputs = keras.Input(shape=(input_size, input_size, 1), name="face")
    x = inputs
    if shift:
        x = keras.layers.RandomTranslation(shift, shift, fill_mode="nearest",
                                           name="random_shift")(x)
    if flip:
        x = keras.layers.RandomFlip("horizontal", name="random_flip")(x)
    for index, count in enumerate(counts, start=1):
        x = keras.layers.Conv2D(count, 3, padding="same", use_bias=False,
                                name=f"conv_{index}")(x)
        # momentum 0.9: the averages used at inference settle within a few dozen steps
        # (Keras's default 0.99 needs hundreds, too many for the lesson's short trainings)
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"batch_norm_{index}")(x)
        x = keras.layers.Activation("relu", name=f"relu_{index}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool_{index}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="global_average")(x)
    x = keras.layers.Dense(dimensions, name="projection")(x)
    # x / sqrt(|x|^2 + 1e-6): length 1 for any real face; the small constant keeps the
    # gradient finite when a collapsed network outputs (nearly) zero vectors.
    length = keras.ops.sqrt(keras.ops.sum(keras.ops.square(x), axis=-1, keepdims=True) + 1e-6)
    outputs = keras.layers.Activation("linear", name="unit_length")(x / length)
    return keras.Model(inputs, outputs, name=name)


def siamese_model(embedding):
    """Two faces in, their squared distance out, through ONE shared ``embedding`` network.

    The summary lists the embedding model once: both inputs use the same weights, which is
    all "Siamese" means.
    """
    keras = lesson.import_keras()
    models.require_model(embedding, "embedding")
    shape = tuple(embedding.input_shape[1:])
    first = keras.Input(shape=shape, name="face_1")
    second = keras.Input(shape=shape, name="face_2")
    difference = keras.layers.Subtract(name="difference")([embedding(first), embedding(second)])
    distance = keras.ops.sum(keras.ops.square(difference), axis=-1)
    return keras.Model([first, second], distance, name="siamese")


def triplet_loss_keras(margin: float = 0.2, mining: str = "batch_hard", seed: int = 0):
    """The slide's triplet loss on a batch of embeddings, with the triplets chosen in the batch.

    ``loss(labels, embeddings)``: every image of the batch is an anchor; its positives are the
    other images of the same person, its negatives everyone else. Per anchor-positive pair
    the loss is max(|f(a) - f(p)|^2 - |f(a) - f(n)|^2 + margin, 0) with the negative n chosen by

    * "batch_all": every valid triplet of the batch; the mean is over the triplets whose
      loss is still above 0 (the easy ones would otherwise dilute it to nearly nothing);
    * "batch_hard": per anchor, its farthest positive and its closest negative (one triplet
      per anchor, the hardest);
    * "semi_hard": per anchor-positive pair, the closest negative that is still farther than
      the positive (FaceNet's choice); if there is none, the farthest negative;
    * "random": per anchor-positive pair, a random negative;
    * "positives_only": no negative at all, the loss is |f(a) - f(p)|^2: it is minimised by
      mapping every face to the same point (the collapse the lesson shows).

    Written with ``keras.ops`` only. The mean is over the anchor(-positive) terms.
    """
    keras = lesson.import_keras()
    ops = keras.ops
    margin = validation.as_float(margin, "margin", minimum=0.0, maximum=4.0)
    validation.one_of(mining, "mining", MINING)
    generator = keras.random.SeedGenerator(seed) if mining == "random" else None

    def loss(labels, embeddings):
        labels = ops.reshape(ops.cast(labels, "int32"), (-1,))
        squared = ops.sum(ops.square(embeddings), axis=1)
        distances = ops.maximum(squared[:, None] + squared[None, :]
                                - 2.0 * ops.matmul(embeddings, ops.transpose(embeddings)), 0.0)
        same = ops.equal(labels[:, None], labels[None, :])
        count = ops.shape(labels)[0]
        positive = ops.logical_and(same, ops.logical_not(ops.eye(count, dtype="bool")))
        negative = ops.logical_not(same)
        positive_f = ops.cast(positive, distances.dtype)
        if mining == "positives_only":
            return ops.sum(distances * positive_f) / ops.maximum(ops.sum(positive_f), 1.0)
        if mining == "batch_hard":
            hardest_positive = ops.max(ops.where(positive, distances, 0.0), axis=1)
            hardest_negative = ops.min(ops.where(negative, distances, 1e9), axis=1)
            has_positive = ops.cast(ops.any(positive, axis=1), distances.dtype)
            terms = ops.relu(hardest_positive - hardest_negative + margin) * has_positive
            return ops.sum(terms) / ops.maximum(ops.sum(has_positive), 1.0)
        # one negative per anchor-positive pair: d_an[a, p] as an (N, N) matrix
        positive_d = distances[:, :, None]                      # (a, p, 1)
        negative_d = distances[:, None, :]                      # (a, 1, n)
        is_negative = negative[:, None, :]
        if mining == "batch_all":
            valid = ops.logical_and(positive[:, :, None], is_negative)
            terms = ops.where(valid, ops.relu(positive_d - negative_d + margin), 0.0)
            active = ops.sum(ops.cast(terms > 1e-12, terms.dtype))
            return ops.sum(terms) / ops.maximum(active, 1.0)
        if mining == "semi_hard":
            farther = ops.logical_and(is_negative, negative_d > positive_d)
            semi = ops.min(ops.where(farther, negative_d, 1e9), axis=2)
            easiest = ops.max(ops.where(negative, distances, -1.0), axis=1)[:, None]
            chosen = ops.where(ops.any(farther, axis=2), semi, easiest)
        else:
            noise = keras.random.uniform(ops.shape(distances), seed=generator)
            pick = ops.argmax(ops.where(negative, noise, -1.0), axis=1)      # per anchor
            chosen = ops.take_along_axis(distances, pick[:, None], axis=1)   # (a, 1)
        terms = ops.relu(distances - chosen + margin) * positive_f
        return ops.sum(terms) / ops.maximum(ops.sum(positive_f), 1.0)

    loss.__name__ = f"triplet_{mining}"
    return loss


def pk_batches(labels, people: int = 10, per_person: int = 5, batches: int = 100,
               *, seed: int = 0) -> np.ndarray:
    """Indices of ``batches`` batches of ``people`` x ``per_person`` images ("PK batches").

    Triplets need positives in the batch: each batch takes ``people`` random people and
    ``per_person`` random images of each. Returns int64 indices, shape
    (batches * people * per_person,), batch after batch.
    """
    labels = validation.as_labels(labels, len(labels))
    people = validation.as_int(people, "people", minimum=2)
    per_person = validation.as_int(per_person, "per_person", minimum=2)
    batches = validation.as_int(batches, "batches", minimum=1)
    rng = np.random.default_rng(seed)
    groups = {person: np.flatnonzero(labels == person) for person in np.unique(labels)}
    if len(groups) < people:
        raise ValueError(f"a batch needs {people} people but the labels name only "
                         f"{len(groups)}.")
    smallest = min(len(g) for g in groups.values())
    if smallest < per_person:
        raise ValueError(f"per_person={per_person} but one person has only {smallest} images.")
    names = np.array(sorted(groups))
    order = []
    for _ in range(batches):
        for person in rng.choice(names, people, replace=False):
            order.extend(rng.choice(groups[person], per_person, replace=False))
    return np.asarray(order, dtype=np.int64)


def _batch_stream(images, labels, order, batch_size, batches_per_epoch):
    """A keras PyDataset that walks through ``order`` (new batches every epoch)."""
    keras = lesson.import_keras()

    total = len(order) // batch_size

    class Stream(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0          # set by the EpochTracker callback (Keras may call the
                                    # dataset's own on_epoch_end a different number of times)

        def __len__(self):
            return batches_per_epoch

        def __getitem__(self, index):
            start = ((self.epoch * batches_per_epoch + index) % total) * batch_size
            chosen = order[start:start + batch_size]
            return images[chosen], labels[chosen]

    class EpochTracker(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            stream.epoch = epoch

    stream = Stream()
    return stream, EpochTracker()


def train_embedding(model, images, labels, *, mining: str = "batch_hard", margin: float = 0.2,
                    epochs: int = 10, batches_per_epoch: int = 60, people: int = 10,
                    per_person: int = 5, learning_rate: float = 3e-3,
                    validation_data=None, seed: int = 0, cache: bool = True):
    """Train an embedding network with the triplet loss on PK batches.

    Parameters
    ----------
    model : keras.Model from ``embedding_network``
    images : (N, H, W) faces in [0, 1] at the network's input size; labels (N,) person numbers
    mining : one of ``MINING`` (see ``triplet_loss_keras``)
    margin : float, the slide's alpha
    epochs, batches_per_epoch : int
        Fresh PK batches every epoch; ``epochs * batches_per_epoch`` steps in all.
    learning_rate : float
        Adam's initial step, lowered along a half cosine to 0.
    validation_data : (images, labels) of other people, optional
        The verification AUC on them is recorded after every epoch ("val_auc").
    seed : int
        Seeds Keras before fitting and picks the batches; the same call gives the same weights.
    cache : bool
        As in ``models.train``: an identical earlier training is loaded from
        ``data.cache_dir()/trained/`` instead of repeated (a line says so).

    Returns
    -------
    models.TrainingResult, with history "loss" (and "val_auc") per epoch.
    """
    models.require_model(model)
    images = as_faces(images)
    if tuple(model.input_shape[1:3]) != images.shape[1:]:
        raise ValueError(f"the network takes {model.input_shape[1]}x{model.input_shape[2]} "
                         f"faces but the images are {images.shape[1]}x{images.shape[2]}: "
                         f"use faces.resize_faces(images, {model.input_shape[1]}).")
    labels = validation.as_labels(labels, len(images))
    validation.one_of(mining, "mining", MINING)
    margin = validation.as_float(margin, "margin", minimum=0.0, maximum=4.0)
    epochs = validation.as_int(epochs, "epochs", minimum=1)
    batches_per_epoch = validation.as_int(batches_per_epoch, "batches_per_epoch", minimum=1)
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-6,
                                        maximum=1.0)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (images, labels).")
        validation_images = as_faces(validation_data[0], "validation images")
        validation_labels = validation.as_labels(validation_data[1], len(validation_images),
                                                 name="validation labels")
    order = pk_batches(labels, people, per_person, epochs * batches_per_epoch, seed=seed)
    settings = {"kind": "triplet", "mining": mining, "margin": margin, "epochs": epochs,
                "batches_per_epoch": batches_per_epoch, "people": people,
                "per_person": per_person, "learning_rate": learning_rate, "seed": seed,
                "validation": validation_data is not None}
    arrays = [images, labels] + ([validation_images, validation_labels]
                                 if validation_data is not None else [])
    callbacks = []
    if validation_data is not None:
        keras = lesson.import_keras()

        class AucEachEpoch(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                embedded = embed(self.model, validation_images, checked=True)
                logs["val_auc"] = verification_auc(embedded, validation_labels)
        callbacks.append(AucEachEpoch())
    stream, tracker = _batch_stream(images[..., None], labels, order, people * per_person,
                                    batches_per_epoch)
    return models.fit(model, stream, loss=triplet_loss_keras(margin, mining, seed),
                      epochs=epochs, steps_per_epoch=batches_per_epoch,
                      learning_rate=learning_rate, seed=seed, callbacks=[tracker, *callbacks],
                      cache=cache, key_arrays=arrays, key_settings=settings)


def embed(model, images, *, batch_size: int = 256, checked: bool = False) -> np.ndarray:
    """Embeddings of faces, (N, H, W) -> (N, D) float64, with ``model(x, training=False)``."""
    keras = lesson.import_keras()
    if not checked:
        models.require_model(model)
        images = as_faces(images)
        if tuple(model.input_shape[1:3]) != images.shape[1:]:
            raise ValueError(f"the network takes {model.input_shape[1]}x"
                             f"{model.input_shape[2]} faces but the images are "
                             f"{images.shape[1]}x{images.shape[2]}: use "
                             f"faces.resize_faces(images, {model.input_shape[1]}).")
    batch = images[..., None]
    parts = [keras.ops.convert_to_numpy(model(batch[i:i + batch_size], training=False))
             for i in range(0, len(batch), batch_size)]
    return np.concatenate(parts).astype(np.float64)


# --------------------------------------------------------------------------------------------
# Enrolment and identification (the slide's employees)
# --------------------------------------------------------------------------------------------


def identify(gallery, names, probes, threshold) -> list:
    """Name each probe face by its nearest gallery face, or "unknown" if even that is too far.

    Parameters
    ----------
    gallery : (G, D) embeddings of the enrolled photos (one or more per person)
    names : list of G str, the person of each gallery row
    probes : (P, D) embeddings of the faces to recognise
    threshold : float, the largest squared distance still accepted as the same person

    Returns
    -------
    list of P str
    """
    gallery = as_embeddings(gallery, "gallery")
    probes = as_embeddings(probes, "probes")
    if not isinstance(names, (list, tuple, np.ndarray)) or len(names) != len(gallery):
        raise ValueError(f"names must be a list with one name per gallery row "
                         f"({len(gallery)}), but got {validation.describe(names)}.")
    distances = squared_distances(probes, gallery)
    threshold = as_threshold(threshold, distances)
    nearest = distances.argmin(axis=1)
    return [str(names[j]) if distances[i, j] <= threshold else "unknown"
            for i, j in enumerate(nearest)]


def enrolment_experiment(embeddings, labels, *, enrolled: int, threshold: float,
                         photos: int = 1) -> dict:
    """Enrol ``photos`` photo(s) of each of the first ``enrolled`` people (no retraining: their
    embeddings join the gallery), then identify every other photo of everyone, enrolled or not.

    Parameters
    ----------
    embeddings : (N, D), labels : (N,) person numbers
    enrolled : int, how many people (the first ones by number) join the gallery
    threshold : float, as in ``identify``

    Returns
    -------
    dict: "correct" (enrolled people's other photos named correctly), "rejected_strangers"
    (photos of people not enrolled answered "unknown"), "gallery_size", "probes".
    """
    embeddings = as_embeddings(embeddings)
    labels = validation.as_labels(labels, len(embeddings))
    people = np.unique(labels)
    enrolled = validation.as_int(enrolled, "enrolled", minimum=1, maximum=len(people))
    photos = validation.as_int(photos, "photos", minimum=1)
    members = set(people[:enrolled].tolist())
    in_gallery = np.zeros(len(labels), bool)
    for person in members:
        in_gallery[np.flatnonzero(labels == person)[:photos]] = True
    names = [f"person {k}" for k in labels[in_gallery]]
    answers = identify(embeddings[in_gallery], names, embeddings[~in_gallery], threshold)
    truth = labels[~in_gallery]
    member = np.isin(truth, list(members))
    correct = [a == f"person {t}" for a, t in zip(answers, truth)]
    return {"correct": float(np.mean(np.array(correct)[member])) if member.any() else None,
            "rejected_strangers": float(np.mean([a == "unknown" for a, m in
                                                 zip(answers, member) if not m]))
            if (~member).any() else None,
            "gallery_size": int(in_gallery.sum()), "probes": int((~in_gallery).sum())}


# --------------------------------------------------------------------------------------------
# Exercise checks (compared with SciPy / scikit-learn, never with a stored solution)
# --------------------------------------------------------------------------------------------

_DISTANCE_HINT = ("|a - b|^2 = sum over the D numbers of (a_k - b_k)^2; broadcasting "
                  "embeddings[:, None, :] - embeddings[None, :, :] gives every difference.")


@exercises.checker("pairwise_squared_distances",
                   forbid=["scipy.spatial.distance.cdist", "scipy.spatial.distance.pdist",
                           "sklearn.metrics.pairwise_distances",
                           "sklearn.metrics.pairwise.euclidean_distances",
                           "lab_utils.faces.squared_distances"], time_limit=10)
def check_pairwise_squared_distances(student):
    """Check ``pairwise_squared_distances(embeddings) -> (N, N)`` against SciPy's cdist."""
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(6)
    cases = [rng.normal(size=(5, 3)), rng.normal(size=(1, 4)), rng.random((7, 64)),
             np.array([[1.0, 2.0], [1.0, 2.0], [4.0, 6.0]])]
    for embeddings in cases:
        name = f"pairwise_squared_distances(embeddings of shape {embeddings.shape})"
        result = student(embeddings.copy(), name=name, hint=_DISTANCE_HINT)
        expected = cdist(embeddings, embeddings, "sqeuclidean")
        exercises.expect_array(
            result, expected, name=name, hint=_DISTANCE_HINT, atol=1e-8,
            known_mistakes=[(np.sqrt(expected), "these are plain Euclidean distances; the "
                             "triplet loss uses their squares (do not take the square root)."),
                            (-2 * embeddings @ embeddings.T, "only the -2 a.b term is there; "
                             "add |a|^2 and |b|^2."),
                            (expected[:, :1], "")])
    return len(cases)


_TRIPLET_HINT = ("per row: d_ap = sum((a - p)**2), d_an = sum((a - n)**2), then "
                 "np.maximum(d_ap - d_an + margin, 0); axis=1 sums over the D numbers.")


@exercises.checker("triplet_loss", forbid=["lab_utils.faces.triplet_loss_keras"],
                   time_limit=10)
def check_triplet_loss(student):
    """Check ``triplet_loss(anchor, positive, negative, margin) -> (N,)`` against the slide's
    formula computed with SciPy's squared distances."""
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(7)
    cases = []
    for count, width, margin in [(6, 4, 0.2), (1, 8, 0.5), (10, 2, 0.0), (5, 3, 1.0)]:
        cases.append((rng.normal(size=(count, width)), rng.normal(size=(count, width)),
                      rng.normal(size=(count, width)), margin))
    a = np.zeros((2, 2))
    cases.append((a, a + [[0.1, 0.0], [2.0, 0.0]], a + [[1.0, 0.0], [0.5, 0.0]], 0.2))
    for anchor, positive, negative, margin in cases:
        name = f"triplet_loss(anchor {anchor.shape}, positive, negative, margin={margin})"
        result = student(anchor.copy(), positive.copy(), negative.copy(), margin, name=name,
                         hint=_TRIPLET_HINT)
        d_ap = np.diag(cdist(anchor, positive, "sqeuclidean"))
        d_an = np.diag(cdist(anchor, negative, "sqeuclidean"))
        expected = np.maximum(d_ap - d_an + margin, 0.0)
        if np.ndim(result) == 0 and result is not None:
            exercises.fail(f"{name} returned one number; return one loss per triplet, an "
                           f"array of shape ({len(anchor)},) (the training averages them).",
                           _TRIPLET_HINT)
        root = np.maximum(np.sqrt(d_ap) - np.sqrt(d_an) + margin, 0.0)
        exercises.expect_array(
            result, expected, name=name, hint=_TRIPLET_HINT, atol=1e-8,
            known_mistakes=[(d_ap - d_an + margin, "without max(..., 0) a triplet that is "
                             "already right by more than the margin gets a negative loss."),
                            (root, "the slide's distances are squared: |f(a) - f(p)|^2."),
                            (np.maximum(d_an - d_ap + margin, 0.0), "positive and negative are "
                             "swapped: the loss must grow when the anchor is far from the "
                             "positive."),
                            (np.maximum(d_ap - d_an - margin, 0.0), "the margin is added, not "
                             "subtracted: the negative must be farther by at least alpha.")])
    return len(cases)


_SEMI_HINT = ("keep the columns j with labels[j] != labels[anchor] and d_ap < distances"
              "[anchor, j] < d_ap + margin; of those return the index with the smallest "
              "distance (np.flatnonzero gives the indices of a boolean mask), or -1.")


def _semi_hard_cases():
    from scipy.spatial.distance import cdist
    rng = np.random.default_rng(8)
    cases = []
    for count in (12, 20, 30):
        points = rng.normal(size=(count, 3))
        labels = rng.integers(0, 4, count)
        distances = cdist(points, points, "sqeuclidean")
        for anchor in range(3):
            partners = np.flatnonzero((labels == labels[anchor]) &
                                      (np.arange(count) != anchor))
            if len(partners):
                cases.append((distances, labels, anchor, int(partners[0]), 1.0))
    distances = np.array([[0, 1, 5, 1.5], [1, 0, 5, 5], [5, 5, 0, 5], [1.5, 5, 5, 0.0]])
    labels = np.array([0, 0, 1, 1])
    cases.append((distances, labels, 0, 1, 0.2))     # no negative inside the margin: -1
    cases.append((distances, labels, 0, 1, 1.0))     # index 3 (1.5 in (1, 2))
    return cases


@exercises.checker("semi_hard_negative", forbid=[], time_limit=10)
def check_semi_hard_negative(student):
    """Check ``semi_hard_negative(distances, labels, anchor, positive, margin) -> int``."""
    cases = _semi_hard_cases()
    for distances, labels, anchor, positive, margin in cases:
        name = (f"semi_hard_negative(distances {distances.shape}, labels, anchor={anchor}, "
                f"positive={positive}, margin={margin})")
        result = student(distances.copy(), labels.copy(), anchor, positive, margin,
                         name=name, hint=_SEMI_HINT)
        d_ap = distances[anchor, positive]
        row = distances[anchor]
        negatives = labels != labels[anchor]
        window = negatives & (row > d_ap) & (row < d_ap + margin)
        # order the candidates by distance with a stable sort: ties go to the lower index
        order = np.argsort(np.where(window, row, np.inf), kind="stable")
        expected = int(order[0]) if window.any() else -1
        if isinstance(result, (float, np.floating)) and not float(result).is_integer():
            exercises.fail(f"{name} returned {result}, a distance; return the index of the "
                           f"negative (an int), or -1.", _SEMI_HINT)
        if isinstance(result, bool) or not isinstance(result, (int, np.integer, float)):
            exercises.fail(f"{name} returned {exercises.describe_argument(result)}; expected "
                           f"one whole number (an index, or -1).", _SEMI_HINT)
        result = int(result)
        if result == expected:
            continue
        hardest = int(np.argmin(np.where(negatives, row, np.inf)))
        if result == hardest and expected != hardest:
            exercises.fail(f"{name} returned {result}, the hardest negative (closest of all); "
                           f"a semi-hard one must be farther than the positive "
                           f"(d_an > d_ap = {d_ap:.3g}).", _SEMI_HINT)
        if 0 <= result < len(labels) and labels[result] == labels[anchor]:
            exercises.fail(f"{name} returned {result}, a photo of the anchor's own person: "
                           f"negatives are the other people.", _SEMI_HINT)
        if expected == -1:
            exercises.fail(f"{name} returned {result}, but no negative lies between d_ap = "
                           f"{d_ap:.3g} and d_ap + margin = {d_ap + margin:.3g}: return -1.",
                           _SEMI_HINT)
        exercises.fail(f"{name} returned {result}; expected {expected} (distance "
                       f"{row[expected]:.3g}, between d_ap = {d_ap:.3g} and "
                       f"{d_ap + margin:.3g}).", _SEMI_HINT)
    return len(cases)


_THRESHOLD_HINT = ("try each distinct distance t as the threshold: TAR = mean(distances[same] "
                   "<= t), FAR = mean(distances[~same] <= t); return the t with the largest "
                   "TAR - FAR.")


def _youden(distances, same, threshold) -> float:
    accepted = distances <= threshold
    return float(accepted[same].mean() - accepted[~same].mean())


@exercises.checker("choose_threshold", forbid=["sklearn.metrics.roc_curve",
                                               "lab_utils.faces.best_threshold",
                                               "lab_utils.faces.verification_roc"],
                   time_limit=20)
def check_choose_threshold(student):
    """Check ``choose_threshold(distances, same) -> float``: it must reach the largest
    TAR - FAR of scikit-learn's ROC curve on these (validation) pairs."""
    from sklearn.metrics import roc_curve
    rng = np.random.default_rng(9)
    cases = []
    for count, gap in [(40, 1.0), (200, 0.5), (15, 2.0)]:
        same = rng.random(count) < 0.3
        same[:2] = [True, False]
        distances = np.abs(rng.normal(size=count) + np.where(same, 0.0, gap))
        cases.append((distances, same))
    cases.append((np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]),
                  np.array([True, True, False, True, False, False])))
    for distances, same in cases:
        name = f"choose_threshold(distances of {len(distances)} pairs, same)"
        result = student(distances.copy(), same.copy(), name=name, hint=_THRESHOLD_HINT)
        false_accept, true_accept, _ = roc_curve(same, -distances)
        best = float(np.max(true_accept - false_accept))
        if isinstance(result, np.ndarray) and result.shape == ():
            result = result.item()
        if isinstance(result, bool) or not isinstance(result, (int, float, np.number)):
            exercises.fail(f"{name} returned {exercises.describe_argument(result)}; expected "
                           f"one threshold (a number).", _THRESHOLD_HINT)
        try:
            result = float(result)
        except OverflowError:
            result = float("inf")
        if not np.isfinite(result):
            exercises.fail(f"{name} returned {result}; expected a finite distance.",
                           _THRESHOLD_HINT)
        reached = _youden(distances, same, float(result))
        if reached >= best - 1e-9:
            continue
        if float(result) < 0:
            exercises.fail(f"{name} returned {result}: a negative threshold accepts no pair. "
                           f"scikit-learn's scores are -distance; turn them back into "
                           f"distances.", _THRESHOLD_HINT)
        if float(result).is_integer() and 0 <= result < len(distances) and \
                _youden(distances, same, np.sort(distances)[int(result)]) >= best - 1e-9:
            exercises.fail(f"{name} returned {result}, which looks like a position in the "
                           f"sorted list; return the distance itself.", _THRESHOLD_HINT)
        exercises.fail(f"{name} returned {float(result):.4g}, which gives TAR - FAR = "
                       f"{reached:.3f}; the best threshold reaches {best:.3f}.",
                       _THRESHOLD_HINT)
    return len(cases)


_IDENTIFY_HINT = ("distances = squared distances from each probe to every gallery row (the "
                  "first exercise's idea with two sets); j = argmin per probe; name it "
                  "names[j] if that distance <= threshold, otherwise 'unknown'.")


@exercises.checker("identify", forbid=["sklearn.neighbors.NearestNeighbors",
                                       "sklearn.neighbors.KNeighborsClassifier",
                                       "lab_utils.faces.identify"], time_limit=10)
def check_identify(student):
    """Check ``identify(gallery, names, probes, threshold) -> list of str`` against
    scikit-learn's NearestNeighbors."""
    from sklearn.neighbors import NearestNeighbors
    rng = np.random.default_rng(10)
    cases = []
    for people, probes in [(3, 6), (5, 12), (1, 4)]:
        gallery = rng.normal(size=(people, 4)) * 3
        names = [f"employee {k}" for k in range(people)]
        near = gallery[rng.integers(0, people, probes // 2)] + rng.normal(
            scale=0.1, size=(probes // 2, 4))
        strangers = rng.normal(size=(probes - probes // 2, 4)) * 3 + 20
        cases.append((gallery, names, np.vstack([near, strangers]), 1.0))
    for gallery, names, probes, threshold in cases:
        name = f"identify(gallery {gallery.shape}, names, probes {probes.shape}, {threshold})"
        result = student(gallery.copy(), list(names), probes.copy(), threshold, name=name,
                         hint=_IDENTIFY_HINT)
        nearest = NearestNeighbors(n_neighbors=1).fit(gallery)
        distance, index = nearest.kneighbors(probes)
        expected = [names[j] if d ** 2 <= threshold else "unknown"
                    for d, j in zip(distance[:, 0], index[:, 0])]
        if isinstance(result, np.ndarray):
            result = result.tolist()
        if not isinstance(result, (list, tuple)) or len(result) != len(expected):
            exercises.fail(f"{name} returned {exercises.describe_argument(result)}; expected "
                           f"a list of {len(expected)} names, one per probe.", _IDENTIFY_HINT)
        result = list(result)
        if result == expected:
            continue
        if all(isinstance(r, (int, np.integer)) for r in result):
            exercises.fail(f"{name} returned gallery indices; return the names "
                           f"(names[j]).", _IDENTIFY_HINT)
        ignored = [names[j] for j in index[:, 0]]
        if result == ignored:
            exercises.fail(f"{name} names every probe, strangers too: a probe farther than "
                           f"the threshold from every gallery face is 'unknown'.",
                           _IDENTIFY_HINT)
        wrong = next(i for i, (r, e) in enumerate(zip(result, expected)) if r != e)
        exercises.fail(f"{name}: probe {wrong} is named {result[wrong]!r}, expected "
                       f"{expected[wrong]!r} (nearest gallery row {index[wrong, 0]} at "
                       f"squared distance {distance[wrong, 0] ** 2:.3g}).", _IDENTIFY_HINT)
    return len(cases)


# --------------------------------------------------------------------------------------------
# dlib: HOG and CNN face detectors, 68 landmarks, alignment, the pretrained ResNet embedding
# --------------------------------------------------------------------------------------------

# The 68 points as numbered on the slide (1-68, iBUG 300-W order); dlib counts from 0.
LANDMARK_GROUPS = {"jaw": range(1, 18), "right eyebrow": range(18, 23),
                   "left eyebrow": range(23, 28), "nose": range(28, 37),
                   "right eye": range(37, 43), "left eye": range(43, 49),
                   "mouth": range(49, 69)}
# "right"/"left" are the person's own: the right eye is on the left of the picture.

_DLIB: dict = {}


def _dlib_model(kind: str):
    """dlib's detectors and models, loaded once (the files come with face-recognition-models)."""
    if kind not in _DLIB:
        try:
            import dlib
            import face_recognition_models as files
        except ImportError as error:
            raise ImportError("dlib and its model files are needed here: pip install "
                              "dlib-bin face-recognition-models (both pinned in "
                              "requirements.txt).") from error
        factories = {
            "hog": dlib.get_frontal_face_detector,
            "cnn": lambda: dlib.cnn_face_detection_model_v1(
                files.cnn_face_detector_model_location()),
            "landmarks": lambda: dlib.shape_predictor(files.pose_predictor_model_location()),
            "resnet": lambda: dlib.face_recognition_model_v1(
                files.face_recognition_model_location()),
        }
        _DLIB[kind] = factories[kind]()
    return _DLIB[kind]


def _as_rgb_uint8(image, name: str = "image") -> np.ndarray:
    image = validation.as_image(image, name)
    if image.dtype != np.uint8:
        image = np.round(image * 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image)


def detect_faces_dlib(image, *, method: str = "hog", upsample: int = 0) -> np.ndarray:
    """Faces found by dlib: "hog" (HOG features + linear SVM, fast) or "cnn" (MMOD CNN, slow
    on a CPU: seconds per photo). Returns (F, 4) int boxes (x, y, w, h).

    ``upsample`` doubles the image that many times first, to find smaller faces (and, on
    the astronaut photo, a false one with the HOG detector at 1).
    """
    validation.one_of(method, "method", ["hog", "cnn"])
    upsample = validation.as_int(upsample, "upsample", minimum=0, maximum=3)
    pixels = _as_rgb_uint8(image)
    found = _dlib_model(method)(pixels, upsample)
    rectangles = [getattr(f, "rect", f) for f in found]     # the CNN returns scored rects
    return np.array([[r.left(), r.top(), r.width(), r.height()] for r in rectangles],
                    dtype=np.int64).reshape(-1, 4)


def landmarks(image, box=None) -> np.ndarray:
    """dlib's 68 facial landmarks: (68, 2) float64 (x, y) pixels; row k is point k + 1.

    Parameters
    ----------
    image : (H, W) or (H, W, 3), uint8 or float in [0, 1]
    box : (x, y, w, h), optional
        The face. Without it dlib's HOG detector looks for one; an image with no face raises
        ValueError (the predictor would otherwise place 68 points on anything).
    """
    import dlib
    pixels = _as_rgb_uint8(image)
    if box is None:
        boxes = detect_faces_dlib(pixels)
        if len(boxes) == 0:
            raise ValueError("no face found in the image (dlib's HOG detector): pass a face "
                             "photo, or give the face's box as box=(x, y, w, h).")
        box = boxes[np.argmax(boxes[:, 2] * boxes[:, 3])]
    x, y, w, h = (int(v) for v in box)
    if w <= 0 or h <= 0:
        raise ValueError(f"box must have a positive width and height, but got {box!r}.")
    shape = _dlib_model("landmarks")(pixels, dlib.rectangle(x, y, x + w - 1, y + h - 1))
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def eye_centres(points) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the person's right eye (points 37-42) and left eye (43-48), each (x, y)."""
    points = validation.as_array(points, "points").astype(np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"points must be the 68 landmarks, shape (68, 2), but have shape "
                         f"{points.shape}.")
    return points[36:42].mean(axis=0), points[42:48].mean(axis=0)


def align_face(image, points, size: int = 64, *, eye_distance: float = 0.42,
               eye_height: float = 0.38) -> np.ndarray:
    """Rotate, scale and crop a face so its eyes are level, at fixed places.

    The eyes end up on a horizontal line at ``eye_height`` x ``size`` from the top,
    ``eye_distance`` x ``size`` apart and centred. Returns (size, size) float32 grayscale in
    [0, 1] (colour images are converted).
    """
    from skimage import color, transform
    image = validation.as_image(image)
    size = validation.as_int(size, "size", minimum=8, maximum=1024)
    right, left = eye_centres(points)
    gray = image if image.ndim == 2 else color.rgb2gray(image)
    gray = gray.astype(np.float64) / (255.0 if image.dtype == np.uint8 else 1.0)
    source = np.array([right, left])
    target = np.array([[size * (0.5 - eye_distance / 2), size * eye_height],
                       [size * (0.5 + eye_distance / 2), size * eye_height]])
    warp = transform.SimilarityTransform.from_estimate(target, source)
    if not warp:
        raise ValueError("the eye landmarks coincide: cannot align this face.")
    aligned = transform.warp(gray, warp, output_shape=(size, size), mode="edge")
    return aligned.astype(np.float32).clip(0, 1)


def dlib_embeddings(images, boxes=None) -> np.ndarray:
    """dlib's pretrained ResNet face descriptor (128-d, trained on ~3 million faces).

    ``images`` (N, H, W) grayscale or (N, H, W, 3); each face is located by the landmarks
    inside ``boxes`` (default: the whole image, right for tight crops such as Olivetti).
    Returns (N, 128) float64; dlib's authors use a Euclidean distance of 0.6 as threshold.
    """
    import dlib
    batch = validation.as_array(images, "images")
    stored = _embedding_cache_path(batch, boxes)
    if stored.exists():
        return np.load(stored)
    if batch.ndim not in (3, 4) or len(batch) == 0:
        raise ValueError(f"images must be a non-empty batch (N, H, W) or (N, H, W, 3), but "
                         f"have shape {batch.shape}.")
    resnet, predictor = _dlib_model("resnet"), _dlib_model("landmarks")
    rows = []
    for index, image in enumerate(batch):
        pixels = _as_rgb_uint8(image, f"images[{index}]")
        height, width = pixels.shape[:2]
        x, y, w, h = (0, 0, width, height) if boxes is None else (int(v) for v in boxes[index])
        shape = predictor(pixels, dlib.rectangle(x, y, x + w - 1, y + h - 1))
        rows.append(np.array(resnet.compute_face_descriptor(pixels, shape)))
    embeddings = np.stack(rows)
    stored.parent.mkdir(parents=True, exist_ok=True)
    np.save(stored, embeddings)
    return embeddings


def _embedding_cache_path(images, boxes):
    """Where dlib's descriptors of these exact images are kept: ``data.cache_dir()/dlib/``
    (about 0.2 s per face on a 2-core CPU, so a lesson re-run reuses them)."""
    import hashlib
    from lab_utils import data
    digest = hashlib.sha256(str((images.shape, images.dtype)).encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    if boxes is not None:
        digest.update(np.asarray(boxes, dtype=np.int64).tobytes())
    return data.cache_dir() / "dlib" / f"{digest.hexdigest()[:32]}.npy"


# --------------------------------------------------------------------------------------------
# What Haar-like features are: scikit-image's features, AdaBoost, OpenCV's own cascade
# --------------------------------------------------------------------------------------------


def haar_feature_sample(window: int = 25, count: int = 2000, *, seed: int = 0):
    """A random sample of ``count`` Haar-like features of a ``window`` x ``window`` image
    (scikit-image's five types: 2 rectangles side by side or stacked, 3 in a row or column,
    4 in a checkerboard). Returns (coords, types) for ``haar_features``/``draw_haar_feature``.
    """
    from skimage.feature import haar_like_feature_coord
    window = validation.as_int(window, "window", minimum=4, maximum=64)
    count = validation.as_int(count, "count", minimum=1)
    coords, types = [], []
    for kind in ("type-2-x", "type-2-y", "type-3-x", "type-3-y", "type-4"):
        kind_coords, kind_types = haar_like_feature_coord(window, window, kind)
        coords.append(kind_coords)
        types.append(kind_types)
    coords, types = np.concatenate(coords), np.concatenate(types)
    chosen = np.random.default_rng(seed).choice(len(coords), min(count, len(coords)),
                                                replace=False)
    return coords[chosen], types[chosen]


def haar_features(images, coords, types) -> np.ndarray:
    """The chosen Haar-like features of every image: (N, H, W) -> (N, F) float64.

    Each feature is (sum of the pixels under its white rectangles) - (sum under the black
    ones), read from the integral image with 4 look-ups per rectangle, whatever its size.
    """
    from skimage.feature import haar_like_feature
    from skimage.transform import integral_image
    images = as_faces(images)
    height, width = images.shape[1:]
    return np.stack([haar_like_feature(integral_image(image), 0, 0, width, height,
                                       feature_type=types, feature_coord=coords)
                     for image in images]).astype(np.float64)


def draw_haar_feature(image, coord) -> np.ndarray:
    """An RGB picture of one Haar-like feature on ``image`` (scikit-image's
    ``draw_haar_like_feature``): the two colours mark the rectangles that are added and
    subtracted."""
    from skimage.feature import draw_haar_like_feature
    image = as_faces(np.asarray(image)[None])[0]
    height, width = image.shape
    return draw_haar_like_feature(image, 0, 0, width, height, [coord], alpha=0.6)


def opencv_cascade_summary(name: str = "frontalface_default") -> dict:
    """What an OpenCV Haar cascade XML file contains.

    Returns a dict: "window" (w, h) of the detector, "stages" (number), "weak_per_stage"
    (list of the number of AdaBoost stumps per stage), "features" (number of distinct
    rectangle features), and "first_stage" (list of features of stage 1, each a list of
    rectangles (x, y, w, h, weight) in window pixels).
    """
    import xml.etree.ElementTree as ElementTree
    from pathlib import Path
    import cv2
    validation.one_of(name, "name", [p.name[len("haarcascade_"):-4] for p in
                                     Path(cv2.data.haarcascades).glob("haarcascade_*.xml")])
    root = ElementTree.parse(Path(cv2.data.haarcascades) / f"haarcascade_{name}.xml")
    cascade = root.getroot()[0]
    window = (int(cascade.findtext("width")), int(cascade.findtext("height")))
    features = []
    for feature in cascade.find("features"):
        rectangles = []
        for rect in feature.find("rects"):
            values = rect.text.split()
            rectangles.append(tuple(int(v) for v in values[:4]) + (float(values[4]),))
        features.append(rectangles)
    stages = list(cascade.find("stages"))
    weak = [len(stage.find("weakClassifiers")) for stage in stages]
    first = [features[int(classifier.findtext("internalNodes").split()[2])]
             for classifier in stages[0].find("weakClassifiers")]
    return {"window": window, "stages": len(stages), "weak_per_stage": weak,
            "features": len(features), "first_stage": first}


def plot_cascade_features(summary: dict, background=None, *, columns: int = 9):
    """The rectangle features of a cascade's first stage on a (window-sized) background:
    white rectangles are weighted positively, dark ones negatively."""
    width, height = summary["window"]
    features = summary["first_stage"]
    rows = -(-len(features) // columns)
    figure = new_figure(figsize=(1.3 * columns, 1.4 * rows))
    axes = np.atleast_1d(figure.subplots(rows, columns)).ravel()
    base = np.full((height, width), 0.5) if background is None else background
    for axis in axes:
        axis.set_axis_off()
    for index, (axis, rectangles) in enumerate(zip(axes, features), start=1):
        axis.imshow(base, cmap="gray", vmin=0, vmax=1)
        for x, y, w, h, weight in rectangles:
            colour = "white" if weight > 0 else "black"
            axis.add_patch(_rectangle((x - 0.5, y - 0.5), w, h, colour))
        axis.set_title(f"stump {index}", fontsize=8)
    figure.suptitle(f"stage 1 of {summary['stages']}: {len(features)} features "
                    f"({summary['window'][0]}x{summary['window'][1]} window)")
    return figure


def _rectangle(corner, width, height, colour):
    from matplotlib.patches import Rectangle
    return Rectangle(corner, width, height, facecolor=colour, edgecolor="red", alpha=0.7,
                     linewidth=0.8)


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------


def plot_roc(rocs: dict, *, title: str | None = None):
    """ROC curves of several embeddings on the same pairs: name -> Roc."""
    if not isinstance(rocs, dict) or not rocs:
        raise TypeError("rocs must be a non-empty dict of name -> faces.Roc.")
    figure = new_figure(figsize=(4.8, 4.2))
    axis = figure.subplots()
    for name, roc in rocs.items():
        axis.plot(roc.false_accept, roc.true_accept, label=f"{name} (AUC {roc.auc:.3f})")
    axis.plot([0, 1], [0, 1], color="gray", linestyle=":", label="chance")
    axis.set_xlabel("false accept rate (different people accepted)")
    axis.set_ylabel("true accept rate (same person accepted)")
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(alpha=0.3)
    if title:
        axis.set_title(title)
    return figure


def plot_distance_histograms(distances, same, *, threshold=None, title: str | None = None):
    """Histograms of same-person and different-person pair distances (and a threshold)."""
    distances, same = _as_pairs(distances, same)
    figure = new_figure(figsize=(5.6, 3.0))
    axis = figure.subplots()
    bins = np.linspace(0, distances.max(), 40)
    axis.hist(distances[~same], bins, density=True, alpha=0.6, label="different people")
    axis.hist(distances[same], bins, density=True, alpha=0.6, label="same person")
    if threshold is not None:
        axis.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3g}")
    axis.set_xlabel("squared distance between the two embeddings")
    axis.set_ylabel("density")
    axis.legend(fontsize=8)
    if title:
        axis.set_title(title)
    return figure


def plot_training_curves(results: dict):
    """Loss and validation AUC per epoch of several triplet trainings (name -> result)."""
    figure = new_figure(figsize=(9.0, 3.2))
    loss_axis, auc_axis = figure.subplots(1, 2)
    for name, result in results.items():
        epochs = np.arange(1, len(result.history["loss"]) + 1)
        loss_axis.plot(epochs, result.history["loss"], marker="o", label=name)
        if "val_auc" in result.history:
            auc_axis.plot(epochs, result.history["val_auc"], marker="o", label=name)
    loss_axis.set(xlabel="epoch", ylabel="triplet loss (mean of active terms)")
    auc_axis.set(xlabel="epoch", ylabel="validation AUC")
    for axis in (loss_axis, auc_axis):
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    return figure


def plot_rotation_sweeps(sweeps: dict):
    """Detection rate against in-plane rotation for several detectors (name -> sweep)."""
    figure = new_figure(figsize=(5.6, 3.4))
    axis = figure.subplots()
    for name, sweep in sweeps.items():
        axis.plot(sweep["angles"], sweep["rate"], marker="o",
                  label=f"{name} ({sweep['seconds'] * 1000:.0f} ms/image)")
    axis.set_xlabel("rotation of the face in the image plane (degrees)")
    axis.set_ylabel("faces found")
    axis.set_ylim(-0.05, 1.05)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    return figure


_GROUP_COLOURS = {"jaw": "tab:orange", "right eyebrow": "tab:green",
                  "left eyebrow": "tab:olive", "nose": "tab:cyan", "right eye": "tab:blue",
                  "left eye": "tab:purple", "mouth": "tab:red"}


def plot_landmarks(image, points, *, numbers: bool = True, title: str | None = None):
    """The 68 landmarks on ``image``, coloured by group and numbered 1-68 as on the slide."""
    image = validation.as_image(image)
    points = validation.as_array(points, "points")
    if points.shape != (68, 2):
        raise ValueError(f"points must have shape (68, 2), but have shape {points.shape}.")
    figure = new_figure(figsize=(5.0, 5.0))
    axis = figure.subplots()
    axis.imshow(image, cmap="gray")
    for group, numbers_range in LANDMARK_GROUPS.items():
        rows = [n - 1 for n in numbers_range]
        axis.scatter(points[rows, 0], points[rows, 1], s=10, color=_GROUP_COLOURS[group],
                     label=f"{group} ({numbers_range[0]}-{numbers_range[-1]})")
        if numbers:
            for n in numbers_range:
                axis.annotate(str(n), points[n - 1], fontsize=5, color="yellow",
                              xytext=(2, 2), textcoords="offset points")
    axis.legend(fontsize=6, loc="upper right")
    axis.set_axis_off()
    if title:
        axis.set_title(title)
    return figure


# --------------------------------------------------------------------------------------------
# Widgets
# --------------------------------------------------------------------------------------------


def _pair_tile(first, second, accepted: bool, same: bool, scale: int = 2) -> np.ndarray:
    """Two faces side by side, framed green when the decision is right, red when wrong."""
    faces_row = np.concatenate([first, np.ones((first.shape[0], 2)), second], axis=1)
    tile = np.repeat(widgets.upscale(faces_row, scale)[..., None], 3, axis=2)
    colour = (0.1, 0.75, 0.2) if accepted == same else (0.9, 0.1, 0.1)
    framed = np.ones((tile.shape[0] + 8, tile.shape[1] + 8, 3)) * np.array(colour)
    framed[4:-4, 4:-4] = tile
    return framed


def threshold_view(distances, same, threshold, examples) -> dict:
    """The threshold widget's pure compute step: error rates and the example pairs' verdicts.

    ``examples`` is a list of (index of the pair, first face, second face). Returns the
    dict of ``error_rates`` plus "accepted" (one bool per example).
    """
    rates = error_rates(distances, same, threshold)
    rates["accepted"] = [bool(distances[index] <= rates["threshold"])
                         for index, _, _ in examples]
    return rates


def _hardest_examples(distances, same, images, first, second, count: int):
    """The same-person pairs that are farthest apart and the different-person pairs that are
    closest: where a threshold makes its mistakes."""
    chosen = list(np.flatnonzero(same)[np.argsort(distances[same])[-count:]])
    chosen += list(np.flatnonzero(~same)[np.argsort(distances[~same])[:count]])
    return [(int(i), images[first[i]], images[second[i]]) for i in chosen]


def threshold_explorer(embeddings, labels, images, *, threshold=None, examples: int = 4):
    """Verification with a threshold slider: error rates and the hardest pairs' verdicts.

    Parameters
    ----------
    embeddings : (N, D), labels : (N,), images : (N, H, W) the faces they come from
    threshold : float, the slider's start (default: the best on these pairs)
    examples : int, how many same-person and how many different-person pairs to show
    """
    import ipywidgets
    embeddings = as_embeddings(embeddings)
    labels = validation.as_labels(labels, len(embeddings))
    images = as_faces(images)
    if len(images) != len(embeddings):
        raise ValueError(f"images ({len(images)}) and embeddings ({len(embeddings)}) must "
                         f"have one row per face.")
    examples = validation.as_int(examples, "examples", minimum=1, maximum=10)
    distances, same = pair_distances(embeddings, labels)
    first, second = np.triu_indices(len(embeddings), 1)
    start = best_threshold(distances, same) if threshold is None else \
        as_threshold(threshold, distances)
    shown = _hardest_examples(distances, same, images, first, second, examples)
    high = float(np.max(distances))
    slider = ipywidgets.FloatSlider(value=min(start, high), min=0.0, max=high,
                                    step=high / 200, description="threshold τ",
                                    readout_format=".3f", continuous_update=True,
                                    layout=ipywidgets.Layout(width="420px"))
    picture = ipywidgets.Image(format="jpeg")
    text = ipywidgets.HTML()

    def render(values):
        view = threshold_view(distances, same, values["threshold"], shown)
        tiles = [_pair_tile(a, b, accepted, bool(same[index]))
                 for (index, a, b), accepted in zip(shown, view["accepted"])]
        top, bottom = np.concatenate(tiles[:examples], 1), np.concatenate(tiles[examples:], 1)
        picture.value = widgets.encode(np.concatenate([top, bottom], 0).clip(0, 1), "jpeg",
                                       quality=90)
        text.value = (f"τ = {view['threshold']:.3f}: <b>false accepts</b> "
                      f"{view['false_accept']:.1%} of different-person pairs, <b>false "
                      f"rejects</b> {view['false_reject']:.1%} of same-person pairs, accuracy "
                      f"{view['accuracy']:.1%} ({len(distances)} pairs).<br>Top row: the "
                      f"{examples} same-person pairs farthest apart; bottom row: the "
                      f"{examples} different-person pairs closest together. Green frame = "
                      f"right decision, red = wrong.")
        return view

    layout = ipywidgets.VBox([slider, text, picture])
    return widgets.Interactive({"threshold": slider}, render, layout)


def haar_view(image, scale_factor: float, min_neighbors: int, min_size: int) -> dict:
    """The Haar widget's compute step: boxes, the picture with them, seconds taken."""
    start = time.perf_counter()
    boxes = detect_faces_haar(image, scale_factor=scale_factor, min_neighbors=min_neighbors,
                              min_size=min_size)
    seconds = time.perf_counter() - start
    return {"boxes": boxes, "seconds": seconds, "picture": draw_boxes(image, boxes)}


def haar_explorer(photos: dict):
    """OpenCV's Haar cascade on a choice of photos, with its three main settings as sliders.

    Parameters
    ----------
    photos : dict of name -> image (H, W) or (H, W, 3), uint8 or float in [0, 1]
        Keep them small (about 300 pixels across) so every update stays fast.
    """
    import ipywidgets
    if not isinstance(photos, dict) or not photos:
        raise TypeError("photos must be a non-empty dict of name -> image.")
    photos = {str(name): validation.as_image(image, f"photos[{name!r}]")
              for name, image in photos.items()}
    controls = {
        "photo": ipywidgets.Dropdown(options=list(photos), description="photo"),
        "scale_factor": ipywidgets.FloatSlider(value=1.1, min=1.02, max=1.5, step=0.02,
                                               description="scaleFactor",
                                               continuous_update=False),
        "min_neighbors": ipywidgets.IntSlider(value=5, min=0, max=15,
                                              description="minNeighbors",
                                              continuous_update=False),
        "min_size": ipywidgets.IntSlider(value=30, min=10, max=150, step=5,
                                         description="minSize", continuous_update=False),
    }
    picture = ipywidgets.Image(format="jpeg")
    text = ipywidgets.HTML()

    def render(values):
        view = haar_view(photos[values["photo"]], values["scale_factor"],
                         values["min_neighbors"], values["min_size"])
        picture.value = widgets.encode(view["picture"], "jpeg")
        text.value = (f"{len(view['boxes'])} face(s) found in {view['seconds'] * 1000:.0f} ms "
                      f"(scaleFactor {values['scale_factor']:.2f}, minNeighbors "
                      f"{values['min_neighbors']}, minSize {values['min_size']} px)")
        return {"faces": len(view["boxes"]), "boxes": view["boxes"],
                "seconds": view["seconds"]}

    layout = ipywidgets.VBox([ipywidgets.HBox([controls["photo"], controls["scale_factor"]]),
                              ipywidgets.HBox([controls["min_neighbors"],
                                               controls["min_size"]]), text, picture])
    return widgets.Interactive(controls, render, layout)


def failure_photos(image, box) -> dict:
    """The slide's "does not generalise well", made concrete on one real portrait: the photo
    as it is, turned 40 degrees about the face, with the eyes covered, and in dim side
    light. (No profile photo ships with the installed packages, so profiles are not shown.)

    Returns name -> uint8 image, same size as ``image``.
    """
    image = validation.as_image(image)
    pixels = image if image.dtype == np.uint8 else np.round(image * 255).astype(np.uint8)
    x, y, w, h = (int(v) for v in box)
    covered = pixels.copy()
    covered[y + int(0.2 * h):y + int(0.5 * h), x:x + w] = 0
    ramp = np.linspace(0.05, 0.6, pixels.shape[1])[None, :]
    ramp = ramp[..., None] if pixels.ndim == 3 else ramp
    dim = np.clip(pixels * ramp, 0, 255).astype(np.uint8)
    return {"as taken": pixels,
            "turned 40°": rotate_about(pixels, 40, (x + w / 2, y + h / 2)),
            "eyes covered": covered, "dim side light": dim}
