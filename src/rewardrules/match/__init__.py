"""Stage 6, match: which partner receives a referred customer.

Takes ``core`` (sources, problems, diagnostics, instants, ids, limits) and
``ledger`` (bounded reading, JSON line decoding, ledger problems). Gives the
matching language's parser (``parse``, over ``grammar/matching.lark``), its
checker (``check``: the checked `MatchRules`, or diagnostics RR801-RR899),
the partner and customer event ledger (``events``), the matching itself
(``evaluate``: assignment records, each with its `why`), the acceptance-rate
report (``acceptance``), the JSON Schemas (``schema``) and the API that runs
them (``api``). docs/matching.md describes the language and the records.
"""
