"""Where the browser tests find Chromium and how they start it (tests/test_browser.py,
tests/test_site.py): Debian's package, never a downloaded browser (../shared/NOTES.md)."""

import os

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
]
