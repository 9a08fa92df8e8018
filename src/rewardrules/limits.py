"""Moved to :mod:`rewardrules.core.limits`; this name is kept for a release.

Old imports keep working: the name is an alias of the moved module (the same
module object, so its private names and patches reach it too).
"""

import sys

from .core import limits as _moved
from .core.limits import *  # noqa: F403

sys.modules[__name__] = _moved
