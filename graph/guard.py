"""What every operation passes before any resolver runs: who is calling (UNAUTHENTICATED
when nobody, outside login and refreshToken) and, where auth is required, whether their
bucket holds the query's cost (RATE_LIMITED with Retry-After), no introspection and no
field suggestions (they map the schema for a stranger)."""

from __future__ import annotations

import math
from collections.abc import Iterator

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    get_operation_ast,
)
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.base import BaseSchema

from graph.authenticator import Authenticator
from graph.errors import TypedError
from graph.limits import query_cost
from graph.principal import RequestAuth

# What a caller without credentials may do.
PUBLIC_FIELDS = frozenset({"login", "refreshToken", "__typename"})


def _root_fields(operation: OperationDefinitionNode) -> set[str]:
    return {s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode)}


def _is_public(operation: OperationDefinitionNode) -> bool:
    selections = operation.selection_set.selections
    return (
        all(isinstance(s, FieldNode) for s in selections)
        and _root_fields(operation) <= PUBLIC_FIELDS
    )


class AuthGuard(SchemaExtension):
    def _auth(self) -> RequestAuth | None:
        auth = getattr(self.execution_context.context, "auth", None)
        return auth if isinstance(auth, RequestAuth) else None

    def _hardened(self) -> bool:
        auth = self._auth()
        return (
            auth is not None
            and isinstance(auth.authenticator, Authenticator)
            and auth.authenticator.required
            and not auth.authenticator.config.introspection
        )

    def on_operation(self) -> Iterator[None]:
        hardened = self._hardened()
        if hardened:
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                NoSchemaIntrospectionCustomRule,
            )
        yield
        if hardened:
            result = self.execution_context.result
            for error in [
                *(self.execution_context.pre_execution_errors or []),
                *(getattr(result, "errors", None) or []),
            ]:
                BaseSchema.remove_field_suggestion(error)
                if "Did you mean" in error.message:
                    error.message = error.message.split(" Did you mean")[0]

    def on_execute(self) -> Iterator[None]:
        refusal = self._refusal()
        if refusal is not None:
            self.execution_context.result = ExecutionResult(data=None, errors=[refusal])
        yield

    def _refusal(self) -> GraphQLError | None:
        auth = self._auth()
        document = self.execution_context.graphql_document
        if auth is None or document is None:
            return None
        operation = get_operation_ast(document, self.execution_context.operation_name)
        if operation is None:
            return None
        public = _is_public(operation)
        # A stale token left in a client's headers must not stop it logging in again.
        if auth.refused is not None and not public:
            return TypedError("UNAUTHENTICATED", auth.refused)
        if auth.principal is None and not public:
            return TypedError(
                "UNAUTHENTICATED",
                "log in first: the login mutation answers a token; send it as "
                "'Authorization: Bearer <token>' (or an API key the same way)",
            )
        # Rate limits apply where auth is required: a loopback-only stack has one user, and
        # throttling them (a dashboard polling a job) protects nothing.
        if not isinstance(auth.authenticator, Authenticator) or not auth.authenticator.required:
            return None
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        schema = self.execution_context.schema._schema
        cost = max(1, query_cost(schema, operation, fragments))
        wait = auth.authenticator.wait_before(auth.client, cost)
        if wait <= 0:
            return None
        retry_after = max(1, math.ceil(wait))
        if auth.response is not None:
            auth.response.headers["Retry-After"] = str(retry_after)
            auth.response.status_code = 429
        return TypedError(
            "RATE_LIMITED",
            f"rate limit: this query costs {cost}; try again in {retry_after} s",
        )
