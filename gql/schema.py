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
from gql.resolvers import audience, clients, live, mailings, stats, testsend, tokens
from gql.scalars import SCALARS
from gql.subscriptions import CheckSubscriptionTargets
from gql.telemetry import OperationMetrics
from gql.types.audience import Audience
from gql.types.client import ClientConnection, ClientType, ImportResult
from gql.types.mailing import MailingConnection, MailingType
from gql.types.stats import OverallStats
from gql.types.testsend import TestSendType
from gql.types.token import ApiTokenConnection, ApiTokenType, CreateTokenPayload
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
    tokens: ApiTokenConnection = strawberry.field(
        resolver=tokens.tokens,
        description="API tokens, oldest first (admin only: FORBIDDEN for viewers). "
        "API_ADMIN_TOKEN has no record and is not listed. Counts toward the query cost.",
    )
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
    create_token: CreateTokenPayload = strawberry.mutation(
        resolver=tokens.create_token,
        description="Create a token; its secret is in the answer, and only there (admin only).",
    )
    revoke_token: ApiTokenType = strawberry.mutation(
        resolver=tokens.revoke_token,
        description="Revoke a token: refused from the next request on; open websockets are "
        "closed (4401) at their next operation. Revoking a revoked token changes nothing. "
        "NOT_FOUND for an unknown id; CONFLICT for the last active admin token while "
        "API_ADMIN_TOKEN is not set (admin only).",
    )
    clone_mailing: MailingType = strawberry.mutation(
        resolver=mailings.clone_mailing,
        description=(
            "Admin only. A new SCHEDULED mailing with the same text, filter and window as the"
            " given one (in any state); messages, stats and test sends are not copied."
            " BAD_USER_INPUT on startAt/endAt for a period a new mailing could not have"
            " (including a default one), NOT_FOUND on id."
        ),
    )
    test_send: TestSendType = strawberry.mutation(
        resolver=testsend.send_test,
        description=(
            "Admin only. Sends the mailing's text to one phone through the probe now, once (no"
            " retry), whatever the mailing's state, and records it in Mailing.testSends, never"
            " in the mailing's messages or stats. Waits for the probe's answer (at most"
            " PROBE_TIMEOUT seconds); a probe failure is the record's outcome, not an error."
            " BAD_USER_INPUT on mailingId or phone, NOT_FOUND on mailingId."
        ),
    )


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
