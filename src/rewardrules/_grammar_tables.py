"""Moved to :mod:`rewardrules.syntax._grammar_tables`; this name is kept for a release.

Old imports keep working: the name is an alias of the moved module (the same
module object, so its private names and patches reach it too).
"""

import sys

from .syntax import _grammar_tables as _moved
from .syntax._grammar_tables import *  # noqa: F403

sys.modules[__name__] = _moved
