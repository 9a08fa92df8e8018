"""The award record's field list, written once.

The checker needs it (the names a message template may use), the compiler
(the record every compiled reward starts from) and scoring (the contract's
schema), so it lives in the bottom stage that all three take from.
"""

#: What an award pays and to whom, in the contract's order (PROGRAMS.md
#: section 2): every award record carries these, between its `id`/`at` and
#: its `status`.
PAYOUT_FIELDS = (
    "milestone",
    "role",
    "beneficiary",
    "referrer",
    "referee",
    "kind",
    "amount",
    "unit",
    "item",
)

#: The fields of an award record as the contract names them, in its order;
#: records carry `program`, `message` and (when explaining) `why` too.
CONTRACT_FIELDS = ("id", "at", *PAYOUT_FIELDS, "status")
