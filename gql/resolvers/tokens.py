"""Token queries and mutations (admin only): parse input, call the domain, map the result."""

from __future__ import annotations

from typing import Annotated

import strawberry

from gql.audit import audit
from gql.context import Context
from gql.ids import parse_id
from gql.permissions import require_admin
from gql.types.fields import id_argument
from gql.types.pagination import AFTER, FIRST, connection, decode_cursor
from gql.types.token import ApiTokenConnection, ApiTokenType, CreateTokenPayload, TokenRole
from models import token as domain
from models.pages import keyset_page

Info = strawberry.Info[Context, None]


async def tokens(
    info: Info,
    first: Annotated[int | None, strawberry.argument(description=FIRST)] = 50,
    after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    include_revoked: Annotated[
        bool, strawberry.argument(description="Also list revoked tokens (default: active only).")
    ] = False,
) -> ApiTokenConnection:
    require_admin(info.context.role, "tokens")
    queryset = domain.ApiToken.all()
    if not include_revoked:
        queryset = queryset.filter(revoked_at=None)
    page = await keyset_page(queryset, first, decode_cursor("token", after))
    return connection("token", page, ApiTokenType.from_model)


async def create_token(
    info: Info,
    role: Annotated[TokenRole, strawberry.argument(description="What the token may do.")],
    name: Annotated[
        str,
        strawberry.argument(
            description="A label (at most 100 characters, no control characters; surrounding "
            "spaces trimmed; may be empty), shown in `tokens` and the audit log."
        ),
    ],
) -> CreateTokenPayload:
    row, secret = await domain.issue_token(role.domain(), name)
    audit(info.context.caller, "createToken", api_token_id=row.id)
    return CreateTokenPayload(token=secret, api_token=ApiTokenType.from_model(row))


async def revoke_token(
    info: Info,
    id: Annotated[strawberry.ID, strawberry.argument(description=id_argument("token"))],
) -> ApiTokenType:
    env_admin = bool(info.context.settings.api_admin_token.get())
    row = await domain.revoke_token(parse_id(id), info.context.now(), env_admin=env_admin)
    audit(info.context.caller, "revokeToken", api_token_id=row.id)
    return ApiTokenType.from_model(row)
