"""docs/faults.md names a test for every fault: each one named must exist.

The page is only worth reading if its right-hand column can be run; a test renamed or
removed without the page following would leave a row that nothing shows any more.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAULTS_PAGE = ROOT / "docs" / "faults.md"
# `tests/path.py::test_name` or `tests/path.py::TestClass::test_name`, in backticks.
TEST_ID = re.compile(r"`(tests/[^`:]+\.py)((?:::\w+)+)`")

_FUNCTIONS = ast.FunctionDef | ast.AsyncFunctionDef


def _classes() -> dict[str, ast.ClassDef]:
    """Every class defined at the top of a module under tests/, by name."""
    return {node.name: node for path in (ROOT / "tests").rglob("*.py")
            for node in ast.parse(path.read_text(encoding="utf-8")).body
            if isinstance(node, ast.ClassDef)}


def _has_method(class_name: str, method: str, classes: dict[str, ast.ClassDef]) -> bool:
    """Whether the class or one of its bases (the contract suites) defines the method."""
    node = classes.get(class_name)
    if node is None:
        return False
    if any(isinstance(item, _FUNCTIONS) and item.name == method for item in node.body):
        return True
    return any(isinstance(base, ast.Name) and _has_method(base.id, method, classes)
               for base in node.bases)


def _missing(page: str) -> list[str]:
    classes = _classes()
    missing = []
    for path_text, parts in sorted(set(TEST_ID.findall(page))):
        path = ROOT / path_text
        names = parts.removeprefix("::").split("::")
        if not path.is_file():
            missing.append(f"{path_text} (no such file)")
            continue
        module = ast.parse(path.read_text(encoding="utf-8")).body
        if len(names) == 1:
            found = any(isinstance(node, _FUNCTIONS) and node.name == names[0]
                        for node in module)
        else:
            class_name, method = names
            found = any(isinstance(node, ast.ClassDef) and node.name == class_name
                        for node in module) and _has_method(class_name, method, classes)
        if not found:
            missing.append(f"{path_text}::{'::'.join(names)}")
    return missing


def test_every_test_the_faults_page_names_exists() -> None:
    # Given the faults page
    page = FAULTS_PAGE.read_text(encoding="utf-8")

    # When each test it names is looked up in its file
    missing = _missing(page)

    # Then every one is defined there
    assert len(TEST_ID.findall(page)) > 100
    assert missing == [], "docs/faults.md names tests that do not exist: " + ", ".join(missing)


def test_the_check_reports_tests_files_and_inherited_tests_that_do_not_exist() -> None:
    page = ("| x | y | `tests/test_docs_faults.py::test_no_such_thing`, "
            "`tests/no_such_file.py::test_a`, "
            "`tests/store/test_mongo_store.py::TestMongoTrialStore::test_no_such_contract`, "
            "`tests/test_docs_faults.py::test_every_test_the_faults_page_names_exists` |")
    assert _missing(page) == [
        "tests/no_such_file.py (no such file)",
        "tests/store/test_mongo_store.py::TestMongoTrialStore::test_no_such_contract",
        "tests/test_docs_faults.py::test_no_such_thing",
    ]
