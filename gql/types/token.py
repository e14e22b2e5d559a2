"""API tokens in the schema: their records (never the secret, which only createToken's payload
carries, once) and the roles they grant."""

from __future__ import annotations

from enum import Enum

import strawberry

from gql.scalars import DateTime
from gql.types.pagination import Connection
from models.token import ApiToken, Role


@strawberry.enum(name="TokenRole", description="What a token may do.")
class TokenRole(Enum):
    ADMIN = strawberry.enum_value(
        "admin", description="Every operation: queries, subscriptions, mutations and `tokens`."
    )
    VIEWER = strawberry.enum_value(
        "viewer", description="Queries and subscriptions only; no mutation, no `tokens`."
    )

    def domain(self) -> Role:
        return Role[self.name]


@strawberry.type(
    name="ApiToken",
    description="An API bearer token's record. The secret is never shown again after "
    "createToken: only its SHA-256 is stored.",
)
class ApiTokenType:
    id: strawberry.ID = strawberry.field(
        description="Decimal id, as revokeToken takes it and the audit log names it (token_id)."
    )
    name: str = strawberry.field(description="The label given at creation (≤ 100 characters).")
    role: TokenRole = strawberry.field(description="What the token may do.")
    created_at: DateTime = strawberry.field(description="When it was created.")
    last_used_at: DateTime | None = strawberry.field(
        description="When a request last authenticated with it; null if never. Recorded at "
        "most once a minute per token, so up to a minute behind."
    )
    revoked_at: DateTime | None = strawberry.field(
        description="When it was revoked; null while active. A revoked token is refused from "
        "the next request (and websocket operation) on."
    )

    @classmethod
    def from_model(cls, row: ApiToken) -> ApiTokenType:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            role=TokenRole[row.role.name],
            created_at=DateTime(row.created_at),
            last_used_at=DateTime(row.last_used_at) if row.last_used_at else None,
            revoked_at=DateTime(row.revoked_at) if row.revoked_at else None,
        )


@strawberry.type(description="createToken's answer: the secret, shown this once, and the record.")
class CreateTokenPayload:
    token: str = strawberry.field(
        description="The bearer secret (`hrld_…`), for `Authorization: Bearer <token>`. Shown "
        "only here: keep it, it cannot be read again."
    )
    api_token: ApiTokenType = strawberry.field(description="The new token's record.")


ApiTokenConnection = Connection[ApiTokenType]
