"""Stage 1, syntax: rule-file text in, syntax tree out.

Takes ``core``. Gives the parser (``parser``, with Lark's tables generated
into ``_grammar_tables``), the tree's nodes (``nodes``), the formatter behind
``rewardrules fmt`` (``formatter``) and the Pygments highlighter
(``highlight``; the entry point still names ``rewardrules.lexer``).
"""
