"""Public webhook ingress: verify, route, record, answer 202."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from scheduler.errors import PayloadTooLargeError, UnsupportedMediaTypeError
from scheduler.ingress import WebhookRequest

router = APIRouter(tags=["ingress"])
# HEAD and OPTIONS are routed too, so that they get the trigger's own 405.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"the body is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError(f"the body is over the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)


async def _accept(
    request: Request, services: ServicesDep, trigger: dict[str, object]
) -> JSONResponse:
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise UnsupportedMediaTypeError(
            f"Content-Encoding {encoding!r} is not accepted; send the body unencoded"
        )
    body = await _read_body(request, services.settings.WEBHOOK_MAX_BODY_BYTES)
    names = [k.decode("latin-1").lower() for k, _ in request.scope["headers"]]
    accepted = await services.ingress.accept_webhook(
        dict(trigger),
        WebhookRequest(
            path=request.url.path,
            method=request.method,
            headers={k.lower(): v for k, v in request.headers.items()},
            query=list(request.query_params.multi_items()),
            content_type=request.headers.get("content-type"),
            body=body,
            repeated=frozenset(n for n in names if names.count(n) > 1),
        ),
    )
    return JSONResponse(accepted.to_dict(), status_code=202)


async def webhook_ingress(
    path: str, request: Request, services: ServicesDep
) -> JSONResponse:
    """A deployed webhook trigger's endpoint."""
    # The raw path, so that an encoded slash is seen (and refused), not decoded.
    raw = request.scope.get("raw_path") or request.url.path.encode()
    trigger = await services.ingress.find_webhook(raw.decode("latin-1"))
    return await _accept(request, services, trigger)


async def public_webhook(
    workflow_id: str, request: Request, services: ServicesDep
) -> JSONResponse:
    """The gateway's public form: the workflow's (first) webhook trigger."""
    trigger = await services.ingress.find_webhook_of(workflow_id)
    return await _accept(request, services, trigger)


# One route per method, so that each has its own OpenAPI operation id.
for _method in METHODS:
    router.add_api_route(
        "/webhook/{path:path}",
        webhook_ingress,
        methods=[_method],
        operation_id=f"webhook_{_method.lower()}",
        status_code=202,
    )
    router.add_api_route(
        "/api/v1/public/webhook/{workflow_id}",
        public_webhook,
        methods=[_method],
        operation_id=f"public_webhook_{_method.lower()}",
        status_code=202,
    )
