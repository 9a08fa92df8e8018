"""Reading a payload's fields, with the path of each for error messages.

A JSON object in (decimals exact, as :mod:`rewardrules.sources` reads
them), wrapped as an :class:`_Obj` with its path; typed values out, or a
:class:`_Malformed` naming the exact field (``data.object.items.data[0]``)
and what was expected. A field the mapping does not ask for is never
looked at, so old and new API versions both pass. The bottom of the
adapter: imports none of its modules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NoReturn


class _Malformed(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _Obj:
    """A JSON object inside a payload, with its path (``data.object.items``)
    so that every error names the exact field."""

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def field(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def fail(self, key: str, message: str) -> NoReturn:
        raise _Malformed(self.field(key), message)

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if not value:
            self.fail(key, "missing; expected a non-empty string")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or isinstance(value, str):
            return value
        self.fail(key, f"expected a string, not {_show(value)}")

    def integer(self, key: str) -> int:
        value = self.opt_integer(key)
        if value is None:
            self.fail(key, "missing; expected an integer")
        return value

    def opt_integer(self, key: str) -> int | None:
        """A non-negative integer (amounts in minor units, Unix seconds)."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(key, f"expected a non-negative integer, not {_show(value)}")
        return value

    def ref(self, key: str) -> str | None:
        """An id, whether the field holds it or the expanded object."""
        value = self.data.get(key)
        if value is None or (isinstance(value, str) and value):
            return value
        if isinstance(value, Mapping):
            return _Obj(value, self.field(key)).text("id")
        self.fail(key, f"expected an id or an object, not {_show(value)}")

    def child(self, key: str) -> _Obj | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.fail(key, f"expected an object, not {_show(value)}")
        return _Obj(value, self.field(key))

    def children(self, key: str) -> list[_Obj]:
        """The objects of a Stripe list (``{"object": "list", "data": [...]}``) or of a JSON array."""
        value = self.data.get(key)
        path = self.field(key)
        if value is None:
            return []
        if isinstance(value, Mapping):
            value, path = value.get("data"), f"{path}.data"
        if not isinstance(value, list):
            raise _Malformed(path, f"expected a list, not {_show(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise _Malformed(f"{path}[{i}]", f"expected an object, not {_show(item)}")
            out.append(_Obj(item, f"{path}[{i}]"))
        return out

    def entries(self, key: str) -> list[tuple[str, Any]]:
        """The raw items of a list that may hold ids or objects (``discounts``)."""
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(key, f"expected a list, not {_show(value)}")
        return [(f"{self.field(key)}[{i}]", item) for i, item in enumerate(value)]

    def metadata(self, key: str) -> str | None:
        """A metadata value; Stripe deletes a key by setting it to "", so "" is absent."""
        meta = self.child("metadata")
        if meta is None:
            return None
        value = meta.opt_text(key)
        return value.strip() or None if value is not None else None


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {json.dumps(value)[:40]}"
    return f"a JSON {'array' if isinstance(value, list) else 'object'}"
