"""The data flows one way: nothing on a real run's path loads the reference target; no catalog ID in code."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import vpsconform

PACKAGE = Path(vpsconform.__file__).parent
CATALOG_ID = re.compile(r"\b[A-Z]+-\d{2}\b")


def test_a_run_against_a_real_target_never_imports_the_reference_target() -> None:
    code = (
        "import sys, vpsconform.cli, vpsconform.plugin, vpsconform.runner, vpsconform.reporting, "
        "vpsconform.cleanup, vpsconform.fuzzing, vpsconform.strength; "
        "print(sorted(m for m in sys.modules if m.startswith(('vpsconform.reference', 'vpsconform.selftest', "
        "'vpsconform.embedded'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _strings_outside_docstrings(tree: ast.AST) -> list[str]:
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_library_code_names_no_catalog_id() -> None:
    """Requirement IDs live in spec/; the reference target (a test double declaring its faults) excepted."""
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        if "reference" in path.relative_to(PACKAGE).parts:
            continue
        found = [s for s in _strings_outside_docstrings(ast.parse(path.read_text())) if CATALOG_ID.search(s)]
        if found:
            offenders[str(path.relative_to(PACKAGE))] = found
    assert offenders == {}


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 430
    }
    assert long == {}
