"""The GraphQL schema: the contract's Query and Mutation, with limits and the error contract."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from gql.cost import CostLimit
from gql.errors import ErrorContract
from gql.permissions import RequireRole
from gql.resolvers import audience, clients, live, mailings, stats
from gql.scalars import SCALARS
from gql.subscriptions import CheckSubscriptionTargets
from gql.telemetry import OperationMetrics
from gql.types.audience import Audience
from gql.types.client import ClientConnection, ClientType, ImportResult
from gql.types.mailing import MailingConnection, MailingType
from gql.types.stats import OverallStats
from gql.wellformed import WellFormedVariables

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5000


@strawberry.type
class Query:
    client: ClientType | None = strawberry.field(resolver=clients.client)
    clients: ClientConnection = strawberry.field(resolver=clients.clients)
    mailing: MailingType | None = strawberry.field(resolver=mailings.mailing)
    mailings: MailingConnection = strawberry.field(resolver=mailings.mailings)
    stats: OverallStats = strawberry.field(resolver=stats.stats)
    audience: Audience = strawberry.field(
        resolver=audience.audience,
        description="Preview a mailing's audience before creating it: how many clients the"
        " filter selects, per time zone, and with a window and endAt, in which zones the"
        " window opens before the end. Viewers may ask.",
    )


@strawberry.type
class Mutation:
    create_client: ClientType = strawberry.mutation(resolver=clients.create_client)
    update_client: ClientType = strawberry.mutation(resolver=clients.update_client)
    delete_client: strawberry.ID = strawberry.mutation(resolver=clients.delete_client)
    import_clients: ImportResult = strawberry.mutation(resolver=clients.import_clients)
    create_mailing: MailingType = strawberry.mutation(resolver=mailings.create_mailing)
    update_mailing: MailingType = strawberry.mutation(resolver=mailings.update_mailing)
    delete_mailing: strawberry.ID = strawberry.mutation(resolver=mailings.delete_mailing)
    pause_mailing: MailingType = strawberry.mutation(resolver=mailings.pause_mailing)
    resume_mailing: MailingType = strawberry.mutation(resolver=mailings.resume_mailing)
    cancel_mailing: MailingType = strawberry.mutation(resolver=mailings.cancel_mailing)


@strawberry.type
class Subscription:
    mailing_stats = strawberry.subscription(resolver=live.mailing_stats)
    overall_stats = strawberry.subscription(resolver=live.overall_stats)


class HeraldSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Logging happens in gql.errors, only for unexpected errors (client mistakes are not
        server problems and must not flood the log)."""


def build_schema() -> strawberry.Schema:
    return HeraldSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
        extensions=[
            OperationMetrics,  # first: it sees the errors ErrorContract has mapped
            ErrorContract,
            WellFormedVariables,
            RequireRole,
            CheckSubscriptionTargets,
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            CostLimit,
        ],
    )
