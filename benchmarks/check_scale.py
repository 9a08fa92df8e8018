"""How `check` scales with the size of a rule file: prints figures, asserts nothing.

Three generated files near the 1,000,000-character limit:

* a valid file of N milestones (``valid``),
* the same file with a syntax error in its first milestone (``early-error``),
* the same file with a `}` missing in its first milestone (``missing-brace``),

two files of about 1 MB of one-line declarations with an error on line 1
(``metrics-error``, ``units-error``: the old recovery was quadratic in the
number of declarations), and one file whose single line is about 1 MB long
with an error at its end (``long-line``; the rendered diagnostic's size is
printed too).

    python benchmarks/check_scale.py              # 10,000 milestones
    python benchmarks/check_scale.py --milestones 2000 5000 10000

Linear scaling shows as a constant time per milestone across the sizes.
"""

from __future__ import annotations

import argparse
import time

from rewardrules.check.checker import check_text
from rewardrules.core.diagnostics import render

HEAD = "event payment { amount: money USD }\nmetric paid = count payment where payment.amount > 0\n"


def milestone(i: int) -> str:
    """One valid milestone block, about 100 characters."""
    return f'milestone m{i} "Tier {i}" {{\n  when paid >= {i + 1}\n  reward referrer cash {i % 90 + 10} USD\n}}\n'


def files(count: int) -> dict[str, str]:
    """The generated rule files of one size, by name."""
    blocks = [milestone(i) for i in range(count)]
    valid = HEAD + "".join(blocks)
    broken = blocks[0].replace(">=", "=", 1)
    unclosed = blocks[0].rstrip().removesuffix("}") + "\n"
    return {
        "valid": valid,
        "early-error": HEAD + broken + "".join(blocks[1:]),
        "missing-brace": HEAD + unclosed + "".join(blocks[1:]),
    }


def long_line() -> str:
    """One line of about 1 MB: a long list, then a syntax error at its end."""
    items = ", ".join(f'"v{i}"' for i in range(90_000))
    return HEAD.replace("\n", " ") + f"metric x = count payment where payment.amount in [{items}] ="


def one_liners() -> dict[str, str]:
    """About 1 MB of one-line declarations, with a syntax error on line 1."""
    metrics = "".join(f"metric m{i} = {i}\n" for i in range(60_000))[:990_000]
    units = "".join(f"unit u{i}\n" for i in range(84_200))
    return {"metrics-error": "metric = 1\n" + metrics, "units-error": ("unit = 1\n" + units)[:999_000]}


def measure(name: str, text: str) -> None:
    """Check `text` once and print its size, the CPU time and what was found."""
    start = time.process_time()
    _, diagnostics = check_text(text, f"{name}.rules")
    rendered = "\n".join(render(d) for d in diagnostics)
    seconds = time.process_time() - start
    codes = ",".join(sorted({d.code for d in diagnostics})) or "-"
    print(
        f"| {name} | {len(text):,} | {seconds:.2f} s | {len(diagnostics)} ({codes}) | {len(rendered):,} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--milestones", type=int, nargs="+", default=[10_000])
    args = parser.parse_args()
    check_text(HEAD + milestone(0))  # build the parser outside the timings
    print("| file | characters | check | diagnostics | rendered characters |")
    print("| --- | ---: | ---: | --- | ---: |")
    for count in args.milestones:
        for name, text in files(count).items():
            measure(f"{name}-{count}", text)
    for name, text in one_liners().items():
        measure(name, text)
    measure("long-line", long_line())


if __name__ == "__main__":
    main()
