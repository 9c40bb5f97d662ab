#!/usr/bin/env bash
# Builds and runs GoTel's image without a Docker daemon or a registry: buildah builds it from the
# repository's Dockerfile, podman runs it. The Dockerfile's default bases come from public
# registries; where none is reachable, `bases` assembles local ones (Debian's libraries and
# busybox plus the Node 24 binary of the `node` npm package) and `build` uses them.
#
#   scripts/containers.sh bases            assemble the local bases (cached, keyed by their inputs)
#   scripts/containers.sh build [TAG]      build the image (default localhost/gotel:dev) on them
#   scripts/containers.sh podman ARGS...   podman with the same storage and a runtime that works here
#   scripts/containers.sh buildah ARGS...  buildah likewise
#
# Environment: GOTEL_CONTAINERS (storage root; default ~/.cache/gotel/containers, outside the repo
# so the bases and build layers survive between runs), GOTEL_STORAGE_DRIVER (overlay, else vfs),
# UPSTREAM_BASES=1 (build on the Dockerfile's registry bases instead of the local ones).
# Needs the Debian packages buildah, podman, runc and busybox-static.
set -euo pipefail
cd "$(dirname "$0")/.."

ROOT="${GOTEL_CONTAINERS:-${XDG_CACHE_HOME:-$HOME/.cache}/gotel/containers}"
DRIVER="${GOTEL_STORAGE_DRIVER:-overlay}"
NPM_VERSION=11.21.2
# Bump when what the bases hold changes (it is part of their cache key).
BASES_REVISION=1
mkdir -p "$ROOT"
# crun fails on this kind of machine (hybrid cgroups, setrlimit refused): runc, cgroupfs and no
# default ulimits work.
if [ ! -f "$ROOT/containers.conf" ]; then
  printf '[containers]\ndefault_ulimits = []\n[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n' >"$ROOT/containers.conf"
fi
export CONTAINERS_CONF="$ROOT/containers.conf"
STORAGE=(--root "$ROOT/storage" --runroot "$ROOT/run" --storage-driver "$DRIVER")

bah() { buildah "${STORAGE[@]}" "$@"; }
pod() { podman "${STORAGE[@]}" --runtime runc --cgroup-manager cgroupfs --events-backend file "$@"; }

node_bin() { node_modules/.bin/node -p process.execPath; }

# The shared libraries a binary needs, as `ldd` resolves them on this (Debian) machine.
copy_libs() {
  local bin=$1 dest=$2 lib
  for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
    mkdir -p "$dest$(dirname "$lib")"
    cp -L "$lib" "$dest$lib"
  done
}

# Users as in distroless: root, and nonroot with uid/gid 65532 (the image runs as the latter).
write_users() {
  local dest=$1
  mkdir -p "$dest/etc" "$dest/tmp" "$dest/home/nonroot"
  chmod 1777 "$dest/tmp"
  chown 65532:65532 "$dest/home/nonroot"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$dest/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$dest/etc/group"
}

# Runtime base: Node at /nodejs/bin/node like gcr.io/distroless/nodejs24, its libraries, the
# users, CA certificates; no shell, no package manager.
runtime_rootfs() {
  local dest=$1 node=$2
  mkdir -p "$dest/nodejs/bin" "$dest/etc/ssl/certs"
  cp "$node" "$dest/nodejs/bin/node"
  copy_libs "$node" "$dest"
  write_users "$dest"
  cp /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/" 2>/dev/null || true
}

# Build base: the same plus busybox as the shell and tools, and npm (from the npm registry).
build_rootfs() {
  local dest=$1 node=$2 applet
  mkdir -p "$dest/usr/local/bin" "$dest/usr/local/lib/node_modules" "$dest/bin" "$dest/usr/bin" "$dest/root"
  cp "$node" "$dest/usr/local/bin/node"
  copy_libs "$node" "$dest"
  write_users "$dest"
  cp /bin/busybox "$dest/bin/busybox"
  # This machine's trust store: npm reaches the registry through whatever TLS proxy it trusts.
  mkdir -p "$dest/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$dest/etc/ssl/certs/"
  for applet in $(/bin/busybox --list); do
    [ -e "$dest/bin/$applet" ] || ln -s busybox "$dest/bin/$applet"
  done
  ln -sf /bin/env "$dest/usr/bin/env"
  local pack
  pack=$(cd "$ROOT" && npm pack --silent "npm@$NPM_VERSION" | tail -n 1)
  mkdir -p "$dest/usr/local/lib/node_modules/npm"
  tar -xzf "$ROOT/$pack" -C "$dest/usr/local/lib/node_modules/npm" --strip-components=1
  rm -f "$ROOT/$pack"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dest/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dest/usr/local/bin/npx"
}

# A key that changes when a base's inputs do: the Node binary, npm's version, BASES_REVISION.
bases_key() {
  { sha256sum "$(node_bin)" | cut -c1-16; echo "$NPM_VERSION $BASES_REVISION"; } | sha256sum | cut -c1-12
}

commit_rootfs() {
  local tag=$1 rootfs=$2 cfg=$3
  printf 'FROM scratch\nCOPY rootfs/ /\n%b' "$cfg" >"$(dirname "$rootfs")/Containerfile"
  bah bud --quiet --isolation chroot --network host -t "$tag" -f "$(dirname "$rootfs")/Containerfile" "$(dirname "$rootfs")" >/dev/null
}

ensure_bases() {
  local key tmp
  key=$(bases_key)
  BUILD_BASE="localhost/gotel-base/build:$key"
  RUNTIME_BASE="localhost/gotel-base/runtime:$key"
  if bah inspect --type image "$RUNTIME_BASE" >/dev/null 2>&1 && bah inspect --type image "$BUILD_BASE" >/dev/null 2>&1; then
    return
  fi
  echo "containers: assembling local bases $key" >&2
  tmp=$(mktemp -d "$ROOT/bases.XXXXXX")
  mkdir -p "$tmp/runtime/rootfs" "$tmp/build/rootfs"
  runtime_rootfs "$tmp/runtime/rootfs" "$(node_bin)"
  commit_rootfs "$RUNTIME_BASE" "$tmp/runtime/rootfs" 'USER 65532:65532\nENTRYPOINT ["/nodejs/bin/node"]\n'
  build_rootfs "$tmp/build/rootfs" "$(node_bin)"
  commit_rootfs "$BUILD_BASE" "$tmp/build/rootfs" 'ENV PATH=/usr/local/bin:/usr/bin:/bin HOME=/root NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt\nCMD ["node"]\n'
  rm -rf "$tmp"
  # Older bases (another Node, npm or version of this script) are no longer needed.
  bah images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/gotel-base/' | grep -v ":$key\$" | xargs -r buildah "${STORAGE[@]}" rmi >/dev/null 2>&1 || true
}

build() {
  local tag=${1:-localhost/gotel:dev} args=()
  if [ "${UPSTREAM_BASES:-}" != 1 ]; then
    ensure_bases
    args+=(--build-arg "BUILD_BASE=$BUILD_BASE" --build-arg "RUNTIME_BASE=$RUNTIME_BASE")
  fi
  # --layers keeps the dependency install cached until package-lock.json changes.
  bah bud --isolation chroot --network host --layers --quiet \
    --build-arg "VERSION=$(node -p "require('./package.json').version")" \
    --build-arg "REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    "${args[@]}" -t "$tag" -f Dockerfile .
  # Earlier builds' untagged images would pile up in the cache; the current layers stay.
  pod image prune --force --filter until=2h >/dev/null 2>&1 || true
}

cmd=${1:-}
shift || true
case "$cmd" in
  bases) ensure_bases; echo "$BUILD_BASE $RUNTIME_BASE" ;;
  build) build "$@" ;;
  podman) pod "$@" ;;
  buildah) bah "$@" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
