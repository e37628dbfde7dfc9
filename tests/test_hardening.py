"""Hostile and malformed input found by probing the running service: each is a
clear 4xx, nothing is stored that cannot be fired, and no secret leaks."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from temporalio.client import Client

from scheduler import ids
from tests.conftest import definition, eventually
from tests.engine_standin import EngineStandIn
from tests.stack import Stack

SECRET = "hardening-secret-0123456789"


async def _deploy(
    api: httpx.AsyncClient, wf_id: str, *triggers: dict
) -> httpx.Response:
    put = await api.put(f"/api/v1/workflows/{wf_id}", json=definition(wf_id, *triggers))
    assert put.status_code in (200, 201), put.text
    return await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")


def _hook(**parameters: object) -> dict:
    return {"id": "hook", "subtype": "TRIGGER_WEBHOOK", "parameters": parameters}


async def test_webhook_secret_never_reaches_temporal_or_the_api(
    stack: Stack, wf_id: str
) -> None:
    auth = {"type": "header", "header_name": "X-Token", "secret": SECRET}
    cron = {
        "id": "tick",
        "subtype": "TRIGGER_CRON",
        "parameters": {"cron_expression": "0 1 * * *"},
    }
    async with stack.client() as api:
        assert (
            await _deploy(api, wf_id, _hook(authentication=auth), cron)
        ).status_code == 200
        state = (await api.get(f"/api/v1/triggers/workflows/{wf_id}")).json()
    assert SECRET not in json.dumps(state)
    assert "secret_sha256" not in json.dumps(state)
    client = await Client.connect(stack.settings.TEMPORAL_ADDRESS)
    history = await client.get_workflow_handle(
        ids.deployment_workflow_id(wf_id)
    ).fetch_history()
    assert SECRET not in history.to_json()
    schedule = await client.get_schedule_handle(
        ids.schedule_id(wf_id, "tick")
    ).describe()
    assert SECRET not in str(schedule.raw_description)


async def test_undeployed_custom_path_stays_with_its_owner(stack: Stack) -> None:
    path = f"/webhook/kept/{uuid.uuid4().hex[:8]}"
    alice_wf, bob_wf = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    async with stack.client(user="alice") as alice, stack.client(user="bob") as bob:
        assert (
            await _deploy(alice, alice_wf, _hook(webhook_path=path))
        ).status_code == 200
        assert (
            await alice.post(f"/api/v1/deployment/workflows/{alice_wf}/undeploy")
        ).status_code == 200
        taken = await _deploy(bob, bob_wf, _hook(webhook_path=path))
        assert taken.status_code == 422
        message = taken.json()["errors"][0]["message"]
        assert "reserved by another user" in message and alice_wf not in message
        again = await alice.post(f"/api/v1/deployment/workflows/{alice_wf}/deploy")
        assert again.status_code == 200


async def test_credential_headers_are_dropped_from_events(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    async with stack.client() as api:
        assert (await _deploy(api, wf_id, _hook())).status_code == 200
        await api.post(
            f"/webhook/{wf_id}",
            json={},
            headers={
                "X-Token": "old-secret",
                "X-Hub-Signature-256": "sha256=ab",
                "X-Api-Key": "k",
                "X-Request-Id": "kept",
            },
        )
    received = await eventually(lambda: engine.requests_for(wf_id))
    headers = {k.lower() for k in received[0].body["trigger"]["data"]["headers"]}
    assert "x-request-id" in headers
    assert not headers & {"x-token", "x-hub-signature-256", "x-api-key"}


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"a": "\\u0000"}', "application/json", 400),
        (b'{"a": NaN}', "application/json", 400),
        (b'{"a": 1e400}', "application/json", 400),
        (b'{"a": ' + b"9" * 5000 + b"}", "application/json", 400),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400),
        (b'"\\ud800"', "application/json", 400),
        (b"a=%00", "application/x-www-form-urlencoded", 400),
        (b"x\x00y", "text/plain", 400),
        (b"\x01" * 60_000, "text/plain", 413),
    ],
)
async def test_unstorable_webhook_bodies_are_refused_before_the_2xx(
    stack: Stack, wf_id: str, content: bytes, content_type: str, status: int
) -> None:
    async with stack.client() as api:
        assert (await _deploy(api, wf_id, _hook())).status_code == 200
        response = await api.post(
            f"/webhook/{wf_id}", content=content, headers={"Content-Type": content_type}
        )
        assert response.status_code == status, response.text
        assert response.json()["message"]
        state = (await api.get(f"/api/v1/triggers/workflows/{wf_id}")).json()
    assert state["triggers"][0]["firings"]["counts"] == {}


async def test_webhook_request_edge_cases(stack: Stack, wf_id: str) -> None:
    auth = {"type": "header", "header_name": "X-Token", "secret": SECRET}
    async with stack.client() as api:
        assert (
            await _deploy(api, wf_id, _hook(authentication=auth))
        ).status_code == 200
        url = f"/webhook/{wf_id}"
        twice = await api.post(
            url, json={}, headers=[("X-Token", "bad"), ("X-Token", SECRET)]
        )
        assert twice.status_code == 401
        gzip = await api.post(
            url,
            content=b"\x1f\x8b",
            headers={"X-Token": SECRET, "Content-Encoding": "gzip"},
        )
        assert gzip.status_code == 415
        long_key = await api.post(
            url, json={}, headers={"X-Token": SECRET, "Idempotency-Key": "k" * 3000}
        )
        assert long_key.status_code == 400
        head = await api.head(url)
        assert head.status_code == 405 and head.headers["Allow"] == "POST"
        slash = await api.post(
            f"/api/v1/public/webhook/{wf_id}/",
            json={},
            headers={"Host": "evil.example"},
        )
        assert slash.status_code == 404 and "location" not in slash.headers


async def test_bad_header_names_and_node_ids_fail_the_deploy(
    stack: Stack, wf_id: str
) -> None:
    bad_auth = {"type": "header", "header_name": "Idempotency-Key", "secret": SECRET}
    async with stack.client() as api:
        response = await _deploy(
            api,
            wf_id,
            _hook(authentication=bad_auth),
            {"id": "run:key:x", "subtype": "TRIGGER_MANUAL"},
        )
    assert response.status_code == 422
    located = {(e["node_id"], e["field"]) for e in response.json()["errors"]}
    assert ("hook", "parameters.authentication.header_name") in located
    assert ("run:key:x", "id") in located


async def test_manual_keys_of_different_users_never_collide(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    async with stack.client(user="alice") as alice:
        assert (
            await _deploy(alice, wf_id, {"id": "run", "subtype": "TRIGGER_MANUAL"})
        ).status_code == 200
        url = f"/api/v1/triggers/workflows/{wf_id}/manual"
        first = await alice.post(url, headers={"Idempotency-Key": "x:y"})
    async with stack.client(user="alice:x", roles=["admin"]) as other:
        second = await other.post(url, headers={"Idempotency-Key": "y"})
    assert second.json()["duplicate"] is False
    assert first.json()["execution_id"] != second.json()["execution_id"]
    await eventually(lambda: engine.requests_for(wf_id), lambda r: len(r) == 2)


async def test_rest_api_refuses_unstorable_values(stack: Stack, wf_id: str) -> None:
    async with stack.client() as api:
        assert (await api.get("/api/v1/workflows/a%00b")).status_code == 404
        nul = await api.put(
            f"/api/v1/workflows/{wf_id}",
            content=json.dumps(
                definition(wf_id, {"subtype": "TRIGGER_MANUAL"}, name="a\u0000b")
            ),
            headers={"Content-Type": "application/json"},
        )
        assert nul.status_code == 400
        huge = definition(wf_id, {"subtype": "TRIGGER_MANUAL"})
        huge["blob"] = "x" * (2 * 1024 * 1024)
        assert (
            await api.put(f"/api/v1/workflows/{wf_id}", json=huge)
        ).status_code == 413
        listed = await api.get(
            "/api/v1/deployment/workflows", params={"user_id": "\x00"}
        )
        assert listed.status_code == 200
        assert (
            await _deploy(api, wf_id, {"id": "run", "subtype": "TRIGGER_MANUAL"})
        ).status_code == 200
        url = f"/api/v1/triggers/workflows/{wf_id}/manual"
        nan = await api.post(
            url,
            content=b'{"payload": {"x": NaN}}',
            headers={"Content-Type": "application/json"},
        )
        assert nan.status_code == 400
        loose = await api.post(url, json={"confirmation": "yes"})
        assert loose.status_code == 422
