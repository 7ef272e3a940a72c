"""serve-echo holds a bounded burst of concurrent requests on our namespace IPs."""

import json
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor


def test_serve_echo_answers_200_concurrent_requests_without_an_error(lab):
    lab.cli("run", "serve-echo", "--cluster", "local-multi", "-p", "calls=3", "-p", "keep=true",
            "-q", check=True)
    serve_url = json.loads((lab.home / "clusters.json").read_text())["local-multi"]["serve_url"]

    def call(i: int):
        data = f"burst {i}"
        url = f"{serve_url}?{urllib.parse.urlencode({'data': data})}"
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                return i, resp.status, resp.read().decode()
        except Exception as exc:  # reported below, all at once
            return i, None, repr(exc)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(call, range(200)))
    wrong = [(i, status, body) for i, status, body in answers
             if status != 200 or body != f"Received data: burst {i}"]
    assert not wrong, f"{len(wrong)} of 200 failed, e.g. {wrong[:3]}"
