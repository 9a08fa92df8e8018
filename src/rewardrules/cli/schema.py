"""`rewardrules schema ledger|award|result|match-event|assignment|scenario`: print a JSON Schema."""

from __future__ import annotations

import argparse
import json
from typing import Any

#: the records with a schema (rewardrules.models.SCHEMAS); pydantic is only
#: imported when a schema is printed
NAMES = ("award", "ledger", "result", "reversal", "match-event", "assignment", "scenario")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "schema",
        help="print the JSON Schema of a ledger event, an award or a result",
        description="Print a JSON Schema (draft 2020-12) of the public records.",
    )
    parser.add_argument("name", choices=NAMES, help="which record")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..match.schema import SCHEMAS
    from ..score.schema import json_schema

    if args.name == "scenario":
        from ..simulate.scenario import Scenario

        schema = Scenario.model_json_schema()
    else:
        schema = SCHEMAS[args.name]() if args.name in SCHEMAS else json_schema(args.name)
    print(json.dumps(schema, indent=2, sort_keys=True))
    return 0
