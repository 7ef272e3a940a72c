"""The Ray cluster's HTTP APIs that ray101 reads directly: the auth header, whether the
dashboard answers, and the State API's list of nodes. (Jobs go through ``jobsapi``.)"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request


def auth_header(token: str | None) -> dict:
    """The header Ray's token auth wants; nothing without a token."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def _get(url: str, token: str | None, timeout: float) -> http.client.HTTPResponse:
    request = urllib.request.Request(url, headers=auth_header(token))
    return urllib.request.urlopen(request, timeout=timeout)


def answers(jobs_url: str, token: str | None, timeout: float = 2.0) -> bool:
    """Does the dashboard at ``jobs_url`` answer ``/api/version`` within ``timeout``?"""
    try:
        with _get(f"{jobs_url}/api/version", token, timeout) as resp:
            return resp.status == 200
    except Exception:
        return False


def alive_node_rows(jobs_url: str, token: str | None, timeout: float = 3.0) -> list[dict] | None:
    """The cluster's alive nodes (``node_id``, ``node_ip``) per its State API, or None when it
    does not answer."""
    try:
        with _get(f"{jobs_url}/api/v0/nodes?limit=1000&detail=false", token, timeout) as resp:
            body = json.loads(resp.read())
    except (OSError, ValueError, urllib.error.URLError):
        return None
    rows = body.get("data", {}).get("result", {}).get("result", [])
    return [r for r in rows if r.get("state") == "ALIVE"]


def alive_nodes(jobs_url: str, token: str | None, timeout: float = 3.0) -> list[str] | None:
    """IPs of the cluster's alive nodes, or None when it does not answer."""
    rows = alive_node_rows(jobs_url, token, timeout)
    return None if rows is None else sorted(r["node_ip"] for r in rows)
