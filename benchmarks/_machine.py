"""What every benchmark prints next to its timings (not a benchmark itself: run.py skips files
starting with ``_``)."""

import os


def machine() -> str:
    """Cores and load average: on a shared machine wall-clock seconds grow with the load."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} CPU cores, load average {load} (1, 5, 15 min)"
