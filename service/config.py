"""One pydantic-settings object for the whole service (env prefix ``JUDGESERVE_``)."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

BUNDLED_MODEL = "bundled:smollm2-135m-instruct"
EMBEDDED_JUDGE = "embedded"
# sampling parameters every call sets itself (temperature and seed come from the evaluation's options)
PER_CALL_SAMPLING = frozenset({"temperature", "seed", "max_tokens", "logprobs", "structured_outputs", "n"})
# engine settings that place the engine on the machine (its CPU cores) without changing what it judges:
# left out of the fingerprint (workers/backends/cpu_binding.py applies them)
PLACEMENT_ENGINE_KEYS = frozenset({"cpu_threads_bind", "cpu_reserved_cpus"})


class JudgeConfig(BaseModel):
    """A judge is configuration: backend + model + engine + sampling + template version."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    backend: Literal["vllm", "openai", "scripted"] = "vllm"
    model: str = BUNDLED_MODEL
    revision: str | None = None
    engine: dict[str, Any] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)
    template_version: str = "v1"
    base_url: str | None = None
    api_key_env: str | None = None
    max_concurrency: int = Field(default=8, ge=1, le=1024)
    request_timeout_seconds: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    # "project": a cached call serves only the project that made it; "global": every project (more
    # hits, but a project learns from a cached: true that another one judged the same call before)
    cache_scope: Literal["project", "global"] = "project"

    @model_validator(mode="after")
    def _openai_needs_url(self) -> "JudgeConfig":
        if self.backend == "openai" and not self.base_url:
            raise ValueError(f"judge {self.name!r}: backend 'openai' needs base_url")
        return self

    def fingerprint(self) -> str:
        """Identity of the judge's behaviour: model, revision, backend, template, engine, sampling, endpoint."""
        ident = {
            "model": self.model,
            "revision": self.revision,
            "backend": self.backend,
            "template": self.template_version,
            "engine": {key: value for key, value in self.engine.items() if key not in PLACEMENT_ENGINE_KEYS},
            "sampling": self.sampling,
            "base_url": self.base_url,
        }
        if self.backend == "vllm" and set(self.sampling) - PER_CALL_SAMPLING:
            # a vLLM judge applies these since 2026-11-28: its outputs before then came without them
            ident["sampling_applied"] = True
        digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
        return f"{self.backend}:{self.model}@{self.revision or 'main'}:{self.template_version}:{digest}"


def default_embedded_judge() -> JudgeConfig:
    """The bundled CPU judge that always exists."""
    return JudgeConfig(
        name=EMBEDDED_JUDGE,
        backend="vllm",
        model=BUNDLED_MODEL,
        # float32: on CPUs without AVX-512/native bf16 (like ours) bf16 was ~6x slower.
        engine={
            "dtype": "float32",
            # an explicit KV cache (1 GiB is ~23k tokens for SmolLM2-135M in float32). vLLM CPU's
            # share-of-RAM setting is measured against one NUMA node minus the worker's own memory,
            # which on a 9.5 GiB node left nothing at 0.1 and fails at start.
            "kv_cache_memory_bytes": 1 << 30,
            "enforce_eager": True,
            "max_model_len": 2048,
        },
        sampling={"temperature": 0.0, "seed": 0},
    )


class Limits(BaseModel):
    """Request limits enforced by the gateway."""

    max_body_bytes: int = 32 * 1024 * 1024
    # streamed uploads (NDJSON / JSONL / AlpacaEval files to POST /v1/evaluations): bounded memory, so larger
    max_upload_bytes: int = 1024 * 1024 * 1024
    max_line_bytes: int = 4 * 1024 * 1024
    max_items: int = 1_000_000
    max_field_chars: int = 200_000


# database connections used beside counted requests: the reaper, embedded mode's job thread, a /metrics scrape
BACKGROUND_CONNECTIONS = 3


class ConcurrencySettings(BaseModel):
    """What one gateway process takes on at once (env ``JUDGESERVE_CONCURRENCY__*``).

    A request holds at most one database connection (and one Redis connection) at a time, so when the
    pools have room for ``max_in_flight`` requests and the thread pool, no request ever waits for a
    connection; requests beyond ``max_in_flight`` get a 503 with ``Retry-After`` at once.
    """

    max_in_flight: int = Field(default=16, ge=1, le=10_000)  # requests at once (not /healthz, /readyz, /metrics)
    retry_after_seconds: int = Field(default=1, ge=1, le=3600)  # in a 503 for a saturated gateway
    threads: int = Field(default=16, ge=1, le=10_000)  # worker threads: sync routes, dependencies, database work
    db_pool_size: int = Field(default=10, ge=1, le=10_000)  # database connections kept open
    db_max_overflow: int = Field(default=10, ge=0, le=10_000)  # more, opened when busy and closed after
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=300)  # then a 503 instead of waiting on
    redis_max_connections: int = Field(default=20, ge=1, le=10_000)  # the gateway's job-queue connections
    redis_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    ready_timeout_seconds: float = Field(default=2.0, gt=0, le=60)  # /readyz's database and queue checks

    @model_validator(mode="after")
    def _pools_cover_requests(self) -> "ConcurrencySettings":
        needed = max(self.max_in_flight, self.threads) + BACKGROUND_CONNECTIONS
        if self.db_pool_size + self.db_max_overflow < needed:
            raise ValueError(f"concurrency: db_pool_size + db_max_overflow ({self.db_pool_size} + "
                             f"{self.db_max_overflow}) must be at least max(max_in_flight, threads) + "
                             f"{BACKGROUND_CONNECTIONS} = {needed}, or requests would wait for a database connection")
        if self.redis_max_connections < needed:
            raise ValueError(f"concurrency: redis_max_connections ({self.redis_max_connections}) must be at least "
                             f"max(max_in_flight, threads) + {BACKGROUND_CONNECTIONS} = {needed}")
        return self


class WebhookSettings(BaseModel):
    """Webhook delivery (env ``JUDGESERVE_WEBHOOKS__*``; lists as JSON, e.g. ``'["localhost"]'``)."""

    # destinations allowed even though they resolve to loopback/private/link-local/... addresses:
    # host names ("localhost", "*.internal"), IP addresses or networks ("10.0.0.0/8"); "*" allows all
    allow_hosts: list[str] = Field(default_factory=list)
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # delay before each automatic retry (network errors, 408, 429, 5xx); attempts = len + 1
    retry_delays_seconds: list[float] = Field(
        default_factory=lambda: [5, 30, 120, 600, 1800, 3600, 10800, 21600], max_length=50)
    max_retry_after_seconds: float = Field(default=86400, gt=0)  # a longer Retry-After is capped
    poll_seconds: float = Field(default=5.0, gt=0)  # how often workers look for due deliveries
    public_url: str | None = None  # base URL for absolute links in payloads (default: paths only)
    max_endpoints_per_project: int = Field(default=20, ge=1)  # registered endpoints (the default secret not counted)
    # loops in every worker process that send deliveries, beside (never instead of) its judge loops
    delivery_threads: int = Field(default=2, ge=1, le=32)


class Settings(BaseSettings):
    """All settings; nested groups use ``__`` in env names (e.g. JUDGESERVE_LIMITS__MAX_ITEMS)."""

    model_config = SettingsConfigDict(env_prefix="JUDGESERVE_", env_nested_delimiter="__", extra="ignore")

    database_url: str | None = None
    redis_url: str | None = None
    data_dir: Path = Path(".judgeserve")
    judges_file: Path | None = None
    model_cache_dir: Path | None = None
    # embedding model for similarity calls (HREF's Open QA / Fact Checking): "bundled"
    # (offline all-MiniLM-L6-v2), a local sentence-transformers model directory, or
    # "lexical" (bag-of-words cosine; a test aid, not for real evaluations)
    embedding_model: str = "bundled"
    host: str = "127.0.0.1"
    port: int = 8321
    chunk_size: int = Field(default=32, ge=1, le=10_000)
    job_timeout_seconds: int = Field(default=3600, ge=10)
    job_retries: int = Field(default=3, ge=0, le=20)
    # chunk jobs one judge worker process works on at once (see workers/judge_worker.py)
    worker_chunks_in_flight: int = Field(default=1, ge=1, le=8)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    heartbeat_ttl_seconds: float = Field(default=30.0, gt=0)
    # the gateway queues again chunks whose job vanished or whose worker stopped beating (production mode)
    reaper_interval_seconds: float = Field(default=15.0, gt=0)
    queue_prefix: str = "judgeserve"
    log_level: str = "INFO"
    # when set, GET /metrics needs "Authorization: Bearer <token>"
    metrics_token: SecretStr | None = None
    limits: Limits = Field(default_factory=Limits)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    concurrency: ConcurrencySettings = Field(default_factory=ConcurrencySettings)

    @field_validator("database_url", "redis_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return value or None

    @property
    def embedded(self) -> bool:
        """Embedded mode: no database or Redis URL configured."""
        return self.database_url is None and self.redis_url is None

    @model_validator(mode="after")
    def _both_or_neither(self) -> "Settings":
        if (self.database_url is None) != (self.redis_url is None):
            raise ValueError(
                "set both JUDGESERVE_DATABASE_URL and JUDGESERVE_REDIS_URL (production mode) "
                "or neither (embedded mode)"
            )
        return self

    def embedded_key_file(self) -> Path:
        """Where embedded mode keeps its ready-to-use API key (readable by its owner only)."""
        return self.data_dir / "api-key"

    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under data_dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'judgeserve.db').resolve()}"

    def resolved_model_cache_dir(self) -> Path:
        """Where converted models are cached."""
        if self.model_cache_dir:
            return self.model_cache_dir
        return Path.home() / ".cache" / "judgeserve" / "models"

    def judges(self) -> dict[str, JudgeConfig]:
        """Configured judges by name: the file's list merged over the built-in ``embedded``."""
        judges = {EMBEDDED_JUDGE: default_embedded_judge()}
        if self.judges_file:
            status = Path(self.judges_file).stat()  # parsed again only when the file changes
            for judge in _parsed_judges_file(str(self.judges_file), status.st_mtime_ns, status.st_size):
                judges[judge.name] = judge.model_copy()
        return judges

    def queue_name(self, judge: str) -> str:
        """The RQ queue that a judge's workers listen on."""
        return f"{self.queue_prefix}.judge.{judge}"

    @property
    def aggregate_queue(self) -> str:
        """The RQ queue of leaderboard aggregation jobs (every judge worker also serves it)."""
        return f"{self.queue_prefix}.aggregate"


@lru_cache(maxsize=32)
def _parsed_judges_file(path: str, mtime_ns: int, size: int) -> tuple[JudgeConfig, ...]:
    """The judges of one version of a judges file (workers ask for them at every chunk)."""
    return tuple(load_judges_file(Path(path)))


def load_judges_file(path: Path) -> list[JudgeConfig]:
    """Parse a YAML or JSON list of judge configurations."""
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or []
    if not isinstance(raw, list):
        raise ValueError(f"{path}: expected a list of judges")
    judges = [JudgeConfig.model_validate(entry) for entry in raw]
    names = [j.name for j in judges]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{path}: duplicate judge names {dupes}")
    return judges


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once from the environment."""
    return Settings()
