"""Webhook ingress against bad and unusual input: never a 500, never lost."""

from __future__ import annotations

import uuid

import pytest

from scheduler.errors import BadRequestError
from scheduler.triggers.webhook import normalize_path, parse_body
from tests.conftest import definition, eventually
from tests.engine_standin import EngineStandIn
from tests.stack import Stack

SECRET = "s3cret-value-of-some-length"


async def _deploy(stack: Stack, wf_id: str, **parameters: object) -> None:
    hook = {"id": "hook", "subtype": "TRIGGER_WEBHOOK", "parameters": parameters}
    async with stack.client() as api:
        await api.put(f"/api/v1/workflows/{wf_id}", json=definition(wf_id, hook))
        deployed = await api.post(f"/api/v1/deployment/workflows/{wf_id}/deploy")
        assert deployed.status_code == 200, deployed.text


async def test_wrong_method_is_405_with_allow(stack: Stack, wf_id: str) -> None:
    await _deploy(stack, wf_id, methods=["PUT", "post"])
    async with stack.client(user=None) as public:
        response = await public.get(f"/webhook/{wf_id}")
        assert response.status_code == 405
        assert response.headers["Allow"] == "POST, PUT"
        assert (await public.put(f"/webhook/{wf_id}", json={})).status_code == 202


async def test_malformed_json_is_400_and_records_nothing(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    await _deploy(stack, wf_id)
    async with stack.client(user=None) as public:
        response = await public.post(
            f"/webhook/{wf_id}",
            content=b'{"a": ',
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["message"]
    assert engine.requests_for(wf_id) == []


async def test_body_over_limit_is_413(stack: Stack, wf_id: str) -> None:
    await _deploy(stack, wf_id)
    limit = stack.settings.WEBHOOK_MAX_BODY_BYTES
    async with stack.client(user=None) as public:
        declared = await public.post(f"/webhook/{wf_id}", content=b"x" * (limit + 1))
        assert declared.status_code == 413

        async def chunks():  # no Content-Length: the limit holds while streaming
            for _ in range(limit // 1024 + 2):
                yield b"y" * 1024

        streamed = await public.post(f"/webhook/{wf_id}", content=chunks())
        assert streamed.status_code == 413
        assert (
            await public.post(f"/webhook/{wf_id}", content=b"x" * limit)
        ).status_code == 202


async def test_shared_secret_header_is_checked_and_not_recorded(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    await _deploy(
        stack,
        wf_id,
        authentication={"type": "header", "header_name": "X-Token", "secret": SECRET},
    )
    async with stack.client(user=None) as public:
        assert (await public.post(f"/webhook/{wf_id}", json={})).status_code == 401
        wrong = await public.post(
            f"/webhook/{wf_id}", json={}, headers={"X-Token": "nope"}
        )
        assert wrong.status_code == 401
        ok = await public.post(
            f"/webhook/{wf_id}", json={"a": 1}, headers={"X-Token": SECRET}
        )
        assert ok.status_code == 202
    received = await eventually(lambda: engine.requests_for(wf_id))
    headers = {k.lower() for k in received[0].body["trigger"]["data"]["headers"]}
    assert "x-token" not in headers
    async with stack.client() as api:
        state = (await api.get(f"/api/v1/triggers/workflows/{wf_id}")).json()
    assert SECRET not in str(state)


async def test_form_text_and_binary_bodies_are_recorded_by_type(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    await _deploy(stack, wf_id)
    async with stack.client(user=None) as public:
        await public.post(
            f"/webhook/{wf_id}",
            data={"a": "1", "b": "x y"},
            headers={"webhook-id": "form"},
        )
        await public.post(
            f"/webhook/{wf_id}",
            content="héllo".encode(),
            headers={"Content-Type": "text/plain; charset=utf-8", "webhook-id": "text"},
        )
        await public.post(
            f"/webhook/{wf_id}",
            content=b"\x00\xff",
            headers={"Content-Type": "application/octet-stream", "webhook-id": "bin"},
        )
    received = await eventually(
        lambda: engine.requests_for(wf_id), lambda r: len(r) == 3
    )
    bodies = {
        r.body["trigger"]["data"]["body_encoding"]: r.body["trigger"]["data"]["body"]
        for r in received
    }
    assert bodies == {"form": {"a": "1", "b": "x y"}, "text": "héllo", "base64": "AP8="}


async def test_public_gateway_route_reaches_the_workflow_webhook(
    stack: Stack, engine: EngineStandIn, wf_id: str
) -> None:
    await _deploy(stack, wf_id, webhook_path=f"orders/{wf_id}")
    async with stack.client(user=None) as public:
        via_gateway = await public.post(
            f"/api/v1/public/webhook/{wf_id}", json={"x": 1}
        )
        assert via_gateway.status_code == 202
        direct = await public.post(f"/webhook/orders/{wf_id}/", json={"x": 2})
        assert direct.status_code == 202
        encoded = await public.post(f"/webhook/orders%2F{wf_id}", json={})
        assert encoded.status_code == 404
    await eventually(lambda: engine.requests_for(wf_id), lambda r: len(r) == 2)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("orders/new", "/webhook/orders/new"),
        ("/orders/new/", "/webhook/orders/new"),
        ("/webhook/orders/new", "/webhook/orders/new"),
        ("/webhook/caf%C3%A9", "/webhook/café"),
    ],
)
def test_normalize_path_accepts(raw: str, expected: str) -> None:
    assert normalize_path(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "/a/../b",
        "/a/./b",
        "/a//b",
        "/a%2Fb",
        "/a%5cb",
        "/a\\b",
        "/a b",
        "/a\x00b",
        "/a%00b",
        "/webhook",
        "/",
        "",
        "/a?b",
        "/a#b",
        "/" + "x" * 600,
    ],
)
def test_normalize_path_refuses_ambiguous(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_path(raw)


def test_parse_body_rejects_bad_json_and_bad_charset() -> None:
    with pytest.raises(BadRequestError):
        parse_body("application/json", b"\xff\xfe{")
    with pytest.raises(BadRequestError):
        parse_body("application/json; charset=klingon", b"{}")
    assert parse_body("application/vnd.api+json", b'{"a":1}') == ("json", {"a": 1})
    assert parse_body(None, b"") == ("empty", None)


async def test_unknown_paths_never_500(stack: Stack) -> None:
    async with stack.client(user=None) as public:
        for path in (
            "/webhook/",
            "/webhook/%ZZ",
            "/webhook/a/../b",
            f"/webhook/{uuid.uuid4()}",
            "/webhook/%00",
        ):
            response = await public.post(path, content=b"{}")
            assert response.status_code == 404, (path, response.text)
