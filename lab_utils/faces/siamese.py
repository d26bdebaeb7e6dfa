"""Lesson 06's Siamese embedding network and its triplet training: the CNN f(x), the
two-input Siamese model, the slide's triplet loss with the triplets mined in the batch, PK
batches, and ``train_embedding`` (a thin wrapper over ``models.fit``, so its trainings are
cached like every other lesson's).

Models are built with ``keras.layers`` / ``keras.ops`` only (any Keras 3 backend); Keras is
imported when a model is first built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from lab_utils import lesson, models, validation
from lab_utils.faces import compute, verification

if TYPE_CHECKING:  # Keras is imported when a model is first needed, not at import time
    import keras

MINING = ("batch_all", "batch_hard", "semi_hard", "random", "positives_only")
INPUT_SIZE = 32  # faces are resized to 32x32 for the network (4x fewer pixels than 64x64)
# The lesson's Siamese training, also run by benchmarks/faces.py on four splits: 420 steps of
# 10 people x 5 photos with the default network (24-48-96 filters). Measured on 2026-12-02
# (one seed each; mean AUC over the benchmark's four splits, and on the lesson's own split):
# 24-48-96 filters, 420 steps: 0.967 and 0.962, about 60 CPU s per split; 32-64-128, 600
# steps: 0.967, 123-131 CPU s; 32-64-128, 300 steps: 0.959; the same without random shifts:
# 0.971, but 0.909 on the lesson's split, below raw pixels (0.920).
SIAMESE_SETTINGS = {
    "mining": "batch_all",
    "margin": 0.5,
    "epochs": 7,
    "batches_per_epoch": 60,
    "people": 10,
    "per_person": 5,
    "learning_rate": 3e-3,
}
# pk_batches' largest order: a million image indices (20,000 batches of 10 x 5, 48 times the
# lesson's 420 steps) are drawn in 4.6 s (measured at load 8 on 2 cores); 10**9 batches
# of 50 would take days and 400 GB of indices.
MAX_PK_IMAGES = 1_000_000
# Training-only augmentation of the embedding network: random shifts of up to this fraction
# of the side, and horizontal flips.
SHIFT = 0.05
EMBED_BATCH_SIZE = 256  # faces per forward pass in ``embed``


def embedding_network(
    input_size: int = INPUT_SIZE, dimensions: int = 64, *, filters: list | tuple = (24, 48, 96)
) -> keras.Model:
    """The CNN f(x) of the slide: a face in, a point on the unit sphere out.

    Conv2D (no bias) -> BatchNormalization -> ReLU -> 2x2 max pooling per block, global
    average pooling, Dense(dimensions), then every embedding is scaled to length 1
    (``UnitNormalization``), so squared distances lie in [0, 4] and the margin has a fixed
    scale. Training-only augmentation: random shifts of up to ``SHIFT`` (5 %) of the side and
    horizontal flips (a mirrored face is the same person).

    Returns
    -------
    keras.Model named "embedding", mapping (N, input_size, input_size, 1) float32 to
    (N, dimensions).
    """
    keras = lesson.import_keras()
    input_size = validation.as_int(input_size, "input_size", minimum=8, maximum=256)
    dimensions = validation.as_int(dimensions, "dimensions", minimum=2, maximum=1024)
    if not isinstance(filters, (list, tuple)) or not filters:
        raise TypeError(
            f"filters must be a non-empty list such as [24, 48, 96], but got "
            f"{validation.describe(filters)}."
        )
    counts = [validation.as_int(f, f"filters[{i}]", minimum=1) for i, f in enumerate(filters)]
    inputs = keras.Input(shape=(input_size, input_size, 1), name="face")
    x = keras.layers.RandomTranslation(SHIFT, SHIFT, fill_mode="nearest", name="random_shift")(
        inputs
    )
    x = keras.layers.RandomFlip("horizontal", name="random_flip")(x)
    for index, count in enumerate(counts, start=1):
        x = keras.layers.Conv2D(count, 3, padding="same", use_bias=False, name=f"conv_{index}")(x)
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
    return keras.Model(inputs, outputs, name="embedding")


def siamese_model(embedding: keras.Model) -> keras.Model:
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


def triplet_formula(anchor: object, positive: object, negative: object, margin: float) -> object:
    """The slide's triplet loss, one value per triplet, with ``keras.ops``: the kit's formula.

    max(|a - p|^2 - |a - n|^2 + margin, 0) for (T, D) anchors, positives and negatives
    (tensors or arrays) -> (T,) tensor. The training uses the student's own ``triplet_loss``
    instead when it passes its check (``train_embedding(per_triplet=...)``).
    """
    ops = lesson.import_keras().ops
    d_ap = ops.sum(ops.square(ops.subtract(anchor, positive)), axis=1)
    d_an = ops.sum(ops.square(ops.subtract(anchor, negative)), axis=1)
    return ops.maximum(d_ap - d_an + margin, 0.0)


def triplet_loss_keras(
    margin: float = 0.2,
    mining: str = "batch_hard",
    seed: int = 0,
    *,
    per_triplet: Callable | None = None,
    positives_per_anchor: int | None = None,
) -> Callable:
    """The slide's triplet loss on a batch of embeddings, with the triplets chosen in the batch.

    ``loss(labels, embeddings)``: every image of the batch is an anchor; its positives are the
    other images of the same person, its negatives everyone else. Per anchor-positive pair
    the loss is max(|f(a) - f(p)|^2 - |f(a) - f(n)|^2 + margin, 0) with the negative n chosen by

    * "batch_all": every valid triplet of the batch; the mean is over the triplets whose
      loss is still above 0 (the easy ones would otherwise dilute it to nearly nothing);
    * "batch_hard": per anchor, its farthest positive and its closest negative (one triplet
      per anchor, the hardest);
    * "semi_hard": per anchor-positive pair, the closest negative that is still farther than
      the positive (FaceNet's choice); if there is none, the farthest negative. When the
      labels come as (N, 1 + N) rows ``[person, n_0, ..., n_{N-1}]`` (``train_embedding``
      with ``semi_hard=``), n_p is the negative already chosen for the pair (anchor, p), or -1
      where p is no positive of the anchor;
    * "random": per anchor-positive pair, a random negative;
    * "positives_only": no negative at all, the loss is |f(a) - f(p)|^2: it is minimised by
      mapping every face to the same point (the collapse the lesson shows).

    ``per_triplet(anchor, positive, negative, margin) -> (T,)`` computes the loss of the
    chosen triplets from their (T, D) embeddings: a function written for NumPy arrays (the
    lesson's exercise) runs on the Keras tensors through ``keras.ops`` (``on_keras``), so the
    gradients flow through it. Without it the loss is computed from the distance matrix.
    ``positives_per_anchor`` (per_person - 1 for PK batches) keeps batch-all's triplets to
    N x that x N instead of N^3 when ``per_triplet`` is given.

    Written with ``keras.ops`` only. The mean is over the anchor(-positive) terms.
    """
    keras = lesson.import_keras()
    ops = keras.ops
    margin = validation.as_float(margin, "margin", minimum=0.0, maximum=4.0)
    validation.one_of(mining, "mining", MINING)
    if per_triplet is not None and not callable(per_triplet):
        raise TypeError(
            f"per_triplet must be a function like triplet_loss(anchor, positive, negative, "
            f"margin), but got {validation.describe(per_triplet)}."
        )
    generator = keras.random.SeedGenerator(seed) if mining == "random" else None

    def loss(labels, embeddings):
        labels = ops.cast(labels, "int32")
        mined = None
        if len(labels.shape) == 2 and labels.shape[1] is not None and labels.shape[1] > 1:
            labels, mined = labels[:, 0], labels[:, 1:]
        labels = ops.reshape(labels, (-1,))
        squared = ops.sum(ops.square(embeddings), axis=1)
        distances = ops.maximum(
            squared[:, None]
            + squared[None, :]
            - 2.0 * ops.matmul(embeddings, ops.transpose(embeddings)),
            0.0,
        )
        same = ops.equal(labels[:, None], labels[None, :])
        count = ops.shape(labels)[0]
        positive = ops.logical_and(same, ops.logical_not(ops.eye(count, dtype="bool")))
        negative = ops.logical_not(same)
        positive_f = ops.cast(positive, distances.dtype)
        if mining == "positives_only":
            return ops.sum(distances * positive_f) / ops.maximum(ops.sum(positive_f), 1.0)
        if per_triplet is not None or mined is not None:
            anchor, pos, neg, weight = _chosen_triplets(
                ops, mining, distances, positive, negative, mined, positives_per_anchor, generator
            )
            formula = on_keras(per_triplet) if per_triplet is not None else triplet_formula
            terms = ops.reshape(
                formula(
                    ops.take(embeddings, anchor, axis=0),
                    ops.take(embeddings, pos, axis=0),
                    ops.take(embeddings, neg, axis=0),
                    margin,
                ),
                (-1,),
            )
            terms = ops.cast(terms, weight.dtype) * weight
            if mining == "batch_all":
                active = ops.sum(ops.cast(terms > 1e-12, terms.dtype))
                return ops.sum(terms) / ops.maximum(active, 1.0)
            return ops.sum(terms) / ops.maximum(ops.sum(weight), 1.0)
        return _loss_from_distances(mining, distances, positive, negative, margin, generator)

    loss.__name__ = f"triplet_{mining}"
    return loss


def _loss_from_distances(mining, distances, positive, negative, margin, generator):
    """The kit's own triplet loss of a batch, computed from its (N, N) distance matrix."""
    keras = lesson.import_keras()
    ops = keras.ops
    positive_f = ops.cast(positive, distances.dtype)
    if mining == "batch_hard":
        hardest_positive = ops.max(ops.where(positive, distances, 0.0), axis=1)
        hardest_negative = ops.min(ops.where(negative, distances, 1e9), axis=1)
        has_positive = ops.cast(ops.any(positive, axis=1), distances.dtype)
        terms = ops.relu(hardest_positive - hardest_negative + margin) * has_positive
        return ops.sum(terms) / ops.maximum(ops.sum(has_positive), 1.0)
    # one negative per anchor-positive pair: d_an[a, p] as an (N, N) matrix
    positive_d = distances[:, :, None]  # (a, p, 1)
    negative_d = distances[:, None, :]  # (a, 1, n)
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
        pick = ops.argmax(ops.where(negative, noise, -1.0), axis=1)  # per anchor
        chosen = ops.take_along_axis(distances, pick[:, None], axis=1)  # (a, 1)
    terms = ops.relu(distances - chosen + margin) * positive_f
    return ops.sum(terms) / ops.maximum(ops.sum(positive_f), 1.0)


def _chosen_triplets(ops, mining, distances, positive, negative, mined, per_anchor, generator):
    """The triplets a mining rule picks in a batch, as flat index tensors (anchor, positive,
    negative) and a weight per triplet (0 for a slot that is no valid triplet)."""
    count = ops.shape(distances)[0]
    rows = ops.arange(count)
    negative_f = ops.cast(negative, distances.dtype)
    if mining == "batch_hard":
        pos = ops.argmax(ops.where(positive, distances, -1.0), axis=1)
        neg = ops.argmin(ops.where(negative, distances, 1e9), axis=1)
        weight = ops.cast(ops.any(positive, axis=1), distances.dtype)
        return rows, pos, neg, weight
    if mining == "batch_all":
        # each anchor's first `per_anchor` positives (all N columns when unknown), x every image
        slots = count - 1 if per_anchor is None else per_anchor
        order = ops.cast(positive, distances.dtype) * 2.0 - ops.cast(rows, distances.dtype) / (
            ops.cast(count, distances.dtype) * 2.0
        )
        weight_p, pos = ops.top_k(order, k=slots)  # (N, slots): positives first, by index
        weight_p = ops.cast(weight_p > 0.5, distances.dtype)
        shape = (count, slots, count)
        anchor = ops.broadcast_to(rows[:, None, None], shape)
        pos = ops.broadcast_to(pos[:, :, None], shape)
        neg = ops.broadcast_to(rows[None, None, :], shape)
        weight = weight_p[:, :, None] * negative_f[:, None, :]
        return (ops.reshape(t, (-1,)) for t in (anchor, pos, neg, weight))
    anchor = ops.reshape(ops.broadcast_to(rows[:, None], (count, count)), (-1,))
    pos = ops.reshape(ops.broadcast_to(rows[None, :], (count, count)), (-1,))
    if mined is not None:  # negatives chosen before the step (train_embedding's semi_hard=)
        weight = ops.cast(mined >= 0, distances.dtype)
        neg = ops.maximum(mined, 0)
    elif mining == "semi_hard":
        farther = ops.logical_and(
            negative[:, None, :], distances[:, None, :] > distances[:, :, None]
        )
        semi = ops.argmin(ops.where(farther, distances[:, None, :], 1e9), axis=2)
        easiest = ops.argmax(ops.where(negative, distances, -1.0), axis=1)[:, None]
        neg = ops.where(ops.any(farther, axis=2), semi, easiest)
        weight = ops.cast(positive, distances.dtype)
    else:
        noise = lesson.import_keras().random.uniform(ops.shape(distances), seed=generator)
        pick = ops.argmax(ops.where(negative, noise, -1.0), axis=1)
        neg = ops.broadcast_to(pick[:, None], (count, count))
        weight = ops.cast(positive, distances.dtype)
    return anchor, pos, ops.reshape(neg, (-1,)), ops.reshape(weight, (-1,))


def semi_hard_choice(
    distances: np.ndarray, labels: np.ndarray, anchor: int, positive: int, margin: float
) -> int:
    """The kit's semi-hard negative of one anchor-positive pair (lesson 06's exercise 3).

    Index j of the closest negative with d_ap < distances[anchor, j] < d_ap + margin (ties to
    the lower index), or -1 when none lies in that window. ``distances`` (N, N) squared
    distances, ``labels`` (N,) person numbers. The training uses the student's own function
    when it passes its check; this is the fallback.
    """
    row = np.asarray(distances, dtype=np.float64)[anchor]
    d_ap = row[positive]
    window = (np.asarray(labels) != labels[anchor]) & (row > d_ap) & (row < d_ap + margin)
    if not window.any():
        return -1
    return int(np.argmin(np.where(window, row, np.inf)))


class _OnKeras:
    """A Keras tensor that NumPy-style code can use: its operators, its methods (``.sum``,
    ``.mean``...) and the NumPy functions called on it (``np.maximum``, ``np.sum``) run as
    ``keras.ops``, so a gradient flows through a function written for NumPy arrays."""

    __array_priority__ = 1000

    def __init__(self, tensor):
        self.tensor = tensor

    def __array__(self, *args, **kwargs):
        raise TypeError(
            "it turns the tensors into NumPy arrays (np.asarray, float() or a loop over the "
            "rows); write it with operators, .sum(axis=1) and np.maximum on whole arrays"
        )

    def __bool__(self):
        return self.__array__()

    __float__ = __bool__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__" or "out" in kwargs:
            return NotImplemented
        return _on_keras_call(ufunc.__name__, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        return _on_keras_call(func.__name__, args, kwargs)

    def __getattr__(self, name):
        if name in {"sum", "mean", "max", "min", "clip", "reshape", "transpose", "dot"}:
            return lambda *args, **kwargs: _on_keras_call(name, (self, *args), kwargs)
        if name == "T":
            return _on_keras_call("transpose", (self,), {})
        if name in {"shape", "ndim", "dtype"}:
            return getattr(self.tensor, name)
        raise AttributeError(name)

    def __getitem__(self, key):
        return _OnKeras(self.tensor[_unwrapped(key)])

    def astype(self, dtype):
        return _OnKeras(lesson.import_keras().ops.cast(self.tensor, dtype))


_UFUNC_NAMES = {"true_divide": "divide", "fabs": "absolute", "amax": "max", "amin": "min"}


def _unwrapped(value):
    if isinstance(value, _OnKeras):
        return value.tensor
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrapped(v) for v in value)
    return value


def _on_keras_call(name, args, kwargs):
    ops = lesson.import_keras().ops
    function = getattr(ops, _UFUNC_NAMES.get(name, name), None)
    if function is None:
        raise TypeError(f"it calls np.{name}, which the training cannot run on Keras tensors")
    return _OnKeras(function(*_unwrapped(args), **_unwrapped(kwargs)))


def _binary(name, reflected=False):
    def method(self, other):
        pair = (other, self) if reflected else (self, other)
        return _on_keras_call(name, pair, {})

    return method


for _name, _op in [
    ("add", "add"),
    ("sub", "subtract"),
    ("mul", "multiply"),
    ("truediv", "divide"),
    ("pow", "power"),
    ("matmul", "matmul"),
    ("gt", "greater"),
    ("ge", "greater_equal"),
    ("lt", "less"),
    ("le", "less_equal"),
]:
    setattr(_OnKeras, f"__{_name}__", _binary(_op))
    setattr(_OnKeras, f"__r{_name}__", _binary(_op, reflected=True))
_OnKeras.__neg__ = lambda self: _on_keras_call("negative", (self,), {})
_OnKeras.__abs__ = lambda self: _on_keras_call("absolute", (self,), {})


def on_keras(function: Callable) -> Callable:
    """``function`` (written for NumPy arrays) made to run on Keras tensors inside a loss.

    Its arguments are wrapped so that operators, array methods and NumPy functions run as
    ``keras.ops`` (gradients flow through them); its result is unwrapped. A function that
    turns its arguments into NumPy arrays fails with a TypeError that says so.
    """

    def run(*args):
        result = function(*(_OnKeras(a) if _is_tensor(a) else a for a in args))
        if isinstance(result, _OnKeras):
            return result.tensor
        if _is_tensor(result):
            return result
        raise TypeError(
            f"it returned {validation.describe(result)} instead of one value per triplet"
        )

    run.__name__ = getattr(function, "__name__", "per_triplet")
    return run


def _is_tensor(value) -> bool:
    keras = lesson.import_keras()
    return keras.ops.is_tensor(value) or isinstance(value, keras.KerasTensor)


def trainable_triplet_formula(function: Callable) -> str | None:
    """Why ``function`` (a per-triplet loss for NumPy arrays) cannot drive the training, or
    None when it can: it is run on small Keras tensors through ``on_keras`` and compared with
    ``triplet_formula`` (values and gradient)."""
    keras = lesson.import_keras()
    rng = np.random.default_rng(0)
    arrays = [keras.ops.convert_to_tensor(rng.normal(size=(6, 4)).astype("float32")) for _ in "apn"]
    try:
        got = keras.ops.convert_to_numpy(on_keras(function)(*arrays, 0.5))
    except Exception as error:  # anything the student's code raises: explained, then the kit's
        return str(error).split("\n")[0][:200]
    expected = keras.ops.convert_to_numpy(triplet_formula(*arrays, 0.5))
    if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-4):
        return "on Keras tensors it gives other values than on NumPy arrays"
    return None


def pk_batches(
    labels: np.ndarray, people: int = 10, per_person: int = 5, batches: int = 100, *, seed: int = 0
) -> np.ndarray:
    """Indices of ``batches`` batches of ``people`` x ``per_person`` images ("PK batches").

    Triplets need positives in the batch: each batch takes ``people`` random people and
    ``per_person`` random images of each. Returns int64 indices, shape
    (batches * people * per_person,), batch after batch; at most ``MAX_PK_IMAGES`` of them.
    """
    labels = validation.as_labels(labels, len(labels))
    people = validation.as_int(people, "people", minimum=2)
    per_person = validation.as_int(per_person, "per_person", minimum=2)
    batches = validation.as_int(batches, "batches", minimum=1)
    validation.check_count(
        batches * people * per_person,
        MAX_PK_IMAGES,
        f"images in {batches:,} batches of {people} x {per_person}",
        "Train for fewer epochs or fewer batches per epoch.",
    )
    rng = np.random.default_rng(seed)
    groups = {person: np.flatnonzero(labels == person) for person in np.unique(labels)}
    if len(groups) < people:
        raise ValueError(f"a batch needs {people} people but the labels name only {len(groups)}.")
    smallest = min(len(g) for g in groups.values())
    if smallest < per_person:
        raise ValueError(f"per_person={per_person} but one person has only {smallest} images.")
    names = np.array(sorted(groups))
    order = []
    for _ in range(batches):
        for person in rng.choice(names, people, replace=False):
            order.extend(rng.choice(groups[person], per_person, replace=False))
    return np.asarray(order, dtype=np.int64)


def _batch_stream(images, labels, order, batch_size, batches_per_epoch, negatives=None):
    """A keras PyDataset that walks through ``order`` (new batches every epoch).

    With ``negatives`` = (model, rule, margin), each batch's targets are (N, 1 + N) rows
    ``[person, n_0, ..., n_{N-1}]``: n_p is the negative that ``rule(distances, labels, a, p,
    margin)`` chose for the pair (a, p) (the farthest negative where it returns -1), on the
    embeddings the network gave at the start of the epoch (FaceNet's "offline" mining), and -1
    where p is no positive of a.
    """
    keras = lesson.import_keras()

    total = len(order) // batch_size

    class Stream(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0  # set by the EpochTracker callback (Keras may call the
            # dataset's own on_epoch_end a different number of times)
            self.embeddings = None  # the training faces' embeddings at the epoch's start
            self.embedded_epoch = None

        def __len__(self):
            return batches_per_epoch

        def __getitem__(self, index):
            start = ((self.epoch * batches_per_epoch + index) % total) * batch_size
            chosen = order[start : start + batch_size]
            if negatives is None:
                return images[chosen], labels[chosen]
            if self.embedded_epoch != self.epoch:  # the first batch of an epoch (or Keras's peek)
                self.embeddings = embed(negatives[0], images[..., 0], checked=True)
                self.embedded_epoch = self.epoch
            table = _mined_negatives(self.embeddings[chosen], labels[chosen], *negatives[1:])
            return images[chosen], np.concatenate([labels[chosen, None], table], axis=1)

    class EpochTracker(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            stream.epoch = epoch
            if negatives is not None and stream.embedded_epoch != epoch:
                # The epoch's embeddings, taken here rather than in the dataset: JAX's fit
                # detaches the weights from the model between steps, and a callback's
                # `self.model` puts them back (the same weights as the epoch's first batch).
                stream.embeddings = embed(self.model, images[..., 0], checked=True)
                stream.embedded_epoch = epoch

    stream = Stream()
    return stream, EpochTracker()


def _mined_negatives(embeddings, labels, rule, margin):
    """(N, N) int64: the negative ``rule`` picks for each anchor-positive pair, -1 elsewhere."""
    distances = verification.squared_distances(embeddings)
    table = np.full((len(labels), len(labels)), -1, dtype=np.int64)
    for anchor in range(len(labels)):
        others = labels != labels[anchor]
        farthest = int(np.flatnonzero(others)[np.argmax(distances[anchor, others])])
        for positive in np.flatnonzero(labels == labels[anchor]):
            if positive != anchor:
                choice = int(rule(distances, labels, anchor, int(positive), margin))
                table[anchor, positive] = farthest if choice < 0 else choice
    return table


def _auc_each_epoch(images, labels):
    """A Keras callback that records the verification AUC on (images, labels) as "val_auc"."""
    keras = lesson.import_keras()

    class AucEachEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            embedded = embed(self.model, images, checked=True)
            logs["val_auc"] = verification.verification_auc(embedded, labels)

    return AucEachEpoch()


def train_embedding(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    mining: str = "batch_hard",
    margin: float = 0.2,
    epochs: int = 10,
    batches_per_epoch: int = 60,
    people: int = 10,
    per_person: int = 5,
    learning_rate: float = 3e-3,
    validation_data: tuple | None = None,
    seed: int = 0,
    cache: bool = True,
    per_triplet: Callable | None = None,
    semi_hard: Callable | None = None,
) -> models.TrainingResult:
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
    per_triplet : callable(anchor, positive, negative, margin) -> (T,), optional
        The loss of each chosen triplet, e.g. lesson 06's own ``triplet_loss`` written for
        NumPy arrays: it runs on the Keras tensors (``on_keras``) and the gradients flow
        through it. If it cannot run there (it converts to NumPy), a line says why and the
        kit's ``triplet_formula`` is used. The cache key holds its name, not its code: a
        function that passed the lesson's check computes the same formula.
    semi_hard : callable(distances, labels, anchor, positive, margin) -> int, optional
        With mining="semi_hard": the rule that picks each pair's negative (lesson 06's
        ``semi_hard_negative``, or ``semi_hard_choice``), run on NumPy distances of the
        batch's embeddings at the start of each epoch (FaceNet's offline mining) instead of
        the loss's own in-batch choice.

    Returns
    -------
    models.TrainingResult, with history "loss" (and "val_auc") per epoch.
    """
    images, labels, validation_pair, settings = _checked_training_inputs(
        model,
        images,
        labels,
        validation_data,
        mining=mining,
        margin=margin,
        epochs=epochs,
        batches_per_epoch=batches_per_epoch,
        people=people,
        per_person=per_person,
        learning_rate=learning_rate,
        seed=seed,
    )
    steps = settings["epochs"] * settings["batches_per_epoch"]
    order = pk_batches(labels, people, per_person, steps, seed=settings["seed"])
    callbacks = [_auc_each_epoch(*validation_pair)] if validation_pair else []
    per_triplet, semi_hard = _usable_rules(per_triplet, semi_hard, settings)
    negatives = (model, semi_hard, settings["margin"]) if semi_hard is not None else None
    stream, tracker = _batch_stream(
        images[..., None],
        labels,
        order,
        people * per_person,
        settings["batches_per_epoch"],
        negatives,
    )
    loss = triplet_loss_keras(
        settings["margin"],
        settings["mining"],
        settings["seed"],
        per_triplet=per_triplet,
        positives_per_anchor=per_person - 1,
    )
    return models.fit(
        model,
        stream,
        loss=loss,
        epochs=settings["epochs"],
        steps_per_epoch=settings["batches_per_epoch"],
        learning_rate=settings["learning_rate"],
        seed=settings["seed"],
        callbacks=[tracker, *callbacks],
        cache=cache,
        key_arrays=[images, labels, *validation_pair],
        key_settings=settings,
    )


def _usable_rules(per_triplet, semi_hard, settings):
    """The per-triplet formula and the semi-hard rule the training can use; the names of the
    ones used go into the cache key (``settings``)."""
    if per_triplet is triplet_formula:  # the kit's own formula: the loss computes it directly
        per_triplet = None
    if per_triplet is not None:
        if not callable(per_triplet):
            raise TypeError(
                f"per_triplet must be a function like triplet_loss(anchor, positive, "
                f"negative, margin), but got {validation.describe(per_triplet)}."
            )
        why_not = trainable_triplet_formula(per_triplet)
        if why_not:
            name = getattr(per_triplet, "__name__", "per_triplet")
            print(
                f"Your {name} cannot run inside the training ({why_not}), so the training "
                f"uses the kit's triplet_formula."
            )
            per_triplet = None
    if semi_hard is not None:
        if not callable(semi_hard):
            raise TypeError(
                f"semi_hard must be a function like semi_hard_negative(distances, labels, "
                f"anchor, positive, margin), but got {validation.describe(semi_hard)}."
            )
        if settings["mining"] != "semi_hard":
            raise ValueError(
                f"semi_hard= is used with mining='semi_hard', not {settings['mining']!r}."
            )
    if per_triplet is not None:
        settings["per_triplet"] = getattr(per_triplet, "__name__", "per_triplet")
    if semi_hard is not None:
        settings["semi_hard"] = getattr(semi_hard, "__name__", "semi_hard")
    return per_triplet, semi_hard


def _checked_training_inputs(
    model: keras.Model,
    images: np.ndarray,
    labels: np.ndarray,
    validation_data: object,
    *,
    mining: str,
    margin: float,
    epochs: int,
    batches_per_epoch: int,
    people: int,
    per_person: int,
    learning_rate: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, tuple, dict]:
    """``train_embedding``'s arguments checked, in the order they are listed.

    Returns the faces, the labels, the validation (images, labels) pair (empty without
    validation data) and the training's settings as they go into the cache key (the checked
    values, with people and per_person as given: ``pk_batches`` checks those).
    """
    models.require_model(model)
    images = compute.as_faces(images)
    if tuple(model.input_shape[1:3]) != images.shape[1:]:
        raise ValueError(
            f"the network takes {model.input_shape[1]}x{model.input_shape[2]} "
            f"faces but the images are {images.shape[1]}x{images.shape[2]}: "
            f"use faces.resize_faces(images, {model.input_shape[1]})."
        )
    labels = validation.as_labels(labels, len(images))
    validation.one_of(mining, "mining", MINING)
    margin = validation.as_float(margin, "margin", minimum=0.0, maximum=4.0)
    epochs = validation.as_int(epochs, "epochs", minimum=1)
    batches_per_epoch = validation.as_int(batches_per_epoch, "batches_per_epoch", minimum=1)
    learning_rate = validation.as_float(learning_rate, "learning_rate", minimum=1e-6, maximum=1.0)
    seed = validation.as_int(seed, "seed", minimum=0, maximum=2**32 - 1)
    settings = {
        "kind": "triplet",
        "mining": mining,
        "margin": margin,
        "epochs": epochs,
        "batches_per_epoch": batches_per_epoch,
        "people": people,
        "per_person": per_person,
        "learning_rate": learning_rate,
        "seed": seed,
        "validation": validation_data is not None,
    }
    validation_pair = ()
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (images, labels).")
        validation_images = compute.as_faces(validation_data[0], "validation images")
        validation_labels = validation.as_labels(
            validation_data[1], len(validation_images), name="validation labels"
        )
        validation_pair = (validation_images, validation_labels)
    return images, labels, validation_pair, settings


def embed(model: keras.Model, images: np.ndarray, *, checked: bool = False) -> np.ndarray:
    """Embeddings of faces, (N, H, W) -> (N, D) float64, with ``model(x, training=False)``.

    ``checked=True`` skips the checks of the model and the images (done once by the caller).
    """
    keras = lesson.import_keras()
    if not checked:
        models.require_model(model)
        images = compute.as_faces(images)
        if tuple(model.input_shape[1:3]) != images.shape[1:]:
            raise ValueError(
                f"the network takes {model.input_shape[1]}x"
                f"{model.input_shape[2]} faces but the images are "
                f"{images.shape[1]}x{images.shape[2]}: use "
                f"faces.resize_faces(images, {model.input_shape[1]})."
            )
    batch = images[..., None]
    parts = [
        keras.ops.convert_to_numpy(model(batch[i : i + EMBED_BATCH_SIZE], training=False))
        for i in range(0, len(batch), EMBED_BATCH_SIZE)
    ]
    return np.concatenate(parts).astype(np.float64)
