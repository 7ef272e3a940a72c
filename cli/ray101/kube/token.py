"""The Ray auth token of a KubeRay cluster, from the Secret KubeRay reads it from.

The token is never printed, logged or stored: ``Target.token_secret`` names the Secret instead.
"""

from __future__ import annotations

import base64

from ray101.errors import Ray101Error
from ray101.kube.client import API_TIMEOUT, Kube


def read_token(kube: Kube, secret: str, cluster: str) -> str:
    """The Ray auth token from ``secret`` (key ``auth_token``). Never printed or logged."""
    where = f"Secret {kube.namespace}/{secret} in context {kube.context}"
    obj = kube.call(
        lambda: kube.core.read_namespaced_secret(secret, kube.namespace,
                                                 _request_timeout=API_TIMEOUT),
        f"read the auth token of {cluster} ({where})",
        missing=f"the auth token of {cluster} is missing: no {where} (`make deploy` creates it)",
    )
    data = obj.data or {}
    if "auth_token" not in data:
        raise Ray101Error(f"{where} has no key auth_token (KubeRay reads the token from it)")
    try:
        token = base64.b64decode(data["auth_token"], validate=True).decode().strip()
    except (ValueError, UnicodeDecodeError):
        raise Ray101Error(f"{where} key auth_token is not valid base64 text") from None
    if not token:
        raise Ray101Error(f"{where} key auth_token is empty")
    return token
