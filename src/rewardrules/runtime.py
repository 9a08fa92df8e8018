"""Moved to :mod:`rewardrules.core.runtime`; this name is kept for a release.

Old imports keep working: the name is an alias of the moved module (the same
module object, so its private names and patches reach it too).
"""

import sys

from .core import runtime as _moved
from .core.runtime import *  # noqa: F403

sys.modules[__name__] = _moved
