"""The language server's answers about names: hover, completion, go to
definition, references, document symbols, rename and the did-you-mean
quick fixes, driven over stdio as an editor drives them
(tests/lsp_client.py)."""

from __future__ import annotations

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pytest_lsp import LanguageClient

from .lsp_client import ASYNC, at, change_text, client, open_text, uri

pytestmark = ASYNC
__all__ = ["client"]  # the fixture

RULES = """\
ruleset demo "Demo"

event payment { amount: money USD  plan: optional text }
event refund { payment: text }

metric paid = count payment where payment.amount > 0

program partners "Partner referrals" {
  metric revenue "Partner revenue" = sum payment.amount
  milestone big_spender "A big spender" {
    when revenue >= 500 USD and paid >= 2
    reward referrer cash 50 USD
    reward referee credit 10 USD
  }
}

program customers "Customer referrals" {
  milestone converted {
    when paid >= 1
    reward referrer cash 20 USD
  }
}
"""


def doc(name: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri(name))


def text_of(hover: types.Hover | None) -> str:
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    return hover.contents.value


async def test_hover_shows_a_metrics_definition_and_type(client: LanguageClient) -> None:
    found = await open_text(client, RULES, "hover.rules")
    assert all(d.severity == types.DiagnosticSeverity.Warning for d in found)  # the file checks
    where = at(RULES, "revenue >= 500", delta=2)
    hover = await client.text_document_hover_async(types.HoverParams(text_document=doc("hover.rules"), position=where))
    value = text_of(hover)
    assert 'metric revenue "Partner revenue" = sum payment.amount' in value
    assert "type: money (USD)" in value
    assert hover is not None and hover.range == types.Range(at(RULES, "revenue >= 500"), at(RULES, " >= 500"))


async def test_hover_shows_a_fields_type_and_unit(client: LanguageClient) -> None:
    await open_text(client, RULES, "hover.rules")
    where = at(RULES, "payment.amount > 0", delta=len("payment.a"))
    value = text_of(
        await client.text_document_hover_async(types.HoverParams(text_document=doc("hover.rules"), position=where))
    )
    assert "field `payment.amount`" in value and "type: money (USD)" in value


async def test_hover_shows_a_milestones_rewards(client: LanguageClient) -> None:
    await open_text(client, RULES, "hover.rules")
    where = at(RULES, "big_spender", delta=3)
    value = text_of(
        await client.text_document_hover_async(types.HoverParams(text_document=doc("hover.rules"), position=where))
    )
    assert "- `reward referrer cash 50 USD`" in value and "- `reward referee credit 10 USD`" in value
    assert "payout bound of this milestone:\n- per referral, to the referrer: 50.00 USD\n" in value
    assert "- per referral, to the referee: 10.00 USD\n" in value


async def test_hover_bounds_of_a_file_with_a_line_separator_in_its_name(client: LanguageClient) -> None:
    # the bounds' heading names the file: a U+2028 in the name starts no line of the hover
    name = "hover\u2028file.rules"
    await open_text(client, RULES, name)
    where = at(RULES, "big_spender", delta=3)
    value = text_of(await client.text_document_hover_async(types.HoverParams(text_document=doc(name), position=where)))
    bound = value.split("payout bound of this milestone:\n", 1)[1]
    assert bound.startswith("- per referral, to the referrer: 50.00 USD\n") and "program" not in bound


async def _complete(client: LanguageClient, text: str, name: str, where: types.Position) -> dict[str, str | None]:
    await open_text(client, text, name)
    found = await client.text_document_completion_async(types.CompletionParams(text_document=doc(name), position=where))
    items = found.items if isinstance(found, types.CompletionList) else found or []
    return {item.label: item.detail for item in items}


async def test_completion_offers_an_events_fields_after_its_name(client: LanguageClient) -> None:
    """As typed: the file checked a moment ago, and `payment.` does not
    parse yet; the fields are those of the last text that did."""
    await open_text(client, RULES, "complete.rules")
    text = RULES.replace("when paid >= 1", "when paid >= 1 and payment.")
    where = at(text, "payment.\n", delta=len("payment."))
    found = await change_text(client, text, 2, "complete.rules")
    assert [d.code for d in found] == ["RR001"]
    answer = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc("complete.rules"), position=where)
    )
    items = answer.items if isinstance(answer, types.CompletionList) else answer or []
    assert {item.label: item.detail for item in items} == {"amount": "payment: money (USD)", "plan": "payment: text"}


async def test_completion_offers_roles_then_kinds_after_reward(client: LanguageClient) -> None:
    from rewardrules.core.award import KINDS, ROLES

    text = RULES.replace("reward referrer cash 20 USD", "reward ")
    roles = await _complete(client, text, "roles.rules", at(text, "reward \n", delta=len("reward ")))
    assert set(roles) == set(ROLES)
    text = RULES.replace("reward referrer cash 20 USD", "reward referrer ")
    kinds = await _complete(client, text, "kinds.rules", at(text, "reward referrer \n", delta=len("reward referrer ")))
    assert set(kinds) == set(KINDS)


async def test_completion_offers_names_units_and_keywords(client: LanguageClient) -> None:
    labels = await _complete(client, RULES, "names.rules", at(RULES, "paid >= 1"))
    assert {"paid", "revenue", "big_spender", "converted", "payment", "partners"} <= set(labels)
    assert labels["paid"] == "metric" and labels["big_spender"] == "milestone"
    assert {"USD", "milestone", "reward", "when"} <= set(labels)


async def test_definition_and_references_of_a_shared_metric(client: LanguageClient) -> None:
    await open_text(client, RULES, "refs.rules")
    found = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc("refs.rules"), position=at(RULES, "paid >= 1"))
    )
    assert isinstance(found, types.Location)
    assert found.range.start == at(RULES, "paid = count")
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc("refs.rules"),
            position=at(RULES, "paid = count"),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    assert refs is not None
    assert [r.range.start for r in refs] == [at(RULES, "paid"), at(RULES, "paid >= 2"), at(RULES, "paid >= 1")]


async def test_references_of_an_event_and_its_field(client: LanguageClient) -> None:
    await open_text(client, RULES, "refs.rules")
    refs = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc("refs.rules"),
            position=at(RULES, "amount: money"),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert refs is not None
    assert [r.range.start for r in refs] == [
        at(RULES, "amount > 0"),
        at(RULES, "amount\n  milestone"),
    ]
    events = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc("refs.rules"),
            position=at(RULES, "payment {"),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert events is not None
    assert [r.range.start for r in events] == [
        at(RULES, "payment where"),
        at(RULES, "payment.amount > 0"),
        at(RULES, "payment.amount\n"),
    ]


async def test_document_symbols_are_the_files_outline(client: LanguageClient) -> None:
    await open_text(client, RULES, "outline.rules")
    found = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc("outline.rules"))
    )
    assert found is not None
    outline = [(s.name, [c.name for c in getattr(s, "children", None) or []]) for s in found]
    assert outline == [
        ("payment", ["amount", "plan"]),
        ("refund", ["payment"]),
        ("paid", []),
        ("partners", ["revenue", "big_spender"]),
        ("customers", ["converted"]),
    ]


async def test_rename_a_metric_everywhere_in_the_file(client: LanguageClient) -> None:
    await open_text(client, RULES, "rename.rules")
    edit = await client.text_document_rename_async(
        types.RenameParams(text_document=doc("rename.rules"), position=at(RULES, "paid >= 2"), new_name="payments")
    )
    assert edit is not None and edit.changes is not None
    edits = edit.changes[uri("rename.rules")]
    assert [e.range.start for e in edits] == [at(RULES, "paid"), at(RULES, "paid >= 2"), at(RULES, "paid >= 1")]
    assert {e.new_text for e in edits} == {"payments"}


async def test_rename_refuses_a_keyword_and_a_taken_name(client: LanguageClient) -> None:
    await open_text(client, RULES, "rename.rules")
    for new_name in ("milestone", "big_spender", "no spaces"):
        with pytest.raises(JsonRpcInvalidParams):
            await client.text_document_rename_async(
                types.RenameParams(
                    text_document=doc("rename.rules"), position=at(RULES, "paid >= 2"), new_name=new_name
                )
            )


async def test_rename_is_not_offered_for_a_field(client: LanguageClient) -> None:
    """A field is named by the ledger: renaming it in the file alone would
    break every event."""
    await open_text(client, RULES, "rename.rules")
    found = await client.text_document_prepare_rename_async(
        types.PrepareRenameParams(text_document=doc("rename.rules"), position=at(RULES, "amount > 0"))
    )
    assert found is None


async def test_quick_fix_applies_the_did_you_mean(client: LanguageClient) -> None:
    text = RULES.replace("payment.amount > 0", "payment.amout > 0")
    found = await open_text(client, text, "fix.rules")
    assert [d.code for d in found] == ["RR102"]
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc("fix.rules"),
            range=found[0].range,
            context=types.CodeActionContext(diagnostics=found),
        )
    )
    assert actions is not None and len(actions) == 1
    action = actions[0]
    assert isinstance(action, types.CodeAction) and action.edit is not None and action.edit.changes is not None
    (edit,) = action.edit.changes[uri("fix.rules")]
    assert edit.new_text == "amount"
    assert (edit.range.start, edit.range.end) == (at(text, "amout"), at(text, " > 0"))


async def test_hover_quotes_a_nested_declaration_as_indented_as_its_first_line(client: LanguageClient) -> None:
    await open_text(client, RULES, "hover.rules")
    value = text_of(
        await client.text_document_hover_async(
            types.HoverParams(text_document=doc("hover.rules"), position=at(RULES, "converted"))
        )
    )
    assert value.startswith(
        "```rewardrules\nmilestone converted {\n  when paid >= 1\n  reward referrer cash 20 USD\n}\n```"
    )
