"""Where webhooks may be sent: never, in production, into the service's own network (SSRF)."""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from conveyor.errors import ValidationError


class DestinationRefused(ValidationError):
    code = "WEBHOOK_URL_REFUSED"


def _is_internal(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
    )


def check_url_shape(url: str, *, production: bool) -> None:
    """An absolute http(s) URL with a host; https only in production."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise DestinationRefused("url: must be an absolute http or https URL")
    if production and parts.scheme != "https":
        raise DestinationRefused("url: must use https in production")
    if parts.username or parts.password:
        raise DestinationRefused("url: must not carry credentials")


async def check_destination(url: str, *, production: bool) -> None:
    """Refuse URLs that resolve to loopback, private, link-local or reserved addresses.

    Checked when a subscription is made and again before every delivery, since a name can
    start resolving elsewhere after it was accepted. Development allows local receivers.
    """
    check_url_shape(url, production=production)
    if not production:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        raise DestinationRefused(f"url: host {host} does not resolve") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if _is_internal(address):
            raise DestinationRefused(
                f"url: {host} resolves to {address}, an internal address; webhooks go only"
                " to public hosts in production"
            )
