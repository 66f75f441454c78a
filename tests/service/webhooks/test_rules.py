"""Webhook rules without I/O: the SSRF guard's address checks, allow-list, connect-time refusal, retry decisions."""

from __future__ import annotations

import ipaddress
import socket
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpcore
import pytest
from standardwebhooks import Webhook

from service.config import Settings, WebhookSettings
from service.webhooks.delivery import Response, decide, retry_after_seconds, with_public_links
from service.webhooks.guard import AllowList, DestinationRefused, Guard, GuardedBackend, address_problem, url_problem
from service.webhooks.signing import body_of, new_secret, signed_headers


@pytest.mark.parametrize("address, problem", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"), ("10.0.0.1", "private"),
    ("172.16.5.4", "private"), ("192.168.1.1", "private"), ("fc00::1", "private"), ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"), ("169.254.169.254", "cloud metadata address"), ("fd00:ec2::254", "cloud metadata address"),
    ("100.100.100.200", "cloud metadata address"), ("224.0.0.251", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"), ("100.64.0.1", "not globally routable"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.1.1.1", "private"), ("2002:7f00:1::1", "loopback"),
    ("8.8.8.8", None), ("2606:4700:4700::1111", None),
])
def test_address_problems(address, problem):
    assert address_problem(ipaddress.ip_address(address)) == problem


def fake_resolver(table):
    def resolve(host, port, type=0):
        if host not in table:
            raise socket.gaierror(f"unknown host {host}")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in table[host]]
    return resolve


def test_a_host_is_refused_when_any_of_its_addresses_is_not_public():
    resolver = fake_resolver({"internal.example": ["10.0.0.5"], "mixed.example": ["8.8.8.8", "192.168.0.2"],
                              "public.example": ["8.8.4.4"]})
    assert "10.0.0.5" in url_problem("https://internal.example/hook", [], resolver)
    assert "192.168.0.2" in url_problem("https://mixed.example/hook", [], resolver)
    assert url_problem("https://public.example/hook", [], resolver) is None
    assert url_problem("https://nowhere.example/hook", [], resolver) is None  # checked again when delivering
    assert url_problem("https://internal.example/hook", ["internal.example"], resolver) is None
    assert url_problem("https://internal.example/hook", ["*.example"], resolver) is None
    assert url_problem("https://internal.example/hook", ["10.0.0.0/8"], resolver) is None
    assert url_problem("https://internal.example/hook", ["10.0.0.6"], resolver) is not None
    assert url_problem("https://internal.example/hook", ["*"], resolver) is None
    assert url_problem("gopher://public.example/", [], resolver).startswith("the URL must")


def test_allow_list_entries():
    allow = AllowList(["LocalHost.", "*.corp", "10.0.0.0/8", "::1", " ", "*"[:0]])
    assert allow.host("localhost") and allow.host("hooks.corp") and not allow.host("corp")
    assert allow.address(ipaddress.ip_address("10.2.3.4")) and allow.address(ipaddress.ip_address("::1"))
    assert not allow.address(ipaddress.ip_address("127.0.0.1"))


class RecordingBackend(httpcore.NetworkBackend):
    def __init__(self):
        self.connected = []

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        self.connected.append((host, port))
        raise httpcore.ConnectError("recorded only")


def test_connect_time_check_refuses_before_connecting_and_connects_to_the_checked_address():
    """DNS rebinding: public at registration, private when connecting; nothing is ever connected to."""
    answers = {"rebind.example": ["8.8.8.8"]}
    guard = Guard([], fake_resolver(answers))
    assert guard.checked_addresses("rebind.example", 443) == [ipaddress.ip_address("8.8.8.8")]
    answers["rebind.example"] = ["169.254.169.254"]
    inner = RecordingBackend()
    with pytest.raises(DestinationRefused, match="cloud metadata"):
        GuardedBackend(guard, inner).connect_tcp("rebind.example", 443)
    assert inner.connected == []
    # an allowed host: the connection goes to the resolved, checked address (not a second lookup)
    answers["ok.example"] = ["127.0.0.1"]
    allowed = GuardedBackend(Guard(["ok.example"], fake_resolver(answers)), inner)
    with pytest.raises(httpcore.ConnectError):
        allowed.connect_tcp("ok.example", 8080)
    assert inner.connected == [("127.0.0.1", 8080)]
    with pytest.raises(httpcore.ConnectError, match="cannot resolve"):
        GuardedBackend(guard, inner).connect_tcp("unknown.example", 443)


def settings(**values) -> Settings:
    return Settings(webhooks=WebhookSettings(retry_delays_seconds=[5, 30, 120], **values))


@pytest.mark.parametrize("response, round_attempts, outcome, retry_in", [
    (Response(status_code=200), 1, "succeeded", None),
    (Response(status_code=204), 4, "succeeded", None),
    (Response(status_code=500), 1, "retrying", 5),
    (Response(status_code=503), 2, "retrying", 30),
    (Response(error="ConnectError: refused"), 3, "retrying", 120),
    (Response(error="ReadTimeout"), 4, "failed", None),  # the delays ran out
    (Response(status_code=429, retry_after=300), 1, "retrying", 300),
    (Response(status_code=429, retry_after=1), 2, "retrying", 30),  # never sooner than the schedule
    (Response(status_code=429, retry_after=10 ** 9), 1, "retrying", 86400),  # capped
    (Response(status_code=408), 1, "retrying", 5),
    (Response(status_code=410), 1, "failed", None),
    (Response(status_code=404), 1, "failed", None),
    (Response(status_code=400), 1, "failed", None),
    (Response(status_code=301, error="redirect not followed (Location: http://10.0.0.1/)"), 1, "failed", None),
    (Response(refused=True, error="destination refused: ..."), 1, "failed", None),
])
def test_decisions(response, round_attempts, outcome, retry_in):
    decision = decide(settings(), response, round_attempts)
    assert (decision.outcome, decision.retry_in) == (outcome, retry_in)
    assert decision.disable == (response.status_code == 410)


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_seconds("120") == 120 and retry_after_seconds(" 0 ") == 0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    later = datetime.now(timezone.utc) + timedelta(seconds=90)
    assert 85 <= retry_after_seconds(format_datetime(later, usegmt=True)) <= 91
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0


def test_signed_headers_verify_with_the_reference_verifier():
    secret = new_secret()
    body = body_of({"type": "evaluation.completed", "data": {"id": "e1", "summary": {"win_rate": 0.5}}})
    headers = signed_headers(secret, "msg_1", body)
    assert headers["webhook-id"] == "msg_1" and headers["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, headers)["data"]["id"] == "e1"
    with pytest.raises(Exception):
        Webhook(new_secret()).verify(body, headers)


def test_links_become_absolute_with_the_public_url():
    payload = {"type": "t", "data": {"links": {"self": "/v1/evaluations/e1"}}}
    assert with_public_links(payload, None) is payload
    assert with_public_links(payload, "https://judge.example/")["data"]["links"]["self"] == \
        "https://judge.example/v1/evaluations/e1"
    assert payload["data"]["links"]["self"] == "/v1/evaluations/e1"


def test_webhook_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("JUDGESERVE_WEBHOOKS__ALLOW_HOSTS", '["localhost", "10.0.0.0/8"]')
    monkeypatch.setenv("JUDGESERVE_WEBHOOKS__TIMEOUT_SECONDS", "4")
    loaded = Settings()
    assert loaded.webhooks.allow_hosts == ["localhost", "10.0.0.0/8"] and loaded.webhooks.timeout_seconds == 4
