"""Moved to :mod:`rewardrules.syntax.parser`; this name is kept for a release.

Old imports keep working: the name is an alias of the moved module (the same
module object, so its private names and patches reach it too).
"""

import sys

from .syntax import parser as _moved
from .syntax.parser import *  # noqa: F403

if __name__ == "__main__":  # `python -m rewardrules.parse` still regenerates the tables
    _moved.write_tables()
else:
    sys.modules[__name__] = _moved
