"""A hand-written DuckDB scorer of `saas_milestones` that does the work the
contract asks of any correct scorer, and writes the engine's JSON result.

The hand-written queries of `contenders.py` give award tuples and stop
there: they refuse nothing (a bad timestamp or amount is an error of the
cast at best, an id used twice with other content passes), compute no award
id and write no result. Issue 19 compares `score --engine duckdb` with them;
this is the same query doing what `benchmarks/folds.py` does for the Python
path, so that the two sides do the same job:

- every line's `id`, `at`, and the `mrr` of each subscription are checked
  (RFC 3339 instants, decimal amounts); a bad one anywhere means nothing is
  scored;
- an id used twice with other content is refused;
- awards carry their documented ids (SHA-256 of the fields as netstrings,
  docs/semantics.md, "Award ids"), computed by the query;
- the result is written as `score --format json --no-explain` writes it,
  byte for byte (the benchmark compares them), a batch of awards at a
  time, within DuckDB's memory limit of 1 GB as the engine's.

It still checks less than the engine: not the other fields' types, unknown
fields, the JSON text itself (DuckDB's reader accepts what the strict form
refuses) or the bounds of each value.

    python benchmarks/contract_query.py LEDGER [--threads 1] > result.json
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import BinaryIO

COLUMNS = "{id: 'VARCHAR', \"at\": 'VARCHAR', type: 'VARCHAR', referrer: 'VARCHAR', referee: 'VARCHAR', mrr: 'VARCHAR'}"

#: RFC 3339 with an offset; the cast then checks the calendar (no 30 February)
INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)"
AMOUNT = r"-?\d{1,28}(\.\d{1,2})?"

CHECKS = f"""
CREATE TEMP TABLE ev AS
SELECT id, "at", epoch_ns(TRY_CAST("at" AS TIMESTAMPTZ)) AS t, type, referrer, referee, mrr
FROM read_json(?, format = 'newline_delimited', columns = {COLUMNS});
"""

BAD = f"""
SELECT count(*) FILTER (WHERE id IS NULL OR t IS NULL OR NOT regexp_full_match("at", '{INSTANT}')
                           OR (type = 'subscription' AND NOT regexp_full_match(coalesce(mrr, ''), '{AMOUNT}'))),
       (SELECT count(*) FROM (SELECT id FROM ev GROUP BY id
                               HAVING count(DISTINCT ("at", type, referrer, referee, mrr)) > 1))
FROM ev
"""

#: netstring of one field, as `folds._award_id` builds it
_NET = "CAST(strlen({0}) AS VARCHAR) || ':' || {0} || ','"

AWARDS = f"""
WITH refs AS (
  SELECT referee, referrer, t AS rt, id AS rid FROM (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY referee ORDER BY t, id) AS n
    FROM ev WHERE type = 'referral' AND referrer <> referee) WHERE n = 1
),
subs AS (
  SELECT e.t, e.id, CAST(e.mrr AS DECIMAL(38, 2)) AS mrr, r.referrer, r.referee
  FROM ev e JOIN refs r ON e.referee = r.referee
  WHERE e.type = 'subscription' AND (e.t > r.rt OR (e.t = r.rt AND e.id > r.rid))
),
firsts AS (
  SELECT referrer, referee,
         arg_min(struct_pack(t := t, id := id), (t, id)) FILTER (WHERE mrr >= 1000) AS m1,
         arg_min(struct_pack(t := t, id := id), (t, id)) FILTER (WHERE 12 * mrr >= 5000) AS a5,
         arg_min(struct_pack(t := t, id := id), (t, id)) FILTER (WHERE 12 * mrr >= 10000) AS a10
  FROM subs GROUP BY referrer, referee
),
awards AS (
  SELECT m1 AS e, 1 AS k, 'mrr_1k' AS m, '500.00' AS amount, referrer, referee FROM firsts WHERE m1 IS NOT NULL
  UNION ALL SELECT a5, 2, 'arr_5k', '1000.00', referrer, referee FROM firsts WHERE a5 IS NOT NULL
  UNION ALL SELECT a10, 3, 'arr_10k', '2000.00', referrer, referee FROM firsts WHERE a10 IS NOT NULL
)
SELECT 'aw_' || left(sha256('5:award,15:saas_milestones,15:saas_milestones,' || {_NET.format("m")}
                             || {_NET.format("referrer")} || {_NET.format("referee")} || '0:,8:referrer,'
                             || {_NET.format("referrer")}), 32),
       strftime(make_timestamptz(e.t // 1000), '%Y-%m-%dT%H:%M:%SZ'), m, referrer, referee, amount
FROM awards ORDER BY e.t, e.id, k
"""


def score(ledger: str, threads: int, out: BinaryIO) -> None:
    """Write the JSON result to `out`, or SystemExit with the reason when the ledger is refused.

    Awards are fetched and written a batch at a time, as the engine writes
    them, so that memory stays bounded by DuckDB's limit (1 GB, the
    engine's default) and a batch."""
    import duckdb

    db = duckdb.connect()
    db.execute(f"SET threads = {threads}")
    db.execute("SET memory_limit = '1GB'")
    db.execute("SET TimeZone = 'UTC'")
    db.execute("SET enable_progress_bar = false")
    db.execute(CHECKS, [ledger])
    bad, twice = db.execute(BAD).fetchone() or (0, 0)
    if bad or twice:
        raise SystemExit(f"refused: {bad} bad lines, {twice} ids used twice with other content")
    last = db.execute("SELECT strftime(make_timestamptz(max(t) // 1000), '%Y-%m-%dT%H:%M:%SZ') FROM ev").fetchone()
    out.write(b'{\n  "ruleset": "saas_milestones",\n  "as_of": %s,\n  "awards": [' % _text(last[0] if last else None))
    cursor = db.execute(AWARDS)
    count = total = 0
    while rows := cursor.fetchmany(20_000):
        out.write(b"".join(_award(row, first=count == 0 and n == 0) for n, row in enumerate(rows)))
        count += len(rows)
        total += sum(int(row[5].replace(".", "")) for row in rows)
    out.write(b"\n  ]," if count else b"],")
    out.write(b'\n  "reversals": [],\n  "totals": [')
    if count:
        amount = f"{total // 100}.{total % 100:02d}"
        out.write(
            b'\n    {\n      "unit": "USD",\n      "kind": "cash",\n      "status": "confirmed",\n'
            b'      "count": %d,\n      "amount": "%s"\n    }\n  ' % (count, amount.encode())
        )
    out.write(b'],\n  "rejected": []\n}\n')


def _text(value: str | None) -> bytes:
    """A JSON string (or null) as the engine writes it: orjson where the
    `bench` extra installed it (the figures in docs/performance.md), else
    the standard library's, the same bytes."""
    try:
        import orjson
    except ImportError:
        return json.dumps(value, ensure_ascii=False).encode()
    return orjson.dumps(value)


def _award(row: tuple[str, ...], first: bool) -> bytes:
    """One award record, indented as `json.dumps(indent=2)` indents it inside the result."""
    award_id, at, milestone, referrer, referee, amount = row
    who = _text(referrer)
    return b"".join(
        (
            b"\n    {" if first else b",\n    {",
            b'\n      "id": %s,\n      "at": %s,\n      "milestone": %s,'
            % (_text(award_id), _text(at), _text(milestone)),
            b'\n      "role": "referrer",\n      "beneficiary": %s,\n      "referrer": %s,' % (who, who),
            b'\n      "referee": %s,\n      "kind": "cash",\n      "amount": %s,' % (_text(referee), _text(amount)),
            b'\n      "unit": "USD",\n      "item": null,\n      "status": "confirmed",',
            b'\n      "program": "saas_milestones",\n      "message": null\n    }',
        )
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ledger")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    score(args.ledger, args.threads, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
