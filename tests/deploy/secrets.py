"""A scan for passwords written into files that get committed.

It looks for values assigned to password-, secret- or token-like names, and for passwords
inside MongoDB URIs. Variable references (``${...}``, ``$NAME``, ``$(...)``), ``<...>``
and all-capitals placeholders such as ``PASSWORD`` are fine; any other value is reported.
"""

from __future__ import annotations

import re

_ASSIGNED = re.compile(
    r"(?i)[\w-]*(?:password|passwd|secret|token)\w*[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"(?P<value>[^\s\"',]*)")
_URI_PASSWORD = re.compile(r"mongodb(?:\+srv)?://[^:/@\s]+:(?P<value>[^@\s]+)@")


def is_placeholder(value: str) -> bool:
    """Empty, a variable reference, <something>, or an all-capitals word like PASSWORD."""
    return value == "" or value[0] in "$<" or re.fullmatch(r"[A-Z_]+", value) is not None


def likely_secrets(text: str) -> list[str]:
    """The passages of ``text`` that look like a password written out."""
    # ${...} comes from the environment; blank its text (a compose error message may
    # contain colons) so that only what stands outside it is judged.
    text = re.sub(r"\$\{[^}]*\}", "${}", text)
    matches = [*_ASSIGNED.finditer(text), *_URI_PASSWORD.finditer(text)]
    return [match[0] for match in matches if not is_placeholder(match["value"])]
