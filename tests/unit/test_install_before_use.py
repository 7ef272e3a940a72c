"""Every external command the project runs is installed by the project before its first use.

A fresh machine has only its base image (Debian 12 with Python, Go, gcc, make, git, curl, npm,
coreutils, util-linux, procps, iproute2, ...). Everything else must come from one of the project's
installers, and before the first command that needs it: a test once ran `iptables-save` before
k8s/host/up.sh installed iptables, which passed on every machine that had it by chance and failed
on every new one.

This test reads the shell scripts (.ci/run, scripts/, k8s/) and the Python code (tests/, cli/,
bench/), lists the commands they run and checks each against INVENTORY: where the command comes
from, and that its installer really names the package. Commands from the host provider's packages
may only be used by files that run k8s/host/packages.sh first (or run only after it did).
A new command fails here until it is added to INVENTORY with its installer.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

BASE = "base image"  # on every machine of this kind before the project does anything
CI = ".ci/run"  # `need COMMAND PACKAGE` lines, apt-get before anything else runs
HOST = "k8s/host/packages.sh"  # HOST_PACKAGES, installed first by build.sh --images, up.sh, images.sh
VENV = "make venv"  # the virtualenv (pyproject.toml)
TOOLS = "scripts/install-tools.sh"  # helm and kubectl into .tools/bin, pinned
GO = "k8s/host/build.sh"  # built from the Go module proxy into ~/.cache/ray101
KIND = "k8s/kind/packages.sh"  # KIND_PACKAGES, after the host provider's (docker.sh, node-image.sh, up.sh)
# command -> (Debian package or what provides it, installer)
INVENTORY: dict[str, tuple[str, str]] = {
    **{c: ("coreutils", BASE) for c in (
        "basename cat chmod chown chroot cksum cp cut date dirname env head id install ln ls mkdir "
        "mktemp mv nproc paste printf readlink realpath rm rmdir seq sha256sum sleep sort stat tail tee "
        "timeout touch tr true uname wc yes").split()},
    **{c: ("util-linux", BASE) for c in "findmnt flock mount runuser setsid umount nsenter unshare".split()},
    **{c: (p, BASE) for c, p in {
        "awk": "mawk", "bash": "bash", "find": "findutils", "xargs": "findutils", "grep": "grep",
        "sed": "sed", "tar": "tar", "gzip": "gzip", "python3": "python3", "go": "golang (/usr/local/go)",
        "gcc": "gcc", "strip": "binutils", "make": "make", "git": "git", "npm": "npm",
        "dpkg": "dpkg", "dpkg-query": "dpkg", "apt-get": "apt", "sysctl": "procps", "pgrep": "procps",
        "pkill": "procps", "ps": "procps", "kill": "procps", "ip": "iproute2", "ss": "iproute2",
        "curl": "curl",
        "openssl": "openssl", "sh": "dash",
    }.items()},
    # .ci/run installs these when missing (they are also in the base image of this kind, except
    # chromium: a browser for the dashboard test)
    "chromium": ("chromium", CI),
    "chromedriver": ("chromium-driver", CI),
    # the host provider's packages
    **{c: (p, HOST) for c, p in {
        "containerd": "containerd", "ctr": "containerd", "runc": "runc", "nft": "nftables",
        "iptables": "iptables", "iptables-save": "iptables", "ip6tables-save": "iptables",
        "conntrack": "conntrack", "umoci": "umoci", "mmdebstrap": "mmdebstrap",
    }.items()},
    # the virtualenv
    **{c: ("pyproject.toml", VENV) for c in "ray ray101 pytest ruff mypy cog pip serve".split()},
    "helm": ("helm v4 (npm layer)", TOOLS),
    "kubectl": ("kubectl (npm layer), or the cluster's own build", TOOLS),
    # inside the Ray image's chroot (k8s/host/images.sh), not on the host
    "python": ("python-is-python3 in the image", "k8s/host/images.sh"),
    "useradd": ("passwd in the image", "k8s/host/images.sh"),
}
# the local kind path (k8s/kind/): a Docker Engine of its own
INVENTORY.update({"docker": ("docker.io", KIND), "dockerd": ("docker.io", KIND),
                  # the CNI daemon (k8s/kind/cni.sh) runs in the node image's tools layer
                  "cmp": ("diffutils in the image", "k8s/kind/node-image.sh")})
# Files that use the host provider's packages without running packages.sh themselves: each runs
# only after a script that did.
AFTER_HOST_PACKAGES = {
    "k8s/host/common.sh": "helpers sourced by up.sh, images.sh and down.sh",
    "k8s/host/down.sh": "tears down what up.sh (which runs packages.sh) started",
    "k8s/kind/import-images.sh": "runs inside a kind node, whose image has containerd (node-image.sh)",
}
SHELL_FILES = [".ci/run", "scripts/*.sh", "k8s/**/*.sh", "cli/**/*.sh"]
PYTHON_FILES = ["tests/**/*.py", "cli/**/*.py", "bench/**/*.py"]
# Python calls that run a command given as a list: subprocess's and the tests' own wrappers.
RUNNERS = {"run", "Popen", "check_output", "check_call", "call", "sh", "timed", "streamed"}

KEYWORDS = set("if then else elif fi for while until do done case esac in function select time "
               "! { } [[ ]] [ ]".split())
BUILTINS = set((
    "alias bg bind break builtin caller cd command compgen complete continue declare dirs disown "
    "echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local "
    "logout mapfile popd printf pushd pwd read readarray readonly return set shift shopt source "
    "suspend test times trap true type typeset ulimit umask unalias unset wait :").split())
PREFIXES = {"command", "exec", "sudo", "nohup", "setsid", "env", "time", "logged", "timeout"}


def _code_only(text: str) -> str:
    """The shell text without comments and here-documents."""
    out, heredoc = [], None
    for line in text.splitlines():
        if heredoc:
            if line.strip() == heredoc:
                heredoc = None
            continue
        m = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if m:
            heredoc = m.group(1)
        out.append(re.sub(r"(^|\s)#.*$", "", line))
    return "\n".join(out)


def _strip_shell(text: str) -> str:
    """The shell code with quoted literals taken out; what runs in "$( ... )" is kept."""
    text, out, i = _code_only(text), [], 0
    modes = ["code"]  # code | dq (inside "...") | sub (a $( ... ) inside "...", counting parens)
    depth: list[int] = []
    while i < len(text):
        ch, mode = text[i], modes[-1]
        if ch == "\\":
            i += 2
            continue
        if mode == "dq":
            if ch == '"':
                modes.pop()
                out.append('"')
            elif text.startswith("$(", i):
                modes.append("sub")
                depth.append(0)
                out.append(" $(")
                i += 1
            i += 1
            continue
        if ch == "'":
            j = text.find("'", i + 1)
            i = len(text) if j < 0 else j + 1
            out.append("''")
            continue
        if ch == '"':
            modes.append("dq")
            out.append('"')
        elif mode == "sub" and ch == "(":
            depth[-1] += 1
            out.append(ch)
        elif mode == "sub" and ch == ")":
            if depth[-1] == 0:
                modes.pop()
                depth.pop()
                out.append(") ")
            else:
                depth[-1] -= 1
                out.append(ch)
        else:
            out.append(ch)
        i += 1
    # case patterns ("start)", "off | direct)") are not commands
    return re.sub(r"(?m)^(\s*)[^()\n]*\)", r"\1", "".join(out))


def shell_functions(text: str) -> set[str]:
    return set(re.findall(r"(?m)^\s*(?:function\s+)?([A-Za-z_][\w-]*)\s*\(\)\s*[{(]", text))


def shell_commands(text: str, funcs: frozenset[str] = frozenset()) -> set[str]:
    """Commands in command position; `funcs` are functions defined elsewhere (sourced files)."""
    funcs = funcs | shell_functions(text)
    found = set()
    splitter = r"\n|;|&&|\|\||\||\$\(|`|\bthen\b|\bdo\b|\belse\b|(?<![<>$=])\(|\{|\bif\b|\bwhile\b|!"
    for seg in re.split(splitter, _strip_shell(text)):
        words = seg.split()
        while words and re.match(r"^[A-Za-z_]\w*(\[[^]]*\])?\+?=", words[0]):
            words.pop(0)  # VAR=value before a command
        while len(words) > 1 and words[0].strip('"') in PREFIXES:
            found.add(words.pop(0).strip('"'))
            while len(words) > 1 and words[0].startswith("-"):
                words.pop(0)
        if not words:
            continue
        word = words[0].strip('"')
        if re.match(r"^([a-z][\w.+-]*[a-z0-9]|[a-z])$", word) and word not in KEYWORDS | BUILTINS | funcs:
            found.add(word)
    return found - PREFIXES - BUILTINS


def python_commands(text: str) -> set[str]:
    """Heads of command lists given to subprocess (or a wrapper), and any string naming a command
    that the project installs (`for tool in ("iptables-save", ...)` runs them too)."""
    installed = {c for c, (_, where) in INVENTORY.items() if where != BASE}
    found = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Constant) and node.value in installed:
            found.add(node.value)
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        first = node.args[0]
        if name in RUNNERS and isinstance(first, ast.List) and first.elts:
            head = first.elts[0]
            if isinstance(head, ast.Constant) and isinstance(head.value, str):
                found.add(head.value)
    return {c for c in found if "/" not in c}  # paths in the repo or the venv are ours


def files(patterns: list[str]) -> list[Path]:
    return sorted({p for pat in patterns for p in REPO.glob(pat) if p.is_file() and ".venv" not in p.parts})


def commands_by_file() -> dict[str, set[str]]:
    used = {}
    shell = files(SHELL_FILES)
    ours = frozenset().union(*(shell_functions(p.read_text()) for p in shell))  # sourced helpers too
    for path in shell:
        used[str(path.relative_to(REPO))] = shell_commands(path.read_text(), ours)
    for path in files(PYTHON_FILES):
        if path == Path(__file__).resolve():
            continue  # this file names every command
        used[str(path.relative_to(REPO))] = python_commands(path.read_text())
    return used


def test_the_scanner_sees_what_a_script_runs():
    script = '''
    name() { nft list tables; }
    FOO=1 iptables-save | grep -c KUBE && echo "$(umoci --version) text words" # nft in a comment
    cat <<EOF
    notacommand here
    EOF
    if ! command -v helm >/dev/null; then sudo mmdebstrap x; fi
    '''
    got = shell_commands(script)
    assert {"nft", "iptables-save", "grep", "umoci", "helm", "mmdebstrap", "cat"} <= got
    assert not {"notacommand", "text", "words", "name", "echo", "FOO"} & got
    code = 'import subprocess\nsubprocess.run(["iptables-save"])\nsh(["kubectl", "get"], env, 1)\nx = ["spec"]\n'
    assert python_commands(code) == {"iptables-save", "kubectl"}


def test_every_command_has_an_installer():
    unknown = {f: sorted(c - INVENTORY.keys()) for f, c in commands_by_file().items() if c - INVENTORY.keys()}
    assert unknown == {}, ("commands with no installer in INVENTORY (add each with the package and the "
                           f"project file that installs it): {unknown}")


def ci_packages() -> set[str]:
    text = (REPO / ".ci/run").read_text()
    return set(re.findall(r"(?m)^need \S+ (\S+)", text)) | set(re.findall(r"missing\+=\(([\w.-]+)\)", text))


def kind_packages() -> set[str]:
    m = re.search(r'KIND_PACKAGES="([^"]*)"', (REPO / KIND).read_text())
    assert m, f"{KIND} has no KIND_PACKAGES list"
    return set(m.group(1).split())


def host_packages() -> set[str]:
    text = (REPO / "k8s/host/packages.sh").read_text()
    m = re.search(r'HOST_PACKAGES="([^"]*)"', text)
    assert m, "k8s/host/packages.sh has no HOST_PACKAGES list"
    return set(m.group(1).split())


@pytest.mark.parametrize("installer, listed", [(CI, ci_packages), (HOST, host_packages), (KIND, kind_packages)])
def test_installers_name_the_packages(installer, listed):
    packages = listed()
    missing = {c: p for c, (p, where) in INVENTORY.items() if where == installer and p not in packages}
    assert missing == {}, f"{installer} does not install: {missing}"


def test_host_packages_are_installed_before_their_first_use():
    """A file that runs nft, iptables-save, ctr, umoci... runs k8s/host/packages.sh first: in a
    script, before the first such command; in a test module, as the first step of its module
    fixture (before any snapshot of the host)."""
    late = {}
    for name, used in commands_by_file().items():
        host_cmds = sorted(c for c in used if INVENTORY.get(c, ("", ""))[1] == HOST)
        if not host_cmds or name == HOST or name in AFTER_HOST_PACKAGES:
            continue
        text = (REPO / name).read_text()
        if name.endswith(".py"):
            ok = _fixture_runs_packages_first(text)
        else:
            code = _code_only(text)
            first_use = min(m.start() for c in host_cmds for m in re.finditer(rf"(?<![\w./-]){re.escape(c)}\b", code))
            install = code.find("packages.sh")
            ok = 0 <= install < first_use
        if not ok:
            late[name] = host_cmds
    assert late == {}, f"these files use the host provider's packages without installing them first: {late}"


def _fixture_runs_packages_first(text: str) -> bool:
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef) and any("autouse" in ast.unparse(d) for d in node.decorator_list):
            body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            return bool(body) and "packages.sh" in ast.unparse(body[0])
    return False


def test_the_ordering_check_catches_a_snapshot_before_the_install():
    bad = ('import pytest, subprocess\n@pytest.fixture(scope="module", autouse=True)\ndef cluster():\n'
           '    subprocess.run(["iptables-save"])\n    subprocess.run(["k8s/host/packages.sh"])\n    yield\n')
    good = (bad.replace('    subprocess.run(["iptables-save"])\n', "")
            .replace("    yield\n", '    subprocess.run(["nft"])\n    yield\n'))
    assert not _fixture_runs_packages_first(bad)
    assert _fixture_runs_packages_first(good)
