"""Stage 4, SQL: a checked program in, one SQL query out.

Takes ``core``, ``syntax``, ``check`` and ``compiler`` (the constant amounts
the Python evaluator writes, so that both back ends print them alike).
Gives ``compile`` (the query, or `Unsupported` naming the first construct
not compiled yet and its rule line; ``reversals``, ``timers`` and
``messages`` compile `void if` and holds, `after` timers, and the values
of messages), ``diagnose`` (every construct not compiled yet, for `check
--engine sql`) and ``run`` (the query run by DuckDB, embedded, over
validated events). See docs/sql.md.
"""
