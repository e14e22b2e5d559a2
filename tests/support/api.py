"""GraphQL over HTTP for the tests, and the mailing most API tests start from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx


class GQL:
    """Posts GraphQL operations with a bearer token and returns the decoded response."""

    def __init__(self, http: httpx.AsyncClient, token: str | None) -> None:
        self.http, self.token = http, token

    async def __call__(
        self, query: str, token: str | None = "default", **variables: Any
    ) -> dict[str, Any]:
        token = self.token if token == "default" else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code in (200, 400), response.text
        body: dict[str, Any] = response.json()
        return body

    async def ok(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self(query, **variables)
        assert not body.get("errors"), body["errors"]
        data: dict[str, Any] = body["data"]
        return data


def error_of(body: dict[str, Any]) -> dict[str, Any]:
    """The single error of a failed operation (code and field), for terse assertions."""
    assert body.get("errors"), body
    error: dict[str, Any] = body["errors"][0]
    return {"code": error["extensions"]["code"], "field": error["extensions"].get("field")}


MAILING_FIELDS = (
    "id text startAt endAt state createdAt filter { operatorCodes tags } window { start end }"
)
CREATE_MAILING = (
    f"mutation($input: MailingInput!) {{ createMailing(input: $input) {{ {MAILING_FIELDS} }} }}"
)


def iso(delta: timedelta) -> str:
    """Now plus `delta`, as the API reads it."""
    return (datetime.now(UTC) + delta).isoformat()


def mailing_input(**override: Any) -> dict[str, Any]:
    """A valid MailingInput: scheduled in an hour, for an hour, to tag vip on operator 916."""
    value: dict[str, Any] = {
        "text": "Hello",
        "startAt": iso(timedelta(hours=1)),
        "endAt": iso(timedelta(hours=2)),
        "filter": {"operatorCodes": ["916"], "tags": ["vip"]},
    }
    value.update(override)
    return value


async def create_mailing(gql: GQL, **override: Any) -> dict[str, Any]:
    """Creates `mailing_input(**override)` and returns MAILING_FIELDS of the new mailing."""
    data = await gql.ok(CREATE_MAILING, input=mailing_input(**override))
    created: dict[str, Any] = data["createMailing"]
    return created
