"""`ignoring case` with the ledger read by DuckDB itself: the folded column
is the text's LOWER, exact for the strict form's printable ASCII, and gives
the Python engine's result (before, it held the text as written, so
`"PARTNER" == "partner" ignoring case` was false on this path only)."""

from __future__ import annotations

import json
from pathlib import Path

import rewardrules

from .test_sql_backend import python_json
from .test_sql_reading import direct_json

RULES = """ruleset folded "Folded"

event referral { source: text }
event payment { amount: money USD }

program partners "Partners" {
  eligible when referral.source == "partner" ignoring case
  milestone paid "Paid" {
    first payment
    reward referrer cash 10 USD
  }
}
"""


def test_a_folded_field_read_by_duckdb_matches_the_python_engine(tmp_path: Path) -> None:
    events = []
    for n, source in enumerate(["PARTNER", "Partner", "partner", "other", "PaRtNeRs"]):
        events.append(
            {
                "id": f"r{n}",
                "at": f"2026-01-0{n + 1}T00:00:00Z",
                "type": "referral",
                "referrer": f"ann{n}",
                "referee": f"bob{n}",
                "source": source,
            }
        )
        events.append(
            {
                "id": f"p{n}",
                "at": f"2026-02-0{n + 1}T00:00:00Z",
                "type": "payment",
                "referee": f"bob{n}",
                "amount": "5.00",
            }
        )
    ledger = tmp_path / "ledger.jsonl"
    lines = [json.dumps(e, separators=(",", ":")) for e in events]
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    prog = rewardrules.compile(RULES)
    got = direct_json(prog, ledger, None)
    assert got is not None  # read by DuckDB, not left to the Python reader
    assert got == python_json(prog, lines, None)
    assert len(json.loads(got)["awards"]) == 3
