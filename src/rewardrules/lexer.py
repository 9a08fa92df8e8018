"""Moved to :mod:`rewardrules.syntax.highlight`; this name stays: the Pygments
entry point (pyproject, ``rewardrules.lexer:RewardRulesLexer``) names it.

Old imports keep working: the name is an alias of the moved module (the same
module object, so its private names and patches reach it too).
"""

import sys

from .syntax import highlight as _moved
from .syntax.highlight import *  # noqa: F403

sys.modules[__name__] = _moved
