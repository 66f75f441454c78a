"""docker-compose.yml and the Dockerfile name only commands, modules, ports and settings that exist."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from service.cli.main import app as cli_app
from service.config import Settings, load_judges_file

REPO = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
DOCKERFILE = (REPO / "Dockerfile").read_text()
WORKDIR = "/app"
OUR_SERVICES = {name: svc for name, svc in COMPOSE["services"].items() if "image" in svc and "judgeserve" in svc["image"]}


def container_path(path: str) -> Path:
    """Where a path inside our image lives in the repository."""
    assert path.startswith(WORKDIR + "/"), f"{path} is outside {WORKDIR}"
    return REPO / path[len(WORKDIR) + 1:]


def check_command(argv: list[str]) -> None:
    """Fail unless the command runs something the code base provides."""
    program, args = argv[0], argv[1:]
    if program == "judgeserve":
        sub = [a for a in args if not a.startswith("-")][:2]
        result = CliRunner().invoke(cli_app, [*sub[:1], "--help"])
        assert result.exit_code == 0, f"judgeserve {sub[0]} does not exist"
        if sub[0] in ("db", "models"):
            assert CliRunner().invoke(cli_app, [*sub, "--help"]).exit_code == 0, f"judgeserve {sub} does not exist"
        if sub[0] == "worker":
            assert "--judge" in args
    elif program == "python":
        assert args[0] == "-m" and importlib.util.find_spec(args[1]) is not None, f"no module {args[1]}"
    elif program == "uvicorn":
        target = next(a for a in args if ":" in a and not a.startswith("-"))
        module, attr = target.split(":")
        assert hasattr(importlib.import_module(module), attr), f"{target} does not exist"
        if "--factory" in args:
            assert callable(getattr(importlib.import_module(module), attr))
    else:
        pytest.fail(f"unknown program {program!r}")


def setting_exists(env_name: str) -> bool:
    """True when JUDGESERVE_X[__Y] names a Settings field (nested groups use __)."""
    parts = env_name.removeprefix("JUDGESERVE_").lower().split("__")
    model = Settings
    for part in parts:
        field = model.model_fields.get(part)
        if field is None:
            return False
        model = field.annotation
    return True


def judges_for(service: dict):
    path = service["environment"].get("JUDGESERVE_JUDGES_FILE")
    names = {"embedded"}
    if path:
        names |= {j.name for j in load_judges_file(container_path(path))}
    return names


@pytest.mark.parametrize("name", sorted(OUR_SERVICES))
def test_compose_commands_exist(name):
    check_command(OUR_SERVICES[name]["command"])


@pytest.mark.parametrize("name", sorted(OUR_SERVICES))
def test_compose_settings_exist_and_parse(name):
    env = OUR_SERVICES[name]["environment"]
    for key in env:
        if key.startswith("JUDGESERVE_"):
            assert setting_exists(key), f"{name}: {key} is not a setting"
    settings = Settings(**{k.removeprefix("JUDGESERVE_").lower(): v for k, v in env.items()
                           if k.startswith("JUDGESERVE_") and k != "JUDGESERVE_JUDGES_FILE"})
    assert not settings.embedded  # compose runs production mode


@pytest.mark.parametrize("name", sorted(OUR_SERVICES))
def test_compose_workers_serve_configured_judges(name):
    command = OUR_SERVICES[name]["command"]
    if "--judge" in command:
        assert command[command.index("--judge") + 1] in judges_for(OUR_SERVICES[name])


@pytest.mark.parametrize("name", sorted(OUR_SERVICES))
def test_compose_mounts_exist(name):
    for volume in OUR_SERVICES[name].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("./"):
            assert (REPO / source).exists(), f"{name}: {source} missing"
            assert target.startswith(WORKDIR)


def test_compose_has_the_required_services():
    services = COMPOSE["services"]
    assert {"postgres", "redis", "gateway", "worker-gpu", "worker-cpu"} <= set(services)
    assert services["worker-gpu"]["build"]["args"]["JUDGE_EXTRA"] == "gpu"
    assert "nvidia" in str(services["worker-gpu"]["deploy"])


def test_long_running_services_restart_and_the_one_shot_migration_does_not():
    """A worker that quits (e.g. Redis vanished under a job's bookkeeping) must come back by itself."""
    services = COMPOSE["services"]
    for name in ("postgres", "redis", "gateway", "worker-gpu", "worker-cpu"):
        assert services[name].get("restart") in ("always", "unless-stopped"), name
    assert services["migrate"].get("restart", "no") == "no"


def test_ports_match_the_gateway():
    gateway = COMPOSE["services"]["gateway"]
    container_port = gateway["ports"][0].split(":")[1]
    command = gateway["command"]
    assert command[command.index("--port") + 1] == container_port
    assert re.search(rf"^EXPOSE {container_port}$", DOCKERFILE, re.M)
    assert f"JUDGESERVE_PORT={container_port}" in DOCKERFILE
    assert COMPOSE["services"]["postgres"]["ports"] == ["5432:5432"]
    assert COMPOSE["services"]["redis"]["ports"] == ["6379:6379"]


def test_database_url_matches_postgres_service():
    env = COMPOSE["x-judgeserve-env"]
    pg = COMPOSE["services"]["postgres"]["environment"]
    expected = f"postgresql://{pg['POSTGRES_USER']}:{pg['POSTGRES_PASSWORD']}@postgres:5432/{pg['POSTGRES_DB']}"
    assert env["JUDGESERVE_DATABASE_URL"] == expected
    assert env["JUDGESERVE_REDIS_URL"].startswith("redis://redis:6379")


def test_dockerfile_copies_existing_paths_and_runs_real_commands():
    for line in re.findall(r"^COPY (.+)$", DOCKERFILE, re.M):
        for source in line.split()[:-1]:
            assert (REPO / source).exists(), f"COPY {source}: missing"
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.M).group(1)
    check_command(yaml.safe_load(cmd))
    for env_name in re.findall(r"\b(JUDGESERVE_[A-Z_]+)=", DOCKERFILE):
        assert setting_exists(env_name), env_name
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert re.search(r"JUDGE_EXTRA=(\w+)", DOCKERFILE).group(1) in extras
    assert {"cpu", "gpu", "dev"} <= set(extras)
    for run in re.findall(r"judgeserve [a-z]+ [a-z]+", DOCKERFILE):
        check_command(shlex.split(run))


def test_checker_rejects_what_does_not_exist():
    with pytest.raises(AssertionError):
        check_command(["python", "-m", "workers_that_do_not_exist"])
    with pytest.raises(AssertionError):
        check_command(["judgeserve", "frobnicate"])
    with pytest.raises((AssertionError, AttributeError)):
        check_command(["uvicorn", "service.api.app:nope"])
    assert not setting_exists("JUDGESERVE_NOT_A_SETTING")
    assert setting_exists("JUDGESERVE_LIMITS__MAX_ITEMS")
