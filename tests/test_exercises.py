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


# --- arguments a student's function writes into (issue 21) ---------------------------------


def _convert(boxes):
    return np.column_stack([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]])


def _convert_in_place(boxes):
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def test_student_notes_the_array_arguments_a_call_changed():
    def first_in_place(boxes, other):
        return _convert_in_place(boxes)

    student = exercises.Student(first_in_place, "f", {}, 10)
    boxes, other = np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([np.nan, 1.0])
    student(boxes, other, name="f")
    assert student.changed_arguments == (0,)  # NaN equals NaN: `other` is unchanged
    np.testing.assert_array_equal(boxes, [[1.0, 2.0, 4.0, 6.0]])
    exercises.expect_unchanged(student, 1, name="f(b, o)", argument="other")  # not that one
    with pytest.raises(exercises.ExerciseIncorrect, match=r"f\(b, o\) changed its input `boxes`"):
        exercises.expect_unchanged(student, 0, name="f(b, o)", argument="boxes")
    student(np.array([[0.0, 0.0, 5.0, 5.0]]), [1, 2], name="f")  # adds zeros: nothing changed
    assert student.changed_arguments == ()
    exercises.expect_unchanged(student, 0, name="f(b, o)", argument="boxes")


class KernelRunningHere:
    """Runs the grader's code in this process (the kernel's role), reads the answer back."""

    def execute(self, code, timeout, user_expressions):
        namespace = {}
        exec(code, namespace)  # noqa: S102 - the grader's own two lines
        text = repr(namespace["__lab_utils_answer"])
        reply = {"user_expressions": {"answer": {"status": "ok", "data": {"text/plain": text}}}}
        return [], reply


def test_the_grader_names_an_array_of_names_too(monkeypatch):
    """An array of strings crosses from the kernel as a placeholder (lab_utils.wire); the
    graded identify check still says that a list is needed and why."""
    import sys

    from lab_utils import faces, trusted

    def identify_as_array(gallery, names, probes, threshold):
        return np.array(["unknown"] * len(probes))

    monkeypatch.setattr(sys.modules["__main__"], "array_answer", identify_as_array, raising=False)
    check = faces.check_identify
    remote = trusted.RemoteStudent(KernelRunningHere(), "array_answer", check, "")
    with pytest.raises(exercises.ExerciseIncorrect, match=r"returned a NumPy array.*\.count"):
        check.run(remote)


def test_the_grader_learns_which_arguments_the_kernel_call_changed(monkeypatch):
    """The kernel's half reports the changed arguments; RemoteStudent passes them on, so the
    graded check fails an in-place answer with the same message as in the lesson."""
    import sys

    from lab_utils import detection, trusted, wire

    monkeypatch.setattr(
        sys.modules["__main__"], "in_place_answer", _convert_in_place, raising=False
    )
    text = exercises.answer_for_grader(
        "in_place_answer", wire.dumps([np.array([[1.0, 2.0, 3.0, 4.0]])]), []
    )
    answer = wire.loads(text)
    assert answer["changed_arguments"] == [0]
    np.testing.assert_array_equal(answer["result"], [[1.0, 2.0, 4.0, 6.0]])

    check = detection.check_xywh_to_xyxy
    remote = trusted.RemoteStudent(KernelRunningHere(), "in_place_answer", check, "")
    with pytest.raises(exercises.ExerciseIncorrect, match="changed its input `boxes`"):
        check.run(remote)
    monkeypatch.setattr(sys.modules["__main__"], "in_place_answer", _convert, raising=False)
    check.run(trusted.RemoteStudent(KernelRunningHere(), "in_place_answer", check, ""))


# --- lessons 05 and 06: the known mistakes of issue 21, right answers written several ways ---


def _identify_loop(gallery, names, probes, threshold):
    answers = []
    for probe in probes:
        distances = [float(np.sum((probe - row) ** 2)) for row in gallery]
        best = int(np.argmin(distances))
        answers.append(names[best] if distances[best] <= threshold else "unknown")
    return answers


def _identify_expanded(gallery, names, probes, threshold):
    # |p|^2 + |g|^2 - 2 p.g, and norm()**2: other ways to the squared distances
    squared = (probes**2).sum(1)[:, None] + (gallery**2).sum(1)[None, :] - 2 * probes @ gallery.T
    nearest = np.argmin(np.linalg.norm(probes[:, None] - gallery[None], axis=2) ** 2, axis=1)
    return tuple(
        names[j] if squared[i, j] <= threshold else "unknown" for i, j in enumerate(nearest)
    )


def _identify_array(gallery, names, probes, threshold):
    return np.array(_identify_loop(gallery, names, probes, threshold))


def _identify_with(distance, accept):
    def identify(gallery, names, probes, threshold):
        answers = []
        for probe in probes:
            distances = [distance(probe, row) for row in gallery]
            best = int(np.argmin(distances))
            answers.append(names[best] if accept(distances[best], threshold) else "unknown")
        return answers

    return identify


def _identify_first_within(gallery, names, probes, threshold):
    answers = []
    for probe in probes:
        inside = [j for j, row in enumerate(gallery) if np.sum((probe - row) ** 2) <= threshold]
        answers.append(names[inside[0]] if inside else "unknown")
    return answers


def _squared(a, b):
    return float(np.sum((a - b) ** 2))


def _semi_hard(lower_inclusive=False, upper_inclusive=False):
    def semi_hard_negative(distances, labels, anchor, positive, margin):
        d_ap, row = distances[anchor, positive], distances[anchor]
        above = row >= d_ap if lower_inclusive else row > d_ap
        below = row <= d_ap + margin if upper_inclusive else row < d_ap + margin
        window = (labels != labels[anchor]) & above & below
        if not window.any():
            return -1
        candidates = np.flatnonzero(window)
        return int(candidates[np.argmin(row[candidates])])

    return semi_hard_negative


def _semi_hard_sorted(distances, labels, anchor, positive, margin):
    d_ap = distances[anchor, positive]
    for j in np.argsort(distances[anchor], kind="stable"):
        if labels[j] != labels[anchor] and d_ap < distances[anchor, j] < d_ap + margin:
            return j  # a NumPy integer
    return -1


def _iou(a, b):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _nms(remove_ties=False):
    def nms(boxes, scores, iou_threshold):
        order, kept = list(np.argsort(-scores)), []
        while order:
            best = order.pop(0)
            kept.append(int(best))
            overlaps = [_iou(boxes[best], boxes[i]) for i in order]
            order = [
                i
                for i, o in zip(order, overlaps)
                if (o < iou_threshold if remove_ties else o <= iou_threshold)
            ]
        return kept

    return nms


def _nms_vectorised(boxes, scores, iou_threshold):
    order, kept = np.argsort(-scores), []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order.size:
        best, rest = order[0], order[1:]
        kept.append(best)
        width = np.clip(
            np.minimum(boxes[best, 2], boxes[rest, 2]) - np.maximum(boxes[best, 0], boxes[rest, 0]),
            0,
            None,
        )
        height = np.clip(
            np.minimum(boxes[best, 3], boxes[rest, 3]) - np.maximum(boxes[best, 1], boxes[rest, 1]),
            0,
            None,
        )
        inter = width * height
        order = rest[inter / (area[best] + area[rest] - inter) <= iou_threshold]
    return np.array(kept)


def _loss(clip=None, keep_upper=True):
    def multitask_loss(probabilities, labels, boxes, box_targets, box_weight):
        true_class = probabilities[np.arange(len(labels)), labels]
        if clip is not None:
            true_class = (
                np.clip(true_class, clip, 1 - clip) if keep_upper else np.maximum(true_class, clip)
            )
        with np.errstate(divide="ignore"):
            cross_entropy = -np.mean(np.log(true_class))
        return float(cross_entropy + box_weight * np.mean((boxes - box_targets) ** 2))

    return multitask_loss


def _loss_one_hot(probabilities, labels, boxes, box_targets, box_weight):
    clipped = np.clip(probabilities, 1e-7, 1 - 1e-7)
    one_hot = np.eye(probabilities.shape[1])[labels]
    cross_entropy = -np.sum(one_hot * np.log(clipped)) / len(labels)
    return cross_entropy + box_weight * np.square(boxes - box_targets).mean()


def _loss_one_hot_unclipped(probabilities, labels, boxes, box_targets, box_weight):
    one_hot = np.eye(probabilities.shape[1])[labels]
    with np.errstate(divide="ignore", invalid="ignore"):
        cross_entropy = -np.sum(one_hot * np.log(probabilities)) / len(labels)
    return cross_entropy + box_weight * np.square(boxes - box_targets).mean()


def _match(convert):
    def match_detections(found, scores, truths, iou_threshold):
        found_corners, truth_corners = convert(found), convert(truths)
        matched, taken = np.full(len(found), -1), set()
        for index in np.argsort(-scores):
            best, best_iou = -1, iou_threshold
            for truth in range(len(truths)):
                overlap = _iou(found_corners[index], truth_corners[truth])
                if truth not in taken and overlap >= best_iou:
                    best, best_iou = truth, overlap
            if best >= 0:
                matched[index] = best
                taken.add(best)
        return matched

    return match_detections


def _convert_copy_then_add(boxes):
    corners = boxes.copy()
    corners[:, 2:] += corners[:, :2]
    return corners


def _convert_through_alias(boxes):
    corners = boxes  # not a copy: the writes below land in the caller's array
    corners[:, 2] = boxes[:, 0] + boxes[:, 2]
    corners[:, 3] = boxes[:, 1] + boxes[:, 3]
    return corners


def _label_anchors_vectorised(anchors, truths, first_above=False):
    """Anchors labelled by IoU (>= 0.5 positive, < 0.4 background, -2 between) with
    (dx / wa, dy / ha, log w / wa, log h / ha) offsets, written with whole-array NumPy."""
    labels, offsets = np.full(len(anchors), -1), np.zeros((len(anchors), 4))
    if not len(truths):
        return labels, offsets
    low = np.maximum(anchors[:, None, :2], truths[None, :, :2])
    high = np.minimum(anchors[:, None, 2:], truths[None, :, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=2)
    area_a = np.prod(anchors[:, 2:] - anchors[:, :2], axis=1)
    area_t = np.prod(truths[:, 2:] - truths[:, :2], axis=1)
    overlaps = inter / (area_a[:, None] + area_t[None, :] - inter)
    best = (overlaps >= 0.5).argmax(axis=1) if first_above else overlaps.argmax(axis=1)
    best_iou = overlaps.max(axis=1)
    labels = np.where(best_iou >= 0.5, best, np.where(best_iou < 0.4, -1, -2))
    size_a, size_t = anchors[:, 2:] - anchors[:, :2], truths[best, 2:] - truths[best, :2]
    centre_a, centre_t = anchors[:, :2] + size_a / 2, truths[best, :2] + size_t / 2
    encoded = np.hstack([(centre_t - centre_a) / size_a, np.log(size_t / size_a)])
    return labels, np.where((labels >= 0)[:, None], encoded, 0.0)


RIGHT_ANSWERS = [
    ("faces", "check_identify", _identify_loop),
    ("faces", "check_identify", _identify_expanded),  # a tuple is fine: it has .count
    ("faces", "check_identify", _identify_with(_squared, lambda d, t: not d > t)),
    ("faces", "check_semi_hard_negative", _semi_hard()),
    ("faces", "check_semi_hard_negative", _semi_hard_sorted),
    ("detection", "check_xywh_to_xyxy", _convert),
    ("detection", "check_xywh_to_xyxy", _convert_copy_then_add),
    ("detection", "check_nms", _nms()),
    ("detection", "check_nms", _nms_vectorised),
    ("detection", "check_multitask_loss", _loss(clip=1e-7)),
    ("detection", "check_multitask_loss", _loss(clip=1e-7, keep_upper=False)),
    ("detection", "check_multitask_loss", _loss_one_hot),
    ("detection", "check_match_detections", _match(_convert)),
    ("detection", "check_label_anchors", _label_anchors_vectorised),
]


@pytest.mark.parametrize(
    "lesson, check, answer",
    RIGHT_ANSWERS,
    ids=[f"{check}-{index}" for index, (_, check, _) in enumerate(RIGHT_ANSWERS)],
)
def test_right_answers_written_several_ways_pass(lesson, check, answer, keras, capsys):
    import importlib

    getattr(importlib.import_module(f"lab_utils.{lesson}"), check)(answer)
    assert "passed" in capsys.readouterr().out


WRONG_ANSWERS = [
    (
        "faces",
        "check_identify",
        _identify_with(lambda a, b: float(np.linalg.norm(a - b)), lambda d, t: d <= t),
        r"Euclidean distance.*SQUARED distances",
    ),
    ("faces", "check_identify", _identify_first_within, r"FIRST gallery face.*NEAREST"),
    (
        "faces",
        "check_identify",
        _identify_with(_squared, lambda d, t: d < t),
        r"exactly equal to the threshold.*<= threshold",
    ),
    ("faces", "check_identify", _identify_array, r"returned a NumPy array.*calls \.count"),
    (
        "faces",
        "check_identify",
        lambda g, n, p, t: [j for j in _identify_loop(g, list(range(len(n))), p, t)],
        r"returned int and str items|returned str and int items|each item must be a name",
    ),
    (
        "faces",
        "check_semi_hard_negative",
        _semi_hard(upper_inclusive=True),
        r"exactly d_ap \+ margin = 1\.5: the window is open at its upper end",
    ),
    (
        "faces",
        "check_semi_hard_negative",
        _semi_hard(lower_inclusive=True),
        r"exactly d_ap = 1: a semi-hard negative is strictly farther",
    ),
    ("detection", "check_xywh_to_xyxy", _convert_in_place, r"changed its input `boxes`"),
    ("detection", "check_xywh_to_xyxy", _convert_through_alias, r"changed its input `boxes`"),
    (
        "detection",
        "check_nms",
        _nms(remove_ties=True),
        r"kept \[0, 2, 3\], expected \[0, 1, 2, 3\]: it also removes boxes whose IoU .* exactly",
    ),
    ("detection", "check_multitask_loss", _loss(), r"returned inf: .*Clip the probabilities"),
    (
        "detection",
        "check_multitask_loss",
        _loss_one_hot_unclipped,
        r"returned nan: .*Clip the probabilities",
    ),
    ("detection", "check_multitask_loss", _loss(clip=1e-15), r"clips the probabilities at 1e-15"),
    (
        "detection",
        "check_label_anchors",
        lambda anchors, truths: _label_anchors_vectorised(anchors, truths, first_above=True),
        r"overlaps MOST, not the first one above 0\.5",
    ),
    (
        "detection",
        "check_match_detections",
        _match(_convert_in_place),
        r"changed its input `found`.*\nHint: does your xywh_to_xyxy write into its input",
    ),
]


@pytest.mark.parametrize(
    "lesson, check, answer, message",
    WRONG_ANSWERS,
    ids=[f"{check}-{index}" for index, (_, check, _, _) in enumerate(WRONG_ANSWERS)],
)
def test_known_mistakes_get_their_message(lesson, check, answer, message, keras):
    import importlib

    with pytest.raises(exercises.ExerciseIncorrect, match=message):
        getattr(importlib.import_module(f"lab_utils.{lesson}"), check)(answer)
