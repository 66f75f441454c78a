"""`judgeserve suites`: create, list and show a project's suites over REST; `load-examples` (server) stores the
bundled example suites (MT-Bench, Vicuna bench) in the database directly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli import remote
from service.cli.remote import API_KEY, JSON_OUT, RETRIES, URL, ExitCode, fail
from service.cli.server_extra import server_command
from service.cli.settings_options import settings_with
from service.client import NotFound

app = typer.Typer(help="Suites: create (JSON or JSONL files; a name already used gets the next version), list, show.",
                  no_args_is_help=True)
ITEMS_SHOWN = 20


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Suite name; an existing name gets its next version.")],
    file: Annotated[Path, typer.Option("--file", "-f", help="JSONL (one item per line) or a JSON file: a list of "
                                       "items or {\"items\": [...], \"description\", \"baseline_model\"}.")],
    description: Annotated[Optional[str], typer.Option(help="What the suite holds.")] = None,
    baseline_model: Annotated[Optional[str], typer.Option(help="The model whose responses baseline_response holds.")] = None,
    if_changed: Annotated[bool, typer.Option(
        "--if-changed", help="Create a version only when the file differs from the latest one (for CI: the "
                             "suite version, and so the gate's baseline, stays the same while the file does).")] = False,
    url: URL = None, api_key: API_KEY = None, retries: RETRIES = 3, as_json: JSON_OUT = False,
) -> None:
    """Upload a suite version from a file (items: id, prompt or turns, category, reference, baseline_response…)."""
    with remote.connect(url, api_key, retries) as client:
        unchanged = _unchanged(client, name, file, description, baseline_model) if if_changed else None
        if unchanged is not None:
            if as_json:
                remote.print_json(unchanged.model_dump(mode="json") | {"created": False})
            else:
                typer.echo(f"unchanged {unchanged.name} version {unchanged.version} ({unchanged.n_items} items)")
            return
        if file.suffix.lower() == ".json":
            items, description, baseline_model = _json_suite(file, description, baseline_model)
            with remote.errors_to_exit_codes():
                suite = client.create_suite(name, items, description=description, baseline_model=baseline_model)
        else:
            if not file.is_file():
                raise fail(f"--file {file}: no such file", ExitCode.USAGE)
            with remote.errors_to_exit_codes(remote.line_locator(str(file))):
                suite = client.upload_suite(file, name=name, description=description, baseline_model=baseline_model)
    if as_json:
        remote.print_json(suite.model_dump(mode="json") | {"created": True})
        return
    typer.echo(f"created {suite.name} version {suite.version} ({suite.n_items} items)")


def _unchanged(client, name: str, file: Path, description: str | None, baseline_model: str | None):
    """The latest version when the file holds exactly its items (and the header fields given match), else None."""
    if file.suffix.lower() == ".json":
        items, description, baseline_model = _json_suite(file, description, baseline_model)
    else:
        items = _jsonl_items(file)
    try:
        latest = client.get_suite(name, limit=1000)
    except NotFound:
        return None
    if latest.n_items != len(items) or any(given is not None and given != stored for given, stored in (
            (description, latest.description), (baseline_model, latest.baseline_model))):
        return None
    stored, cursor = list(latest.items), latest.next_cursor
    while cursor:
        page = client.get_suite(name, version=latest.version, limit=1000, cursor=cursor)
        stored, cursor = stored + page.items, page.next_cursor
    return latest if [_plain(i) for i in items] == [_plain(i) for i in stored] else None


def _jsonl_items(file: Path) -> list:
    """The items of a JSONL file; none when it cannot be read (the upload then reports its lines)."""
    try:
        return [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return []


def _plain(item: object) -> object:
    """An item as stored: without its null fields."""
    return {k: v for k, v in item.items() if v is not None} if isinstance(item, dict) else item


def _json_suite(file: Path, description: str | None, baseline_model: str | None) -> tuple[list, str | None, str | None]:
    """Items (and the header fields, unless given as flags) of a JSON suite file; exit 2 when it is not one."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise fail(f"--file {file}: cannot read it as JSON ({exc})", ExitCode.USAGE) from None
    if isinstance(data, list):
        return data, description, baseline_model
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return data["items"], description or data.get("description"), baseline_model or data.get("baseline_model")
    raise fail(f"--file {file}: expected a list of items or an object with \"items\"", ExitCode.USAGE)


@app.command("list")
def list_suites(url: URL = None, api_key: API_KEY = None, retries: RETRIES = 3, as_json: JSON_OUT = False) -> None:
    """The latest version of every suite of the project."""
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        suites = client.suites()
    if as_json:
        remote.print_json([s.model_dump(mode="json") for s in suites])
        return
    if not suites:
        typer.echo("no suites yet: judgeserve suites create NAME --file items.jsonl")
    for s in suites:
        typer.echo(f"{s.name}  version {s.version}  {s.n_items} items" + (f"  baseline {s.baseline_model}"
                                                                            if s.baseline_model else "")
                   + (f"  — {s.description}" if s.description else ""))


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Suite name.")],
    version: Annotated[Optional[int], typer.Option(min=1, help="Version (default: the latest).")] = None,
    items: Annotated[int, typer.Option(min=0, max=1000, help="How many items to show.")] = ITEMS_SHOWN,
    url: URL = None, api_key: API_KEY = None, retries: RETRIES = 3, as_json: JSON_OUT = False,
) -> None:
    """One suite version: its fields and its first items."""
    with remote.connect(url, api_key, retries) as client, remote.errors_to_exit_codes():
        suite = client.get_suite(name, version=version, limit=max(items, 1))
    shown = suite.items[:items]
    if as_json:
        remote.print_json(suite.model_dump(mode="json") | {"items": shown})
        return
    typer.echo(f"{suite.name} version {suite.version}: {suite.n_items} items"
               + (f", baseline {suite.baseline_model}" if suite.baseline_model else "")
               + (f"\n  {suite.description}" if suite.description else ""))
    for item in shown:
        text = item.get("prompt") or " / ".join(item.get("turns") or [])
        category = f" [{item['category']}]" if item.get("category") else ""
        typer.echo(f"  {item.get('id')}{category}: {' '.join(str(text).split())[:100]}")
    if suite.n_items and suite.n_items > len(shown):
        typer.echo(f"  … {suite.n_items - len(shown)} more (--items N, or --json)")


@app.command("load-examples")
@server_command
def load_examples(
    data_dir: Annotated[Optional[Path], typer.Option(help="Embedded mode: where the SQLite file lives.")] = None,
    project: Annotated[str, typer.Option(help="The project the suites belong to (created when new).")] = "default",
) -> None:
    """Create the bundled example suites that do not exist yet, and print each one."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from service.db.engine import session_scope
    from service.projects import repository
    from service.suites.service import ensure_example_suites

    settings = settings_with(data_dir)
    try:
        with session_scope(settings.effective_database_url()) as session:
            owner = repository.get_project_by_name(session, project) or repository.add_project(session, project)
            results = ensure_example_suites(session, owner.id)
    except (OperationalError, ProgrammingError) as exc:
        typer.echo(f"cannot store the example suites ({type(exc).__name__}: {str(exc.orig).strip()}); "
                   "is the database up and migrated? run: judgeserve db upgrade", err=True)
        raise typer.Exit(1) from None
    for suite, created in results:
        state = "created" if created else "found"
        typer.echo(f"{state:7} {suite.name} version {suite.version} ({suite.n_items} items)")
