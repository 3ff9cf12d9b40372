"""REST routes over the GraphQL schema: each route executes its operation (graph/
rest_operations.py) through the same schema, resolvers, limits and error masking as
``/graphql``, and answers its field's data, or a typed JSON error with the HTTP status its
code means.

Query parameters are GraphQL variables: the schema coerces and checks them (a bad date-time
or an unknown venue is a 400 naming it); an ``Int`` variable is read as a base-10 integer and
a list variable from a repeated parameter.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLError,
    ListTypeNode,
    NamedTypeNode,
    NonNullTypeNode,
    OperationDefinitionNode,
    TypeNode,
    parse,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from graph.context import Backends, Context
from graph.principal import RequestAuth
from graph.rest_operations import OPERATIONS, Operation
from graph.schema import schema

# Who a request acts as, from its headers; the response carries a Retry-After when limited.
Authenticate = Callable[[Request, Response], Awaitable[RequestAuth]]

# A typed error code → the HTTP status of a REST answer carrying it.
HTTP_STATUS = {
    "INVALID_ARGUMENT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "CONFLICT": 409,
    "FAILED_PRECONDITION": 409,
    "PAYLOAD_TOO_LARGE": 413,
    "RATE_LIMITED": 429,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
}
UNEXPECTED = "Unexpected error."


@dataclass(frozen=True)
class RestError:
    code: str
    message: str

    @property
    def status(self) -> int:
        return HTTP_STATUS.get(self.code, 500)

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": self.code, "message": self.message}}, status_code=self.status
        )


def rest_error(errors: list[GraphQLError]) -> RestError:
    """What a REST client is told of an operation's errors: the first typed one; else a
    request error (validation, a variable the schema refused: no path) as INVALID_ARGUMENT;
    else a masked fault as INTERNAL, with nothing of its internals."""
    for error in errors:
        code = (error.extensions or {}).get("code")
        if isinstance(code, str):
            return RestError(code if code in HTTP_STATUS else "INTERNAL", error.message)
    for error in errors:
        if error.path is None and error.message != UNEXPECTED:
            return RestError("INVALID_ARGUMENT", error.message)
    return RestError("INTERNAL", UNEXPECTED)


def _named(node: TypeNode) -> tuple[str, bool]:
    """A variable's named type and whether it is a list."""
    is_list = isinstance(node.type if isinstance(node, NonNullTypeNode) else node, ListTypeNode)
    while isinstance(node, NonNullTypeNode | ListTypeNode):
        node = node.type
    assert isinstance(node, NamedTypeNode)
    return node.name.value, is_list


def variable_types(operation: Operation) -> dict[str, tuple[str, bool]]:
    """Each variable of the operation's document: (named type, is a list)."""
    [definition] = parse(operation.document).definitions
    assert isinstance(definition, OperationDefinitionNode)
    return {v.variable.name.value: _named(v.type) for v in definition.variable_definitions or ()}


def _scalar(name: str, type_name: str, text: str) -> object:
    if type_name != "Int":
        return text
    try:
        return int(text, 10)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not an integer") from None


def variables_from_request(
    operation: Operation,
    types: Mapping[str, tuple[str, bool]],
    path_params: Mapping[str, str],
    query_params: Mapping[str, list[str]],
) -> dict[str, object]:
    """The GraphQL variables of one request; ValueError naming a parameter that is not one."""
    variables: dict[str, object] = {}
    for param in operation.params:
        type_name, is_list = types[param.name]
        if param.where == "path":
            variables[param.name] = _scalar(param.name, type_name, path_params[param.name])
            continue
        given = query_params.get(param.name, [])
        if not given:
            continue
        if is_list:
            variables[param.name] = [_scalar(param.name, type_name, v) for v in given]
        elif len(given) > 1:
            raise ValueError(f"{param.name}: give it once, not {len(given)} times")
        else:
            variables[param.name] = _scalar(param.name, type_name, given[0])
    return variables


async def _body(request: Request, operation: Operation) -> dict[str, object]:
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"the body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    assert operation.body_variable is not None
    return {operation.body_variable: body}


def _endpoint(
    operation: Operation, backends: Callable[[], Backends | None], authenticate: Authenticate
) -> Callable[[Request], Any]:
    types = variable_types(operation)

    async def endpoint(request: Request) -> JSONResponse:
        current = backends()
        if current is None:
            return RestError("UNAVAILABLE", "the gateway is starting, try again").response()
        try:
            variables = variables_from_request(
                operation,
                types,
                request.path_params,
                {k: request.query_params.getlist(k) for k in request.query_params},
            )
            if operation.body_variable is not None:
                variables.update(await _body(request, operation))
        except ValueError as error:
            return RestError("INVALID_ARGUMENT", str(error)).response()
        # The same authentication, ownership and rate limit as /graphql (graph/guard.py);
        # a Retry-After it sets lands on `headers`.
        headers = Response()
        auth = await authenticate(request, headers)
        result = await schema.execute(
            operation.document, variable_values=variables, context_value=Context(current, auth=auth)
        )
        if result.errors:
            response = rest_error(result.errors).response()
            if "retry-after" in headers.headers:
                response.headers["Retry-After"] = headers.headers["retry-after"]
            return response
        assert result.data is not None
        return JSONResponse(result.data[operation.field], status_code=operation.success_status)

    return endpoint


def rest_routes(backends: Callable[[], Backends | None], authenticate: Authenticate) -> list[Route]:
    """Every REST route; ``backends()`` is None until the app has started; ``authenticate``
    reads the request's ``Authorization`` header as /graphql does. A path with several
    operations (GET and POST /alerts) is one route, so a 405 lists every method in
    ``Allow``."""
    by_path: dict[str, dict[str, Callable[[Request], Any]]] = {}
    names: dict[str, str] = {}
    for op in OPERATIONS:
        by_path.setdefault(op.path, {})[op.method] = _endpoint(op, backends, authenticate)
        names.setdefault(op.path, op.operation_id)
    return [
        Route(path, _by_method(endpoints), methods=list(endpoints), name=names[path])
        for path, endpoints in by_path.items()
    ]


def _by_method(endpoints: dict[str, Callable[[Request], Any]]) -> Callable[[Request], Any]:
    if len(endpoints) == 1:
        return next(iter(endpoints.values()))

    async def endpoint(request: Request) -> Any:
        # HEAD is served as GET (Starlette adds it to a route that has GET).
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)

    return endpoint
