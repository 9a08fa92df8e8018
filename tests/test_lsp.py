"""The language server as `check` and `fmt`: the same diagnostics (codes,
messages, help, ranges, `--strict` warnings), rule tests checked as you
type, and `fmt` as the editor's formatting; driven over stdio as an editor
drives it (tests/lsp_client.py). The expected diagnostics are what
`report.findings`, the function `rewardrules check` runs, says of the
same text."""

from __future__ import annotations

from lsprotocol import types
from pytest_lsp import LanguageClient

from .lsp_client import ASYNC, RULESET, change_text, client, diagnostics, expected, got, open_text, uri

pytestmark = ASYNC
__all__ = ["client"]  # the fixture


TYPO = RULESET.read_text(encoding="utf-8").replace(
    "count payment where payment.amount", "count payment where payment.amout"
)


async def test_diagnostics_are_those_of_check(client: LanguageClient) -> None:
    found = await open_text(client, TYPO)
    assert got(found) == expected(TYPO)
    assert [d.code for d in found] == ["RR102"]
    assert "did you mean `amount`?" in found[0].message
    assert found[0].severity == types.DiagnosticSeverity.Error
    assert found[0].source == "rewardrules"


async def test_diagnostics_follow_the_edits(client: LanguageClient) -> None:
    assert await open_text(client, TYPO)
    fixed = RULESET.read_text(encoding="utf-8")
    assert await change_text(client, fixed, 2) == []
    broken = fixed.replace("milestone ten_referrals", "milestone ten_referrals {")
    found = await change_text(client, broken, 3)
    assert got(found) == expected(broken)
    assert found


async def test_strict_warnings_are_included(client: LanguageClient) -> None:
    text = RULESET.read_text(encoding="utf-8") + "\nevent visit { page: text }\n"
    found = await open_text(client, text)
    assert got(found) == expected(text)
    assert "RR604" in [str(d.code) for d in found]  # the event nothing uses
    assert all(d.severity == types.DiagnosticSeverity.Warning for d in found if str(d.code).startswith("RR6"))


async def test_formatting_is_fmt(client: LanguageClient) -> None:
    from rewardrules.syntax.formatter import format_text

    messy = "ruleset  demo\nevent payment {amount: money USD}\nmetric paid = count payment\n"
    await open_text(client, messy)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(
            text_document=types.TextDocumentIdentifier(uri=uri()),
            options=types.FormattingOptions(tab_size=2, insert_spaces=True),
        )
    )
    assert edits is not None and len(edits) == 1
    assert edits[0].range.start == types.Position(0, 0)
    assert edits[0].new_text == format_text(messy)[0]
    assert edits[0].new_text != messy


def _test_file(milestone: str) -> str:
    return (
        '[[case]]\nname = "a conversion"\nevents = [\n'
        '  { id = "r1", at = 2026-01-01T10:00:00Z, type = "referral", referrer = "alice", referee = "bob" },\n'
        "]\n"
        f'expect_none = [{{ milestone = "{milestone}" }}]\n'
    )


async def test_a_rule_test_names_the_milestones_of_its_open_rule_file(client: LanguageClient) -> None:
    """A typo in an `expect_none` would pass forever: the test file says so
    as it is typed, as `rewardrules test` does, when its rule file is open."""
    await open_text(client, RULESET.read_text(encoding="utf-8"), "rm.rules")
    found = await open_text(client, _test_file("five_referals"), "rm.test.toml")
    assert len(found) == 1
    assert "has no milestone `five_referals`" in found[0].message
    assert found[0].message.endswith("help: did you mean `five_referrals`?")
    assert found[0].range.start.line == 0  # the case's `[[case]]` line
    assert await open_text(client, _test_file("five_referrals"), "rm.test.toml") == []


async def test_a_rule_test_follows_its_rule_file(client: LanguageClient) -> None:
    """Renaming the milestone in the rule file shows the test that still
    names the old one, without touching the test file."""
    text = RULESET.read_text(encoding="utf-8")
    await open_text(client, text, "follow.rules")
    assert await open_text(client, _test_file("five_referrals"), "follow.test.toml") == []
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri("follow.rules"), version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text.replace("five_referrals", "five"))],
        )
    )
    found = await diagnostics(client, uri("follow.test.toml"))
    assert ["has no milestone `five_referrals`" in d.message for d in found] == [True]


async def test_a_rule_test_that_is_not_toml(client: LanguageClient) -> None:
    found = await open_text(client, '[[case]]\nname = "x\n', "broken.test.toml")
    assert len(found) == 1 and found[0].message.startswith("invalid TOML: ")
    assert found[0].range.start.line == 1


async def test_a_position_counts_utf16_as_the_editor_does(client: LanguageClient) -> None:
    """A title with an emoji (two UTF-16 units) before the error: the range
    starts where the editor shows the misspelt word."""
    text = 'ruleset demo "🎉 party"  uknown\n'
    found = await open_text(client, text, "emoji.rules")
    assert found
    start = found[0].range.start
    assert (start.line, start.character) == (0, text.index("uknown") + 1)


TESTS = RULESET.with_name("referral_milestones.test.toml").read_text(encoding="utf-8")


async def _lens(client: LanguageClient, name: str) -> types.Command:
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri(name)))
    )
    assert lenses is not None and len(lenses) == 1 and lenses[0].command is not None
    return lenses[0].command


async def _run(client: LanguageClient, command: types.Command) -> tuple[str, list[types.Diagnostic]]:
    summary = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
    )
    assert isinstance(summary, str) and "passed" in summary, summary
    return summary, list(client.diagnostics.get(command.arguments[0], []))  # published before the answer


async def test_a_code_lens_runs_the_rule_tests(client: LanguageClient) -> None:
    """The lens runs the cases against the rule file as it is open, the way
    `rewardrules test` runs them; a failure shows at its case, with the lines
    `rewardrules test` prints for it."""
    await open_text(client, TESTS, "lens.test.toml")
    command = await _lens(client, "lens.test.toml")
    assert command.title == "Open lens.rules to run these rule tests" and not command.arguments
    rules = RULESET.read_text(encoding="utf-8")
    await open_text(client, rules, "lens.rules")
    command = await _lens(client, "lens.test.toml")
    assert command.title == "▶ Run the rule tests" and list(command.arguments or []) == [uri("lens.test.toml")]
    cases = TESTS.count("[[case]]")
    assert await _run(client, command) == (f"{cases} passed, 0 failed", [])
    await change_text(
        client, rules.replace("reward referrer gift_card 50 USD", "reward referrer gift_card 40 USD"), 2, "lens.rules"
    )
    summary, found = await _run(client, command)
    assert summary.endswith(" failed") and not summary.endswith(" 0 failed")
    assert found and all(d.severity == types.DiagnosticSeverity.Error for d in found)
    first = found[0]
    assert first.message.startswith("FAIL  `") and "missing: " in first.message
    assert "amount: expected " in first.message
    assert TESTS.splitlines()[first.range.start.line].startswith("[[case]]")
