"""Shell that users run on a Mac (the Makefile, k8s/minikube.mk, scripts/, the operator install)
uses no GNU-only options and no bash-4 syntax (macOS has BSD tools and bash 3.2). A quick read of
the files; tests/test_shell_portable.py runs them with BSD-like tools. k8s/host/ is left out: it
runs only on Linux, as root."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(
    [REPO / "Makefile", *(REPO / "k8s").glob("*.mk"), *(REPO / "scripts").glob("*.sh"),
     *(REPO / "k8s" / "kuberay-operator").glob("*.sh")]
)
OPTS = r"(?:\s+-\w+)*\s+"  # options before the one looked for
GNU_ONLY = {
    "sed -i / -r (BSD sed reads the word after -i as a backup suffix)": rf"\bsed{OPTS}-\w*[ir]\b",
    "mv/cp/ln -T or -t": rf"\b(?:mv|cp|ln){OPTS}-\w*[Tt]\b",
    "readlink -f": rf"\breadlink{OPTS}-\w*f",
    "grep -P": rf"\bgrep{OPTS}-\w*P",
    "date -d": rf"\bdate{OPTS}-\w*d\b",
    "stat -c": rf"\bstat{OPTS}-\w*c",
    "xargs -r": rf"\bxargs{OPTS}-\w*r",
    "sort -V": rf"\bsort{OPTS}-\w*V",
    "mktemp -p/-t or a long option": rf"\bmktemp{OPTS}(?:-\w*[pt]\b|--)",
    "a GNU long option": r"--(?:in-place|tmpdir|target-directory|no-target-directory|version-sort)\b",
    "a GNU-only command": r"(?<![-\w.])(?:realpath|nproc|tac|timeout|install\s+-D)\s",
    "bash 4 syntax (macOS has bash 3.2)": r"\bdeclare\s+-A|\bmapfile\b|\breadarray\b|\$\{\w+(?:,,|\^\^)"
                                           r"|&>>|\|&|\bcoproc\b|\[-1\]\}",
}


def code_lines(path: Path) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(path.read_text().splitlines(), 1)
            if not line.lstrip().startswith("#")]


def test_the_checked_files_exist():
    names = {p.relative_to(REPO).as_posix() for p in FILES}
    assert {"Makefile", "k8s/minikube.mk", "scripts/fetch-gomodule.sh", "scripts/fetch-kuberay.sh",
            "k8s/kuberay-operator/install.sh"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_should_use_no_gnu_only_options(path):
    found = [f"{path.name}:{n}: {what}: {line.strip()}"
             for n, line in code_lines(path) for what, pattern in GNU_ONLY.items()
             if re.search(pattern, line)]
    assert found == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_should_fall_back_to_shasum_where_sha256sum_is_used(path):
    """macOS has `shasum -a 256`, not `sha256sum`."""
    text = "\n".join(line for _, line in code_lines(path))
    if re.search(r"\bsha256sum\b", text):
        assert "shasum -a 256" in text


@pytest.mark.parametrize("line, what", [
    ('sed -i -e "s|a|b|" f', "sed"), ("sed -i.bak 's/a/b/' f", "sed"), ("sed -r 's/a+/b/'", "sed"),
    ('mv -T "$a" "$b"', "mv/cp"), ("cp -rT a b", "mv/cp"), ("readlink -f x", "readlink"),
    ("grep -oP 'x'", "grep"), ("date -d @1 +%s", "date"), ("stat -c %s f", "stat"),
    ("xargs -r rm", "xargs"), ("sort -V | head -1", "sort"), ("mktemp -p /tmp", "mktemp"),
    ("declare -A seen", "bash 4"), ('echo "${x,,}"', "bash 4"), ("timeout 5 cmd", "a GNU-only"),
])
def test_the_patterns_catch_gnu_only_usage(line, what):
    assert [w for w, p in GNU_ONLY.items() if re.search(p, line) and w.startswith(what.split()[0])], line


@pytest.mark.parametrize("line", [
    'sed -e "s|^namespace: ray101$|namespace: $ns|" -e "s|x|y|" f >out', "sed 's/^go//'",
    'mv "$a" "$b"', 'cp -R "$src/config" "$work/"', "mktemp -d", 'mktemp -d "$cache/.fetch.XXXXXX"',
    "rollout status deployment/x --timeout 5m", "--wait --timeout $(DEPLOY_TIMEOUT)", "date +%s",
    "grep -qx '$(KIND_CLUSTER_NAME)'", "tail -n 1 f", "sort | uniq",
])
def test_the_patterns_leave_portable_usage_alone(line):
    assert [w for w, p in GNU_ONLY.items() if re.search(p, line)] == []
