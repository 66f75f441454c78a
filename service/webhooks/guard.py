"""SSRF guard for webhook destinations, checked at registration and again on every connection.

A destination is refused when any address its host resolves to is loopback, private,
link-local, multicast, reserved, unspecified, a cloud metadata address, or otherwise not
globally routable — unless the configured allow-list (``webhooks.allow_hosts``) names the host,
a network holding the address, or ``*``.

At delivery time the check runs inside the HTTP client's network backend: the host is resolved
once, every address is checked, and the connection goes to a checked address (the request keeps
its Host header and TLS server name). A name that resolves to a public address at registration
and to a private one later (DNS rebinding) is therefore refused when it matters. Redirects are
never followed, and proxies from the environment are ignored.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from typing import Callable, Iterable

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[..., list]

# link-local ones (169.254.169.254, fd00:ec2::254 is private) are refused anyway; these are listed so
# the reason says so, and because 100.100.100.200 (Alibaba) sits in the shared 100.64/10 range
METADATA_ADDRESSES = {ipaddress.ip_address(a) for a in
                      ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254", "192.0.0.192")}


class DestinationRefused(Exception):
    """The destination is not allowed (SSRF guard); sending to it is never retried."""


def address_problem(address: IPAddress) -> str | None:
    """Why an address is no destination for a webhook (None when it is a public address)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return address_problem(embedded)
    if address in METADATA_ADDRESSES:
        return "cloud metadata address"
    for attribute, reason in (("is_loopback", "loopback"), ("is_link_local", "link-local"),
                              ("is_multicast", "multicast"), ("is_unspecified", "unspecified"),
                              ("is_private", "private"), ("is_reserved", "reserved")):
        if getattr(address, attribute):
            return reason
    if not address.is_global:
        return "not globally routable"
    return None


class AllowList:
    """``webhooks.allow_hosts``: host names (``localhost``, ``*.internal``), addresses, networks, or ``*``."""

    def __init__(self, entries: Iterable[str]):
        self.everything = False
        self.hosts: set[str] = set()
        self.suffixes: list[str] = []
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            if entry == "*":
                self.everything = True
            elif entry.startswith("*."):
                self.suffixes.append(entry[1:])
            else:
                try:
                    self.networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                except ValueError:
                    self.hosts.add(entry)

    def host(self, host: str) -> bool:
        """True when the host name itself is allowed (then every address it resolves to is)."""
        return self.everything or host in self.hosts or any(host.endswith(s) for s in self.suffixes)

    def address(self, address: IPAddress) -> bool:
        """True when an address lies in an allowed network."""
        return self.everything or any(address in network for network in self.networks)


def normalise_host(host: str) -> str:
    """Lower case, no brackets around IPv6, no trailing dot."""
    return host.strip().strip("[]").lower().rstrip(".")


class Guard:
    """Resolve a host and refuse it unless every address is public or allowed."""

    def __init__(self, allow_hosts: Iterable[str] = (), resolver: Resolver = socket.getaddrinfo):
        self.allow = AllowList(allow_hosts)
        self.resolver = resolver

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every address of ``host`` (socket.gaierror when it does not resolve)."""
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        found = []
        for *_, sockaddr in self.resolver(host, port, type=socket.SOCK_STREAM):
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address not in found:
                found.append(address)
        if not found:
            raise socket.gaierror(f"{host} has no address")
        return found

    def checked_addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses to connect to; DestinationRefused when any of them is not allowed."""
        host = normalise_host(host)
        addresses = self.resolve(host, port)
        if self.allow.host(host):
            return addresses
        for address in addresses:
            problem = address_problem(address)
            if problem and not self.allow.address(address):
                shown = "" if str(address) == host else f" resolves to {address}, which"
                raise DestinationRefused(
                    f"destination refused: {host}{shown} is a {problem} address (allow it with the "
                    f"webhooks.allow_hosts setting)")
        return addresses


def url_problem(url: str, allow_hosts: Iterable[str], resolver: Resolver = socket.getaddrinfo) -> str | None:
    """Why ``url`` cannot be a webhook destination (checked at registration), or None.

    A host that does not resolve yet is accepted: delivery checks again and retries.
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        return f"not a valid URL: {exc}"
    if parsed.scheme not in ("http", "https"):
        return "the URL must start with http:// or https://"
    if not parsed.host:
        return "the URL has no host"
    if parsed.fragment:
        return "the URL must not have a fragment"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        Guard(allow_hosts, resolver).checked_addresses(parsed.host, port)
    except DestinationRefused as exc:
        return str(exc)
    except (OSError, UnicodeError):
        return None
    return None


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, connecting only to addresses the guard checked."""

    def __init__(self, guard: Guard, inner: httpcore.NetworkBackend | None = None):
        self.guard = guard
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = self.guard.checked_addresses(host, port)
        except (OSError, UnicodeError) as exc:  # DNS failure: a network error, retried later
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        error: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:  # try the next checked address
                error = exc
        raise error or httpcore.ConnectError(f"cannot connect to {host}")

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise DestinationRefused("destination refused: unix sockets are not webhook destinations")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every delivery: loading the CA bundle took ~60 ms of CPU per context, twice per send."""
    return httpx.create_ssl_context(trust_env=False)


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose every connection goes through the guard (no proxies)."""

    def __init__(self, guard: Guard, ssl_context: ssl.SSLContext | None = None):
        super().__init__(verify=shared_ssl_context())
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or shared_ssl_context(),
            max_connections=4, network_backend=GuardedBackend(guard),
        )


def guarded_client(allow_hosts: Iterable[str], timeout: float, resolver: Resolver = socket.getaddrinfo) -> httpx.Client:
    """An HTTP client for webhook deliveries: guarded connections, a timeout, no redirects, no proxies."""
    return httpx.Client(transport=GuardedTransport(Guard(allow_hosts, resolver)), timeout=timeout,
                        follow_redirects=False, trust_env=False)


def checked_webhook_url(url: str | None, settings) -> str | None:
    """A submission's ``webhook_url`` if it may be a destination; InvalidSubmission at /webhook_url if not."""
    from service.errors import FieldError, InvalidSubmission

    if url is None:
        return None
    problem = url_problem(url, settings.webhooks.allow_hosts)
    if problem:
        raise InvalidSubmission([FieldError("/webhook_url", problem)])
    return url
