"""Coverage-guided fuzzing of the rule-file front end and the ledger reader
with atheris (libFuzzer for Python).

    python fuzz/run_atheris.py rules  -max_total_time=600 fuzz/corpus/rules
    python fuzz/run_atheris.py ledger -max_total_time=600 fuzz/corpus/ledger

Seeds: the shipped rule files and golden ledgers (copied into the corpus
folders on first run). A crash writes its input to `crash-*`: turn it into a
regression case under tests/fuzz_corpus/. CI runs each target briefly
(tests/test_fuzz.py); docs/reliability.md records the longer runs.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import atheris

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

with atheris.instrument_imports():
    # rewardrules imports its stages lazily: name them so they are instrumented
    import targets

    import rewardrules.check.checker
    import rewardrules.compiler.generate
    import rewardrules.core.timeutil
    import rewardrules.ledger.reader
    import rewardrules.score.api
    import rewardrules.score.engine
    import rewardrules.score.result
    import rewardrules.syntax.parser  # noqa: F401


def _seed(kind: str, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        return
    sources = (
        (targets.ROOT / "rulesets").glob("*.rules")
        if kind == "rules"
        else (targets.ROOT / "tests" / "golden").glob("*/*.jsonl")
    )
    for i, path in enumerate(sorted(sources)):
        shutil.copy(path, folder / f"seed-{i:03d}")


def _rules(data: bytes) -> None:
    targets.rules(data.decode("utf-8", errors="replace"))


def _ledger(data: bytes) -> None:
    targets.ledger(data.decode("utf-8", errors="replace"))


def main() -> None:
    kind = sys.argv[1]
    args = [sys.argv[0], *sys.argv[2:]]
    folders = [Path(a) for a in args[1:] if not a.startswith("-")]
    for folder in folders:
        _seed(kind, folder)
    atheris.Setup(args, _rules if kind == "rules" else _ledger)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
