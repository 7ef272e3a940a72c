# k8s/host/versions.sh: the versions the `host` provider builds, and where its cache lives.
# Sourced by the other k8s/host scripts; every value can be overridden from the environment.
: "${RAY101_CACHE:=${HOME}/.cache/ray101}"
: "${KUBERNETES_VERSION:=v1.34.4}"
: "${STAGING_VERSION:=v0.34.4}"     # k8s.io/api, client-go, ... published for KUBERNETES_VERSION
: "${ETCD_VERSION:=v3.6.16}"
: "${COREDNS_VERSION:=v1.15.0}"
: "${KUBERAY_VERSION:=1.6.0}"
: "${RAY_VERSION:=2.60.0}"
export RAY101_CACHE KUBERNETES_VERSION STAGING_VERSION ETCD_VERSION COREDNS_VERSION KUBERAY_VERSION RAY_VERSION
