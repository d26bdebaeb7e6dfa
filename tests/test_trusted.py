"""Checks decided where no student code ran (lab_utils.trusted, lab_utils.wire).

The attack tests grade small lesson-01 notebooks in a real kernel: an unsolved exercise plus
a cell that tries one way of making the check pass (the classes of issue 19). Each must score
what the honest unsolved notebook scores, 0, because the comparison runs in this process.
"""

import ast
import copy
import json

import numpy as np
import pytest
from attacks import ATTACKS, RIGHT, UNSOLVED  # shared with the safety batch

from lab_utils import exercises, trusted, wire

# --- plain data across ------------------------------------------------------------------------


def test_wire_round_trips_the_values_checks_use():
    value = [None, True, 3, 1.5, float("inf"), "x", (1, [2.0]), {"a": np.arange(3.0)}]
    back = wire.loads(wire.dumps(value))
    assert back[:6] == value[:6] and back[6] == (1, [2.0])
    np.testing.assert_array_equal(back[7]["a"], np.arange(3.0))
    assert np.isnan(wire.loads(wire.dumps(float("nan"))))
    assert wire.loads(wire.dumps(np.float32(2.5))) == 2.5  # NumPy scalars become numbers


@pytest.mark.parametrize(
    "value, shown",
    [
        (print, "<a builtin_function_or_method>"),
        (np.array(["a"]), "<a array of dtype <U1>"),
        ({1: 2}, "<a dict with keys that are not strings>"),
    ],
)
def test_wire_sends_other_objects_as_a_named_placeholder(value, shown):
    assert repr(wire.loads(wire.dumps(value))) == shown


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"$x": 1}', "unknown tag"),
        ("[" * 100 + "]" * 100, "nested too deeply"),
        ('{"$ndarray": "gASVAAAA"}', "not an array"),  # pickle bytes are never loaded
        ("not json", "not JSON"),
        ("[" + "1," * (wire.MAX_TEXT // 2) + "1]", "characters"),
    ],
)
def test_wire_refuses_anything_but_plain_data(text, message):
    with pytest.raises(wire.WireError, match=message):
        wire.loads(text)


def test_a_keras_model_crosses_as_its_architecture_and_lambda_code_does_not(keras):
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))
    rebuilt = wire.loads(wire.dumps(model))
    assert [type(layer).__name__ for layer in rebuilt.layers] == ["InputLayer", "Flatten", "Dense"]
    with_code = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    assert "cannot be rebuilt" in repr(wire.loads(wire.dumps(with_code)))


# --- forbidden calls judged on the source -------------------------------------------------------


def _judge(code, forbid=("skimage.color.rgb2gray",)):
    return trusted.judge_source(ast.parse(code).body, "f", list(forbid), "to_grayscale")


@pytest.mark.parametrize(
    "code",
    [
        "from skimage import color\ndef f(x):\n    return color.rgb2gray(x)",
        "import skimage.color as c\ndef f(x):\n    return c.rgb2gray(x)",
        "from skimage.color import rgb2gray as g\ndef f(x):\n    return g(x)",
        "from skimage import color\ndef f(x):\n    h = color.rgb2gray\n    return h(x)",
        "from skimage import color\ndef helper(x):\n    return color.rgb2gray(x)\n"
        "def f(x):\n    return helper(x)",
        "def f(x):\n    from skimage.color import rgb2gray\n    return rgb2gray(x)",
        "from skimage import color\nf = color.rgb2gray",
        "import concurrent.futures as cf\nfrom skimage import color\ndef f(x):\n"
        "    with cf.ThreadPoolExecutor() as pool:\n        return pool.submit(color.rgb2gray, x).result()",
    ],
)
def test_a_forbidden_function_is_found_through_imports_aliases_and_helpers(code):
    message, _ = _judge(code)
    assert message and "calls rgb2gray()" in message


@pytest.mark.parametrize(
    "code",
    [
        "import numpy as np\ndef f(x):\n    return x @ np.array([0.2125, 0.7154, 0.0721])",
        "def rgb2gray(x):\n    return x.mean(-1)\ndef f(x):\n    return rgb2gray(x)",  # its own
        "from skimage import color\ng = color.rgb2gray(1)\ndef f(x):\n    return x.sum(-1)",
    ],
)
def test_own_code_is_not_a_forbidden_call(code):
    assert _judge(code) == (None, [])


def test_names_computed_at_run_time_are_flagged_for_a_human_look():
    code = "from skimage import color\ndef f(x):\n    return getattr(color, 'rgb2' + 'gray')(x)"
    message, flags = _judge(code)
    assert message is None and flags == ["uses getattr with a computed name"]
    assert _judge("import operator\ndef f(x):\n    return operator.attrgetter('a')(x)")[1]


def test_check_cells_are_read_from_the_released_notebook():
    released = {
        "cells": [
            _cell("pixels.check_to_grayscale(to_grayscale)", grade_id="check_a", points=2),
            _cell("x = 1", grade_id="other", solution=True),
        ]
    }
    (found,) = trusted.check_cells(released).values()
    assert (found.module, found.check, found.function, found.points) == (
        "pixels",
        "check_to_grayscale",
        "to_grayscale",
        2.0,
    )
    assert found.load() is exercises.CHECKS["lab_utils.pixels.check_to_grayscale"]
    with pytest.raises(ValueError, match="not `lesson.check_x"):
        trusted.check_cells({"cells": [_cell("print(1)", grade_id="c", points=1)]})


# --- attacks, graded in a real kernel -----------------------------------------------------------


def _cell(source, *, grade_id=None, points=0, solution=False, cell_type="code"):
    meta = {}
    if grade_id:
        meta["nbgrader"] = {
            "grade_id": grade_id,
            "grade": not solution,
            "solution": solution,
            "locked": not solution,
            "points": points,
            "schema_version": 3,
        }
    cell = {"cell_type": cell_type, "metadata": meta, "source": source}
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def _lesson(solution_cell, extra=""):
    cells = [
        _cell("import numpy as np\nfrom lab_utils import pixels"),
        _cell(solution_cell, grade_id="ex_to_grayscale", solution=True),
    ]
    if extra:
        cells.append(_cell(extra))
    cells.append(
        _cell("pixels.check_to_grayscale(to_grayscale)", grade_id="check_to_grayscale", points=1)
    )
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(scope="module")
def kernel_factory(tmp_path_factory):
    started = []

    def start():
        kernel = trusted.Kernel.start("python3", cwd=str(tmp_path_factory.mktemp("kernel")))
        started.append(kernel)
        return kernel

    yield start
    for kernel in started:
        kernel.shutdown()


def _grade(kernel_factory, submission):
    released = _lesson(UNSOLVED)
    kernel = kernel_factory()
    try:
        return trusted.run_submission(copy.deepcopy(submission), released, kernel, cell_timeout=60)
    finally:
        kernel.shutdown()


@pytest.mark.slow
def test_an_honest_answer_scores_and_an_unsolved_one_does_not(kernel_factory):
    right = _grade(kernel_factory, _lesson(RIGHT))
    assert right.scores == {"check_to_grayscale": 1.0} and right.max_score == 1.0
    (check,) = [c for c in right.notebook["cells"] if "check_to" in json.dumps(c["source"])]
    assert check["outputs"][0]["text"].startswith("✔ to_grayscale passed")
    unsolved = _grade(kernel_factory, _lesson(UNSOLVED))
    assert unsolved.scores == {"check_to_grayscale": 0.0}
    assert "is not written yet" in json.dumps(unsolved.notebook)


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_in_the_kernel_cannot_make_the_check_pass(kernel_factory, attack):
    outcome = _grade(kernel_factory, _lesson(ATTACKS[attack]))
    assert outcome.scores == {"check_to_grayscale": 0.0}, attack


@pytest.mark.slow
def test_a_deleted_check_cell_is_still_decided_and_flagged(kernel_factory):
    submission = _lesson(RIGHT)
    submission["cells"] = submission["cells"][:-1]
    outcome = _grade(kernel_factory, submission)
    assert outcome.scores == {"check_to_grayscale": 1.0}
    assert outcome.flags == ["check cell check_to_grayscale deleted: graded after the last cell"]


@pytest.mark.slow
def test_an_endless_function_is_stopped_after_the_check_s_time_limit(kernel_factory):
    submission = _lesson("def to_grayscale(image):\n    while True:\n        pass\n")
    outcome = _grade(kernel_factory, submission)
    assert outcome.scores == {"check_to_grayscale": 0.0}
    assert "did not finish within" in json.dumps(outcome.notebook)
