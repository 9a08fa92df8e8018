"""Moved to :mod:`rewardrules.check.bounds`; this name is kept for a release.

Old imports keep working: the name is an alias of the moved module (the same
module object, so its private names and patches reach it too).
"""

import sys

from .check import bounds as _moved
from .check.bounds import *  # noqa: F403

sys.modules[__name__] = _moved
