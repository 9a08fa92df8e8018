"""The award record's field list, written once.

The checker needs it (the names a message template may use), the compiler
(the record every compiled reward starts from) and scoring (the contract's
schema), so it lives in the bottom stage that all three take from; so do
the values its `role`, `kind` and `status` may take.
"""

from typing import Literal, get_args

#: Who an award pays.
Role = Literal["referrer", "referee"]
#: What an award pays.
Kind = Literal["cash", "credit", "discount", "gift_card", "storage", "upgrade", "item"]
#: Where an award stands.
Status = Literal["pending", "confirmed", "void"]
ROLES: tuple[str, ...] = get_args(Role)
KINDS: tuple[str, ...] = get_args(Kind)
STATUSES: tuple[str, ...] = get_args(Status)

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
