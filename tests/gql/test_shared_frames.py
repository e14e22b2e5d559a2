"""A shared stream's `next` frame is rendered once and is what strawberry would have sent."""

from __future__ import annotations

import json

from graphql import GraphQLError
from strawberry.types.execution import ExecutionResult

from gql.shared import Snapshot


def strawberry_next(operation_id: str, result: ExecutionResult) -> str:
    payload: dict[str, object] = {"data": result.data}
    if result.errors:
        payload["errors"] = [e.formatted for e in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return json.dumps({"id": operation_id, "type": "next", "payload": payload})


class Counting:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, value: object) -> str:
        self.calls += 1
        return json.dumps(value)


def test_frame_is_strawberrys_next_message_byte_for_byte() -> None:
    result = ExecutionResult(
        data={"mailingStats": {"state": "RUNNING", "total": 3}},
        errors=[GraphQLError("partial", extensions={"code": "X"})],
        extensions={"cost": 1},
    )
    snapshot = Snapshot(result)
    assert snapshot.frame("1", json.dumps) == strawberry_next("1", result)
    assert snapshot.frame('we"ird', json.dumps) == strawberry_next('we"ird', result)


def test_payload_encoded_once_for_every_follower() -> None:
    snapshot = Snapshot(ExecutionResult(data={"n": 1}, errors=None))
    encode = Counting()
    frames = {snapshot.frame("1", encode) for _ in range(1000)}
    assert len(frames) == 1 and encode.calls == 2  # the payload, and the head for id "1"
    other = snapshot.frame("2", encode)
    assert encode.calls == 3 and json.loads(other)["payload"] == {"data": {"n": 1}}


def test_bytes_encoders_are_accepted() -> None:
    snapshot = Snapshot(ExecutionResult(data={"n": 1}, errors=None))
    frame = snapshot.frame("1", lambda v: json.dumps(v).encode())
    assert json.loads(frame) == {"id": "1", "type": "next", "payload": {"data": {"n": 1}}}
