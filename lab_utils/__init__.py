"""Helpers for the "Data Analytics for Images with Deep Learning" lesson notebooks.

Importing this package changes nothing and stays light: no seeding, no plot style, and no
TensorFlow. Each notebook imports the modules it needs by name and calls
``lesson.setup(...)`` once at the top::

    from lab_utils import lesson, data, plots
    lesson.setup(seed=0)

Modules shared by every lesson: ``lesson`` (setup), ``data`` (the data registry), ``plots``,
``widgets`` (the widget pattern), ``exercises`` (the exercise pattern), ``validation`` (input
checks with student-readable errors), ``models`` (Keras model builders and ``models.fit``, the
one training loop with its weight cache; from lesson 04 on), ``boxes`` (box formats, IoU, NMS,
matching, drawing; 05-06) and ``detectors`` (Haar cascades, dlib, selective search; 05-06).

Lesson packages mirror the notebooks, each with the same role files (``compute``, ``widgets``,
``plots``, ``checks``; its ``__init__`` re-exports what the notebook uses): ``pixels`` (01),
``kernels`` (02), ``perceptrons`` (03), ``cnns`` (04), ``detection`` (05), ``faces`` (06).
AUTHORING.md has the map of where a new exercise, widget, dataset or model goes.

Instructor tools: ``grading`` (release with nbgrader, autograde), ``trusted`` (checks decided
in the grader's process) with ``wire`` (plain data to and from the student's kernel),
``sandbox`` (the grading kernels' jail), ``feedback`` (safe feedback pages), ``prepare``
(every training cached once), ``students`` (students' copies of the lessons).
"""

__version__ = "0.1.0"
