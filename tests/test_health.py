"""Health endpoints and the OpenAPI document."""

from __future__ import annotations

from tests.stack import Stack


async def test_health_reports_dependencies(stack: Stack) -> None:
    async with stack.client(user=None) as public:
        live = await public.get("/health")
        assert live.json() == {"status": "healthy", "service": "workflow_scheduler"}
        deps = await public.get("/api/v1/triggers/health")
    assert deps.status_code == 200
    body = deps.json()
    assert body["status"] == "healthy"
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["temporal"]["status"] == "up"
    assert isinstance(body["checks"]["relay"]["backlog"], int)
    assert body["dispatch_mode"] == "engine"


async def test_openapi_document_lists_the_api(stack: Stack) -> None:
    async with stack.client(user=None) as public:
        spec = (await public.get("/openapi.json")).json()
        docs = await public.get("/docs")
    assert docs.status_code == 200
    paths = set(spec["paths"])
    assert {
        "/api/v1/workflows/{workflow_id}",
        "/api/v1/deployment/workflows/{workflow_id}/deploy",
        "/api/v1/deployment/workflows/{workflow_id}/undeploy",
        "/api/v1/deployment/workflows/{workflow_id}/status",
        "/api/v1/deployment/workflows/{workflow_id}/history",
        "/api/v1/deployment/workflows",
        "/api/v1/triggers/workflows/{workflow_id}",
        "/api/v1/triggers/workflows/{workflow_id}/manual",
        "/api/v1/triggers/health",
        "/health",
    } <= paths
