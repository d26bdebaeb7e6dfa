"""Lesson 06's exercise checks, compared with SciPy / scikit-learn, never with a stored
solution: pairwise squared distances, the triplet loss, a semi-hard negative, the
verification threshold and identification against a gallery.

Each check's typical mistakes are rows of data: (the wrong answer, or a test that recognises
it, and the message it earns), tried in order by one loop.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lab_utils import exercises


def _fail_on_known_mistake(mistakes: tuple, case: dict, hint: str) -> None:
    """Fail with the message of the first row (test, message) whose test accepts ``case``.

    The message is a template filled in from ``case`` or, where it needs more than the
    case's values, a function of the case.
    """
    __tracebackhide__ = True
    for recognises, message in mistakes:
        if recognises(case):
            exercises.fail(message(case) if callable(message) else message.format(**case), hint)


# --------------------------------------------------------------------------------------------
# Exercise 1: pairwise squared distances
# --------------------------------------------------------------------------------------------

_DISTANCE_HINT = (
    "|a - b|^2 = sum over the D numbers of (a_k - b_k)^2; broadcasting "
    "embeddings[:, None, :] - embeddings[None, :, :] gives every difference."
)

# (what the mistake returns, from the embeddings and the right distances; message)
_DISTANCE_MISTAKES = (
    (
        lambda embeddings, expected: np.sqrt(expected),
        "these are plain Euclidean distances; the triplet loss uses their squares (do not take "
        "the square root).",
    ),
    (
        lambda embeddings, expected: -2 * embeddings @ embeddings.T,
        "only the -2 a.b term is there; add |a|^2 and |b|^2.",
    ),
    (lambda embeddings, expected: expected[:, :1], ""),
)


def _distance_cases() -> list:
    rng = np.random.default_rng(6)
    return [
        rng.normal(size=(5, 3)),
        rng.normal(size=(1, 4)),
        rng.random((7, 64)),
        np.array([[1.0, 2.0], [1.0, 2.0], [4.0, 6.0]]),
    ]


@exercises.checker(
    "pairwise_squared_distances",
    forbid=[
        "scipy.spatial.distance.cdist",
        "scipy.spatial.distance.pdist",
        "sklearn.metrics.pairwise_distances",
        "sklearn.metrics.pairwise.euclidean_distances",
        "lab_utils.faces.squared_distances",
    ],
    time_limit=10,
)
def check_pairwise_squared_distances(student: Callable) -> int:
    """Check ``pairwise_squared_distances(embeddings) -> (N, N)`` against SciPy's cdist."""
    from scipy.spatial.distance import cdist

    cases = _distance_cases()
    for embeddings in cases:
        name = f"pairwise_squared_distances(embeddings of shape {embeddings.shape})"
        result = student(embeddings.copy(), name=name, hint=_DISTANCE_HINT)
        expected = cdist(embeddings, embeddings, "sqeuclidean")
        exercises.expect_array(
            result,
            expected,
            name=name,
            hint=_DISTANCE_HINT,
            atol=1e-8,
            known_mistakes=[
                (wrong(embeddings, expected), message) for wrong, message in _DISTANCE_MISTAKES
            ],
        )
    return len(cases)


# --------------------------------------------------------------------------------------------
# Exercise 2: the triplet loss
# --------------------------------------------------------------------------------------------

_TRIPLET_HINT = (
    "per row: d_ap = sum((a - p)**2), d_an = sum((a - n)**2), then "
    "np.maximum(d_ap - d_an + margin, 0); axis=1 sums over the D numbers."
)

# (what the mistake returns, from the squared distances d_ap, d_an and the margin; message)
_TRIPLET_MISTAKES = (
    (
        lambda d_ap, d_an, margin: d_ap - d_an + margin,
        "without max(..., 0) a triplet that is already right by more than the margin gets a "
        "negative loss.",
    ),
    (
        lambda d_ap, d_an, margin: np.maximum(np.sqrt(d_ap) - np.sqrt(d_an) + margin, 0.0),
        "the slide's distances are squared: |f(a) - f(p)|^2.",
    ),
    (
        lambda d_ap, d_an, margin: np.maximum(d_an - d_ap + margin, 0.0),
        "positive and negative are swapped: the loss must grow when the anchor is far from the "
        "positive.",
    ),
    (
        lambda d_ap, d_an, margin: np.maximum(d_ap - d_an - margin, 0.0),
        "the margin is added, not subtracted: the negative must be farther by at least alpha.",
    ),
)


def _triplet_cases() -> list:
    rng = np.random.default_rng(7)
    cases = []
    for count, width, margin in [(6, 4, 0.2), (1, 8, 0.5), (10, 2, 0.0), (5, 3, 1.0)]:
        cases.append(
            (
                rng.normal(size=(count, width)),
                rng.normal(size=(count, width)),
                rng.normal(size=(count, width)),
                margin,
            )
        )
    a = np.zeros((2, 2))
    cases.append((a, a + [[0.1, 0.0], [2.0, 0.0]], a + [[1.0, 0.0], [0.5, 0.0]], 0.2))
    return cases


@exercises.checker(
    "triplet_loss",
    forbid=["lab_utils.faces.triplet_loss_keras", "lab_utils.faces.triplet_formula"],
    time_limit=10,
)
def check_triplet_loss(student: Callable) -> int:
    """Check ``triplet_loss(anchor, positive, negative, margin) -> (N,)`` against the slide's
    formula computed with SciPy's squared distances."""
    from scipy.spatial.distance import cdist

    cases = _triplet_cases()
    for anchor, positive, negative, margin in cases:
        name = f"triplet_loss(anchor {anchor.shape}, positive, negative, margin={margin})"
        result = student(
            anchor.copy(), positive.copy(), negative.copy(), margin, name=name, hint=_TRIPLET_HINT
        )
        d_ap = np.diag(cdist(anchor, positive, "sqeuclidean"))
        d_an = np.diag(cdist(anchor, negative, "sqeuclidean"))
        expected = np.maximum(d_ap - d_an + margin, 0.0)
        if np.ndim(result) == 0 and result is not None:
            exercises.fail(
                f"{name} returned one number; return one loss per triplet, an "
                f"array of shape ({len(anchor)},) (the training averages them).",
                _TRIPLET_HINT,
            )
        exercises.expect_array(
            result,
            expected,
            name=name,
            hint=_TRIPLET_HINT,
            atol=1e-8,
            known_mistakes=[
                (wrong(d_ap, d_an, margin), message) for wrong, message in _TRIPLET_MISTAKES
            ],
        )
    return len(cases)


# --------------------------------------------------------------------------------------------
# Exercise 3: a semi-hard negative
# --------------------------------------------------------------------------------------------

_SEMI_HINT = (
    "keep the columns j with labels[j] != labels[anchor] and d_ap < distances"
    "[anchor, j] < d_ap + margin; of those return the index with the smallest "
    "distance (np.flatnonzero gives the indices of a boolean mask), or -1."
)

# Answers that are not an index: (test on the case's "result", message template)
_SEMI_HARD_NOT_AN_INDEX = (
    (
        lambda case: (
            isinstance(case["result"], (float, np.floating))
            and not float(case["result"]).is_integer()
        ),
        "{name} returned {result}, a distance; return the index of the negative (an int), or -1.",
    ),
    (
        lambda case: (
            isinstance(case["result"], bool)
            or not isinstance(case["result"], (int, np.integer, float))
        ),
        lambda case: (
            f"{case['name']} returned {exercises.describe_argument(case['result'])}; "
            f"expected one whole number (an index, or -1)."
        ),
    ),
)


def _on_window_edge(case: dict, edge: str) -> bool:
    """Whether the answer is a negative at exactly one edge of the open window (d_ap, d_ap +
    margin): the answer of a window written with <= instead of <."""
    result, labels = case["result"], case["labels"]
    return (
        0 <= result < len(labels)
        and labels[result] != labels[case["anchor"]]
        and case["row"][result] == case[edge]
    )


# Wrong indices: (test on the case, message template)
_SEMI_HARD_MISTAKES = (
    (
        lambda case: _on_window_edge(case, "window_end"),
        "{name} returned {result}, a negative at distance exactly d_ap + margin = "
        "{window_end:.3g}: the window is open at its upper end (d_an < d_ap + margin, not <=); "
        "such a triplet already has a zero loss.",
    ),
    (
        lambda case: _on_window_edge(case, "d_ap"),
        "{name} returned {result}, a negative at distance exactly d_ap = {d_ap:.3g}: a "
        "semi-hard negative is strictly farther than the positive (d_an > d_ap, not >=).",
    ),
    (
        lambda case: case["result"] == case["hardest"] and case["expected"] != case["hardest"],
        "{name} returned {result}, the hardest negative (closest of all); a semi-hard one must "
        "be farther than the positive (d_an > d_ap = {d_ap:.3g}).",
    ),
    (
        lambda case: (
            0 <= case["result"] < len(case["labels"])
            and case["labels"][case["result"]] == case["labels"][case["anchor"]]
        ),
        "{name} returned {result}, a photo of the anchor's own person: negatives are the other "
        "people.",
    ),
    (
        lambda case: case["expected"] == -1,
        "{name} returned {result}, but no negative lies between d_ap = {d_ap:.3g} and d_ap + "
        "margin = {window_end:.3g}: return -1.",
    ),
)


def _semi_hard_cases() -> list:
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(8)
    cases = []
    for count in (12, 20, 30):
        points = rng.normal(size=(count, 3))
        labels = rng.integers(0, 4, count)
        distances = cdist(points, points, "sqeuclidean")
        for anchor in range(3):
            partners = np.flatnonzero((labels == labels[anchor]) & (np.arange(count) != anchor))
            if len(partners):
                cases.append((distances, labels, anchor, int(partners[0]), 1.0))
    distances = np.array([[0, 1, 5, 1.5], [1, 0, 5, 5], [5, 5, 0, 5], [1.5, 5, 5, 0.0]])
    labels = np.array([0, 0, 1, 1])
    cases.append((distances, labels, 0, 1, 0.2))  # no negative inside the margin: -1
    cases.append((distances, labels, 0, 1, 1.0))  # index 3 (1.5 in (1, 2))
    # Negatives exactly on the window's edges are outside it (the sums are exact in floats):
    # 1.5 = 1.0 + 0.5 at the upper end, 1.0 = d_ap at the lower end; both answers are -1.
    cases.append((distances, labels, 0, 1, 0.5))
    on_lower_edge = distances.copy()
    on_lower_edge[0, 3] = on_lower_edge[3, 0] = 1.0
    cases.append((on_lower_edge, labels, 0, 1, 0.25))
    return cases


@exercises.checker("semi_hard_negative", forbid=["lab_utils.faces.semi_hard_choice"], time_limit=10)
def check_semi_hard_negative(student: Callable) -> int:
    """Check ``semi_hard_negative(distances, labels, anchor, positive, margin) -> int``."""
    cases = _semi_hard_cases()
    for distances, labels, anchor, positive, margin in cases:
        name = (
            f"semi_hard_negative(distances {distances.shape}, labels, anchor={anchor}, "
            f"positive={positive}, margin={margin})"
        )
        result = student(
            distances.copy(), labels.copy(), anchor, positive, margin, name=name, hint=_SEMI_HINT
        )
        d_ap = distances[anchor, positive]
        row = distances[anchor]
        negatives = labels != labels[anchor]
        window = negatives & (row > d_ap) & (row < d_ap + margin)
        # order the candidates by distance with a stable sort: ties go to the lower index
        order = np.argsort(np.where(window, row, np.inf), kind="stable")
        expected = int(order[0]) if window.any() else -1
        case = {
            "name": name,
            "result": result,
            "labels": labels,
            "anchor": anchor,
            "d_ap": d_ap,
            "row": row,
            "window_end": d_ap + margin,
            "expected": expected,
        }
        _fail_on_known_mistake(_SEMI_HARD_NOT_AN_INDEX, case, _SEMI_HINT)
        case["result"] = int(result)
        if case["result"] == expected:
            continue
        case["hardest"] = int(np.argmin(np.where(negatives, row, np.inf)))
        _fail_on_known_mistake(_SEMI_HARD_MISTAKES, case, _SEMI_HINT)
        exercises.fail(
            f"{name} returned {case['result']}; expected {expected} (distance "
            f"{row[expected]:.3g}, between d_ap = {d_ap:.3g} and "
            f"{d_ap + margin:.3g}).",
            _SEMI_HINT,
        )
    return len(cases)


# --------------------------------------------------------------------------------------------
# Exercise 4: the verification threshold
# --------------------------------------------------------------------------------------------

_THRESHOLD_HINT = (
    "try each distinct distance t as the threshold: TAR = mean(distances[same] "
    "<= t), FAR = mean(distances[~same] <= t); return the t with the largest "
    "TAR - FAR."
)


def _youden(distances, same, threshold) -> float:
    accepted = distances <= threshold
    return float(accepted[same].mean() - accepted[~same].mean())


def _is_a_sorted_position(case: dict) -> bool:
    """Whether the answer is the best threshold's position in the sorted distances."""
    result, distances = case["result"], case["distances"]
    return (
        float(result).is_integer()
        and 0 <= result < len(distances)
        and _youden(distances, case["same"], np.sort(distances)[int(result)]) >= case["best"] - 1e-9
    )


# Thresholds that fall short of the best TAR - FAR: (test on the case, message template)
_THRESHOLD_MISTAKES = (
    (
        lambda case: case["result"] < 0,
        "{name} returned {result}: a negative threshold accepts no pair. scikit-learn's scores "
        "are -distance; turn them back into distances.",
    ),
    (
        _is_a_sorted_position,
        "{name} returned {result}, which looks like a position in the sorted list; return the "
        "distance itself.",
    ),
)


def _threshold_cases() -> list:
    rng = np.random.default_rng(9)
    cases = []
    for count, gap in [(40, 1.0), (200, 0.5), (15, 2.0)]:
        same = rng.random(count) < 0.3
        same[:2] = [True, False]
        distances = np.abs(rng.normal(size=count) + np.where(same, 0.0, gap))
        cases.append((distances, same))
    cases.append(
        (
            np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9]),
            np.array([True, True, False, True, False, False]),
        )
    )
    return cases


def _as_threshold_answer(result: object, name: str) -> float:
    """The student's threshold as a finite float, or a failure that says what it was."""
    __tracebackhide__ = True
    if isinstance(result, np.ndarray) and result.shape == ():
        result = result.item()
    if isinstance(result, bool) or not isinstance(result, (int, float, np.number)):
        exercises.fail(
            f"{name} returned {exercises.describe_argument(result)}; expected "
            f"one threshold (a number).",
            _THRESHOLD_HINT,
        )
    try:
        result = float(result)
    except OverflowError:
        result = float("inf")
    if not np.isfinite(result):
        exercises.fail(f"{name} returned {result}; expected a finite distance.", _THRESHOLD_HINT)
    return result


@exercises.checker(
    "choose_threshold",
    forbid=[
        "sklearn.metrics.roc_curve",
        "lab_utils.faces.best_threshold",
        "lab_utils.faces.verification_roc",
    ],
    time_limit=20,
)
def check_choose_threshold(student: Callable) -> int:
    """Check ``choose_threshold(distances, same) -> float``: it must reach the largest
    TAR - FAR of scikit-learn's ROC curve on these (validation) pairs."""
    from sklearn.metrics import roc_curve

    cases = _threshold_cases()
    for distances, same in cases:
        name = f"choose_threshold(distances of {len(distances)} pairs, same)"
        result = student(distances.copy(), same.copy(), name=name, hint=_THRESHOLD_HINT)
        false_accept, true_accept, _ = roc_curve(same, -distances)
        best = float(np.max(true_accept - false_accept))
        result = _as_threshold_answer(result, name)
        reached = _youden(distances, same, float(result))
        if reached >= best - 1e-9:
            continue
        _fail_on_known_mistake(
            _THRESHOLD_MISTAKES,
            {"name": name, "result": result, "distances": distances, "same": same, "best": best},
            _THRESHOLD_HINT,
        )
        exercises.fail(
            f"{name} returned {float(result):.4g}, which gives TAR - FAR = "
            f"{reached:.3f}; the best threshold reaches {best:.3f}.",
            _THRESHOLD_HINT,
        )
    return len(cases)


# --------------------------------------------------------------------------------------------
# Exercise 5: identification against a gallery
# --------------------------------------------------------------------------------------------

_IDENTIFY_HINT = (
    "distances = squared distances from each probe to every gallery row (the "
    "first exercise's idea with two sets); j = argmin per probe; name it "
    "names[j] if that distance <= threshold, otherwise 'unknown'."
)

# Wrong lists of names: (test on the case, message template). Each mistake's answer is
# computed on the case (``_identify_mistaken_answers``); cases are built so that each
# mistake gives its own wrong list somewhere.
_IDENTIFY_MISTAKES = (
    (
        lambda case: all(isinstance(r, (int, np.integer)) for r in case["result"]),
        "{name} returned gallery indices; return the names (names[j]).",
    ),
    (
        lambda case: not all(isinstance(r, str) for r in case["result"]),
        lambda case: (
            f"{case['name']} returned {case['kinds']} in its list; each item must be a name "
            f"(a str from names) or 'unknown'."
        ),
    ),
    (
        lambda case: case["result"] == case["ignoring_threshold"],
        "{name} names every probe, strangers too: a probe farther than the threshold from every "
        "gallery face is 'unknown'.",
    ),
    (
        lambda case: case["result"] == case["euclidean"],
        "{name} compares the Euclidean distance with the threshold; the threshold (chosen by "
        "choose_threshold) is on SQUARED distances: do not take the square root.",
    ),
    (
        lambda case: case["result"] == case["first_within"],
        "{name} names each probe after the FIRST gallery face within the threshold; it must be "
        "the NEAREST one (argmin of the distances), then compare that distance with the "
        "threshold.",
    ),
    (
        lambda case: case["result"] == case["strict"],
        "{name} answers 'unknown' for a probe at a squared distance exactly equal to the "
        "threshold: a probe is accepted when its distance is <= threshold (as in "
        "choose_threshold), not only when it is < threshold.",
    ),
)


def _identify_cases() -> list:
    rng = np.random.default_rng(10)
    cases = []
    for people, probes in [(3, 6), (5, 12), (1, 4)]:
        gallery = rng.normal(size=(people, 4)) * 3
        names = [f"employee {k}" for k in range(people)]
        near = gallery[rng.integers(0, people, probes // 2)] + rng.normal(
            scale=0.1, size=(probes // 2, 4)
        )
        strangers = rng.normal(size=(probes - probes // 2, 4)) * 3 + 20
        cases.append((gallery, names, np.vstack([near, strangers]), 1.0))
    # Small hand-made galleries at other thresholds, where each mistake gives its own answer.
    # The squared distances are exact in floating point, and so are their square roots.
    gallery = np.array([[0.0, 0.0], [1.0, 0.0], [10.0, 0.0]])
    names = ["ana", "ben", "carl"]
    # threshold 0.6: carl at squared distance 0.5625 is inside, though its distance 0.75 is
    # not; (0.7, 0) is within 0.6 of ana (0.49) but nearest to ben (0.09).
    cases.append(
        (gallery, names, np.array([[0.0, 0.5], [10.0, 0.75], [0.5, 4.0], [0.7, 0.0]]), 0.6)
    )
    # threshold 3: squared distance 4 (distance 2) is outside; (0.9, 0) is within 3 of ana
    # and ben, the nearest is ben.
    cases.append((gallery, names, np.array([[10.0, 2.0], [0.9, 0.0], [0.0, 1.5]]), 3.0))
    # threshold 4: squared distances exactly 4 are accepted (<=)
    cases.append(
        (gallery, names, np.array([[10.0, 2.0], [1.0, -1.5], [5.0, 5.0], [0.0, -2.0]]), 4.0)
    )
    return cases


def _identify_mistaken_answers(
    gallery: np.ndarray, names: list, probes: np.ndarray, threshold: float
) -> dict:
    """The lists of names the usual mistakes give on this case."""
    from scipy.spatial.distance import cdist

    squared = cdist(probes, gallery, "sqeuclidean")
    nearest = squared.argmin(axis=1)
    closest = squared[np.arange(len(probes)), nearest]

    def first_within(row: np.ndarray) -> str:
        inside = np.flatnonzero(row <= threshold)
        return names[inside[0]] if len(inside) else "unknown"

    return {
        "ignoring_threshold": [names[j] for j in nearest],
        "euclidean": [
            names[j] if d <= threshold else "unknown" for d, j in zip(np.sqrt(closest), nearest)
        ],
        "first_within": [first_within(row) for row in squared],
        "strict": [names[j] if d < threshold else "unknown" for d, j in zip(closest, nearest)],
    }


def _as_list_of_names(result: object, count: int, name: str) -> list:
    """The student's answer as a list, or a failure that says what it was: the lesson's next
    cell calls ``.count`` and ``len`` on it, which a NumPy array does not have (``.count``)."""
    __tracebackhide__ = True
    # An array of strings crosses from a graded kernel as a placeholder naming its dtype.
    if isinstance(result, np.ndarray) or repr(result).startswith("<a array"):
        exercises.fail(
            f"{name} returned a NumPy array ({exercises.describe_argument(result)}); return a "
            f"Python list of {count} names: the lesson's next cell calls .count on the "
            f"answer, which a NumPy array does not have (use a list comprehension, or "
            f".tolist()).",
            _IDENTIFY_HINT,
        )
    if not isinstance(result, (list, tuple)) or len(result) != count:
        exercises.fail(
            f"{name} returned {exercises.describe_argument(result)}; expected "
            f"a list of {count} names, one per probe.",
            _IDENTIFY_HINT,
        )
    return list(result)


@exercises.checker(
    "identify",
    forbid=[
        "sklearn.neighbors.NearestNeighbors",
        "sklearn.neighbors.KNeighborsClassifier",
        "lab_utils.faces.identify",
    ],
    time_limit=10,
)
def check_identify(student: Callable) -> int:
    """Check ``identify(gallery, names, probes, threshold) -> list of str`` against
    scikit-learn's NearestNeighbors."""
    from sklearn.neighbors import NearestNeighbors

    cases = _identify_cases()
    for gallery, names, probes, threshold in cases:
        name = f"identify(gallery {gallery.shape}, names, probes {probes.shape}, {threshold})"
        result = student(
            gallery.copy(), list(names), probes.copy(), threshold, name=name, hint=_IDENTIFY_HINT
        )
        nearest = NearestNeighbors(n_neighbors=1).fit(gallery)
        index = nearest.kneighbors(probes, return_distance=False)[:, 0]
        # squared from the differences, not distance**2: sqrt(2)**2 is 2.0000000000000004
        squared = ((probes - gallery[index]) ** 2).sum(axis=1)
        expected = [names[j] if d <= threshold else "unknown" for d, j in zip(squared, index)]
        result = _as_list_of_names(result, len(expected), name)
        if result == expected:
            continue
        kinds = sorted({type(r).__name__ for r in result if not isinstance(r, str)})
        _fail_on_known_mistake(
            _IDENTIFY_MISTAKES,
            {
                "name": name,
                "result": result,
                "kinds": " and ".join(kinds) + " items",
                **_identify_mistaken_answers(gallery, names, probes, threshold),
            },
            _IDENTIFY_HINT,
        )
        wrong = next(i for i, (r, e) in enumerate(zip(result, expected)) if r != e)
        exercises.fail(
            f"{name}: probe {wrong} is named {result[wrong]!r}, expected "
            f"{expected[wrong]!r} (nearest gallery row {index[wrong]} at "
            f"squared distance {squared[wrong]:.3g}, threshold {threshold:g}).",
            _IDENTIFY_HINT,
        )
    return len(cases)
