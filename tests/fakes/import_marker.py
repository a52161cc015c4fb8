"""A module no objective registration names: importing it leaves a mark on disk.

The security tests store experiments whose objective is named ``tests.fakes.import_marker``
or ``tests.fakes.import_marker:KIND``. A worker that turned such a name into an import would
run this module's top level, which creates the file named by the environment variable
``IMPORT_MARKER_PATH`` (no ``OCRTUNE_`` prefix: the end-to-end launcher strips those).
The tests then look for that file, in whichever process the import would have happened.
"""

from __future__ import annotations

import os
from pathlib import Path

MARKER_ENV = "IMPORT_MARKER_PATH"

_marker = os.environ.get(MARKER_ENV)
if _marker:
    Path(_marker).touch()

# What an objective name of the form "module:attribute" would point at.
KIND = "imported from the database"
