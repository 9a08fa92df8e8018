"""Moved to :mod:`rewardrules.report.html`; this name is kept for a release.

Old imports keep working: the name is an alias of the moved module (the same
module object, so its private names and patches reach it too).
"""

import sys

from .report import html as _moved
from .report.html import *  # noqa: F403

sys.modules[__name__] = _moved
