#!/bin/sh
# ray101-cni: the pod network of a kind cluster made by k8s/kind/node-image.sh (kindnetd, kind's
# own CNI daemon, is not to be had without a registry). One per node (DaemonSet k8s/kind/cni.yaml,
# host network, privileged); every 10 s it reads the nodes' pod CIDRs and addresses and
#   - writes this node's CNI config: the ptp plugin (a veth per pod, routed, no bridge) with
#     host-local addresses from the node's pod CIDR, and portmap;
#   - routes every other node's pod CIDR via that node's address (the nodes share one Docker
#     network, so a route is all it takes; nothing is masqueraded: pods see each other's addresses,
#     which NetworkPolicies need).
# Runs in the node's network namespace only: the host's routes and firewall are not touched.
set -eu
: "${NODE_NAME:?NODE_NAME (the downward API) is required}"
conf_dir=${CNI_CONF_DIR:-/host/etc/cni/net.d}
conf=$conf_dir/10-ray101.conflist
# the API server directly (kind sets CONTROL_PLANE_ENDPOINT, host:port): no wait for kube-proxy's
# Service rules. kubectl's in-cluster configuration takes the address from these two variables.
if [ -n "${CONTROL_PLANE_ENDPOINT:-}" ]; then
  export KUBERNETES_SERVICE_HOST=${CONTROL_PLANE_ENDPOINT%:*} KUBERNETES_SERVICE_PORT=${CONTROL_PLANE_ENDPOINT##*:}
fi
echo 1 > /proc/sys/net/ipv4/ip_forward
say() { echo "$(date -u +%H:%M:%S) ray101-cni: $*"; }
while :; do
  if kubectl get nodes -o \
      jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' \
      > /tmp/nodes 2>/tmp/kubectl.err; then
    while read -r name cidr ip; do
      [ -n "$cidr" ] && [ -n "$ip" ] || continue
      if [ "$name" = "$NODE_NAME" ]; then
        cat > /tmp/conflist <<EOF
{
  "cniVersion": "0.4.0",
  "name": "ray101",
  "plugins": [
    {"type": "ptp", "ipMasq": false, "mtu": 1500,
     "ipam": {"type": "host-local", "dataDir": "/run/cni-ipam-state",
              "ranges": [[{"subnet": "$cidr"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
        if ! cmp -s /tmp/conflist "$conf"; then
          mkdir -p "$conf_dir"; cp /tmp/conflist "$conf.tmp"; mv "$conf.tmp" "$conf"
          say "$NODE_NAME: pods in $cidr ($conf)"
        fi
      elif ! ip route show "$cidr" | grep -q "via $ip "; then
        ip route replace "$cidr" via "$ip"
        say "route $cidr via $ip ($name)"
      fi
    done < /tmp/nodes
  else
    say "cannot list nodes: $(tail -n 1 /tmp/kubectl.err)"
  fi
  sleep 10
done
