"""`judgeserve demo`: start an embedded gateway, submit the bundled example over REST, print results."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import httpx
import typer

from service.cli.settings_options import settings_with
from service.examples import load_example

TERMINAL = ("completed", "failed", "cancelled")


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the demo's SQLite file and server log go.")] = Path(".judgeserve/demo"),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the evaluation.")] = 900.0,
    port: Annotated[Optional[int], typer.Option(help="Port for the demo gateway (default: a free one).")] = None,
) -> None:
    """Run a real evaluation (the bundled example) end to end on the bundled CPU judge, through the REST API."""
    settings = settings_with(data_dir)
    if not settings.embedded:
        _fail("the demo runs in embedded mode: unset JUDGESERVE_DATABASE_URL and JUDGESERVE_REDIS_URL")
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        _step("Preparing the bundled judge model (converted once, then cached)")
        from service.judges.bundled import ensure_bundled_model

        typer.echo(f"  model: {ensure_bundled_model(settings.resolved_model_cache_dir())}")
        port = port or _free_port()
        with _embedded_gateway(data_dir, port) as base_url:
            result = _run_example(base_url, timeout, settings.embedded_key_file().read_text(encoding="utf-8").strip())
    except DemoError as exc:
        _fail(str(exc))
    _print_result(*result)
    if result[0]["status"] != "completed":
        _fail(f"evaluation ended as {result[0]['status']}: {result[0].get('error')}")


def _step(message: str) -> None:
    typer.secho(f"==> {message}", bold=True)


def _fail(message: str) -> None:
    typer.secho(f"demo failed: {message}", fg="red", err=True)
    raise typer.Exit(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _embedded_gateway:
    """Context manager: `judgeserve serve` in embedded mode as a child process."""

    def __init__(self, data_dir: Path, port: int):
        self.data_dir, self.port = data_dir, port
        self.log_path = data_dir / "server.log"

    def __enter__(self) -> str:
        _step(f"Starting the gateway in embedded mode on port {self.port} (log: {self.log_path})")
        env = {k: v for k, v in os.environ.items() if k not in ("JUDGESERVE_DATABASE_URL", "JUDGESERVE_REDIS_URL")}
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service.cli.main", "serve", "--port", str(self.port),
             "--data-dir", str(self.data_dir)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )
        base_url = f"http://127.0.0.1:{self.port}"
        self._wait_ready(base_url)
        return base_url

    def _wait_ready(self, base_url: str, limit: float = 120.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DemoError(f"the gateway exited with code {self.process.returncode}:\n{self._log_tail()}")
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise DemoError(f"the gateway was not ready within {limit:.0f} s:\n{self._log_tail()}")

    def _log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _run_example(base_url: str, timeout: float, api_key: str) -> tuple[dict, list[dict]]:
    body = load_example()
    _step(f"Submitting {len(body['items'])} {body['protocol']} items (both orders) to POST /v1/evaluations")
    headers = {"Authorization": f"Bearer {api_key}"}  # the key embedded mode made for project "default"
    with httpx.Client(base_url=base_url, timeout=30, headers=headers) as client:
        response = client.post("/v1/evaluations", json=body)
        if response.status_code != 202:
            raise DemoError(f"submission refused: HTTP {response.status_code} {response.text}")
        location = response.headers["Location"]
        typer.echo(f"  accepted: {location}")
        evaluation = _poll(client, location, timeout)
        verdicts = client.get(f"{location}/verdicts", params={"limit": 1000}).json()["data"]
    return evaluation, verdicts


def _poll(client: httpx.Client, location: str, timeout: float) -> dict:
    _step("Judging (the first chunk also loads the vLLM engine, ~30 s on CPU)")
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        evaluation = client.get(location).json()
        progress = evaluation["progress"]
        line = f"  {evaluation['status']}: {progress['done'] + progress['failed']}/{progress['total']} items"
        if line != last:
            typer.echo(line)
            last = line
        if evaluation["status"] in TERMINAL:
            return evaluation
        time.sleep(1.0)
    raise DemoError(f"the evaluation did not finish within {timeout:.0f} s (last: {last})")


def _fmt(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _print_result(evaluation: dict, verdicts: list[dict]) -> None:
    summary, reliability = evaluation.get("summary") or {}, evaluation.get("reliability") or {}
    _step(f"Evaluation {evaluation['id']}: {evaluation['status']}")
    ci = summary.get("win_rate_ci95") or [None, None]
    typer.echo(f"  win rate of A:              {_fmt(summary.get('win_rate'))}  95% CI [{_fmt(ci[0])}, {_fmt(ci[1])}]")
    typer.echo(f"  wins / losses / ties:       {summary.get('wins')} / {summary.get('losses')} / {summary.get('ties')}")
    typer.echo(f"  position-consistency rate:  {_fmt(reliability.get('position_consistency_rate'))}")
    typer.echo(f"  first-position win rate:    {_fmt(reliability.get('first_position_win_rate'))}")
    typer.echo(f"  tie rate / unscored rate:   {_fmt(reliability.get('tie_rate'))} / {_fmt(reliability.get('unscored_rate'))}")
    if "judge_accuracy" in summary:
        typer.echo(f"  judge accuracy vs human:    {_fmt(summary['judge_accuracy'])} (n={summary['n_human_labelled']})")
    typer.echo("  per item (preference for A, outcome, flags):")
    for v in verdicts:
        flags = [f for f in ("position_inconsistent", "needs_review", "unscored", "failed") if v.get(f)]
        orders = ", ".join(f"{j['order']}={j['label']}" for j in v["judgments"])
        typer.echo(f"    {v['item_id']:<22} {_fmt(v['score'])}  {str(v['outcome']):<5} [{orders}] {' '.join(flags)}")
