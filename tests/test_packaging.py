"""`pip install judgeserve` is the client and the CLI: they import nothing from the server extras, the
remote commands run without them, and the server commands exit 2 with the install hint instead."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from service.cli.server_extra import SERVER_HINT, SERVER_MODULES

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
EXTRAS = PROJECT["optional-dependencies"]
LIGHT = {"pydantic", "httpx", "typer", "pyyaml"}  # pyyaml: the CLI reads judgeserve.yaml
# what the base install must never import: the gateway's, the workers' and the judges' libraries
HEAVY = {"fastapi", "starlette", "sqlalchemy", "alembic", "psycopg", "redis", "rq", "numpy", "scipy", "uvicorn",
         "prometheus_client", "standardwebhooks", "pydantic_settings", "vllm", "torch", "workers"}
ENTRY_MODULES = ("service.client", "service.cli.main")


def requirement_names(requirements: list[str]) -> set[str]:
    """Canonical distribution names of requirement strings."""
    return {canonicalize_name(Requirement(r).name) for r in requirements}


@functools.cache
def top_modules(distribution: str) -> frozenset[str]:
    """The top-level import names an installed distribution provides."""
    return frozenset(module for module, dists in _packages_distributions().items()
                     if distribution in {canonicalize_name(d) for d in dists})


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    return dict(importlib.metadata.packages_distributions())


def closure(names: set[str]) -> set[str]:
    """``names`` and everything they require (without extras), as installed here."""
    environment = {**default_environment(), "extra": ""}
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for spec in importlib.metadata.requires(name) or []:
            requirement = Requirement(spec)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                todo.append(canonicalize_name(requirement.name))
    return seen


def module_file(module: str) -> Path | None:
    """The source file of a module of this repository, or None."""
    base = REPO.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def import_time_imports(path: Path) -> set[str]:
    """Absolute module names a file imports when it is imported (not inside functions or TYPE_CHECKING)."""
    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names
                             if module_file(f"{node.module}.{alias.name}"))
            elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)

    found: set[str] = set()
    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def third_party_imports(entry_modules: tuple[str, ...]) -> dict[str, str]:
    """Top-level third-party module → the repository module importing it, following our own imports."""
    outside: dict[str, str] = {}
    seen: set[str] = set()
    todo = list(entry_modules)
    while todo:
        module = todo.pop()
        parts = module.split(".")
        ancestors = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]  # importing a.b runs a/__init__ too
        for name in ancestors:
            path = module_file(name)
            if name in seen or path is None:
                continue
            seen.add(name)
            for imported in import_time_imports(path):
                top = imported.partition(".")[0]
                if top in ("service", "workers"):
                    todo.append(imported)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    outside.setdefault(top, name)
    return outside


def test_base_dependencies_are_the_light_list_and_the_extras_imply_server():
    assert requirement_names(PROJECT["dependencies"]) == LIGHT
    server = requirement_names(EXTRAS["server"])
    assert {"fastapi", "uvicorn", "pydantic-settings", "sqlalchemy", "alembic", "psycopg", "redis", "rq",
            "numpy", "scipy"} <= server
    assert not server & LIGHT
    for extra in ("cpu", "gpu", "dev"):
        assert "judgeserve[server]" in EXTRAS[extra], f"[{extra}] does not imply [server]"


def test_the_client_and_the_cli_import_only_what_the_base_install_provides():
    provided = set().union(*(top_modules(d) for d in closure(LIGHT)))
    imports = third_party_imports(ENTRY_MODULES)
    assert {"pydantic", "httpx", "typer"} <= set(imports)  # the walk does follow the imports
    missing = {module: importer for module, importer in imports.items() if module not in provided}
    assert not missing, f"imported at import time but not in the base install: {missing}"


def test_the_import_walk_sees_a_server_module():
    assert "pydantic_settings" in third_party_imports(("service.config",))
    assert "numpy" in third_party_imports(("service.core.paired",))


def test_server_commands_check_modules_of_the_server_extra():
    server = requirement_names(EXTRAS["server"])
    direct = set().union(*(top_modules(d) for d in server))
    assert set(SERVER_MODULES) <= direct
    # every blocked module comes with the server extra (vllm and torch with cpu/gpu), none with the base install
    with_server = set().union(*(top_modules(d) for d in closure(server)))
    assert HEAVY - {"workers", "vllm", "torch"} <= with_server
    assert not HEAVY & set().union(*(top_modules(d) for d in closure(LIGHT)))


def test_setuptools_ships_the_packages_and_the_typing_marker():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert setuptools["packages"]["find"]["include"] == ["service*", "workers*"]
    assert "py.typed" in setuptools["package-data"]["service.client"]
    assert (REPO / "service" / "client" / "py.typed").is_file()
    assert PROJECT["scripts"]["judgeserve"] == "service.cli.main:main"


# Runs in a fresh interpreter whose imports of HEAVY fail, as on a base install.
CHILD = r'''
import importlib.abc, json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BLOCKED = set(json.loads(sys.argv[1]))


class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None


sys.meta_path.insert(0, Blocker())
EVALUATION = {"id": "0b4f1c2e-8d3a-4f6b-9c1d-2e3f4a5b6c7d", "status": "running", "protocol": "pairwise",
              "judge": "j", "model": "m",
              "progress": {"total": 4, "done": 1, "failed": 0, "chunks_total": 1, "chunks_done": 0}}


class Service(BaseHTTPRequestHandler):
    def do_GET(self):
        found = self.path == "/v1/evaluations/" + EVALUATION["id"]
        body = json.dumps(EVALUATION if found else {}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Service)
threading.Thread(target=server.serve_forever, daemon=True).start()
url = f"http://127.0.0.1:{server.server_address[1]}"

import service.client
from typer.testing import CliRunner
from service.cli.main import app

with open(sys.argv[2], "w") as handle:
    handle.write('{"id": "q0", "prompt": "p", "response_a": "a", "response_b": "b"}\n')
runs = {}
for name, args in json.loads(sys.argv[3]).items():
    args = [url if arg == "URL" else arg for arg in args]
    result = CliRunner().invoke(app, args)
    unexpected = None if isinstance(result.exception, (SystemExit, type(None))) else repr(result.exception)
    runs[name] = {"exit_code": result.exit_code, "output": result.output, "exception": unexpected}
loaded = sorted({m.partition(".")[0] for m in sys.modules} & BLOCKED)
try:
    import service.config
    blocker_works = False
except ImportError:
    blocker_works = True
print(json.dumps({"runs": runs, "loaded": loaded, "blocker_works": blocker_works}))
'''

REMOTE_RUNS = {
    "help": ["--help"],
    "status help": ["status", "--help"],
    "submit help": ["submit", "--help"],
    "serve help": ["serve", "--help"],
    "db upgrade help": ["db", "upgrade", "--help"],
    "status": ["status", "0b4f1c2e-8d3a-4f6b-9c1d-2e3f4a5b6c7d", "--url", "URL", "--retries", "0"],
    "status missing": ["status", "9e8d7c6b-5a49-4382-a716-0f1e2d3c4b5a", "--url", "URL", "--retries", "0"],
    "gate rule": ["submit", "--file", "ITEMS", "--model", "m", "--judge", "j",
                  "--gate-against", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                  "--gate-rule", "vibes", "--url", "URL"],
}
SERVER_RUNS = {
    "serve": ["serve"],
    "worker": ["worker", "--judge", "embedded"],
    "demo": ["demo"],
    "db upgrade": ["db", "upgrade"],
    "models prepare": ["models", "prepare"],
    "suites load-examples": ["suites", "load-examples"],
    "keys create": ["keys", "create", "--project", "p"],
    "keys list": ["keys", "list"],
    "keys revoke": ["keys", "revoke", "js_abc"],
}


@pytest.fixture(scope="module")
def base_install(tmp_path_factory):
    """The CLI's answers in an interpreter that cannot import the server extras."""
    items = tmp_path_factory.mktemp("base") / "items.jsonl"
    runs = {name: [str(items) if arg == "ITEMS" else arg for arg in args]
            for name, args in {**REMOTE_RUNS, **SERVER_RUNS}.items()}
    child = subprocess.run([sys.executable, "-c", CHILD, json.dumps(sorted(HEAVY)), str(items), json.dumps(runs)],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    return json.loads(child.stdout.strip().splitlines()[-1])


def test_the_blocker_stops_server_imports(base_install):
    assert base_install["blocker_works"]


def test_the_base_install_imports_no_server_module(base_install):
    assert base_install["loaded"] == []


@pytest.mark.parametrize("name", list(REMOTE_RUNS))
def test_help_and_remote_commands_work_without_the_server_extra(base_install, name):
    run = base_install["runs"][name]
    assert run["exception"] is None, run
    if name == "status missing":
        assert run["exit_code"] == 2 and "9e8d7c6b-5a49-4382-a716-0f1e2d3c4b5a" in run["output"], run
    elif name == "gate rule":
        assert run["exit_code"] == 2, run
        assert "--gate-rule must be one of bound, bound_or_significant" in run["output"]
    else:
        assert run["exit_code"] == 0, run
    if name == "status":
        assert "0b4f1c2e-8d3a-4f6b-9c1d-2e3f4a5b6c7d" in run["output"] and "running" in run["output"]
    if name == "help":
        assert "serve" in run["output"] and "submit" in run["output"]


@pytest.mark.parametrize("name", list(SERVER_RUNS))
def test_server_commands_exit_2_with_the_install_hint(base_install, name):
    run = base_install["runs"][name]
    assert run["exit_code"] == 2, run
    assert SERVER_HINT in run["output"]
    assert "Traceback" not in run["output"]
