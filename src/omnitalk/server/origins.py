"""Which web pages may open a socket here: the server's own, or origins the operator allowed.

A browser lets any page open a WebSocket to any address, sending the page's `Origin` with the
handshake; the server must refuse foreign pages itself, or a site the user visits could drive
the local assistant and read its replies (cross-site WebSocket hijacking). Clients that are not
browsers send no `Origin` and pass.

A page can also be made same-origin by DNS rebinding (evil.example re-resolved to 127.0.0.1):
then only the `Host` header tells. So a server that listens on loopback answers only requests
addressed to a loopback name (or to the host of an allowed origin).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
LOOPBACK_NAMES = {"localhost"}


class OriginSyntaxError(ValueError):
    pass


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def normalise_origin(origin: str) -> str:
    """`scheme://host:port`, lower case with the port spelled out; `*` and `null` as they are.

    Raises OriginSyntaxError for anything that is not an http(s) origin.
    """
    if origin in ("*", "null"):
        return origin
    parts = urlsplit(origin)
    try:
        port = parts.port
    except ValueError:
        raise OriginSyntaxError(f"{origin!r} has an invalid port") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path.strip("/") \
            or parts.query or parts.username:
        raise OriginSyntaxError(
            f"{origin!r} is not an origin; write it as http(s)://host[:port]"
        )
    return f"{parts.scheme}://{parts.hostname}:{port or DEFAULT_PORTS[parts.scheme]}"


def _host_and_port(host_header: str, default_port: int) -> tuple[str, int] | None:
    parts = urlsplit("//" + host_header)
    try:
        port = parts.port
    except ValueError:
        return None
    return (parts.hostname, port or default_port) if parts.hostname else None


@dataclass(frozen=True)
class OriginPolicy:
    allowed: frozenset[str] = frozenset()  # normalised origins, or "*"
    loopback_only: bool = True  # the server listens on a loopback address

    @classmethod
    def build(cls, allowed: tuple[str, ...] | list[str], bind_host: str) -> OriginPolicy:
        return cls(frozenset(normalise_origin(o) for o in allowed), is_loopback(bind_host))

    def host_allowed(self, host_header: str | None) -> bool:
        """On a loopback server, requests must be addressed to a loopback name."""
        if not self.loopback_only or host_header is None or "*" in self.allowed:
            return True
        target = _host_and_port(host_header, 80)
        if target is None:
            return False
        if is_loopback(target[0]):
            return True
        return any(urlsplit(o).hostname == target[0] for o in self.allowed if o != "null")

    def origin_allowed(self, origin: str | None, host_header: str | None) -> bool:
        """No Origin (not a browser), the server's own page, or an allowed origin."""
        if origin is None or "*" in self.allowed:
            return True
        try:
            normalised = normalise_origin(origin)
        except OriginSyntaxError:
            return False
        if normalised in self.allowed:
            return True
        if normalised == "null" or host_header is None:
            return False
        # Same origin: the page was loaded from the host and port this request is sent to. A
        # Host without a port means the default port of the page's own scheme.
        scheme, _, rest = normalised.partition("://")
        target = _host_and_port(host_header, DEFAULT_PORTS[scheme])
        return target is not None and f"{target[0]}:{target[1]}" == rest
