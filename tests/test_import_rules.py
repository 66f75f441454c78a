"""Architecture rules: the core stays pure, and the service never imports the workers."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FRAMEWORKS = {"fastapi", "starlette", "sqlalchemy", "alembic", "rq", "redis", "httpx", "vllm", "uvicorn", "workers"}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a file imports, anywhere in it (including inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def python_files(package: str) -> list[Path]:
    return sorted((REPO / package).rglob("*.py"))


@pytest.mark.parametrize("path", python_files("service/core"), ids=lambda p: str(p.relative_to(REPO)))
def test_core_imports_no_framework(path):
    assert not imported_modules(path) & FRAMEWORKS


@pytest.mark.parametrize("path", python_files("service"), ids=lambda p: str(p.relative_to(REPO)))
def test_service_never_imports_workers(path):
    assert "workers" not in imported_modules(path)


def test_rule_checker_catches_violations(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\ndef f():\n    from sqlalchemy.orm import Session\n    import workers.jobs\n")
    assert imported_modules(bad) >= {"sqlalchemy", "workers"}
