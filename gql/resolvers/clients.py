"""Client queries and mutations: parse input, call the domain, map the result."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import strawberry

from gql.audit import audit
from gql.context import Context
from gql.ids import parse_id
from gql.types.client import (
    ClientConnection,
    ClientInput,
    ClientPatch,
    ClientType,
    ImportResult,
    ImportRowError,
)
from gql.types.fields import IDEMPOTENCY_KEY, id_argument
from gql.types.pagination import AFTER, FIRST, connection, decode_key
from models import client as domain
from models.errors import InvalidInput
from models.idempotency import create_once
from models.pages import keyset_page
from models.search import clients_matching, validate_client_search

Info = strawberry.Info[Context, None]
ClientId = Annotated[strawberry.ID, strawberry.argument(description=id_argument("client"))]


def _null(value: object) -> object:
    return None if value is strawberry.UNSET else value


async def client(id: ClientId) -> ClientType | None:
    row = await domain.Client.get_or_none(id=parse_id(id))
    return ClientType.from_model(row) if row else None


async def clients(
    first: Annotated[int | None, strawberry.argument(description=FIRST)] = 50,
    after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    tag: Annotated[
        str | None,
        strawberry.argument(
            description="Only clients with exactly this tag (no control characters, else"
            " BAD_USER_INPUT on tag)."
        ),
    ] = None,
    operator_code: Annotated[
        str | None,
        strawberry.argument(
            description="Only clients with exactly this operator code (no control characters,"
            " else BAD_USER_INPUT on operatorCode)."
        ),
    ] = None,
    phone_prefix: Annotated[
        str | None,
        strawberry.argument(
            description="Only phones starting with these 1-11 ASCII digits (else"
            ' BAD_USER_INPUT on `phonePrefix`), e.g. "7916"; the page is then ordered by'
            " phone instead of id."
        ),
    ] = None,
    operator_codes: Annotated[
        list[str] | None,
        strawberry.argument(
            description="Only these operator codes (any of them; three ASCII digits each, at"
            " most 100; BAD_USER_INPUT on `operatorCodes`). Empty or null: any."
        ),
    ] = None,
    tags: Annotated[
        list[str] | None,
        strawberry.argument(
            description="Only these tags (any of them; at most 100, each as a stored tag;"
            " BAD_USER_INPUT on `tags`). Empty or null: any. Every argument given must hold."
        ),
    ] = None,
) -> ClientConnection:
    search = validate_client_search(tag, operator_code, phone_prefix, operator_codes, tags)
    queryset, order = clients_matching(search)
    page = await keyset_page(queryset, first, decode_key("client", order, after), order)
    return connection("client", page, ClientType.from_model)


async def create_client(
    info: Info,
    input: Annotated[ClientInput, strawberry.argument(description="The new client.")],
    idempotency_key: Annotated[str | None, strawberry.argument(description=IDEMPOTENCY_KEY)] = None,
) -> ClientType:
    async def create() -> domain.Client:
        data = domain.validate_client(input.phone, input.operator_code, input.tag, input.timezone)
        return await domain.create_client(data)

    payload = dataclasses.asdict(input)
    row, created = await create_once(
        domain.Client, "createClient", idempotency_key, payload, info.context.now(), create
    )
    audit(
        info.context.caller,
        "createClient" if created else "createClient replayed",
        client_id=row.id,
    )
    return ClientType.from_model(row)


async def update_client(
    info: Info,
    id: ClientId,
    input: Annotated[
        ClientPatch, strawberry.argument(description="The fields to change; others are kept.")
    ],
) -> ClientType:
    for name in ("phone", "operator_code", "timezone"):
        if getattr(input, name) is None:
            api = {"operator_code": "operatorCode"}.get(name, name)
            raise InvalidInput(f"{api} cannot be null", field=api)
    patch = domain.ClientPatchData(
        phone=_null(input.phone),  # type: ignore[arg-type]
        operator_code=_null(input.operator_code),  # type: ignore[arg-type]
        tag=_null(input.tag),  # type: ignore[arg-type]
        timezone=_null(input.timezone),  # type: ignore[arg-type]
        tag_set=input.tag is not strawberry.UNSET,
    )
    row = await domain.update_client(parse_id(id), patch)
    audit(info.context.caller, "updateClient", client_id=row.id)
    return ClientType.from_model(row)


async def delete_client(info: Info, id: ClientId) -> strawberry.ID:
    await domain.delete_client(parse_id(id), info.context.now())
    audit(info.context.caller, "deleteClient", client_id=int(id))
    return id


async def import_clients(
    info: Info,
    clients: Annotated[
        list[ClientInput],
        strawberry.argument(
            description=f"The rows, at most {domain.MAX_IMPORT:,} (else BAD_USER_INPUT on"
            " clients), each validated like createClient's input."
        ),
    ],
) -> ImportResult:
    rows = [domain.RawClient(c.phone, c.operator_code, c.tag, c.timezone) for c in clients]
    outcome = await domain.import_clients(rows)
    audit(info.context.caller, "importClients", count=outcome.created + outcome.updated)
    return ImportResult(
        created=outcome.created,
        updated=outcome.updated,
        errors=[
            ImportRowError(row=e.row, field=e.field, message=e.message) for e in outcome.errors
        ],
    )
