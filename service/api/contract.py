"""The typed OpenAPI document: per-protocol request and response schemas generated from the registry.

Routes that read their body themselves (JSON or a streamed upload) validate it with the protocol's own
models, so their error pointers stay exact; this module describes the same models in /openapi.json:
the body of ``createEvaluation`` is a union discriminated by ``protocol``, each member with its typed
items and options, and ``EvaluationOut`` is a union whose members carry that protocol's typed options,
summary and reliability. Readable operation ids come from the route functions' names.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, TypeAdapter, create_model

from service.core.protocol import EvaluationProtocol, all_protocols
from service.evaluations.schemas import EvaluationCreate, EvaluationOut
from service.protocols.schemas import class_prefix, stored_summary_model

REF = "#/components/schemas/{model}"
CREATE_OPERATION = "createEvaluation"
# fields named so hold a protocol name wherever they appear in bodies and responses
PROTOCOL_FIELD = "protocol"


def operation_id(route: APIRoute) -> str:
    """``create_evaluation`` → ``createEvaluation``: the route function's name in lower camel case."""
    head, *rest = route.name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def install_contract(app: FastAPI) -> None:
    """Make ``app.openapi()`` build the typed document once, from the protocols registered by then."""
    build = app.openapi  # FastAPI's own, or one that another installer wrapped (problem+json errors)
    typed: list[dict[str, Any]] = []  # the document already typed (rebuilt only if the cache is cleared)

    def openapi() -> dict[str, Any]:
        document = build()
        if not typed or typed[0] is not document:
            add_protocol_schemas(document)
            typed[:] = [document]
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def add_protocol_schemas(document: dict[str, Any]) -> None:
    """Add the per-protocol unions to the document and point the evaluation routes at them."""
    protocols = all_protocols()
    components = document.setdefault("components", {}).setdefault("schemas", {})
    create = _union([_create_member(p) for p in protocols], "validation")
    out = _union([_evaluation_member(p) for p in protocols], "serialization")
    for name, schema in {**create.pop("$defs", {}), **out.pop("$defs", {})}.items():
        _add_component(components, name, schema)
    components["EvaluationCreate"] = create | {"description": EvaluationCreate.__doc__}
    components["EvaluationOut"] = out | {"description": EvaluationOut.__doc__}
    _point_create_body_at_union(document)
    _enumerate_protocols(document, [p.name for p in protocols])


def _create_member(protocol: EvaluationProtocol) -> type[BaseModel]:
    item: Any = protocol.item_model
    if protocol.suite_item_model is not None:
        item = Union[protocol.item_model, protocol.suite_item_model]  # noqa: UP007 (a runtime union of classes)
    return create_model(
        f"{class_prefix(protocol)}EvaluationCreate", __base__=EvaluationCreate,
        __doc__=f"{protocol.description} Items are full items, or reduced items on a `suite`.",
        protocol=(Literal[protocol.name], Field(description=protocol.description)),  # type: ignore[valid-type]
        options=(protocol.options_model, Field(default_factory=protocol.options_model,
                                               description="Calibration and protocol options.")),
        items=(list[item], Field(min_length=1)),
    )


def _evaluation_member(protocol: EvaluationProtocol) -> type[BaseModel]:
    return create_model(
        f"{class_prefix(protocol)}Evaluation", __base__=EvaluationOut,
        __doc__=f"An evaluation of protocol {protocol.name!r} with its typed options and, once completed, results.",
        protocol=(Literal[protocol.name], ...),  # type: ignore[valid-type]
        options=(protocol.options_model, ...),
        summary=(stored_summary_model(protocol) | None, ...),
        reliability=(protocol.reliability_model | None, ...),
    )


def _union(members: list[type[BaseModel]], mode: Literal["validation", "serialization"]) -> dict[str, Any]:
    union: Any = Annotated[Union[tuple(members)], Field(discriminator=PROTOCOL_FIELD)]  # noqa: UP007
    return TypeAdapter(union).json_schema(ref_template=REF, mode=mode)


def _add_component(components: dict[str, Any], name: str, schema: dict[str, Any]) -> None:
    """Add a schema; a name already used for another schema is an error at start-up, not a silent overwrite."""
    existing = components.get(name)
    if existing is not None and existing != schema:
        raise ValueError(f"two different schemas are both called {name!r} in the OpenAPI document; rename one model")
    components[name] = schema


def _point_create_body_at_union(document: dict[str, Any]) -> None:
    for path in document["paths"].values():
        for operation in path.values():
            if isinstance(operation, dict) and operation.get("operationId") == CREATE_OPERATION:
                content = operation["requestBody"]["content"]
                content["application/json"]["schema"] = {"$ref": REF.format(model="EvaluationCreate")}


def _enumerate_protocols(node: Any, names: list[str]) -> None:
    """Every ``protocol`` property of a body or response that is a plain string becomes an enum of the registered
    names. (Query parameters stay strings: a filter for a protocol nobody ran matches nothing, it is not an error.)"""
    if isinstance(node, list):
        for value in node:
            _enumerate_protocols(value, names)
        return
    if not isinstance(node, dict):
        return
    properties = node.get("properties")
    if isinstance(properties, dict) and PROTOCOL_FIELD in properties:
        _make_enum(properties[PROTOCOL_FIELD], names)
    for value in node.values():
        _enumerate_protocols(value, names)


def _make_enum(schema: dict[str, Any], names: list[str]) -> None:
    if schema.get("type") == "string" and "enum" not in schema and "const" not in schema:
        schema["enum"] = list(names)
        return
    for option in schema.get("anyOf", []):
        if option.get("type") == "string" and "enum" not in option and "const" not in option:
            option["enum"] = list(names)
