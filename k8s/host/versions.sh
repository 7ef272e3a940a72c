# k8s/host/versions.sh: the versions the `host` provider builds, and where its cache lives.
# Sourced by the other k8s/host scripts; every value can be overridden from the environment.
: "${RAY101_CACHE:=${HOME}/.cache/ray101}"
: "${KUBERNETES_VERSION:=v1.34.4}"
: "${STAGING_VERSION:=v0.34.4}"     # k8s.io/api, client-go, ... published for KUBERNETES_VERSION
: "${ETCD_VERSION:=v3.6.16}"
: "${COREDNS_VERSION:=v1.15.0}"
# Plugins linked into CoreDNS: what the host provider's Corefile (coredns.yaml) and kubeadm's
# default one (kind) use. build.sh keeps CoreDNS's own order of them (plugin.cfg).
: "${COREDNS_PLUGINS:=reload ready health prometheus errors log loadbalance cache kubernetes loop forward}"
: "${KUBERAY_VERSION:=1.6.0}"
: "${RAY_VERSION:=2.60.0}"
export RAY101_CACHE KUBERNETES_VERSION STAGING_VERSION ETCD_VERSION COREDNS_VERSION COREDNS_PLUGINS KUBERAY_VERSION RAY_VERSION
