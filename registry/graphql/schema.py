"""The schema: each domain's queries and mutations merged, with the request's guards."""

from __future__ import annotations

import functools
import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from registry.access.graphql import AccessQuery
from registry.errors import DomainError
from registry.graphql.errors import ERROR_TYPES
from registry.graphql.node import NodeQuery
from registry.history.graphql import ChangeType, HistoryQuery
from registry.inventory.graphql import InventoryMutation, InventoryQuery
from registry.inventory.types import ActivityType, EntityType
from registry.transfers.graphql import TransfersMutation, TransfersQuery
from registry.transfers.types import AdequacyDecisionType, TransferType

logger = logging.getLogger(__name__)

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 2000

Query = merge_types("Query", (NodeQuery, InventoryQuery, TransfersQuery, HistoryQuery, AccessQuery))
Mutation = merge_types("Mutation", (InventoryMutation, TransfersMutation))


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


def build_schema() -> strawberry.Schema:
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
        # Factories, so each request gets its own extension instances.
        extensions=[
            MaskUnexpectedErrors,
            functools.partial(QueryDepthLimiter, max_depth=MAX_DEPTH),
            functools.partial(MaxAliasesLimiter, max_alias_count=MAX_ALIASES),
            functools.partial(MaxTokensLimiter, max_token_count=MAX_TOKENS),
        ],
        config=StrawberryConfig(auto_camel_case=True),
    )


schema = build_schema()
