"""A document is untrusted: the language server bounds what it parses,
answers nonsense positions with nothing, reads no file it was not sent,
and never lets a traceback reach the editor (tests/lsp_client.py drives it
over stdio as an editor does)."""

from __future__ import annotations

import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from rewardrules.core import limits

from .lsp_client import ASYNC, CONFIG, RULESET, at, client, diagnostics, open_text, uri

pytestmark = ASYNC
__all__ = ["client"]  # the fixture

REAL_RULES = RULESET.as_uri()
REAL_TESTS = RULESET.with_name("referral_milestones.test.toml").as_uri()


async def _ask_everything(client: LanguageClient, target: str, where: types.Position) -> list[object]:
    document = types.TextDocumentIdentifier(uri=target)
    return [
        await client.text_document_hover_async(types.HoverParams(text_document=document, position=where)),
        await client.text_document_definition_async(types.DefinitionParams(text_document=document, position=where)),
        await client.text_document_completion_async(types.CompletionParams(text_document=document, position=where)),
        await client.text_document_references_async(
            types.ReferenceParams(
                text_document=document, position=where, context=types.ReferenceContext(include_declaration=True)
            )
        ),
        await client.text_document_formatting_async(
            types.DocumentFormattingParams(
                text_document=document, options=types.FormattingOptions(tab_size=2, insert_spaces=True)
            )
        ),
    ]


def _no_traceback(client: LanguageClient) -> None:
    said = "\n".join(m.message for m in client.log_messages)
    assert "Traceback" not in said and "failed" not in said, said


async def test_a_document_past_the_limit_is_not_parsed(client: LanguageClient) -> None:
    text = "# " + "x" * limits.MAX_RULE_FILE_CHARS + "\n"
    found = await open_text(client, text, "huge.rules")
    assert [d.message for d in found] == [
        f"it is larger than {limits.MAX_RULE_FILE_CHARS} characters, the limit for a rule file"
    ]
    answers = await _ask_everything(client, uri("huge.rules"), types.Position(0, 5))
    assert answers[0] is None and answers[1] is None and answers[3] is None and answers[4] is None
    _no_traceback(client)


async def test_positions_past_the_end_and_unopened_documents_get_nothing(client: LanguageClient) -> None:
    text = RULESET.read_text(encoding="utf-8")
    await open_text(client, text, "far.rules")
    for where in (types.Position(10**6, 0), types.Position(0, 10**6), types.Position(3, 10**6)):
        answers = await _ask_everything(client, uri("far.rules"), where)
        assert answers[0] is None and answers[1] is None and answers[3] is None
    assert await _ask_everything(client, uri("never-opened.rules"), types.Position(0, 0)) == [None] * 5
    _no_traceback(client)


async def test_deep_nesting_is_a_diagnostic_not_a_crash(client: LanguageClient) -> None:
    depth = 5_000
    text = RULESET.read_text(encoding="utf-8") + f"\nmetric deep = {'(1 + ' * depth}1{')' * depth}\n"
    found = await open_text(client, text, "deep.rules")
    assert [d.code for d in found] == ["RR401"]
    await _ask_everything(client, uri("deep.rules"), at(text, "deep"))
    _no_traceback(client)


async def test_the_text_sent_is_what_is_checked_not_the_file_on_disk(client: LanguageClient) -> None:
    typo = RULESET.read_text(encoding="utf-8").replace("payment.amount > 0", "payment.amout > 0")
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=REAL_RULES, language_id="rewardrules", version=1, text=typo)
        )
    )
    found = await diagnostics(client, REAL_RULES)
    assert found and {d.code for d in found} == {"RR102"}
    client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=REAL_RULES))
    )


async def test_a_rule_test_is_not_checked_against_a_rule_file_it_was_not_sent(client: LanguageClient) -> None:
    """`referral_milestones.rules` is on disk beside the test file, but not
    open: the server does not read it, so it cannot say the milestone is
    unknown (`rewardrules test` will)."""
    text = RULESET.with_name("referral_milestones.test.toml").read_text(encoding="utf-8")
    typo = text.replace('milestone = "welcome_discount"', 'milestone = "welcome_discont"')
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=REAL_TESTS, language_id="toml", version=1, text=typo)
        )
    )
    assert await diagnostics(client, REAL_TESTS) == []


async def test_text_that_is_not_utf8_writable(client: LanguageClient) -> None:
    """JSON may carry a lone surrogate (`"\\ud800"`), which no file holds:
    the title that has one is `check`'s diagnostic, and the server goes on."""
    text = 'ruleset demo "half \ud800 a pair"\n'
    found = await open_text(client, text, "surrogate.rules")
    assert found and all(str(d.code).startswith("RR") for d in found)
    await _ask_everything(client, uri("surrogate.rules"), types.Position(0, 15))
    assert await open_text(client, RULESET.read_text(encoding="utf-8"), "after.rules") == []
    _no_traceback(client)


LAX = ClientServerConfig(server_command=CONFIG.server_command, server_env=CONFIG.server_env)


@pytest_lsp.fixture(config=LAX, scope="module")
async def lax(lsp_client: LanguageClient):
    await lsp_client.initialize_session(
        types.InitializeParams(capabilities=types.ClientCapabilities(), initialization_options={"strict": False})
    )
    yield
    await lsp_client.shutdown_session()


async def test_strict_warnings_can_be_left_out(lax: LanguageClient) -> None:
    """`{"strict": false}`: the diagnostics of `check` without `--strict`."""
    text = RULESET.read_text(encoding="utf-8") + "\nevent visit { page: text }\n"
    assert await open_text(lax, text, "lax.rules") == []
    broken = text.replace("count payment where payment.amount", "count payment where payment.amout")
    assert [d.code for d in await open_text(lax, broken, "lax-broken.rules")] == ["RR102"]
