"""Fixtures shared across test modules."""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from shared.errors import ConfigError
from shared.store.uri import MongoTarget, parse_mongo_uri
from tests.standin import StandinServer
from tests.standin.plan import (
    MONGO_URI_ENV,
    MongoPlan,
    check_reachable,
    drop_databases,
    plan_mongo,
)

# Line height of rendered test text, in pixels: glyphs about 30 px tall, well inside the
# size Tesseract reads best, so a failed read points at the code, not at the picture.
_LINE_HEIGHT_PX = 60

RenderText = Callable[[str], NDArray[np.uint8]]
MakeDataset = Callable[[Mapping[str, str]], Path]


def _render_text(text: str) -> NDArray[np.uint8]:
    lines = text.splitlines() or [""]
    width = 40 + 28 * max(len(line) for line in lines)
    image = np.full((_LINE_HEIGHT_PX * len(lines) + 40, width), 255, np.uint8)
    for row, line in enumerate(lines):
        cv2.putText(image, line, (20, _LINE_HEIGHT_PX * (row + 1)), cv2.FONT_HERSHEY_DUPLEX,
                    1.5, 0, 2, cv2.LINE_AA)
    return image


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """The commands set up logging for themselves (``configure_logging``, at INFO unless
    told otherwise): undo it after each test, so that no test sees another's log level."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def render_text() -> RenderText:
    """Draws text as black print on white, one line per line of text, large and clean."""
    return _render_text


@pytest.fixture
def make_dataset(tmp_path: Path) -> MakeDataset:
    """Writes a dataset folder from {name: text}: images/NAME.png rendered from the text."""

    def make(texts: Mapping[str, str]) -> Path:
        folder = tmp_path / "dataset"
        (folder / "images").mkdir(parents=True, exist_ok=True)
        (folder / "texts").mkdir(exist_ok=True)
        for name, text in texts.items():
            cv2.imwrite(str(folder / "images" / f"{name}.png"), _render_text(text))
            (folder / "texts" / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
        return folder

    return make


@pytest.fixture
def photos_dir() -> Path:
    """The real photo dataset named by OCRTUNE_PHOTOS; skips the test when it is unset."""
    value = os.environ.get("OCRTUNE_PHOTOS")
    if not value:
        pytest.skip("OCRTUNE_PHOTOS is not set; point it at a dataset folder with images/ "
                    "and texts/ (e.g. /work/shared/data/ocr-photos) to run this test")
    return Path(value)


# -- MongoDB: the real server OCRTUNE_TEST_MONGO_URI names, else the stand-in -----------

_MONGO_PLAN = pytest.StashKey[MongoPlan]()
_test_database_numbers = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[_MONGO_PLAN] = plan_mongo(os.environ.get(MONGO_URI_ENV))
    except ConfigError as err:
        raise pytest.UsageError(str(err)) from err


def pytest_report_header(config: pytest.Config) -> str:
    return config.stash[_MONGO_PLAN].header()


@pytest.fixture(scope="session")
def mongo_server(pytestconfig: pytest.Config) -> Iterator[MongoTarget]:
    """The session's MongoDB server; the stand-in is started when a test first needs it."""
    plan = pytestconfig.stash[_MONGO_PLAN]
    if plan.real is not None:
        check_reachable(plan.real)
        yield plan.real
        drop_databases(plan.real, prefix=plan.database_prefix)
        return
    with StandinServer(port=plan.standin_port) as standin:
        yield parse_mongo_uri(standin.uri)


@pytest.fixture
def mongo_target(pytestconfig: pytest.Config, mongo_server: MongoTarget
                 ) -> Iterator[MongoTarget]:
    """A MongoDB database for this test alone: empty at the start, dropped at the end."""
    target = pytestconfig.stash[_MONGO_PLAN].test_database(mongo_server,
                                                          next(_test_database_numbers))
    yield target
    drop_databases(mongo_server, [target.database])
