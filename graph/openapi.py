"""The OpenAPI 3.1 document of the REST routes, derived from the GraphQL schema: each
route's parameters from its operation's variables, its request body from the input type, its
answer from the operation's selection set. A field added to a route's document appears here
with the same type and description, so the document cannot drift from what is served."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from graphql import (
    FieldNode,
    GraphQLAbstractType,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Undefined,
    ast_from_value,
    parse,
    type_from_ast,
    value_from_ast_untyped,
)

from graph.rest import HTTP_STATUS
from graph.rest_operations import OPERATIONS, Operation

JsonSchema = dict[str, Any]

_SCALARS: dict[str, JsonSchema] = {
    "String": {"type": "string"},
    "ID": {"type": "string"},
    "Boolean": {"type": "boolean"},
    "Int": {"type": "integer", "format": "int32"},
    "Float": {"type": "number"},
    "Int64": {
        "type": "string",
        "pattern": "^-?[0-9]+$",
        "description": "A 64-bit integer as a string of digits (JavaScript keeps every digit).",
    },
    "DateTime": {"type": "string", "format": "date-time"},
    "JSON": {"description": "Any JSON value."},
}
# The statuses a route may answer with a typed error (see graph/rest.py).
_ERROR_STATUSES = (400, 404, 409, 500, 503)
_ERROR_REF = {"$ref": "#/components/responses/Error"}
# A body over the cap is refused before any route runs, in the GraphQL error shape.
_TOO_LARGE_REF = {"$ref": "#/components/responses/PayloadTooLarge"}


def _nullable(schema: JsonSchema) -> JsonSchema:
    if isinstance(schema.get("type"), str) and "$ref" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}]}


class _Describer:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.components: dict[str, JsonSchema] = {}

    def _ref(self, name: str) -> JsonSchema:
        return {"$ref": f"#/components/schemas/{name}"}

    def _enum(self, enum: GraphQLEnumType) -> JsonSchema:
        if enum.name not in self.components:
            described: JsonSchema = {"type": "string", "enum": list(enum.values)}
            if enum.description:
                described["description"] = enum.description
            self.components[enum.name] = described
        return self._ref(enum.name)

    def _leaf(self, type_: GraphQLScalarType | GraphQLEnumType) -> JsonSchema:
        if isinstance(type_, GraphQLEnumType):
            return self._enum(type_)
        return dict(_SCALARS.get(type_.name, {"description": f"A {type_.name}."}))

    def input(self, type_: GraphQLInputType) -> JsonSchema:
        if isinstance(type_, GraphQLNonNull):
            return self._input_inner(type_.of_type)
        return _nullable(self._input_inner(type_))

    def _input_inner(self, type_: GraphQLInputType) -> JsonSchema:
        if isinstance(type_, GraphQLList):
            return {"type": "array", "items": self.input(type_.of_type)}
        if isinstance(type_, GraphQLInputObjectType):
            if type_.name not in self.components:
                self.components[type_.name] = {}  # a placeholder: input types may recurse
                self.components[type_.name] = self._input_object(type_)
            return self._ref(type_.name)
        assert isinstance(type_, GraphQLScalarType | GraphQLEnumType)
        return self._leaf(type_)

    def _input_object(self, type_: GraphQLInputObjectType) -> JsonSchema:
        properties: dict[str, JsonSchema] = {}
        required: list[str] = []
        for name, field in type_.fields.items():
            described = self.input(field.type)
            if field.description:
                described = {**described, "description": field.description}
            default = _json_default(field.default_value, field.type)
            if default is not Undefined:
                described = {**described, "default": default}
            elif isinstance(field.type, GraphQLNonNull):
                required.append(name)
            properties[name] = described
        schema: JsonSchema = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        if type_.description:
            schema["description"] = type_.description
        return schema

    def output(self, type_: GraphQLOutputType, selection: SelectionSetNode | None) -> JsonSchema:
        if isinstance(type_, GraphQLNonNull):
            return self._output_inner(type_.of_type, selection)
        return _nullable(self._output_inner(type_, selection))

    def _output_inner(
        self, type_: GraphQLOutputType, selection: SelectionSetNode | None
    ) -> JsonSchema:
        if isinstance(type_, GraphQLList):
            return {"type": "array", "items": self.output(type_.of_type, selection)}
        if isinstance(type_, GraphQLObjectType):
            return self._object(type_, selection)
        if isinstance(type_, GraphQLUnionType | GraphQLInterfaceType):
            possible = self.schema.get_possible_types(type_)
            return {"oneOf": [self._object(t, selection) for t in possible]}
        assert isinstance(type_, GraphQLScalarType | GraphQLEnumType)
        return self._leaf(type_)

    def _object(self, type_: GraphQLObjectType, selection: SelectionSetNode | None) -> JsonSchema:
        properties: dict[str, JsonSchema] = {}
        for field in _fields_for(type_, selection, self.schema):
            key = field.alias.value if field.alias else field.name.value
            if field.name.value == "__typename":
                properties[key] = {"type": "string", "const": type_.name}
                continue
            definition = type_.fields[field.name.value]
            described = self.output(definition.type, field.selection_set)
            if definition.description:
                described = {**described, "description": definition.description}
            properties[key] = described
        schema: JsonSchema = {
            "type": "object",
            "properties": properties,
            "required": list(properties),
        }
        if type_.description:
            schema["description"] = type_.description
        return schema


def _fields_for(
    type_: GraphQLObjectType, selection: SelectionSetNode | None, schema: GraphQLSchema
) -> list[FieldNode]:
    """The fields a selection asks of an object of ``type_``, inline fragments applied."""
    fields: list[FieldNode] = []
    for node in selection.selections if selection else ():
        if isinstance(node, FieldNode):
            fields.append(node)
        elif isinstance(node, InlineFragmentNode):
            condition = node.type_condition
            applies = condition is None or condition.name.value == type_.name
            if condition is not None and not applies:
                outer = schema.get_type(condition.name.value)
                applies = isinstance(outer, GraphQLAbstractType) and schema.is_sub_type(
                    outer, type_
                )
            if applies:
                fields.extend(_fields_for(type_, node.selection_set, schema))
    return fields


def _merged(schema: JsonSchema, extra: Mapping[str, Any]) -> JsonSchema:
    """``schema`` with ``extra`` laid over it (``items`` merged, not replaced)."""
    merged = {**schema, **extra}
    if "items" in extra and "items" in schema:
        merged["items"] = {**schema["items"], **extra["items"]}
    return merged


def _json_default(value: object, type_: GraphQLInputType) -> object:
    """A default as JSON (an enum's by its name), printed the way GraphQL would."""
    if value is Undefined:
        return Undefined
    node = ast_from_value(value, type_)
    return Undefined if node is None else value_from_ast_untyped(node)


def _operation(describer: _Describer, operation: Operation) -> dict[str, Any]:
    [definition] = parse(operation.document).definitions
    assert isinstance(definition, OperationDefinitionNode)
    root = describer.schema.get_root_type(definition.operation)
    assert root is not None
    [field] = [s for s in definition.selection_set.selections if isinstance(s, FieldNode)]
    field_definition = root.fields[field.name.value]
    variables = {v.variable.name.value: v for v in definition.variable_definitions or ()}
    parameters: list[dict[str, Any]] = []
    for param in operation.params:
        variable = variables[param.name]
        type_ = type_from_ast(describer.schema, variable.type)
        assert type_ is not None
        # A parameter is given or absent, never null: its schema is the non-null type's.
        inner = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
        schema = _merged(describer.input(GraphQLNonNull(inner)), param.schema)  # type: ignore[arg-type]
        if variable.default_value is not None:
            schema = {**schema, "default": value_from_ast_untyped(variable.default_value)}
        required = param.where == "path" or (
            isinstance(type_, GraphQLNonNull) and variable.default_value is None
        )
        parameters.append(
            {
                "name": param.name,
                "in": param.where,
                "required": required,
                "description": param.description,
                "schema": schema,
            }
        )
    described: dict[str, Any] = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "tags": [operation.tag],
        "responses": {
            str(operation.success_status): {
                "description": "The data of GraphQL's "
                f"`{field.name.value}`, exactly as `/graphql` answers it.",
                "content": {
                    "application/json": {
                        "schema": describer.output(
                            GraphQLNonNull(field_definition.type)
                            if not isinstance(field_definition.type, GraphQLNonNull)
                            else field_definition.type,
                            field.selection_set,
                        )
                    }
                },
            },
            **{str(status): _ERROR_REF for status in _ERROR_STATUSES},
            "413": _TOO_LARGE_REF,
        },
    }
    if field_definition.description:
        described["description"] = f"GraphQL's `{field.name.value}`: {field_definition.description}"
    if parameters:
        described["parameters"] = parameters
    if operation.body_variable is not None:
        body_type = type_from_ast(describer.schema, variables[operation.body_variable].type)
        assert body_type is not None
        described["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": describer.input(body_type)}},  # type: ignore[arg-type]
        }
    return described


def _error_response() -> dict[str, Any]:
    return {
        "description": "A typed error: its code says what happened (the HTTP status follows "
        "from it), its message what to change. Nothing internal is ever shown.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string", "enum": sorted(HTTP_STATUS)},
                                "message": {"type": "string"},
                            },
                        }
                    },
                }
            }
        },
    }


def _too_large_response() -> dict[str, Any]:
    return {
        "description": "The request body exceeds the gateway's cap (the same as /graphql's).",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["errors"],
                    "properties": {
                        "errors": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["message", "extensions"],
                                "properties": {
                                    "message": {"type": "string"},
                                    "extensions": {
                                        "type": "object",
                                        "properties": {"code": {"const": "PAYLOAD_TOO_LARGE"}},
                                    },
                                },
                            },
                        }
                    },
                }
            }
        },
    }


def _version() -> str:
    try:
        return version("quantflow")
    except PackageNotFoundError:
        return "0"


def openapi_document(
    schema: GraphQLSchema, operations: tuple[Operation, ...] = OPERATIONS
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``operations`` over ``schema``."""
    describer = _Describer(schema)
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(
            describer, operation
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "QuantFlow REST API",
            "version": _version(),
            "description": "Thin routes over the GraphQL API at `/graphql`: each executes one "
            "GraphQL operation and answers its data, so both always agree. Errors are typed: "
            '`{"error": {"code", "message"}}` with the HTTP status of the code.',
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(describer.components.items())),
            "responses": {"Error": _error_response(), "PayloadTooLarge": _too_large_response()},
        },
    }
