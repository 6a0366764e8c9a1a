"""Reading environment variables: one reader per kind of value, each returning the parsed value
or raising `ConfigError` with one line naming the variable.

No message ever shows a URL's userinfo or a secret variable's value (`scrub_secrets`): an
operator's terminal, a CI log and the run's failure event all show configuration errors.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar
from urllib.parse import urlsplit

# Variables whose values are secrets: never echoed, even when pasted into another variable.
SECRET_VARIABLES = ("ESG_CLIENT_SECRET", "ESG_SMTP_PASSWORD", "ESG_PAGERDUTY_ROUTING_KEY", "ESG_FILE_ENCRYPTION_KEY")


_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


class ConfigError(ValueError):
    """A configuration value is missing or malformed. The message is one line naming it."""


def parse_master_key(value: str, source: str) -> bytes:
    """The 32-byte master key from its base64 text (ESG_FILE_ENCRYPTION_KEY, a rotation's new
    key): one parser, so the running job and `keys rotate` accept exactly the same keys.
    ConfigError naming `source`, never the value, otherwise."""
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{source} must be base64 of 32 random bytes (it is not valid base64)") from None
    if len(key) != 32:
        raise ConfigError(f"{source} must be base64 of 32 random bytes (it decodes to {len(key)})")
    return key


@dataclass(frozen=True)
class Secret:
    """A secret value that never prints itself."""

    value: str = field(repr=False)

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return "Secret(***)"

    def __bool__(self) -> bool:
        return bool(self.value)


class Env:
    def __init__(self, env: Mapping[str, str]):
        self._env = env

    def raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def required(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            raise ConfigError(f"{name} is required but not set")
        return value

    def url(self, name: str, *, required: bool = True, default: str | None = None) -> str | None:
        value = self.raw(name) if not required else self.required(name)
        if value is None:
            value = default
        if value is None:
            return None
        check_url(name, value)
        return value

    def number(self, name: str, default: float, *, integer: bool, minimum: float, maximum: float) -> float:
        """A number within [minimum, maximum]: an upper bound too, since a rate of 1e300 or a
        concurrency of a million crash the run later, far from the setting that caused it."""
        value = self.raw(name)
        if value is None:
            return default
        shown = value if len(value) <= 24 else value[:24] + "..."
        try:
            if integer and not _INTEGER.fullmatch(value):
                raise ValueError(value)
            parsed: float = int(value) if integer else float(value)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise ConfigError(f"{name} must be {kind}, got {shown!r}") from None
        if parsed != parsed or parsed < minimum:
            raise ConfigError(f"{name} must be at least {minimum:g}, got {shown!r}")
        if parsed > maximum:
            raise ConfigError(f"{name} must be at most {maximum:g}, got {shown!r}")
        return parsed

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false, got {value[:24]!r}")

    def csv_list(self, name: str) -> tuple[str, ...]:
        value = self.raw(name)
        if value is None:
            return ()
        return tuple(item.strip() for item in value.split(",") if item.strip())


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def without_userinfo(value: str) -> str:
    """`value` with anything between `://` and the last `@` of its authority replaced by `***`
    (done on the text, so it works on URLs too malformed for urlsplit)."""
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    authority_end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority = rest[:authority_end]
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return f"{scheme}{sep}{authority}{rest[authority_end:]}"


def check_url(name: str, value: str) -> None:
    """HTTPS everywhere; plain http only towards a loopback host (sandbox, tests)."""
    shown = without_userinfo(value)
    try:
        parts = urlsplit(value)
        host = parts.hostname
        has_userinfo = bool(parts.username or parts.password)
    except ValueError:
        raise ConfigError(f"{name} must be an http(s) URL, got {shown!r}") from None
    if has_userinfo or shown != value:
        raise ConfigError(f"{name} must not carry credentials in the URL")
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(f"{name} must be an http(s) URL, got {shown!r}")
    if parts.scheme == "http" and not is_loopback_host(host):
        raise ConfigError(f"{name} uses plain http:// to a non-loopback host {host!r}; use https://")


P = ParamSpec("P")
R = TypeVar("R")


def scrub_secrets(load: Callable[P, R]) -> Callable[P, R]:
    """A loader whose ConfigError never holds the value of a secret variable (one pasted into
    the wrong variable would otherwise be echoed as "got '...'")."""

    @functools.wraps(load)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return load(*args, **kwargs)
        except ConfigError as err:
            env = args[0] if args and args[0] is not None else kwargs.get("env") or os.environ
            message = str(err)
            for variable in SECRET_VARIABLES:
                secret = (env.get(variable) or "").strip()  # type: ignore[union-attr]
                if len(secret) >= 4:
                    message = message.replace(secret, "***").replace(secret[:24], "***")
            if message == str(err):
                raise
            raise ConfigError(message) from None

    return wrapper
