"""Moved to :mod:`rewardrules.check.program`; this name is kept for a release.

Old imports keep working: the name is an alias of the moved module (the same
module object, so its private names and patches reach it too).
"""

import sys

from .check import program as _moved
from .check.program import *  # noqa: F403

sys.modules[__name__] = _moved
