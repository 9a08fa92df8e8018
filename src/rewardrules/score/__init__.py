"""Stage 5, score: a compiled program and a ledger in, award records out.

Takes every stage below. Gives the engine (``engine``), the result record
(``result``), snapshots (``snapshot``), settlement (``settle``), the JSON
contract's pydantic models (``schema``) and the public API that runs the
pipeline (``api``: ``load``, ``compile``, ``Program``, ``Session``; with
``arguments``, the type checks of its entry points).
"""
