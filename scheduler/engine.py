"""The engine contract: one POST per firing, with its idempotency key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

RETRYABLE_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class EngineResponse:
    status_code: int
    body: str

    @property
    def accepted(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        return self.status_code in RETRYABLE_STATUSES or self.status_code >= 500


def execution_request(
    *,
    execution_id: str,
    workflow_id: str,
    deployment_version: int,
    trigger_type: str,
    node_id: str,
    data: dict[str, Any],
    triggered_at: str,
    user_id: str | None,
) -> dict[str, Any]:
    """The JSON body of an execution request (DESIGN section 6)."""
    body: dict[str, Any] = {
        "execution_id": execution_id,
        "workflow_id": workflow_id,
        "deployment_version": deployment_version,
        "trigger": {"type": trigger_type, "node_id": node_id, "data": data},
        "triggered_at": triggered_at,
    }
    if user_id is not None:
        body["user_id"] = user_id
    return body


class EngineClient:
    """Sends execution requests to `workflow_engine`."""

    def __init__(self, base_url: str, timeout: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout)

    async def execute(self, request: dict[str, Any]) -> EngineResponse:
        """POST one request. Transport errors (refused, timeout) propagate."""
        response = await self._client.post(
            f"/v1/workflows/{request['workflow_id']}/execute",
            json=request,
            headers={"Idempotency-Key": request["execution_id"]},
        )
        return EngineResponse(response.status_code, response.text[:2000])

    async def ping(self) -> bool:
        try:
            await self._client.get("/health", timeout=2.0)
        except httpx.HTTPError:
            return False
        return True

    async def aclose(self) -> None:
        await self._client.aclose()
