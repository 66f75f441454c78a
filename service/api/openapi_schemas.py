"""Request body schemas for routes that read their body themselves (JSON or a streamed upload)."""

from __future__ import annotations

from typing import Any


def inline_schema(model: type) -> dict[str, Any]:
    """The model's JSON schema with its local $defs inlined (for openapi_extra, outside components)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        return [resolve(value) for value in node] if isinstance(node, list) else node

    return resolve(schema)
