"""Where fabgrid may reach a factory's devices (print hosts, cameras): on the factory's network, so private and
loopback addresses are fine (a printer on the LAN, a VPN such as Tailscale's 100.64.0.0/10), but never a cloud
metadata service or an address no device has: link-local (169.254.0.0/16, where AWS, GCP and Azure serve it;
fe80::/10), Alibaba Cloud's 100.100.100.200, multicast, unspecified. A host name is resolved and every address it
gives is checked (a name with one such address among others is refused).

Depends on the standard library only.
"""

from __future__ import annotations

import ipaddress
import socket

from fabgrid.errors import InputError

#: Metadata services outside the link-local range.
_METADATA = (ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254"))


def address_refusal(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a device must not be reached at `addr` (None: it may)."""
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour  # ::ffff:a.b.c.d, 2002:aabb:ccdd::/48
        if embedded is not None:
            why = address_refusal(embedded)
            return None if why is None else f"an IPv6 address embedding {embedded}, {why}"
    if addr in _METADATA:
        return "a cloud metadata service"
    if addr.is_link_local:
        return "a link-local address (cloud metadata services live there)"
    if addr.is_multicast:
        return "a multicast address"
    if addr.is_unspecified:
        return "the unspecified address"
    return None


def check_device_host(host: str, port: int, what: str, code: str) -> None:
    """InputError(`code`) when `host` is, or resolves to, an address a device must not be reached at. A name that
    does not resolve now is let through (the device may be off; reaching it then says so)."""
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addrs = [literal]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return
        addrs = [ipaddress.ip_address(str(i[4][0]).split("%", 1)[0]) for i in infos]
    for a in addrs:
        why = address_refusal(a)
        if why is not None:
            raise InputError(f"{what} host {host!r} is {a}, {why}", hint="give the device's address on the factory's "
                             "network", code=code)
