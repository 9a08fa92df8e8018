"""Stage 3, compile: a checked program in, a Python evaluator out.

Takes ``core``, ``syntax`` and ``check``. Gives the one way outside text
enters generated source (``codegen``) and the compiler (``generate``).

The folder is ``compiler``, not ``compile``: ``rewardrules.compile`` is the
public function, which a subpackage of that name would shadow. Until the
next release, ``rewardrules.compiler`` also answers for the names of the old
``rewardrules/compiler.py`` module (now ``generate``).
"""

from ..core.compat import old_names

__getattr__ = old_names(__name__, "rewardrules.compiler.generate")
