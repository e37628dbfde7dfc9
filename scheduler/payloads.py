"""What may be stored: JSON that PostgreSQL's jsonb and Temporal's payloads accept."""

from __future__ import annotations

import json
from typing import Any

from scheduler.errors import BadRequestError, PayloadTooLargeError


def storable_size(value: Any, limit: int, what: str = "the event") -> int:
    """The encoded size of `value`, after checking it can be stored as it is.

    jsonb refuses NUL characters and lone surrogates, and JSON has no NaN or
    Infinity; an event over `limit` bytes once encoded would exceed what a
    Temporal payload may carry. Each is a client error, found before the 2xx.
    """
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False).encode()
    except ValueError as exc:
        raise BadRequestError(f"{what} contains NaN or Infinity") from exc
    except UnicodeEncodeError as exc:
        raise BadRequestError(f"{what} contains an unpaired surrogate") from exc
    except RecursionError as exc:
        raise BadRequestError(f"{what} is nested too deeply") from exc
    if b"\\u0000" in encoded:
        raise BadRequestError(
            f"{what} contains a NUL character, which cannot be stored"
        )
    if len(encoded) > limit:
        raise PayloadTooLargeError(
            f"{what} is {len(encoded)} bytes once encoded as JSON, "
            f"over the {limit}-byte limit"
        )
    return len(encoded)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads(text: str) -> Any:
    """`json.loads` that refuses NaN/Infinity and numbers too large to be exact."""
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value
