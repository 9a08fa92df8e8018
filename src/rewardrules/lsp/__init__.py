"""Stage 7, lsp: the language server (`rewardrules lsp`, docs/editor.md).

Takes an editor's open documents, as text, over the Language Server
Protocol (stdio). Gives what `check` and `fmt` give, as the editor wants
it: the same diagnostics (`report.findings`), formatting, hover,
completion, go to definition, references, document symbols, rename and
did-you-mean code actions; a code lens that runs a rule test. Modules:
`positions` (offsets and the editor's UTF-16 positions), `symbols` (what
each name in a document declares or refers to), `documents` (one
document's analysis, bounded), `features` (the answers, as protocol
types), `runs` (running a rule test against its open rule file) and
`server` (pygls: the wiring, and the guard that keeps every failure from
reaching the editor as a traceback).

`pygls` is an optional dependency (`pip install 'rewardrules[lsp]'`,
with its `lsprotocol`, whose types every module here speaks): no other
stage imports this one, and `cli/lsp.py` says how to install it when it
is missing.
"""
