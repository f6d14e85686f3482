"""The address door plates carry: the one place that decides it.

A plate hangs on a door for years, so its QR code must lead to an address the helpers'
phones reach. The address a clerk's browser used is no guide: on the server's own computer
it is ``http://127.0.0.1:5000``, which no phone can open. So plates are made only from an
address someone chose: ``FIELDVISIT_BASE_URL`` (the server's configuration) or, when that is
not set, the office's setting on the door-plates page (手机访问地址), kept with the
registry's settings. Every plate's link — the job that makes plates, the ``door-plates``
command, a household's page — takes its address from ``plate_address`` here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

from ..clock import now_iso
from ..config import ConfigError, check_base_url
from ..models import AuditEntry
from ..storage import Registry, Store
from ..storage.paths import has_control
from .qr import household_url

SETTING = "phone_address"  # the registry's setting: the office's address for phones
ACTION = "settings.phone_address"  # its audit entries
EXAMPLE = "http://192.168.1.10:5000"

Source = Literal["config", "setting", "request"]


class AddressError(ValueError):
    """No address phones reach: plates are not made. The message is for the user."""


def is_loopback(url: str) -> bool:
    """Whether ``url`` leads back to the computer that opens it (127.x, ::1, localhost):
    a phone opening it reaches itself, never the server."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    # 0.0.0.0 is what a server listens on, not an address anyone opens.
    return address.is_loopback or address.is_unspecified


def check_phone_address(value: str) -> str:
    """The office's typed address, checked as ``FIELDVISIT_BASE_URL`` is (http(s), a host,
    no query) and refused when it is this computer's own; kept without trailing slash."""
    text = value.strip()
    bad = _("手机访问地址应写成 %(example)s 这样：%(url)s", example=EXAMPLE, url=text[:100])
    if has_control(text):
        raise AddressError(bad)
    try:
        url = check_base_url(text)
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except (ConfigError, ValueError):
        raise AddressError(bad) from None
    if not parts.hostname or parts.fragment:
        raise AddressError(bad)
    if is_loopback(url):
        raise AddressError(
            _(
                "%(url)s 是本机地址，只有这台电脑能打开，手机扫码打不开。"
                "请填写手机能打开的地址，例如 %(example)s",
                url=url,
                example=EXAMPLE,
            )
        )
    return url


def configured_address() -> str | None:
    """``FIELDVISIT_BASE_URL``: when set, it is the address and the page cannot change it."""
    return current_app.config.get("BASE_URL") or None


def stored_address(registry: Registry) -> str | None:
    value = registry.settings.get(SETTING)
    return value if isinstance(value, str) and value else None


def plate_address(store: Store) -> str | None:
    """The address plates carry: ``FIELDVISIT_BASE_URL``, else the office's setting, else
    None. Never the request's: see the module's docstring."""
    return configured_address() or stored_address(store.registry())


def require_plate_address(store: Store) -> str:
    """``plate_address``, or AddressError (naming both ways to set one) when there is none
    or it is one phones cannot reach."""
    url = plate_address(store)
    if url is None:
        raise AddressError(
            _(
                "还没有设置手机访问地址，不能生成户牌：二维码会指向手机打不开的地址。"
                "请在“打印户牌”页填写“手机访问地址”，或设置 FIELDVISIT_BASE_URL"
                "（例如 %(example)s）",
                example=EXAMPLE,
            )
        )
    if is_loopback(url):
        if configured_address():
            raise AddressError(
                _(
                    "FIELDVISIT_BASE_URL 是本机地址 %(url)s，手机扫码打不开，不能生成户牌。"
                    "请把它改为手机能打开的地址（例如 %(example)s），"
                    "或去掉它后在“打印户牌”页填写“手机访问地址”",
                    url=url,
                    example=EXAMPLE,
                )
            )
        raise AddressError(
            _(
                "手机访问地址 %(url)s 是本机地址，手机扫码打不开，不能生成户牌。"
                "请在“打印户牌”页改为手机能打开的地址，或设置 FIELDVISIT_BASE_URL"
                "（例如 %(example)s）",
                url=url,
                example=EXAMPLE,
            )
        )
    return url


def plate_url(store: Store, token: str) -> str | None:
    """The link of a household's plate, or None while no usable address is set."""
    try:
        return household_url(require_plate_address(store), token)
    except AddressError:
        return None


@dataclass(frozen=True)
class AddressState:
    """What the door-plates page tells about the address before anything is printed."""

    url: str  # what the codes would carry: the request's own while nothing is set
    source: Source
    problem: str | None  # why plates cannot be made now; None when they can

    @property
    def loopback(self) -> bool:
        return is_loopback(self.url)


def address_state(store: Store, request_url: str) -> AddressState:
    """The address for the page; ``request_url`` is the one the page was opened with, shown
    (never used) when nothing is set, so the office sees what it would have got."""
    chosen = plate_address(store)
    source: Source = (
        "config" if configured_address() else "setting" if chosen is not None else "request"
    )
    try:
        require_plate_address(store)
        problem = None
    except AddressError as exc:
        problem = str(exc)
    return AddressState(url=chosen or request_url.rstrip("/"), source=source, problem=problem)


def set_phone_address(store: Store, value: str, actor: str) -> str | None:
    """Keep the office's address for phones (an empty value removes it); returns it.
    Refused while ``FIELDVISIT_BASE_URL`` is set: the server's configuration decides then,
    and a setting that silently did nothing would mislead. A change is audited."""
    if configured_address():
        raise AddressError(_("手机访问地址由服务器配置 FIELDVISIT_BASE_URL 决定，不能在此修改"))
    new = check_phone_address(value) if value.strip() else None

    def change(reg: Registry) -> str | None:
        old = stored_address(reg)
        if new is None:
            reg.settings.pop(SETTING, None)
        else:
            reg.settings[SETTING] = new
        return old

    store.update_registry(
        change,
        lambda old: (
            [AuditEntry(now_iso(), actor, ACTION, SETTING, {SETTING: old}, {SETTING: new})]
            if old != new
            else []
        ),
    )
    return new
