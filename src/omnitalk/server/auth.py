"""API-key checks for every HTTP route and WebSocket.

A client proves it has the key in one of three ways:
- `Authorization: Bearer KEY` (SDKs, curl, the OpenAI client's `api_key`);
- `Authorization: Basic ...` with the key as password (browsers: the 401 makes them ask once and
  they then send it with the page's own requests and WebSocket);
- the WebSocket subprotocol `openai-insecure-api-key.KEY` (what browser Realtime clients use,
  since a browser WebSocket cannot set headers).
"""

from __future__ import annotations

import base64
import binascii
import hmac

KEY_SUBPROTOCOL = "openai-insecure-api-key."


def offered_subprotocols(headers: dict[str, str]) -> list[str]:
    value = headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in value.split(",") if p.strip()]


def presented_keys(headers: dict[str, str]) -> list[str]:
    keys = []
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        keys.append(credentials.strip())
    elif scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
            keys.append(decoded.partition(":")[2])
        except (binascii.Error, UnicodeDecodeError):
            pass
    keys += [p[len(KEY_SUBPROTOCOL):] for p in offered_subprotocols(headers)
             if p.startswith(KEY_SUBPROTOCOL)]
    return keys


def is_authorized(headers: dict[str, str], api_key: str | None) -> bool:
    if not api_key:
        return True
    expected = api_key.encode("utf-8")
    return any(hmac.compare_digest(key.encode("utf-8"), expected)
               for key in presented_keys(headers))
