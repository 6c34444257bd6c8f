"""Whether a host is inside the service's own network: what outbound calls to addresses that
users supply (webhook URLs, restaurant websites) must refuse in production (SSRF)."""

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_internal(address: IPAddress) -> bool:
    """Loopback, private, link-local, reserved, multicast or unspecified."""
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


async def internal_address(host: str, port: int) -> IPAddress | None:
    """The first internal address `host` resolves to, or None if all are public.

    Raises `OSError` when the name does not resolve.
    """
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if is_internal(address):
            return address
    return None
