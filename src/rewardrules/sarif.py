"""Moved to :mod:`rewardrules.report.sarif`; this name is kept for a release.

Old imports keep working: the name is an alias of the moved module (the same
module object, so its private names and patches reach it too).
"""

import sys

from .report import sarif as _moved
from .report.sarif import *  # noqa: F403

sys.modules[__name__] = _moved
