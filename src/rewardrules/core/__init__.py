"""Stage 0, the bottom: what every stage shares.

Takes nothing from the other stages. Gives rule-file text and spans
(``source``), diagnostics (``diagnostics``), limits, value types with units
(``datatypes``, ``units``), instants (``timeutil``), the decimal context and
the helpers generated code calls (``runtime``), how values are written
(``formatting``), a text's lines as the ledger reader counts them
(``lines``), record ids (``ids``) and the award record's fields
(``award``).

``runtime``, ``datatypes`` and ``ids`` are here rather than in a later stage
because earlier stages use them: the checker folds constants with the same
arithmetic the generated code runs, the parser types literals, and the
compiler writes the same ids the result records hold.
"""
