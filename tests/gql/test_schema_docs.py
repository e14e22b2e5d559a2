"""The served schema is documented: every type, field, argument, enum value and input field
has a description (what GraphiQL's docs explorer shows), read back by introspection through
the real app, and the descriptions that carry units and zones say them."""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from typing import Annotated, Any, NewType

import httpx
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_client_schema,
    get_introspection_query,
    get_named_type,
    introspection_from_schema,
    specified_directives,
)
from graphql.type.introspection import introspection_types
from graphql.type.scalars import specified_scalar_types
from strawberry.schema.config import StrawberryConfig
from strawberry.types.scalar import ScalarDefinition

# What the GraphQL spec defines, not Herald: documented there.
BUILT_IN = set(introspection_types) | set(specified_scalar_types)
BUILT_IN_DIRECTIVES = {d.name for d in specified_directives}
ERROR_CODES = ("BAD_USER_INPUT", "NOT_FOUND", "CONFLICT", "FORBIDDEN", "UNAUTHENTICATED")


def _items(schema: GraphQLSchema) -> Iterator[tuple[str, Any]]:
    """Everything the docs explorer shows, each with the name it is reported by."""
    for name, named in sorted(schema.type_map.items()):
        if name in BUILT_IN:
            continue
        yield f"type {name}", named
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in named.fields.items():
                yield f"field {name}.{field_name}", field
                for arg_name, arg in field.args.items():
                    yield f"argument {name}.{field_name}({arg_name})", arg
        elif isinstance(named, GraphQLInputObjectType):
            for field_name, input_field in named.fields.items():
                yield f"input field {name}.{field_name}", input_field
        elif isinstance(named, GraphQLEnumType):
            for value_name, value in named.values.items():
                yield f"enum value {name}.{value_name}", value
    for directive in schema.directives:
        if directive.name not in BUILT_IN_DIRECTIVES:
            yield f"directive @{directive.name}", directive
            for arg_name, arg in directive.args.items():
                yield f"argument @{directive.name}({arg_name})", arg


def undocumented(schema: GraphQLSchema) -> list[str]:
    """Every item of `schema` whose description is missing or blank."""
    return [label for label, item in _items(schema) if not (item.description or "").strip()]


def as_served(schema: GraphQLSchema) -> GraphQLSchema:
    """`schema` as a client sees it: through an introspection result, as the served one is."""
    return build_client_schema(introspection_from_schema(schema))


async def served(client: httpx.AsyncClient) -> GraphQLSchema:
    """The schema the app serves, read back by introspection (no token needed for it)."""
    response = await client.post("/graphql", json={"query": get_introspection_query()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return build_client_schema(body["data"])


async def test_every_item_of_the_served_schema_has_a_description(
    client: httpx.AsyncClient,
) -> None:
    schema = await served(client)
    assert len(list(_items(schema))) > 300  # the walk really saw the schema
    assert undocumented(schema) == []


# A tiny schema with one undocumented item of each kind, beside documented ones.
Opaque = NewType("Opaque", str)


@strawberry.enum(description="A colour.")
class Colour(Enum):
    RED = strawberry.enum_value("red", description="Red.")
    BLUE = "blue"


@strawberry.input(description="What to find.")
class Find:
    colour: Colour | None = None
    name: str | None = strawberry.field(default=None, description="Its name.")


@strawberry.type
class Thing:
    name: str = strawberry.field(description="Its name.")
    size: int = strawberry.field(description="   ")
    code: Opaque = strawberry.field(description="Its code.")


def _things(
    find: Find | None = None,
    first: Annotated[int, strawberry.argument(description="How many.")] = 1,
) -> list[Thing]:
    return []


@strawberry.type(description="The root.")
class TinyQuery:
    things: list[Thing] = strawberry.field(resolver=_things, description="Things found.")


def tiny_schema() -> GraphQLSchema:
    scalars: dict[object, ScalarDefinition] = {
        Opaque: strawberry.scalar(name="Opaque", serialize=str, parse_value=str)
    }
    schema = strawberry.Schema(query=TinyQuery, config=StrawberryConfig(scalar_map=scalars))
    return schema._schema


def test_the_check_reports_each_kind_of_undocumented_item() -> None:
    assert sorted(undocumented(as_served(tiny_schema()))) == [
        "argument TinyQuery.things(find)",
        "enum value Colour.BLUE",
        "field Thing.size",  # blank is not a description
        "input field Find.colour",
        "type Opaque",
        "type Thing",
    ]


def _inputs(schema: GraphQLSchema) -> Iterator[tuple[str, Any]]:
    """Every argument and input field: what a client gives Herald."""
    for label, item in _items(schema):
        if label.startswith(("argument ", "input field ")):
            yield label, item


async def test_times_given_to_herald_say_the_offset_is_required(
    client: httpx.AsyncClient,
) -> None:
    schema = await served(client)
    dated = [
        (label, item)
        for label, item in _inputs(schema)
        if get_named_type(item.type).name == "DateTime"
    ]
    assert {"input field MailingInput.startAt", "argument Query.audience(startAt)"} <= {
        label for label, _ in dated
    }
    vague = [label for label, item in dated if "offset" not in (item.description or "")]
    assert vague == []
    scalar = schema.get_type("DateTime")
    assert scalar is not None and "offset" in (scalar.description or "")


async def test_windows_say_they_are_in_the_clients_local_time(
    client: httpx.AsyncClient,
) -> None:
    schema = await served(client)
    windows = [
        (label, item)
        for label, item in _items(schema)
        if label.endswith((".window", "(window)")) or " TimeWindow" in label
    ]
    assert {
        "field Mailing.window",
        "input field MailingInput.window",
        "argument Query.audience(window)",
        "field TimeWindow.start",
        "input field TimeWindowInput.end",
    } <= {label for label, _ in windows}
    vague = [
        label for label, item in windows if "client's local time" not in (item.description or "")
    ]
    assert vague == []


async def test_every_mutation_names_its_errors(client: httpx.AsyncClient) -> None:
    mutation = (await served(client)).mutation_type
    assert mutation is not None
    silent = [
        name
        for name, field in mutation.fields.items()
        if not any(code in (field.description or "") for code in ERROR_CODES)
    ]
    assert silent == []
