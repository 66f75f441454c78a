"""Settings and judge configuration."""

import pytest
from pydantic import ValidationError

from service.config import BUNDLED_MODEL, JudgeConfig, Settings, load_judges_file


def test_embedded_by_default_and_embedded_judge_always_defined(monkeypatch, tmp_path):
    for var in ("JUDGESERVE_DATABASE_URL", "JUDGESERVE_REDIS_URL", "JUDGESERVE_JUDGES_FILE"):
        monkeypatch.delenv(var, raising=False)
    settings = Settings(data_dir=tmp_path)
    assert settings.embedded
    assert settings.effective_database_url() == f"sqlite:///{tmp_path.resolve()}/judgeserve.db"
    judge = settings.judges()["embedded"]
    assert judge.backend == "vllm" and judge.model == BUNDLED_MODEL


def test_env_prefix_and_nested_groups(monkeypatch):
    monkeypatch.setenv("JUDGESERVE_DATABASE_URL", "postgresql://x@h/db")
    monkeypatch.setenv("JUDGESERVE_REDIS_URL", "redis://h:6379/0")
    monkeypatch.setenv("JUDGESERVE_LIMITS__MAX_ITEMS", "7")
    settings = Settings()
    assert not settings.embedded and settings.limits.max_items == 7


def test_half_configured_production_is_refused():
    with pytest.raises(ValidationError, match="both"):
        Settings(database_url="postgresql://x@h/db", redis_url=None)


def test_judges_file_merges_over_embedded(tmp_path):
    path = tmp_path / "judges.yaml"
    path.write_text("- {name: big, backend: vllm, model: /m}\n- {name: embedded, backend: scripted}\n")
    judges = Settings(judges_file=path).judges()
    assert set(judges) == {"embedded", "big"} and judges["embedded"].backend == "scripted"


@pytest.mark.parametrize(
    "content, message",
    [("- {name: a}\n- {name: a}\n", "duplicate"), ("name: a\n", "list"), ("- {name: 'bad name'}\n", "name"),
     ("- {name: r, backend: openai}\n", "base_url"), ("- {name: r, backend: tgi}\n", "backend")],
)
def test_bad_judges_files_are_explained(tmp_path, content, message):
    path = tmp_path / "judges.yaml"
    path.write_text(content)
    with pytest.raises((ValueError, ValidationError), match=message):
        load_judges_file(path)


def test_fingerprint_changes_with_what_changes_behaviour():
    base = JudgeConfig(name="j", model="m")
    assert base.fingerprint() == JudgeConfig(name="other-name", model="m").fingerprint()
    for change in ({"model": "m2"}, {"template_version": "v2"}, {"revision": "abc"}, {"engine": {"dtype": "float16"}}):
        assert JudgeConfig(name="j", **({"model": "m"} | change)).fingerprint() != base.fingerprint()


def test_cpu_placement_settings_leave_the_fingerprint_and_so_the_cache_alone():
    base = JudgeConfig(name="j", model="m", engine={"dtype": "float32"})
    placed = JudgeConfig(name="j", model="m", engine={"dtype": "float32", "cpu_threads_bind": "0", "cpu_reserved_cpus": 1})
    assert placed.fingerprint() == base.fingerprint()


def test_the_judges_file_is_parsed_once_per_version(tmp_path, monkeypatch):
    from service import config

    path = tmp_path / "judges.yaml"
    path.write_text("- {name: a, backend: scripted, model: m1}\n", encoding="utf-8")
    settings = config.Settings(judges_file=path, data_dir=tmp_path)
    parsed = []
    original = config.load_judges_file
    monkeypatch.setattr(config, "load_judges_file", lambda p: parsed.append(p) or original(p))
    config._parsed_judges_file.cache_clear()
    assert settings.judges()["a"].model == "m1" and settings.judges()["a"].model == "m1"
    assert len(parsed) == 1
    path.write_text("- {name: a, backend: scripted, model: model-two}\n", encoding="utf-8")  # another size
    assert settings.judges()["a"].model == "model-two" and len(parsed) == 2


def test_default_pools_have_room_for_every_request_and_thread():
    from service.config import BACKGROUND_CONNECTIONS, ConcurrencySettings

    pools = ConcurrencySettings()
    room = max(pools.max_in_flight, pools.threads) + BACKGROUND_CONNECTIONS
    assert pools.db_pool_size + pools.db_max_overflow >= room and pools.redis_max_connections >= room
    assert pools.threads >= 1 and pools.retry_after_seconds >= 1


@pytest.mark.parametrize("values, message", [
    ({"threads": 64}, r"db_pool_size \+ db_max_overflow \(10 \+ 10\) must be at least .* = 67"),
    ({"max_in_flight": 50, "redis_max_connections": 100}, r"db_pool_size \+ db_max_overflow .* = 53"),
    ({"redis_max_connections": 10}, r"redis_max_connections \(10\) must be at least .* = 19"),
    ({"db_pool_size": 0}, "db_pool_size"),
    ({"db_pool_timeout_seconds": 0}, "db_pool_timeout_seconds"),
    ({"max_in_flight": 0}, "max_in_flight"),
    ({"retry_after_seconds": 0}, "retry_after_seconds"),
])
def test_pools_too_small_for_the_requests_are_refused(values, message):
    from service.config import ConcurrencySettings

    with pytest.raises(ValidationError, match=message):
        ConcurrencySettings(**values)


def test_concurrency_settings_from_the_environment(monkeypatch):
    for name, value in {"MAX_IN_FLIGHT": "8", "THREADS": "8", "DB_POOL_SIZE": "4", "DB_MAX_OVERFLOW": "7",
                        "REDIS_MAX_CONNECTIONS": "11", "RETRY_AFTER_SECONDS": "3"}.items():
        monkeypatch.setenv(f"JUDGESERVE_CONCURRENCY__{name}", value)
    pools = Settings().concurrency
    assert (pools.max_in_flight, pools.threads, pools.db_pool_size, pools.db_max_overflow,
            pools.redis_max_connections, pools.retry_after_seconds) == (8, 8, 4, 7, 11, 3)
    monkeypatch.setenv("JUDGESERVE_CONCURRENCY__THREADS", "9")  # 9 + 3 > 4 + 7
    with pytest.raises(ValidationError, match="at least max"):
        Settings()
