"""One send through the probe outside any mailing's delivery (testSend): a single attempt, no
retry, no circuit or rate limit, its answer as the domain's `ProbeAnswer`. The composition root
binds it to a probe client and hands it to the API as a `ProbeSend` (gql never imports jobs)."""

from __future__ import annotations

import functools

from jobs.probe import ProbeClient, ProbeError, Rejected, Unauthorized
from models.testsend import ProbeAnswer, ProbeSend, SendOutcome


async def send_once(probe: ProbeClient, msg_id: int, phone: str, text: str) -> ProbeAnswer:
    """SENT on the probe's 200 with code 0; REJECTED on a permanent refusal; FAILED on
    everything else (timeout, connection error, 5xx, 429, a bad body, and 401/403, which
    here names the token rather than stopping any delivery)."""
    try:
        result = await probe.send(msg_id, phone, text, log_extra={"test_send": True})
    except Unauthorized as exc:
        error = f"the probe refused Herald's token ({exc.message})"
        return ProbeAnswer(SendOutcome.FAILED, exc.status, error, exc.latency)
    except Rejected as exc:
        return ProbeAnswer(SendOutcome.REJECTED, exc.status, exc.message, exc.latency)
    except ProbeError as exc:
        return ProbeAnswer(SendOutcome.FAILED, exc.status, exc.message, exc.latency)
    return ProbeAnswer(SendOutcome.SENT, result.status, None, result.latency)


def probe_sender(probe: ProbeClient) -> ProbeSend:
    return functools.partial(send_once, probe)
