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



def non_json_path(value: Any, path: str) -> str | None:
    """The path of the first value inside ``value`` that JSON cannot hold, or None.

    Documents read from MongoDB may hold BSON values that JSON has no form for (binary
    data, datetimes, ObjectIds); ocr-tune never writes them where plain values belong.
    """
    if value is None or isinstance(value, str | int | float | bool):
        return None
    children: list[tuple[str, Any]]
    if isinstance(value, Mapping):
        if not all(isinstance(key, str) for key in value):
            return path
        children = [(f"{path}.{key}", item) for key, item in value.items()]
    elif isinstance(value, list | tuple):
        children = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    else:
        return path
    for child_path, item in children:
        found = non_json_path(item, child_path)
        if found is not None:
            return found
    return None
