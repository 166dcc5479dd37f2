#!/usr/bin/env bash
# Makes the local stand-in for node:20-bookworm-slim that test:deploy builds the image on (no container
# registry is reachable here): Debian bookworm minbase from debootstrap, from the Debian mirror this
# machine's apt uses, plus this machine's own Node 20 runtime and npm, laid out as in the official image.
#
#   test/deploy/base-image.sh TAG
#
# The image's tag is a hash of this file and of the inputs below (test/deploy/image.test.ts computes it),
# so a changed recipe, node or npm makes a new one and an unchanged one is reused from container storage.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" # debootstrap, chroot
tag="${1:?usage: base-image.sh TAG}"

# The first Debian mirror of apt's configuration (deb822 .sources or one-line sources.list).
mirror="$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v -- '-security' | head -n 1 || true)"
if [ -z "$mirror" ]; then
  mirror="$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v -- '-security' | head -n 1 || true)"
fi
[ -n "$mirror" ] || { echo "base-image: no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }

node_bin="$(command -v node)"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" # …/node_modules/npm
[ -f "$npm_dir/package.json" ] || { echo "base-image: npm not found next to $node_bin" >&2; exit 1; }

work="$(mktemp -d /var/tmp/tetcore-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
debs=/var/cache/tetcore-analytics-ci/debs # downloaded packages, kept for the next cold build
mkdir -p "$debs"

echo "base-image: debootstrap bookworm (minbase) from $mirror"
debootstrap --variant=minbase --arch=amd64 --cache-dir="$debs" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  echo "base-image: debootstrap failed (log above)" >&2
  exit 1
}

echo "base-image: adding $("$node_bin" --version) from $node_bin and npm $(npm --version)"
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$npm_dir" "$rootfs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
chroot "$rootfs" /usr/local/bin/node --version >/dev/null
chroot "$rootfs" /usr/local/bin/npm --version >/dev/null

# What the slim image leaves out too.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/local/lib/node_modules/npm/docs \
  "$rootfs"/usr/local/lib/node_modules/npm/man
tar -C "$rootfs" -cf "$work/rootfs.tar" .

container="$(buildah from scratch)"
trap 'buildah rm "$container" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
buildah add --quiet "$container" "$work/rootfs.tar" / >/dev/null
buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION="$("$node_bin" --version | tr -d v)" --cmd node \
  --label org.opencontainers.image.description="bookworm minbase + the host's Node runtime, for test:deploy" "$container"
buildah commit --quiet --rm "$container" "$tag" >/dev/null
trap 'rm -rf "$work"' EXIT
echo "base-image: $tag"
