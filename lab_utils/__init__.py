"""Helpers for the "Data Analytics for Images with Deep Learning" lesson notebooks.

Importing this package changes nothing and stays light: no seeding, no plot style, and no
TensorFlow. Each notebook imports the modules it needs by name and calls
``lesson.setup(...)`` once at the top::

    from lab_utils import lesson, data, plots
    lesson.setup(seed=0)

Modules shared by every lesson: ``lesson`` (setup), ``data`` (the data registry), ``plots``,
``widgets`` (the widget pattern), ``exercises`` (the exercise pattern), ``validation`` (input
checks with student-readable errors), ``models`` (Keras model builders, training, saving;
from lesson 04 on). Lesson modules mirror the notebooks: ``pixels`` (01), ``kernels`` (02),
``perceptrons`` (03), ``cnns`` (04), ``detection`` (05).
"""

__version__ = "0.1.0"
