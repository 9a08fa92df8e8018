"""Moved to :mod:`rewardrules.score.settle`; this name is kept for a release.

Old imports keep working: the name is an alias of the moved module (the same
module object, so its private names and patches reach it too).
"""

import sys

from .score import settle as _moved
from .score.settle import *  # noqa: F403

sys.modules[__name__] = _moved
