"""The schema: each domain's queries and mutations merged, with the request's guards."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Iterator

import strawberry
from graphql import ExecutionResult, GraphQLError
from graphql.execution import ExperimentalIncrementalExecutionResults
from graphql.pyutils import AwaitableOrValue
from strawberry.extensions import (
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from registry.access.graphql import AccessMutation, AccessQuery
from registry.audit.graphql import AuditQuery
from registry.authorities.graphql import AuthoritiesMutation, AuthoritiesQuery
from registry.errors import DomainError
from registry.graphql.audit import AuditDenials
from registry.graphql.compiled.execution import PlannedExecution
from registry.graphql.cost import QueryCost
from registry.graphql.errors import ERROR_TYPES
from registry.graphql.inputs import RefuseNulCharacters
from registry.graphql.node import NodeQuery
from registry.graphql.validation import RememberValidDocuments
from registry.record.activities.graphql import ActivitiesMutation
from registry.record.countries.graphql import CountriesMutation, CountriesQuery
from registry.record.documents.graphql import DocumentsMutation, DocumentsQuery
from registry.record.history.graphql import ChangeType, HistoryQuery
from registry.record.inventory.graphql import InventoryMutation, InventoryQuery
from registry.record.inventory.types import ActivityType, EntityType
from registry.record.past.graphql import PastQuery
from registry.record.supervision.graphql import SupervisionMutation, SupervisionQuery
from registry.record.taxonomy.graphql import TaxonomyMutation, TaxonomyQuery
from registry.record.transfers.graphql import TransfersMutation, TransfersQuery
from registry.record.transfers.types import AdequacyDecisionType, TransferType
from registry.recordings.graphql import RecordingsMutation, RecordingsQuery
from registry.rights.graphql import RightsMutation, RightsQuery

logger = logging.getLogger(__name__)

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 2000
SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")

Query = merge_types(
    "Query",
    (
        NodeQuery,
        InventoryQuery,
        TaxonomyQuery,
        TransfersQuery,
        CountriesQuery,
        SupervisionQuery,
        DocumentsQuery,
        HistoryQuery,
        PastQuery,
        AccessQuery,
        AuditQuery,
        RecordingsQuery,
        RightsQuery,
        AuthoritiesQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        InventoryMutation,
        TaxonomyMutation,
        ActivitiesMutation,
        TransfersMutation,
        CountriesMutation,
        SupervisionMutation,
        DocumentsMutation,
        AccessMutation,
        RecordingsMutation,
        RightsMutation,
        AuthoritiesMutation,
    ),
)


def _is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, DomainError | GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Hides what went wrong inside; the request ID ties the answer to the server's log."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=_is_unexpected, error_message="Unexpected error.")

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", None)
        logger.error("unexpected error in request %s", request_id, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL", "requestId": request_id}
        return masked


class OneRootFieldAtATime(PlannedExecution):
    """Resolves a query's root fields one after another, as graphql-core does a mutation's.

    A request's fields share its one database session, and an ``AsyncSession`` serves one
    operation at a time: resolved together, root fields raced to open its connection
    ("concurrent operations are not permitted"). Nested fields are plain attributes that
    their root field loaded, so nothing else touches the session concurrently.
    """

    def execute_operation(
        self, serially: bool | None = None
    ) -> AwaitableOrValue[ExecutionResult | ExperimentalIncrementalExecutionResults]:
        return super().execute_operation(serially=True)


class HideSuggestions(SchemaExtension):
    """Drops graphql-core's "Did you mean ...?" hints, which spell the schema out to a prober.

    graphql-core 3.3 can leave them out itself (``hide_suggestions``), but strawberry 0.341
    validates and executes without passing that option on, and its own
    ``disable_field_suggestions`` covers unknown fields only, not arguments, types, enum
    values or input fields. So the hint is cut from every error of the answer.
    """

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        for error in (result.errors if result else None) or ():
            error.message = SUGGESTION.sub("", error.message)


def build_schema(*, development: bool) -> strawberry.Schema:
    """The schema; outside development it neither answers introspection nor suggests names."""
    # Factories, so each request gets its own extension instances.
    extensions: list[Callable[[], SchemaExtension]] = [
        MaskUnexpectedErrors,
        AuditDenials,
        functools.partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
        functools.partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
        functools.partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        RefuseNulCharacters,
        QueryCost,
        RememberValidDocuments,
    ]
    if not development:
        extensions += [DisableIntrospection, HideSuggestions]
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[
            *ERROR_TYPES,
            EntityType,
            ActivityType,
            TransferType,
            AdequacyDecisionType,
            ChangeType,
        ],
        extensions=extensions,
        execution_context_class=OneRootFieldAtATime,
        # One operation per request: a JSON array of them is refused with 400, so the limits
        # above and the rate limit apply to each operation.
        config=StrawberryConfig(auto_camel_case=True, batching_config=None),
    )
