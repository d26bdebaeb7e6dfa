"""lab_utils.exercises: the building blocks every check uses."""

import linecache

import numpy as np
import pytest

from lab_utils import exercises


def test_call_turns_not_implemented_into_exercise_not_started():
    def unsolved(x):
        raise NotImplementedError()

    with pytest.raises(exercises.ExerciseNotStarted, match="f is not written yet"):
        exercises.call(unsolved, 1, name="f")
    assert issubclass(exercises.ExerciseNotStarted, NotImplementedError)


def test_call_reports_other_exceptions_with_the_arguments():
    def broken(x):
        return x["key"]

    with pytest.raises(
        exercises.ExerciseIncorrect,
        match=r"(?s)f raised IndexError.*array of shape \(2, 3\), dtype float64",
    ):
        exercises.call(broken, np.zeros((2, 3)), name="f", hint="index with integers")


def test_call_hides_student_prints(capsys):
    exercises.call(lambda: print("debug"), name="f")
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "result, message",
    [
        (None, "returned None. Did you forget `return`"),
        ([1.0, 2.0], "returned a list; expected a NumPy array of shape \\(2,\\)"),
        (np.zeros(3), "has shape \\(3,\\); expected \\(2,\\)"),
        (np.array([1, 2]), "has dtype int64; expected a float array"),
        (np.array([1.0, np.nan]), "NaN or infinite"),
        (np.array([1.0, 5.0]), r"at index \(1,\) it is 5.0, expected 2.0"),
        (np.array(["a", "b"]), "has dtype <U1; expected numbers"),
        (np.array([True, False]), r"has dtype bool \(True/False\).*astype\(float\)"),
    ],
)
def test_expect_array_explains_the_first_problem(result, message):
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        exercises.expect_array(result, np.array([1.0, 2.0]), name="r", hint="h")


def test_expect_array_names_a_known_mistake_and_adds_the_hint():
    with pytest.raises(
        exercises.ExerciseIncorrect, match="(?s)is not right yet: doubled.*\nHint: halve it"
    ):
        exercises.expect_array(
            np.array([2.0, 4.0]),
            np.array([1.0, 2.0]),
            name="r",
            hint="halve it",
            known_mistakes=[(np.array([2.0, 4.0]), "doubled")],
        )


def test_expect_array_accepts_a_close_answer():
    exercises.expect_array(np.array([1.0, 2.0 + 1e-9]), np.array([1.0, 2.0]), name="r")


@pytest.mark.parametrize(
    "result, message",
    [
        ("3", "expected a single number"),
        (True, "expected a single number"),
        (float("inf"), "expected a finite number"),
        (4.0, "returned 4; expected 3"),
    ],
)
def test_expect_number(result, message):
    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        exercises.expect_number(result, 3.0, name="n")
    exercises.expect_number(np.float64(3.0), 3.0, name="n")


def test_require_function_rejects_a_value():
    with pytest.raises(
        exercises.ExerciseIncorrect, match="should be a function, but it is ndarray"
    ):
        exercises.require_function(np.zeros(2), "to_grayscale")


def _check_double(function):
    result = exercises.call(function, np.array([1.0]), name="double(x)")
    exercises.expect_array(result, np.array([2.0]), name="double(x)")
    exercises.passed("double", 1)


def test_passed_prints_the_success_line(capsys):
    _check_double(lambda x: 2 * x)
    assert capsys.readouterr().out == "✔ double passed 1 tests.\n"


def test_solution_or_keeps_a_passing_function(capsys):
    def double(x):
        return 2 * x

    assert exercises.solution_or(double, check=_check_double, fallback=np.negative) is double
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("student", [lambda x: 3 * x, None])
def test_solution_or_falls_back_and_says_so(student, capsys):
    def unsolved(x):
        raise NotImplementedError()

    student = student or unsolved
    assert exercises.solution_or(student, check=_check_double, fallback=np.negative) is np.negative
    assert "the cells below use numpy's negative" in capsys.readouterr().out


def test_solution_or_names_a_kit_function_naturally(capsys):
    from lab_utils import kernels

    assert (
        exercises.solution_or(lambda x: 3 * x, check=_check_double, fallback=kernels.correlate)
        is kernels.correlate
    )
    assert "the cells below use the kit's correlate." in capsys.readouterr().out


def _notebook_cell(source: str, name: str) -> dict:
    """Run ``source`` as a notebook cell would: module __main__, source kept in linecache
    (IPython registers each cell there, which is how inspect.getsource finds it)."""
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    namespace = {"__name__": "__main__"}
    exec(compile(source, name, "exec"), namespace)
    return namespace


def test_forbid_calls_rejects_a_notebook_function_that_calls_the_reference():
    namespace = _notebook_cell(
        "import numpy as np\ndef to_float(image):\n    return np.asarray(image, float)\n"
        "def lookup(image):\n    return img_as_float(image)\n",
        "<cell-1>",
    )
    exercises.forbid_calls(namespace["to_float"], ["img_as_float"], exercise="normalise")
    with pytest.raises(exercises.ExerciseIncorrect, match=r"normalise calls img_as_float\(\)"):
        exercises.forbid_calls(namespace["lookup"], ["img_as_float"], exercise="normalise")


def test_exercise_errors_render_as_their_message_only():
    error = exercises.ExerciseIncorrect("wrong shape\nHint: one value per pixel")
    lines = error._render_traceback_()
    assert len(lines) == 2 and "ExerciseIncorrect" in lines[0] and "wrong shape" in lines[0]
    assert lines[1] == "Hint: one value per pixel"


def test_forbid_calls_ignores_comments_docstrings_and_strings_and_matches_dotted_calls():
    source = (
        "def by_hand(image):\n"
        '    """Like correlate2d(image, kernel), written out."""\n'
        "    # same as signal.correlate2d(image, kernel) but by hand\n"
        '    label = "correlate2d(x)"\n'
        "    return image\n"
        "def dotted(z):\n"
        "    return keras.activations.sigmoid(z)\n"
    )
    namespace = _notebook_cell(source, "<cell-2>")
    exercises.forbid_calls(namespace["by_hand"], ["correlate2d"], exercise="conv2d_loops")
    with pytest.raises(exercises.ExerciseIncorrect, match=r"calls activations.sigmoid\(\)"):
        exercises.forbid_calls(namespace["dotted"], ["activations.sigmoid"], exercise="sigmoid")


# --- the checker runner (exercises.checker) ---------------------------------------------------


def _make_square_check(**options):
    """A check made with the runner: squares must match x * x; np.outer is forbidden (the
    runner's run-time watch sees Python and built-in functions, not NumPy ufuncs)."""

    @exercises.checker("square", forbid=["numpy.outer"], **options)
    def check_square(student):
        x = np.arange(4.0)
        exercises.expect_array(student(x, name="square(x)"), x * x, name="square(x)")
        np.random.random()  # a check may draw numbers; the notebook's state is restored
        return 1

    return check_square


def test_checker_passes_a_right_answer_and_registers_the_check(capsys):
    check = _make_square_check()
    check(lambda x: x * x)
    assert "✔ square passed 1 tests." in capsys.readouterr().out
    assert exercises.CHECKS[f"{__name__}.check_square"] is check
    assert check.forbid == ("numpy.outer",)


def test_checker_catches_a_forbidden_function_reached_at_run_time():
    check = _make_square_check()
    sneaky = lambda x: getattr(np, "out" + "er")(x, x).diagonal().copy()  # noqa: E731
    with pytest.raises(exercises.ExerciseIncorrect, match=r"calls numpy\.outer\(\)"):
        check(sneaky)


def test_checker_stops_an_endless_loop_with_a_clear_message():
    check = _make_square_check(time_limit=0.3)

    def endless(x):
        while True:
            pass

    with pytest.raises(exercises.ExerciseIncorrect, match="did not finish within 0.3 s"):
        check(endless)


def test_checker_stops_an_endless_loop_while_sigint_is_ignored():
    # CI hung here once: something earlier in the session had set SIGINT to be ignored, and
    # _thread.interrupt_main does nothing then.
    import signal

    check = _make_square_check(time_limit=0.3)

    def endless(x):
        while True:
            pass

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(exercises.ExerciseIncorrect, match="did not finish within 0.3 s"):
            check(endless)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_checker_stops_a_loop_that_swallows_the_first_interrupt():
    check = _make_square_check(time_limit=0.3)

    def stubborn(x):
        try:
            while True:
                pass
        except BaseException:  # noqa: BLE001 - what a careless student writes
            pass
        while True:
            pass

    with pytest.raises(exercises.ExerciseIncorrect, match="did not finish within 0.3 s"):
        check(stubborn)


def test_checker_leaves_the_global_random_state_alone():
    check = _make_square_check()
    np.random.seed(5)
    expected = np.random.random()
    np.random.seed(5)
    check(lambda x: x * x)
    assert np.random.random() == expected


def test_checker_compares_plain_values_not_an_answer_that_claims_equality():
    class AlwaysEqual(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(other), dtype=bool)

        def __sub__(self, other):
            return np.zeros(np.shape(other))

    check = _make_square_check()
    with pytest.raises(exercises.ExerciseIncorrect, match="differs from the expected"):
        check(lambda x: np.zeros(4).view(AlwaysEqual))


def test_checker_reports_not_started_and_wrong_values():
    check = _make_square_check()

    def unsolved(x):
        raise NotImplementedError()

    with pytest.raises(exercises.ExerciseNotStarted):
        check(unsolved)
    with pytest.raises(exercises.ExerciseIncorrect, match="differs"):
        check(lambda x: x + x)
    with pytest.raises(exercises.ExerciseIncorrect, match="should be a function"):
        check(3.0)


@pytest.mark.parametrize(
    "value, expected_type",
    [
        (np.float64(2.5), float),
        (np.int32(3), int),
        (np.bool_(True), bool),
        ((1, np.float32(2.0)), tuple),
        ([np.zeros(2)], list),
        ({"a": np.int64(1)}, dict),
    ],
)
def test_plain_rebuilds_values_from_built_in_types(value, expected_type):
    result = exercises.plain(value)
    assert type(result) is expected_type


def test_plain_strips_number_and_array_subclasses():
    class Sneaky(float):
        def __eq__(self, other):
            return True

    assert type(exercises.plain(Sneaky(1.0))) is float
    assert exercises.plain(Sneaky(1.0)) != 2.0
    view = np.zeros(3).view(np.ma.MaskedArray)
    assert type(exercises.plain(view)) is np.ndarray


def test_checker_watches_methods_and_classes_named_by_their_path():
    import textwrap

    @exercises.checker("wrap", forbid=["textwrap.TextWrapper", "textwrap.TextWrapper.fill"])
    def check_wrap(student):
        expected = "a b\nc"
        if student("a b c", name="wrap('a b c')") != expected:
            exercises.fail("wrong")
        return 1

    check_wrap(lambda text: text[:3] + "\n" + text[4:])
    make = getattr(textwrap, "Text" + "Wrapper")  # invisible to the static source check
    with pytest.raises(exercises.ExerciseIncorrect, match=r"calls textwrap\.TextWrapper\(\)"):
        check_wrap(lambda text: "\n".join(make(width=3).wrap(text)))
    wrapper = textwrap.TextWrapper(width=3)  # made outside the check
    with pytest.raises(exercises.ExerciseIncorrect, match=r"TextWrapper\.fill\(\)"):
        check_wrap(lambda text: getattr(wrapper, "fi" + "ll")(text))


def test_forbid_calls_allows_a_notebook_helper_with_the_library_function_s_name():
    namespace = _notebook_cell(
        "import numpy as np\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"
        "def sigmoid_derivative(z):\n    s = sigmoid(z)\n    return s * (1 - s)\n"
        "def borrowed(z):\n    return keras.activations.sigmoid(z)\n",
        "<cell-helper>",
    )
    exercises.forbid_calls(
        namespace["sigmoid_derivative"], ["sigmoid"], exercise="sigmoid_derivative"
    )
    with pytest.raises(exercises.ExerciseIncorrect, match=r"calls sigmoid\(\)"):
        exercises.forbid_calls(namespace["borrowed"], ["sigmoid"], exercise="sigmoid")
