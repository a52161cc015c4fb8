"""Type aliases for plain JSON values, the only form in which values are stored."""

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np

JsonScalar: TypeAlias = str | int | float | bool | None
JsonValue: TypeAlias = JsonScalar | Sequence["JsonValue"] | Mapping[str, "JsonValue"]
JsonObject: TypeAlias = Mapping[str, JsonValue]


def to_plain(value: Any) -> Any:
    """``value`` with numpy scalars made Python numbers, in plain dicts and lists.

    hyperopt hands back numpy scalars; documents and JSON hold plain Python values.
    """
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value
