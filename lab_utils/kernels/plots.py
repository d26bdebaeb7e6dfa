"""Lesson 02 has no figures of its own: its notebook draws with the kit's ``lab_utils.plots``
(``plots.show_images``, ``plots.show_pixel_grid``, ``plots.plot_curves``)."""
