"""Lesson 06's verification and identification: squared distances between embeddings, the
pairs of a set of faces, ROC curves and thresholds, the classical peers (raw pixels and
eigenfaces), naming faces against a gallery (enrolment), and the threshold widget's pure
compute step.

``embeddings`` are (N, D) float arrays, one row per image; a *distance* between two
embeddings is the squared Euclidean distance of the slide's triplet loss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from lab_utils import validation
from lab_utils.faces import compute

if TYPE_CHECKING:
    from sklearn.decomposition import PCA

#: The most distances ``squared_distances`` computes at once: 25 million (200 MB of float64),
#: e.g. 5,000 x 5,000 embeddings; so ``pair_distances`` takes at most 5,000 embeddings
#: (12.5 million pairs). Olivetti has 400 faces; 30,000 faces would need 7 GB.
MAX_DISTANCES = 25_000_000
#: Embedding values beyond this size are refused: their squares overflow float64.
MAX_EMBEDDING_VALUE = 1e100

# --------------------------------------------------------------------------------------------
# Distances, pairs, ROC
# --------------------------------------------------------------------------------------------


def as_embeddings(embeddings: np.ndarray, name: str = "embeddings") -> np.ndarray:
    """Check (N, D) embeddings (finite numbers) and return them as float64."""
    array = validation.as_array(embeddings, name)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must have shape (N, D): one row of D numbers per image, "
            f"but it has shape {array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} is empty: its shape is {array.shape}.")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(
            f"{name} contains NaN or infinite values (a diverged training or "
            f"a division by a zero norm?)."
        )
    largest = float(np.abs(array).max())
    if largest > MAX_EMBEDDING_VALUE:  # squared distances would overflow to inf and NaN
        raise ValueError(
            f"{name} holds values up to {largest:.3g}, beyond {MAX_EMBEDDING_VALUE:g}: their "
            f"squared distances overflow. Normalise the embeddings first (e.g. divide each "
            f"row by its length)."
        )
    return array


def squared_distances(embeddings: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """Squared Euclidean distances between rows: (N, D) [and (M, D)] -> (N, N) or (N, M).

    Uses |a|^2 + |b|^2 - 2 a.b (one matrix product, fast); tiny negative values from rounding
    are clipped to 0.
    """
    a = as_embeddings(embeddings)
    b = a if others is None else as_embeddings(others, "others")
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"embeddings have {a.shape[1]} numbers per row but others have "
            f"{b.shape[1]}: they must come from the same embedding."
        )
    validation.check_count(
        len(a) * len(b),
        MAX_DISTANCES,
        f"distances ({len(a):,} x {len(b):,} embeddings)",
        "Compare a sample of the images (e.g. 5,000), or a smaller gallery at a time.",
    )
    # In place, so only two (N, M) arrays exist at once (the same numbers as one expression).
    distances = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :]
    distances -= 2.0 * a @ b.T
    np.maximum(distances, 0.0, out=distances)
    if others is None:
        np.fill_diagonal(distances, 0.0)
    return distances


def pair_distances(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every unordered pair of images (i < j): its distance and whether it is one person.

    At most 5,000 embeddings (12.5 million pairs; ``MAX_DISTANCES``): more are refused with
    a message instead of running out of memory.

    Returns
    -------
    distances : ndarray (P,) float64, squared Euclidean distances
    same : ndarray (P,) bool, True for pairs of the same person
    """
    embeddings = as_embeddings(embeddings)
    labels = validation.as_labels(labels, len(embeddings), unit="image")
    if len(embeddings) < 2:
        raise ValueError("at least two images are needed to form a pair.")
    distances = squared_distances(embeddings)  # refuses more than 5,000 embeddings
    # A boolean mask picks the pairs i < j row by row, like np.triu_indices, in 1/16 of
    # the memory.
    upper = np.triu(np.ones(distances.shape, dtype=bool), 1)
    same = (labels[:, None] == labels[None, :])[upper]
    return distances[upper], same


def as_pairs(distances: np.ndarray, same: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check the pairs' distances (P,) and same-person flags (P,); return float64 and bool."""
    distances = validation.as_array(distances, "distances").astype(np.float64)
    same = validation.as_array(same, "same")
    if distances.ndim != 1 or same.shape != distances.shape:
        raise ValueError(
            f"distances and same must be 1-D arrays of equal length (one value "
            f"per pair), but have shapes {distances.shape} and {same.shape}."
        )
    if not np.all(np.isfinite(distances)):
        raise ValueError("distances contain NaN or infinite values.")
    if same.dtype != bool:
        if not np.isin(same, (0, 1)).all():
            raise ValueError("same must hold True/False (or 1/0) for each pair.")
        same = same.astype(bool)
    if same.all() or not same.any():
        raise ValueError(
            "the pairs must include both same-person and different-person "
            "pairs to measure verification."
        )
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


def verification_roc(distances: np.ndarray, same: np.ndarray) -> Roc:
    """ROC curve and AUC of "same person if distance <= threshold" (scikit-learn's roc_curve
    on the score -distance)."""
    from sklearn.metrics import roc_auc_score, roc_curve

    distances, same = as_pairs(distances, same)
    false_accept, true_accept, scores = roc_curve(same, -distances, drop_intermediate=False)
    with np.errstate(over="ignore"):
        thresholds = -scores  # the first score is +inf: accept nothing
    return Roc(false_accept, true_accept, thresholds, float(roc_auc_score(same, -distances)))


def verification_auc(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC over every pair of ``embeddings`` (one of the lesson's comparison numbers)."""
    return verification_roc(*pair_distances(embeddings, labels)).auc


def error_rates(distances: np.ndarray, same: np.ndarray, threshold: float) -> dict:
    """What the threshold does to the pairs.

    Returns a dict: "false_accept" (different people accepted, fraction of the different-person
    pairs), "false_reject" (same person rejected, fraction of the same-person pairs),
    "accuracy" (all pairs: dominated by the many different-person pairs), "balanced_accuracy"
    (1 - the mean of the two error rates: 0.5 for any constant answer) and "threshold".
    """
    distances, same = as_pairs(distances, same)
    threshold = as_threshold(threshold, distances)
    accepted = distances <= threshold
    false_accept, false_reject = float(accepted[~same].mean()), float((~accepted[same]).mean())
    return {
        "threshold": threshold,
        "false_accept": false_accept,
        "false_reject": false_reject,
        "accuracy": float((accepted == same).mean()),
        "balanced_accuracy": 1.0 - (false_accept + false_reject) / 2,
    }


def as_threshold(threshold: float, distances: np.ndarray) -> float:
    """Check a threshold against the range of the distances it will cut."""
    threshold = validation.as_float(threshold, "threshold")
    low, high = float(np.min(distances)), float(np.max(distances))
    if threshold < 0 or threshold > 2 * high + 1e-12:
        raise ValueError(
            f"threshold {threshold:g} is outside the range of the distances "
            f"({low:.3g} to {high:.3g}); pick a value in that range."
        )
    return threshold


def true_accept_at(roc: Roc, false_accept: float = 0.01) -> dict:
    """The best operating point whose false-accept rate is at most ``false_accept``.

    Returns a dict: "true_accept" (fraction of same-person pairs accepted there),
    "false_accept" (the rate actually reached, <= the one asked for) and "threshold". A
    constant answer scores true_accept 0 at any false_accept < 1 ("different" to everything).
    """
    if not isinstance(roc, Roc):
        raise TypeError(
            f"roc must come from faces.verification_roc, not {validation.describe(roc)}."
        )
    false_accept = validation.as_float(false_accept, "false_accept", minimum=0.0, maximum=1.0)
    allowed = np.flatnonzero((roc.false_accept <= false_accept) & np.isfinite(roc.thresholds))
    if len(allowed) == 0:
        return {"true_accept": 0.0, "false_accept": 0.0, "threshold": 0.0}
    best = allowed[np.argmax(roc.true_accept[allowed])]
    return {
        "true_accept": float(roc.true_accept[best]),
        "false_accept": float(roc.false_accept[best]),
        "threshold": float(roc.thresholds[best]),
    }


def spread(embeddings: np.ndarray, labels: np.ndarray) -> dict:
    """How far apart a network puts faces: the quantity that shows a collapse.

    Returns a dict of mean squared distances over every pair of ``embeddings`` (N, D):
    "all" (the spread: 0 when every face gets the same point; about 2 for random directions
    of length 1), "same" (pairs of one person) and "different" (pairs of two people).
    """
    distances, same = pair_distances(embeddings, labels)
    return {
        "all": float(distances.mean()),
        "same": float(distances[same].mean()) if same.any() else float("nan"),
        "different": float(distances[~same].mean()) if (~same).any() else float("nan"),
    }


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The threshold with the largest true-accept minus false-accept rate (Youden's J) on
    these pairs: choose it on validation identities, then apply it to the test identities."""
    roc = verification_roc(distances, same)
    finite = np.isfinite(roc.thresholds)
    score = np.where(finite, roc.true_accept - roc.false_accept, -np.inf)
    return float(roc.thresholds[int(np.argmax(score))])


# --------------------------------------------------------------------------------------------
# Classical peers: raw pixels and eigenfaces
# --------------------------------------------------------------------------------------------


def pixel_embeddings(images: np.ndarray) -> np.ndarray:
    """Raw pixels as embeddings: (N, H, W) -> (N, H*W) float64."""
    images = compute.as_faces(images)
    return images.reshape(len(images), -1).astype(np.float64)


def fit_eigenfaces(train_images: np.ndarray, components: int = 50, *, seed: int = 0) -> PCA:
    """PCA on the training faces (whitened): the classical face embedding ("eigenfaces").

    Returns a fitted scikit-learn ``PCA``; ``eigenface_embeddings(pca, images)`` projects.
    """
    from sklearn.decomposition import PCA

    flat = pixel_embeddings(train_images)
    components = validation.as_int(components, "components", minimum=1, maximum=min(flat.shape))
    return PCA(components, whiten=True, random_state=seed).fit(flat)


def eigenface_embeddings(pca: PCA, images: np.ndarray) -> np.ndarray:
    """Project faces on fitted eigenfaces and scale each projection to length 1,
    (N, H, W) -> (N, components).

    Whitening gives every eigenface the same weight; normalising the length makes the squared
    distance a cosine distance (2 - 2 cos), which ignores overall contrast. On Olivetti this
    pair of choices gave the best eigenface AUCs (PCA 50 whitened + cosine 0.929 on average
    over the four 10-person splits, against 0.878 without normalising).
    """
    if not hasattr(pca, "components_"):
        raise TypeError(
            f"pca must be the result of fit_eigenfaces, but got {validation.describe(pca)}."
        )
    flat = pixel_embeddings(images)
    if flat.shape[1] != pca.components_.shape[1]:
        raise ValueError(
            f"the images have {flat.shape[1]} pixels but the eigenfaces were "
            f"fitted on images of {pca.components_.shape[1]} pixels."
        )
    projected = pca.transform(flat)
    return projected / np.maximum(np.linalg.norm(projected, axis=1, keepdims=True), 1e-12)


# --------------------------------------------------------------------------------------------
# Enrolment and identification (the slide's employees)
# --------------------------------------------------------------------------------------------


def identify(gallery: np.ndarray, names: list, probes: np.ndarray, threshold: float) -> list:
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
        raise ValueError(
            f"names must be a list with one name per gallery row "
            f"({len(gallery)}), but got {validation.describe(names)}."
        )
    distances = squared_distances(probes, gallery)
    threshold = as_threshold(threshold, distances)
    nearest = distances.argmin(axis=1)
    return [
        str(names[j]) if distances[i, j] <= threshold else "unknown" for i, j in enumerate(nearest)
    ]


def enrolment_experiment(
    embeddings: np.ndarray,
    labels: np.ndarray,
    *,
    enrolled: int,
    threshold: float,
    identify_with: Callable | None = None,
) -> dict:
    """Enrol the first photo of each of the first ``enrolled`` people (no retraining: their
    embeddings join the gallery), then identify every other photo of everyone, enrolled or not.

    Parameters
    ----------
    embeddings : (N, D), labels : (N,) person numbers
    enrolled : int, how many people (the first ones by number) join the gallery
    threshold : float, as in ``identify``
    identify_with : callable(gallery, names, probes, threshold) -> list of str, optional
        The function that names the probes: ``identify`` unless given (lesson 06 passes the
        student's own ``identify``).

    Returns
    -------
    dict: "correct" (enrolled people's other photos named correctly), "rejected_strangers"
    (photos of people not enrolled answered "unknown"), "gallery_size", "probes".
    """
    embeddings = as_embeddings(embeddings)
    labels = validation.as_labels(labels, len(embeddings))
    people = np.unique(labels)
    enrolled = validation.as_int(enrolled, "enrolled", minimum=1, maximum=len(people))
    if identify_with is not None and not callable(identify_with):
        raise TypeError(
            f"identify_with must be a function like faces.identify, but got "
            f"{validation.describe(identify_with)}."
        )
    members = set(people[:enrolled].tolist())
    in_gallery = np.zeros(len(labels), bool)
    for person in members:
        in_gallery[np.flatnonzero(labels == person)[0]] = True
    names = [f"person {k}" for k in labels[in_gallery]]
    answers = (identify_with or identify)(
        embeddings[in_gallery], names, embeddings[~in_gallery], threshold
    )
    truth = labels[~in_gallery]
    member = np.isin(truth, list(members))
    correct = [a == f"person {t}" for a, t in zip(answers, truth)]
    return {
        "correct": float(np.mean(np.array(correct)[member])) if member.any() else None,
        "rejected_strangers": float(
            np.mean([a == "unknown" for a, m in zip(answers, member) if not m])
        )
        if (~member).any()
        else None,
        "gallery_size": int(in_gallery.sum()),
        "probes": int((~in_gallery).sum()),
    }


def gallery_false_accepts(
    gallery: np.ndarray, visitors: np.ndarray, threshold: float
) -> np.ndarray:
    """False accepts of visitors against a growing gallery.

    ``gallery`` (G, D) embeddings of enrolled photos in the order they join, ``visitors``
    (V, D) photos of people who are not enrolled. Entry k of the result is the fraction of
    visitors whose nearest photo among the first k + 1 gallery rows is within ``threshold``
    (let in as someone else): it can only grow with the gallery, since each visitor gets one
    more chance to look like someone. Returns (G,) float64 in [0, 1].
    """
    gallery = as_embeddings(gallery, "gallery")
    visitors = as_embeddings(visitors, "visitors")
    distances = squared_distances(visitors, gallery)
    threshold = as_threshold(threshold, distances)
    nearest_so_far = np.minimum.accumulate(distances, axis=1)  # (V, G)
    return (nearest_so_far <= threshold).mean(axis=0)


def threshold_for_visitors(
    distances: np.ndarray, same: np.ndarray, reject_rate: float, gallery_size: int
) -> dict:
    """A threshold chosen on pairs for a stated visitor-reject rate at a gallery size.

    A visitor is let in if ANY of the ``gallery_size`` enrolled photos is within the
    threshold. If one different-person pair is accepted with probability f, a visitor is
    rejected with about (1 - f) ** gallery_size (pairs taken as independent), so the pairs
    may be accepted at most f = 1 - reject_rate ** (1 / gallery_size). Returns a dict:
    "threshold" (the largest distance whose pair false-accept rate on these pairs is <= f),
    "pair_false_accept" (f) and "pair_true_accept" at that threshold.
    """
    distances, same = as_pairs(distances, same)
    reject_rate = validation.as_float(reject_rate, "reject_rate", minimum=0.0, maximum=1.0)
    gallery_size = validation.as_int(gallery_size, "gallery_size", minimum=1)
    allowed = 1.0 - reject_rate ** (1.0 / gallery_size)
    point = true_accept_at(verification_roc(distances, same), allowed)
    return {
        "threshold": point["threshold"],
        "pair_false_accept": allowed,
        "pair_true_accept": point["true_accept"],
    }


# --------------------------------------------------------------------------------------------
# The threshold widget's pure compute steps
# --------------------------------------------------------------------------------------------


def threshold_view(
    distances: np.ndarray, same: np.ndarray, threshold: float, examples: list
) -> dict:
    """The threshold widget's pure compute step: error rates and the example pairs' verdicts.

    ``examples`` is a list of (index of the pair, first face, second face). Returns the
    dict of ``error_rates`` plus "accepted" (one bool per example).
    """
    rates = error_rates(distances, same, threshold)
    rates["accepted"] = [bool(distances[index] <= rates["threshold"]) for index, _, _ in examples]
    return rates


def hardest_examples(
    distances: np.ndarray,
    same: np.ndarray,
    images: np.ndarray,
    first: np.ndarray,
    second: np.ndarray,
    count: int,
) -> list:
    """The same-person pairs that are farthest apart and the different-person pairs that are
    closest: where a threshold makes its mistakes. Returns (index of the pair, first face,
    second face) per pair, the ``count`` same-person pairs first.

    Each face appears in at most one pair of each row while enough pairs remain (otherwise
    the closest different-person pairs can all be the same two faces' neighbours, and a row
    looks like one pair repeated)."""

    def hardest(candidates: np.ndarray) -> list:
        picked, used = [], set()
        for index in candidates:
            faces_of_pair = {int(first[index]), int(second[index])}
            if not faces_of_pair & used:
                picked.append(int(index))
                used |= faces_of_pair
            if len(picked) == count:
                return picked
        rest = [int(index) for index in candidates if int(index) not in picked]
        return picked + rest[: count - len(picked)]

    chosen = hardest(np.flatnonzero(same)[np.argsort(distances[same])[::-1]])
    chosen += hardest(np.flatnonzero(~same)[np.argsort(distances[~same])])
    return [(int(i), images[first[i]], images[second[i]]) for i in chosen]
