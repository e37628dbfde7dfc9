"""TRIGGER_WEBHOOK: an HTTP endpoint per trigger, under `/webhook/`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from pydantic import Field, field_validator

from scheduler import payloads
from scheduler.errors import BadRequestError, FieldError
from scheduler.models import Node, TriggerType
from scheduler.triggers.base import TriggerParameters, TriggerSpec

WEBHOOK_PREFIX = "/webhook"
ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
DEFAULT_AUTH_HEADER = "X-Webhook-Secret"
# Headers that carry credentials never reach the event record: these names,
# and any name containing one of the words (X-Hub-Signature-256, X-Auth-Token).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
CREDENTIAL_WORDS = (
    "auth",
    "token",
    "secret",
    "signature",
    "api-key",
    "apikey",
    "password",
    "session",
    "cookie",
    "credential",
)
# Header names a shared secret may not be sent in.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-type",
        "content-length",
        "content-encoding",
        "transfer-encoding",
        "connection",
        "idempotency-key",
        "webhook-id",
        "user-agent",
        "accept",
        "expect",
    }
)
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@-]+$")


class WebhookAuth(TriggerParameters):
    type: Literal["none", "header"] = "header"
    header_name: str = Field(default=DEFAULT_AUTH_HEADER, min_length=1, max_length=128)
    secret: str | None = Field(default=None, min_length=16, max_length=1024)

    @field_validator("header_name")
    @classmethod
    def _check_header_name(cls, value: str) -> str:
        if not _TOKEN.match(value):
            raise ValueError("a header name is letters, digits and -, without spaces")
        if value.lower() in RESERVED_HEADERS:
            raise ValueError(
                f"{value} cannot carry a secret; use e.g. X-Webhook-Secret"
            )
        return value

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        if value is not None and not (
            value.isascii() and value.isprintable() and value == value.strip()
        ):
            raise ValueError(
                "a secret is printable ASCII without leading or trailing spaces, "
                "so that it can be sent in a header"
            )
        return value


class WebhookParameters(TriggerParameters):
    webhook_path: str | None = None
    methods: list[str] = Field(default_factory=lambda: ["POST"], min_length=1)
    authentication: WebhookAuth | None = None

    @field_validator("methods")
    @classmethod
    def _check_methods(cls, value: list[str]) -> list[str]:
        methods = [m.upper() for m in value]
        unknown = sorted(set(methods) - set(ALLOWED_METHODS))
        if unknown:
            raise ValueError(
                f"unsupported method(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(ALLOWED_METHODS)}"
            )
        return sorted(set(methods), key=ALLOWED_METHODS.index)

    @field_validator("authentication", mode="before")
    @classmethod
    def _none_string(cls, value: Any) -> Any:
        return None if value in ("none", None, {}) else value


def normalize_path(raw: str) -> str:
    """The canonical form of a webhook path, or ValueError saying why it is refused.

    `orders/new`, `/orders/new/` and `/webhook/orders/new` all become
    `/webhook/orders/new`. Anything whose meaning could differ between a proxy
    and this service is refused rather than guessed at: dot segments, encoded
    slashes or backslashes, empty segments, control characters, whitespace.
    """
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c.isspace() for c in raw):
        raise ValueError(
            "a webhook path may not contain whitespace or control characters"
        )
    lowered = raw.lower()
    if "%2f" in lowered or "%5c" in lowered or "\\" in raw:
        raise ValueError(
            "a webhook path may not contain encoded slashes or backslashes"
        )
    if "?" in raw or "#" in raw:
        raise ValueError("a webhook path may not contain '?' or '#'")
    decoded = unquote(raw, errors="strict")
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c.isspace() for c in decoded):
        raise ValueError("a webhook path may not contain encoded control characters")
    path = decoded.strip("/")
    segments = path.split("/") if path else []
    if segments[:1] == [WEBHOOK_PREFIX.strip("/")]:
        segments = segments[1:]
    if not segments:
        raise ValueError("a webhook path needs at least one segment after /webhook/")
    for segment in segments:
        if segment == "":
            raise ValueError("a webhook path may not contain empty segments ('//')")
        if segment in (".", ".."):
            raise ValueError("a webhook path may not contain '.' or '..' segments")
        if not _SEGMENT.match(segment) and not all(
            _SEGMENT.match(c) or (ord(c) > 0x7F and c.isalnum()) for c in segment
        ):
            raise ValueError(f"the path segment {segment!r} has characters not allowed")
    normalized = WEBHOOK_PREFIX + "/" + "/".join(segments)
    if len(normalized) > 512:
        raise ValueError("a webhook path may be at most 512 characters long")
    return normalized


def default_path(workflow_id: str) -> str:
    return f"{WEBHOOK_PREFIX}/{workflow_id}"


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class WebhookTrigger(TriggerSpec[WebhookParameters]):
    trigger_type = TriggerType.WEBHOOK
    parameters_model = WebhookParameters

    def check(
        self, params: WebhookParameters, node: Node, workflow_id: str
    ) -> list[FieldError]:
        errors: list[FieldError] = []
        if params.webhook_path is not None:
            try:
                normalize_path(params.webhook_path)
            except ValueError as exc:
                errors.append(FieldError(str(exc), node.id, "parameters.webhook_path"))
        auth = params.authentication
        if auth is not None and auth.type == "header" and not auth.secret:
            errors.append(
                FieldError(
                    "header authentication needs a secret of at least 16 characters",
                    node.id,
                    "parameters.authentication.secret",
                )
            )
        return errors

    def index_key(
        self, params: WebhookParameters, node: Node, workflow_id: str
    ) -> str | None:
        if params.webhook_path is None:
            return default_path(workflow_id)
        return normalize_path(params.webhook_path)

    def index_config(
        self, params: WebhookParameters, node: Node, workflow_id: str
    ) -> dict[str, Any]:
        # The index keeps a digest of the shared secret, never the secret.
        config = params.model_dump(mode="json", exclude={"authentication"})
        auth = params.authentication
        if auth is not None and auth.type == "header" and auth.secret:
            config["authentication"] = {
                "type": "header",
                "header_name": auth.header_name,
                "secret_sha256": secret_digest(auth.secret),
            }
        return config


def check_auth(
    config: dict[str, Any],
    headers: dict[str, str],
    repeated: frozenset[str] = frozenset(),
) -> bool:
    """Whether a request's headers satisfy the trigger's authentication.

    A secret header sent twice is refused: which copy a proxy would pass on
    is not something to guess.
    """
    auth = config.get("authentication")
    if not auth:
        return True
    name = str(auth["header_name"]).lower()
    presented = headers.get(name)
    if presented is None or name in repeated:
        return False
    return hmac.compare_digest(secret_digest(presented), str(auth["secret_sha256"]))


def event_headers(headers: dict[str, str], config: dict[str, Any]) -> dict[str, str]:
    """The request headers as recorded in the event, without credentials."""
    auth = config.get("authentication") or {}
    drop = CREDENTIAL_HEADERS | {str(auth.get("header_name", "")).lower()}
    return {
        k: v
        for k, v in headers.items()
        if k.lower() not in drop and not any(w in k.lower() for w in CREDENTIAL_WORDS)
    }


def parse_body(content_type: str | None, body: bytes) -> tuple[str, Any]:
    """The body by its Content-Type: (`json`|`form`|`text`|`base64`|`empty`, value).

    Raises BadRequestError for a body that its own Content-Type says is JSON
    or form data but is not.
    """
    if not body:
        return "empty", None
    media = (content_type or "").split(";")[0].strip().lower()
    charset = _charset(content_type) or "utf-8"
    if media == "application/json" or media.endswith("+json"):
        try:
            return "json", payloads.loads(body.decode(charset))
        except (UnicodeError, LookupError, ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
            raise BadRequestError(f"the body is not valid JSON: {reason}") from exc
    if media == "application/x-www-form-urlencoded":
        try:
            pairs = parse_qsl(
                body.decode(charset), keep_blank_values=True, strict_parsing=True
            )
        except (UnicodeError, LookupError, ValueError) as exc:
            raise BadRequestError(f"the body is not valid form data: {exc}") from exc
        form: dict[str, Any] = {}
        for key, value in pairs:
            form.setdefault(key, []).append(value)
        return "form", {k: v[0] if len(v) == 1 else v for k, v in form.items()}
    if media.startswith("text/") or media in ("application/xml", ""):
        try:
            return "text", body.decode(charset)
        except (UnicodeError, LookupError):
            pass
    return "base64", base64.b64encode(body).decode()


def _charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"').lower()
    return None
