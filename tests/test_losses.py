"""The losses the lessons train with, and the detector's targets and decoder, checked against
independent computations.

Each reference below is written from the definition with plain Python loops, not from the
kit's vectorised code, so a slip in the kit's indexing, masking or normalisation shows up as
a different number.
"""

import itertools
import math

import numpy as np
import pytest

from lab_utils import data, detection, faces


def _loss_value(loss, y_true, y_pred) -> float:
    from lab_utils import lesson

    keras = lesson.import_keras()
    value = loss(keras.ops.convert_to_tensor(y_true), keras.ops.convert_to_tensor(y_pred))
    return float(keras.ops.convert_to_numpy(value))


# --- lesson 06: the triplet loss ------------------------------------------------------------


def _squared(a, b) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b)))


def _batch_all_reference(embeddings, labels, margin) -> float:
    """Mean of max(d(a,p) - d(a,n) + margin, 0) over every valid triplet whose loss is > 0."""
    positive_terms = []
    for a, p, n in itertools.permutations(range(len(labels)), 3):
        if labels[a] == labels[p] and labels[a] != labels[n]:
            term = max(
                _squared(embeddings[a], embeddings[p])
                - _squared(embeddings[a], embeddings[n])
                + margin,
                0.0,
            )
            if term > 1e-12:
                positive_terms.append(term)
    return sum(positive_terms) / max(len(positive_terms), 1)


def _batch_hard_reference(embeddings, labels, margin) -> float:
    """Per anchor: farthest positive, closest negative; mean over anchors with a positive."""
    terms = []
    for a in range(len(labels)):
        positives = [
            _squared(embeddings[a], embeddings[p])
            for p in range(len(labels))
            if p != a and labels[p] == labels[a]
        ]
        negatives = [
            _squared(embeddings[a], embeddings[n])
            for n in range(len(labels))
            if labels[n] != labels[a]
        ]
        if positives:
            terms.append(max(max(positives) - min(negatives) + margin, 0.0))
    return sum(terms) / max(len(terms), 1)


def _semi_hard_reference(embeddings, labels, margin) -> float:
    """Per anchor-positive pair: the closest negative farther than the positive, else the
    farthest negative; mean over the pairs."""
    terms = []
    for a, p in itertools.permutations(range(len(labels)), 2):
        if labels[a] != labels[p]:
            continue
        d_ap = _squared(embeddings[a], embeddings[p])
        negatives = [
            _squared(embeddings[a], embeddings[n])
            for n in range(len(labels))
            if labels[n] != labels[a]
        ]
        farther = [d for d in negatives if d > d_ap]
        chosen = min(farther) if farther else max(negatives)
        terms.append(max(d_ap - chosen + margin, 0.0))
    return sum(terms) / len(terms)


@pytest.fixture(scope="module")
def triplet_batch():
    """4 people x 3 images: every anchor has 2 positives and 9 negatives, some of them
    closer than its positives (a mix of zero and non-zero triplet terms)."""
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(4), 3)
    centres = rng.normal(size=(4, 5)) * 0.6
    embeddings = (centres[labels] + rng.normal(size=(12, 5)) * 0.5).astype(np.float32)
    return embeddings, labels


@pytest.mark.parametrize(
    "mining, reference",
    [
        ("batch_all", _batch_all_reference),
        ("batch_hard", _batch_hard_reference),
        ("semi_hard", _semi_hard_reference),
    ],
)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_triplet_loss_matches_a_loop_over_the_triplets(
    triplet_batch, mining, reference, margin, keras
):
    embeddings, labels = triplet_batch
    expected = reference(embeddings.astype(np.float64), labels, margin)
    loss = faces.triplet_loss_keras(margin, mining)
    assert _loss_value(loss, labels, embeddings) == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_batch_all_triplet_loss_has_both_easy_and_hard_triplets(triplet_batch):
    """The batch is a real test of the masking: some triplets are already satisfied at margin
    0.5 and some are not, so averaging over all of them would give another number."""
    embeddings, labels = triplet_batch
    terms = [
        _squared(embeddings[a], embeddings[p]) - _squared(embeddings[a], embeddings[n]) + 0.5
        for a, p, n in itertools.permutations(range(12), 3)
        if labels[a] == labels[p] and labels[a] != labels[n]
    ]
    assert len(terms) == 12 * 2 * 9
    assert 0 < sum(t > 0 for t in terms) < len(terms)


def test_positives_only_loss_is_the_mean_positive_distance(triplet_batch, keras):
    embeddings, labels = triplet_batch
    pairs = [(a, p) for a, p in itertools.permutations(range(12), 2) if labels[a] == labels[p]]
    expected = sum(_squared(embeddings[a], embeddings[p]) for a, p in pairs) / len(pairs)
    loss = faces.triplet_loss_keras(0.5, "positives_only")
    assert _loss_value(loss, labels, embeddings) == pytest.approx(expected, rel=1e-4)


# --- lesson 05: the heat-map (CenterNet-style) detector -------------------------------------


def _one_box_scene():
    """One 16x12 box with its corner at (10, 18) on a 32x32 image, class 3."""
    images = np.zeros((1, 32, 32), dtype=np.float32)
    return data.Scenes(
        images, [np.array([[10.0, 18.0, 16.0, 12.0]])], [np.array([3])], [str(d) for d in range(10)]
    )


def test_heat_map_targets_match_a_hand_encoding():
    """Worked by hand for stride 8: the centre (18, 24) px is at (2.25, 3.0) cells, so the
    centre cell is row 3, column 2 with offset (0.25, 0.0); size (16, 12) / 16 =
    (1.0, 0.75); the cells whose middles ((k + 0.5) * 8 = 4, 12, 20, 28 px) lie inside the
    box x in [10, 26), y in [18, 30) are columns 1-2 and rows 2-3; the Gaussian has
    sigma = max(0.5, 12 / 8 / 3) = 0.5."""
    targets = detection.centernet_targets(_one_box_scene(), stride=8, classes=10)
    assert targets.shape == (1, 4, 4, 16)
    cell = targets[0, 3, 2]
    np.testing.assert_allclose(cell[:6], [1.0, 1.0, 0.75, 0.25, 0.0, 1.0])
    mask = targets[0, :, :, 5]
    assert mask.sum() == 1.0 and mask[3, 2] == 1.0
    class_cells = {(int(r), int(c)) for r, c in zip(*np.nonzero(targets[0, :, :, 6 + 3]))}
    assert class_cells == {(2, 1), (2, 2), (3, 1), (3, 2)}
    assert targets[0, :, :, 6:].sum() == 4  # no other class anywhere
    heat = targets[0, :, :, 0]
    for row in range(4):
        for column in range(4):
            squared = (row - 3) ** 2 + (column - 2) ** 2
            assert heat[row, column] == pytest.approx(math.exp(-squared / (2 * 0.25)), rel=1e-6)


def test_decoding_hand_written_outputs_gives_the_box_and_class():
    """Outputs written by hand: a single peak at row 1, column 2 of a 4x4 grid (stride 8)
    with size (1.5, 1.0) x 16 px, offset (0.5, 0.25) and class 7 at 0.8."""
    outputs = np.zeros((1, 4, 4, 5 + 10), dtype=np.float32)
    outputs[0, :, :, 5] = 1.0  # elsewhere: class 0, probability 1
    outputs[0, 1, 2, 0] = 0.9
    outputs[0, 1, 1, 0] = 0.3  # a neighbour: not a local maximum
    outputs[0, 1, 2, 1:5] = (1.5, 1.0, 0.5, 0.25)
    outputs[0, 1, 2, 5:] = 0.02 / 9
    outputs[0, 1, 2, 5 + 7] = 0.8
    found = detection.decode_centernet(outputs, stride=8, score_threshold=0.1)[0]
    centre_x, centre_y = (2 + 0.5) * 8, (1 + 0.25) * 8
    np.testing.assert_allclose(found["boxes"], [[centre_x - 12, centre_y - 8, 24, 16]])
    np.testing.assert_allclose(found["scores"], [0.9 * 0.8], rtol=1e-6)
    assert found["labels"].tolist() == [7]


def _centernet_loss_reference(y_true, y_pred, weights) -> float:
    """The loss written cell by cell from its definition (see centernet_loss)."""
    size_weight, offset_weight, class_weight = weights
    classes = y_pred.shape[-1] - 5
    focal = size = offset = cross_entropy = 0.0
    objects = 0.0
    for index in np.ndindex(y_true.shape[:-1]):
        t, p = y_true[index].astype(np.float64), y_pred[index].astype(np.float64)
        heat = min(max(p[0], 1e-4), 1 - 1e-4)
        if t[0] >= 0.999:
            focal -= (1 - heat) ** 2 * math.log(heat)
        else:
            focal -= (1 - t[0]) ** 4 * heat**2 * math.log(1 - heat)
        size += t[5] * (abs(t[1] - p[1]) + abs(t[2] - p[2]))
        offset += t[5] * (abs(t[3] - p[3]) + abs(t[4] - p[4]))
        cross_entropy -= sum(
            t[6 + k] * math.log(min(max(p[5 + k], 1e-6), 1.0)) for k in range(classes)
        )
        objects += t[5]
    total = focal + size_weight * size + offset_weight * offset + class_weight * cross_entropy
    return total / max(objects, 1.0)


@pytest.mark.parametrize("weights", [(1.0, 1.0, 1.0), (0.5, 2.0, 3.0)])
def test_centernet_loss_matches_a_hand_computation(weights, keras):
    scenes = data.Scenes(
        np.zeros((2, 32, 32), dtype=np.float32),
        [
            np.array([[10.0, 18.0, 16.0, 12.0], [1.0, 1.0, 9.0, 8.0]]),
            np.array([[20.0, 4.0, 10.0, 14.0]]),
        ],
        [np.array([3, 5]), np.array([9])],
        [str(d) for d in range(10)],
    )
    y_true = detection.centernet_targets(scenes, stride=8, classes=10)
    rng = np.random.default_rng(0)
    y_pred = np.concatenate(
        [
            rng.uniform(0.0, 1.0, (2, 4, 4, 1)),
            rng.uniform(0.0, 2.0, (2, 4, 4, 4)),
            rng.dirichlet(np.ones(10), (2, 4, 4)),
        ],
        axis=-1,
    )
    y_pred[0, 0, 0, 0] = 1.0  # the clip on the heat map matters
    y_pred = y_pred.astype(np.float32)
    loss = detection.centernet_loss(
        size_weight=weights[0], offset_weight=weights[1], class_weight=weights[2]
    )
    expected = _centernet_loss_reference(y_true, y_pred, weights)
    assert _loss_value(loss, y_true, y_pred) == pytest.approx(expected, rel=1e-4)
