"""Figures for lesson 03 "Perceptrons" (printed, not a pass/fail test).

1. The playground: milliseconds per training step (Keras ``train_on_batch``, full batch of
   200 points, plain SGD) and per frame (steps + boundary image + PNG + loss plot), for a few
   network sizes, Python side.
2. Gradient checks in float64 on the lesson's tanh -> softmax network: the relative error of a
   hand-written NumPy backward pass (written here, as in the tests) against automatic
   differentiation and against a central-difference numerical gradient; and of a hand-written
   gradient-descent loop against ``model.fit`` with plain SGD.
The lesson's run time and memory under nbval: benchmarks/foundation.py.

Run: `.venv/bin/python benchmarks/perceptrons.py` (or `make benchmark`).
"""

import statistics
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent

from lab_utils import lesson, perceptrons  # noqa: E402


def playground_figures(frames: int = 15) -> None:
    print("playground, Python side (median over frames after the first):")
    for dataset, classes, layers, units in [
        ("circles", 2, 1, 4),
        ("spiral", 3, 2, 8),
        ("spiral", 5, 4, 8),
    ]:
        widget = perceptrons.playground(
            dataset=dataset,
            classes=classes,
            hidden_layers=layers,
            units=units,
            learning_rate=1.0,
            steps_per_tick=10,
            resolution=60,
        )
        widget.step()  # the first call traces the training graph
        frame_seconds = []
        for _ in range(frames):
            start = time.perf_counter()
            widget.step()
            frame_seconds.append(time.perf_counter() - start)
        state = widget.state
        print(
            f"RESULT lesson 03: playground ({dataset}, {classes} classes, {layers} x {units} "
            f"tanh), ms per training step / per frame of 10 steps | "
            f"{state['ms_per_step']:.1f} ms / {statistics.median(frame_seconds) * 1e3:.0f} ms"
        )
        print(
            f"  {dataset:7s} {classes} classes, {layers} x {units} {'tanh':4s}: "
            f"{state['ms_per_step']:.2f} ms per training step | frame of 10 steps "
            f"{statistics.median(frame_seconds) * 1e3:.0f} ms (drawing {state['draw_ms']:.0f}"
            f" ms) | accuracy after {state['step']} steps {state['accuracy']:.0%}"
        )


def numpy_backward(x, y, W1, b1, W2, b2):
    hidden = np.tanh(x @ W1 + b1)
    logits = hidden @ W2 + b2
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    d_logits = (exponentials / exponentials.sum(axis=1, keepdims=True) - y) / len(x)
    d_z1 = (d_logits @ W2.T) * (1 - hidden**2)
    return x.T @ d_z1, d_z1.sum(axis=0), hidden.T @ d_logits, d_logits.sum(axis=0)


def gradient_figures() -> None:
    points, labels = perceptrons.make_dataset("blobs", 60, classes=3, noise=0.1, seed=1)
    targets = np.eye(3)[labels]
    rng = np.random.default_rng(0)
    start = [rng.normal(0, 0.5, (2, 5)), np.zeros(5), rng.normal(0, 0.5, (5, 3)), np.zeros(3)]
    by_hand = numpy_backward(points, targets, *start)
    automatic = perceptrons.autodiff_backward(points, targets, *start)
    print("gradient check, float64, 60 points, network 2 -> 5 tanh -> 3 softmax:")
    errors = {"autodiff": [], "numerical": []}
    for index, name in enumerate(["dW1", "db1", "dW2", "db2"]):

        def loss_of(value, index=index):
            parameters = list(start)
            parameters[index] = value
            return perceptrons.network_loss(points, targets, *parameters)

        numerical = perceptrons.numerical_gradient(loss_of, start[index], step=1e-6)
        errors["autodiff"].append(perceptrons.relative_error(by_hand[index], automatic[index]))
        errors["numerical"].append(perceptrons.relative_error(by_hand[index], numerical))
        print(
            f"  {name}: hand vs autodiff {perceptrons.relative_error(by_hand[index], automatic[index]):.1e}"
            f" | hand vs numerical {perceptrons.relative_error(by_hand[index], numerical):.1e}"
        )
    weights = [w.copy() for w in start]
    for _ in range(40):
        weights = [w - 0.5 * g for w, g in zip(weights, numpy_backward(points, targets, *weights))]
    fitted, _ = perceptrons.fit_with_keras(points, targets, *start, learning_rate=0.5, epochs=40)
    worst = max(perceptrons.relative_error(a, b) for a, b in zip(weights, fitted))
    print(
        f"  40 steps of hand-written gradient descent vs model.fit (SGD): largest relative "
        f"difference of the weights {worst:.1e}"
    )
    print(
        f"RESULT lesson 03: relative error of the hand-written backward pass vs autodiff / "
        f"vs numerical gradient (largest of dW1, db1, dW2, db2) | "
        f"{max(errors['autodiff']):.1e} / {max(errors['numerical']):.1e}"
    )
    print(
        f"RESULT lesson 03: hand-written gradient descent vs model.fit (40 SGD steps), "
        f"largest relative difference of the weights | {worst:.1e}"
    )


if __name__ == "__main__":
    lesson.import_keras()
    playground_figures()
    gradient_figures()
