"""The GraphQL schema: the contract's Query and Mutation, with limits and the error contract."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from gql.cost import BUDGET, CostLimit
from gql.errors import ErrorContract
from gql.live import RATE
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
from gql.validation import CachedParse, CachedValidation
from gql.wellformed import WellFormedVariables
from models.client import MAX_IMPORT
from models.pages import MAX_PAGE

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5000
# The depth and alias limits as validation rules made once: their extensions build a new rule
# class per instance, and a rule set that differs per request would never hit the cache below.
LIMIT_RULES = [
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]


@strawberry.type(
    description="What Herald knows. Every query needs a bearer token (admin or viewer;"
    " UNAUTHENTICATED without one), except introspection. Lists are Relay connections with"
    f" keyset cursors (first: default 50, at most {MAX_PAGE}); an operation may ask for at"
    f" most {BUDGET:,} nodes (BAD_USER_INPUT with extensions.cost beyond)."
)
class Query:
    client: ClientType | None = strawberry.field(
        resolver=clients.client, description="One client by id; null if there is none."
    )
    clients: ClientConnection = strawberry.field(
        resolver=clients.clients,
        description="The client directory in id order (phone order with phonePrefix);"
        " every filter argument given must hold.",
    )
    mailing: MailingType | None = strawberry.field(
        resolver=mailings.mailing, description="One mailing by id; null if there is none."
    )
    mailings: MailingConnection = strawberry.field(
        resolver=mailings.mailings,
        description="Mailings, newest first unless orderBy says otherwise, optionally only"
        " those in a state or whose text contains `search`.",
    )
    stats: OverallStats = strawberry.field(
        resolver=stats.stats,
        description="Delivery statistics over every mailing, counted now (test sends aside).",
    )
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


@strawberry.type(
    description="Changes. Every mutation needs an admin token (a viewer's is FORBIDDEN, none"
    " UNAUTHENTICATED) and writes an audit log line naming the token (never its secret)."
    " Errors carry extensions.code and, for input, extensions.field."
)
class Mutation:
    create_client: ClientType = strawberry.mutation(
        resolver=clients.create_client,
        description="Add a client to the directory. BAD_USER_INPUT on the field at fault;"
        " CONFLICT on phone if a client has that phone.",
    )
    update_client: ClientType = strawberry.mutation(
        resolver=clients.update_client,
        description="Change a client; messages already made keep their phone and zone."
        " NOT_FOUND on id, BAD_USER_INPUT on the field at fault, CONFLICT on phone if another"
        " client has it.",
    )
    delete_client: strawberry.ID = strawberry.mutation(
        resolver=clients.delete_client,
        description="Delete a client and answer its id: its unsent messages are CANCELLED, the"
        " others kept (client null, phone kept). NOT_FOUND on id.",
    )
    import_clients: ImportResult = strawberry.mutation(
        resolver=clients.import_clients,
        description=f"Upsert up to {MAX_IMPORT:,} clients by phone in one call (more is"
        " BAD_USER_INPUT on clients): bad rows are reported by index and field in the answer,"
        " good rows are written (a later row with the same phone wins).",
    )
    create_mailing: MailingType = strawberry.mutation(
        resolver=mailings.create_mailing,
        description="Create a SCHEDULED mailing; at startAt (at once if it has passed) it"
        " starts and its audience is snapshotted into messages. BAD_USER_INPUT on the field at"
        " fault (text, startAt, endAt, filter.operatorCodes, filter.tags, window).",
    )
    update_mailing: MailingType = strawberry.mutation(
        resolver=mailings.update_mailing,
        description="Edit a mailing under MailingPatch's state rules. NOT_FOUND on id,"
        " BAD_USER_INPUT on the field at fault, CONFLICT when its state forbids the change.",
    )
    delete_mailing: strawberry.ID = strawberry.mutation(
        resolver=mailings.delete_mailing,
        description="Delete a mailing in any state (a running one stops) with its messages,"
        " their history and its test sends, and answer its id. NOT_FOUND on id.",
    )
    pause_mailing: MailingType = strawberry.mutation(
        resolver=mailings.pause_mailing,
        description="SCHEDULED or RUNNING to PAUSED: nothing more is sent until"
        " resumeMailing. CONFLICT in another state, NOT_FOUND on id.",
    )
    resume_mailing: MailingType = strawberry.mutation(
        resolver=mailings.resume_mailing,
        description="PAUSED to RUNNING, or to SCHEDULED if it had not started. CONFLICT in"
        " another state, NOT_FOUND on id.",
    )
    cancel_mailing: MailingType = strawberry.mutation(
        resolver=mailings.cancel_mailing,
        description="SCHEDULED, RUNNING or PAUSED to CANCELLED: its unsent messages become"
        " CANCELLED (sends in flight still record their outcome). CONFLICT once FINISHED or"
        " CANCELLED, NOT_FOUND on id.",
    )
    create_token: CreateTokenPayload = strawberry.mutation(
        resolver=tokens.create_token,
        description="Create a token; its secret is in the answer, and only there (admin only)."
        " BAD_USER_INPUT on name.",
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


@strawberry.type(
    description="Live statistics, over a websocket on /graphql only (graphql-transport-ws;"
    ' connection_init\'s payload carries {"Authorization": "Bearer <token>"}; at most 20'
    " operations at once per connection). Viewers may subscribe. The first event is the"
    " current snapshot, then one per change,"
    f" coalesced to at most {RATE:g} a second; an unchanged snapshot is not sent again."
)
class Subscription:
    mailing_stats = strawberry.subscription(
        resolver=live.mailing_stats,
        description="One mailing's stats, completing after its FINISHED or CANCELLED snapshot"
        " once no message is in flight (or when the mailing is deleted).",
    )
    overall_stats = strawberry.subscription(
        resolver=live.overall_stats,
        description="The overall stats (as Query.stats); never completes.",
    )


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
            lambda: AddValidationRules(LIMIT_RULES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            CachedParse,  # keyed by the text and the parse options (the token limit)
            CachedValidation,
            CheckSubscriptionTargets,  # after CachedValidation: it reads the errors
            CostLimit,
        ],
    )
