"""What one GraphQL document may ask for, checked before any resolver runs.

A single request must not be able to stall everyone: 5,000 aliases of ``price`` once took
13 s and fanned out 5,000 storage calls. Depth, aliases and tokens are Strawberry's own
limiters; the cost is ours (:func:`query_cost`), kept simple so a rate limit can later spend
the same units.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

MAX_QUERY_DEPTH = 10
# Aliases are how one document repeats a resolver; 100 covers any dashboard of symbols.
MAX_ALIASES = 100
# Parsing stops at this many tokens; our largest useful query is a few hundred.
MAX_TOKENS = 2_000
# Every field costs 1; what is selected under a list costs LIST_COST_MULTIPLIER times over,
# as a list is assumed to hold that many items. `prices` with six fields costs 61.
LIST_COST_MULTIPLIER = 10
MAX_QUERY_COST = 1_000


def query_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> int:
    """The cost of one operation: 1 per field, a list's selection times the multiplier.

    Fragments are costed once each (memoised), so a document of nested fragment spreads
    cannot make this count itself take exponential time.
    """
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    return _CostCounter(schema, fragments).selection_set(operation.selection_set, root)


class _CostCounter:
    def __init__(
        self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode]
    ) -> None:
        self._schema = schema
        self._fragments = fragments
        self._fragment_costs: dict[str, int] = {}
        self._in_progress: set[str] = set()

    def selection_set(self, node: SelectionSetNode | None, parent: GraphQLNamedType) -> int:
        if node is None:
            return 0
        total = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = self._schema.get_type(condition.name.value) if condition else parent
                total += self.selection_set(selection.selection_set, inner or parent)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value)
        return total

    def _field(self, node: FieldNode, parent: GraphQLNamedType) -> int:
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            return 1
        definition = parent.fields.get(node.name.value)
        if definition is None:
            return 1  # an unknown field: FieldsOnCorrectTypeRule reports it
        field_type = definition.type
        if isinstance(field_type, GraphQLNonNull):
            field_type = field_type.of_type
        multiplier = LIST_COST_MULTIPLIER if isinstance(field_type, GraphQLList) else 1
        return 1 + multiplier * self.selection_set(node.selection_set, get_named_type(field_type))

    def _fragment(self, name: str) -> int:
        if name in self._fragment_costs:
            return self._fragment_costs[name]
        fragment = self._fragments.get(name)
        if fragment is None or name in self._in_progress:
            return 0  # unknown or cyclic: other validation rules report those
        self._in_progress.add(name)
        parent = self._schema.get_type(fragment.type_condition.name.value)
        cost = self.selection_set(fragment.selection_set, parent) if parent else 0
        self._in_progress.discard(name)
        self._fragment_costs[name] = cost
        return cost


class _MaxCostRule(ValidationRule):
    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        document = context.document
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        for definition in document.definitions:
            if not isinstance(definition, OperationDefinitionNode):
                continue
            cost = query_cost(context.schema, definition, fragments)
            if cost > MAX_QUERY_COST:
                context.report_error(
                    GraphQLError(
                        f"Query cost {cost} exceeds the limit of {MAX_QUERY_COST} (1 per field, "
                        f"{LIST_COST_MULTIPLIER}x under a list): split it into smaller queries.",
                        definition,
                    )
                )


def limit_extensions() -> list[Callable[[], SchemaExtension]]:
    """The schema extensions that enforce the limits above, one instance per operation."""
    return [
        lambda: QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: AddValidationRules([_MaxCostRule]),
    ]


# The most items one page of a connection (`history(first:)`) may ask for.
MAX_PAGE_SIZE = 1_000
