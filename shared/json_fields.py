"""Reading typed fields out of plain JSON objects, and checking their ranges.

Both objectives' parameters are parsed with these, so every malformed value gets the same
kind of message: the full field path, the value, and what is allowed.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any, TypeVar

from shared.errors import ParamsError

E = TypeVar("E", bound=enum.Enum)


class JsonFields:
    """Reads the fields of one JSON object; errors name the full field path."""

    def __init__(self, doc: object, path: str = "") -> None:
        if not isinstance(doc, Mapping):
            raise ParamsError(f"{path or 'parameters'} must be a JSON object, "
                              f"got {type(doc).__name__}")
        self._doc = doc
        self._path = path

    def name(self, key: str) -> str:
        """The field's full path, as messages show it."""
        return f"{self._path}.{key}" if self._path else key

    def optional(self, key: str) -> Any:
        """The raw value, or None when the field is absent or null."""
        return self._doc.get(key)

    def required(self, key: str, *, nullable: bool = False) -> Any:
        if key not in self._doc or (self._doc[key] is None and not nullable):
            raise ParamsError(f"{self.name(key)} is missing")
        return self._doc[key]

    def number(self, key: str) -> float:
        value = self.required(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParamsError(f"{self.name(key)}={value!r} must be a number")
        return float(value)

    def optional_number(self, key: str) -> float | None:
        return None if self._doc.get(key) is None else self.number(key)

    def integer(self, key: str) -> int:
        value = self.required(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                not math.isfinite(value) or value != int(value)):
            raise ParamsError(f"{self.name(key)}={value!r} must be a whole number")
        return int(value)

    def optional_integer(self, key: str) -> int | None:
        return None if self._doc.get(key) is None else self.integer(key)

    def boolean(self, key: str) -> bool:
        value = self.required(key)
        if not isinstance(value, bool):
            raise ParamsError(f"{self.name(key)}={value!r} must be true or false")
        return value

    def choice(self, key: str, allowed: type[E]) -> E:
        value = self.required(key)
        try:
            return allowed(value)
        except ValueError:
            options = ", ".join(str(member.value) for member in allowed)
            raise ParamsError(f"{self.name(key)}={value!r} is not one of: {options}"
                              ) from None

    def reject_unknown(self, known: set[str]) -> None:
        unknown = sorted(set(self._doc) - known)
        if unknown:
            raise ParamsError(f"unknown field(s) {', '.join(map(self.name, unknown))}; "
                              f"allowed here: {', '.join(sorted(known))}")


def check_int(name: str, value: int, bounds: tuple[int, int], *, odd: bool = False) -> None:
    """Raise ParamsError unless ``value`` is a whole number in ``bounds`` (and odd)."""
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamsError(f"{name}={value!r} must be a whole number in [{low}, {high}]")
    if not low <= value <= high:
        raise ParamsError(f"{name}={value} is outside the allowed range [{low}, {high}]")
    if odd and value % 2 == 0:
        raise ParamsError(f"{name}={value} must be odd (OpenCV needs an odd window); "
                          f"use {value - 1} or {value + 1}")


def check_number(name: str, value: float, bounds: tuple[float, float]) -> None:
    """Raise ParamsError unless ``value`` is a number in ``bounds`` (NaN never is)."""
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ParamsError(f"{name}={value!r} must be a number in [{low:g}, {high:g}]")
    if not low <= value <= high:  # also rejects NaN, which compares false with everything
        raise ParamsError(f"{name}={value!r} is outside the allowed range [{low:g}, {high:g}]")
