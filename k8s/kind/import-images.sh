#!/bin/sh
# Runs in a kind node made by k8s/kind/node-image.sh (unit ray101-images.service, before the
# kubelet): import the image archives in /kind/images into containerd's k8s.io namespace, with the
# snapshotter the entrypoint chose for this host.
set -eu
snap=$(sed -n 's/^ *snapshotter = "\(.*\)"/\1/p' /etc/containerd/config.toml | head -n 1)
for t in /kind/images/*.tar; do
  ctr --namespace k8s.io images import --snapshotter "${snap:-overlayfs}" "$t"
done
