"""MongoDB URIs and clients, shared by the CLI (``ray101.mongo``) and the jobs on Ray nodes.

The jobs run where only ``ray101_jobs`` is installed, so this lives here and the CLI imports it.
Nothing here prints a password: ``redact`` and ``hosts_of`` are what messages show.
"""

from __future__ import annotations

import os
import re

URI_ENV = "RAY101_MONGO_URI"

_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:password|authMechanismProperties|tlsCertificateKeyFilePassword)=)[^&]*")


def from_env() -> str | None:
    """``RAY101_MONGO_URI``, or None when it is unset or empty."""
    return os.environ.get(URI_ENV) or None


def redact(uri: str | None) -> str | None:
    """``uri`` with any password replaced by ``***`` (safe to print or log).

    Everything between the user name and the last ``@`` goes, so an unescaped ``@`` in the
    password hides too much rather than too little.
    """
    if not uri:
        return uri
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return "***" if "@" in uri else uri
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        rest = f"{user}:***{rest[at:]}" if colon else rest
    return _QUERY_SECRET.sub(r"\1***", f"{scheme}://{rest}")


def hosts_of(uri: str) -> str:
    """The host list of a MongoDB URI (no credentials), for error messages."""
    rest = uri.partition("://")[2] or uri
    rest = rest[rest.rfind("@") + 1 :]
    return re.split(r"[/?]", rest, maxsplit=1)[0] or "?"


def public_uri(uri: str) -> str:
    """``uri`` without its password (the user stays): what may be printed and recorded."""
    scheme, sep, rest = uri.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0:
        return uri
    return f"{scheme}://{rest[:at].partition(':')[0]}{rest[at:]}"


def with_password(uri: str, password: str) -> str:
    """``uri``, which names a user and no password, with ``password`` added."""
    from urllib.parse import quote_plus

    scheme, sep, rest = uri.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0 or ":" in rest[:at]:
        raise ValueError(f"{redact(uri)} must name a user and no password to take a password "
                         "from a file (mongodb://USER@HOST:PORT/?authSource=DB)")
    return f"{scheme}://{rest[:at]}:{quote_plus(password)}{rest[at:]}"


def password_of(uri: str) -> str | None:
    rest = uri.partition("://")[2]
    at = rest.rfind("@")
    if at < 0:
        return None
    _, colon, password = rest[:at].partition(":")
    return password if colon and password else None


def short_reason(exc: BaseException, uri: str | None = None) -> str:
    """A one-line, password-free reason from a pymongo error."""
    text = str(exc).split(", Timeout:")[0].split("Topology Description")[0]
    text = " ".join(text.split()).rstrip(",; ")
    if uri:
        password = password_of(uri)
        if password:
            text = text.replace(password, "***")
        text = text.replace(uri, redact(uri) or "")
    return text[:300]


def is_auth_failure(exc: BaseException) -> bool:
    """Did the server refuse the credentials (rather than not answer)? pymongo raises
    OperationFailure for both a rejected password (code 18) and a mechanism the server lacks."""
    from pymongo.errors import OperationFailure

    if not isinstance(exc, OperationFailure):
        return False
    return exc.code == 18 or bool(re.search(r"(?i)auth|sasl|scram|mechanism", str(exc)))


def failure(exc: BaseException, uri: str) -> str:
    """What went wrong reaching MongoDB, naming the host (never the password): an
    authentication failure is said to be one, anything else is "unreachable"."""
    where = f"MongoDB at {hosts_of(uri)}"
    if is_auth_failure(exc):
        return f"{where} refused the credentials (authentication failed): {type(exc).__name__}"
    return f"{where} is unreachable: {type(exc).__name__}"


def client(uri: str, timeout_ms: int = 5000):
    """A ``MongoClient`` that fails fast: it gives up selecting a server after ``timeout_ms``
    (the driver's default waits 30 s for a dead server)."""
    import pymongo

    return pymongo.MongoClient(
        uri,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=max(timeout_ms * 12, 60000),
        appname="ray101",
    )
