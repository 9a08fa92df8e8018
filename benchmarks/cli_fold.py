"""The whole-process baseline: a script that `json.loads` each line and runs
the hand-written fold, then prints the awards as JSON.

    python benchmarks/cli_fold.py LEDGER > awards.json
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from folds import fold_decimal


def main() -> None:
    with open(sys.argv[1], "rb") as handle:
        events = [json.loads(line, parse_float=Decimal) for line in handle if line.strip()]
    awards = fold_decimal(events)
    sys.stdout.write(json.dumps({"awards": awards}, indent=2) + "\n")


if __name__ == "__main__":
    main()
