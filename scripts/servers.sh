#!/usr/bin/env bash
# The real servers the integration tests, the benchmark, promtool and amtool run: Debian 13's
# packages. Natively where the machine is Debian 13; elsewhere in a Debian 13 root built with
# mmdebstrap, cached outside the clone and rebuilt when the package list below changes.
#
#   scripts/servers.sh install        build (or reuse) the servers; prints where they are
#   scripts/servers.sh run CMD...     runs CMD with FLOWVIZ_SERVER_ROOT set (test/servers.ts reads it).
#                                     The root's mounts (proc, dev, dev/shm, sys, /tmp) are made in a
#                                     private mount namespace: they end with CMD however it ends, and
#                                     the host never sees them.
set -euo pipefail

PACKAGES=(
    postgresql-17 pgbouncer pgbackrest valkey-server valkey-tools
    prometheus prometheus-alertmanager prometheus-node-exporter
    prometheus-postgres-exporter prometheus-pgbouncer-exporter prometheus-pgbackrest-exporter prometheus-pushgateway
    prometheus-redis-exporter
    python3-asyncpg python3-sqlalchemy python3-celery python3-redis python3-limits
    postgresql-17-pgaudit
    radosgw python3-boto3 barman-cli-cloud
    openssl ca-certificates iproute2
)
MIRROR=${FLOWVIZ_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${FLOWVIZ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/flowviz-infra}
# the recipe's version is part of the key: change it when the build steps below change
KEY=$(printf '%s\n' recipe-2 "${PACKAGES[@]}" | sha256sum | cut -c1-12)

native() { [ -r /etc/os-release ] && grep -qx 'VERSION_CODENAME=trixie' /etc/os-release; }

die() { echo "servers: $*" >&2; exit 1; }

install_native() {
    local missing=()
    for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return
    [ "$(id -u)" = 0 ] || die "missing Debian 13 packages: ${missing[*]} (as root: apt-get install ${missing[*]})"
    # the servers' packages must not start their services (the tests run their own): a policy-rc.d
    # for the install only, ours removed after it (one already there is left as it was)
    local ours=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\n# scripts/servers.sh: for the length of its install\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
        ours=1
        trap 'rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ -n "$ours" ]; then rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
    # what the install left running on this machine: nothing (the packages' services stay stopped; they start at boot only if enabled)
}

build_root() {
    local root=$CACHE/debian13-$KEY
    if [ -f "$root/.complete" ]; then echo "$root"; return; fi
    [ "$(id -u)" = 0 ] || die "building the Debian 13 root needs root (mmdebstrap, chroot); run scripts/servers.sh install as root once"
    if ! command -v mmdebstrap >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
    fi
    mkdir -p "$CACHE"
    building=$root.building.$$
    trap 'rm -rf "$building"' EXIT
    local start=$SECONDS
    # no daemon starts and no cluster is created inside the root: the tests start what they need
    # no manuals, translations or docs (but the licences): less to unpack, and no man-db trigger to run; no fsync per
    # unpacked file (a build that stops half way is thrown away)
    mmdebstrap --quiet --variant=apt --include="$(IFS=,; echo "${PACKAGES[*]}")" --dpkgopt=force-unsafe-io \
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --essential-hook='mkdir -p "$1/etc/postgresql-common"; echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.conf"' \
        trixie "$building" "$MIRROR" >&2
    touch "$building/.complete"
    # a finished root appears whole or not at all; older ones (another package list) go
    mv "$building" "$root"
    trap - EXIT
    find "$CACHE" -maxdepth 1 -name 'debian13-*' ! -name "debian13-$KEY" -exec rm -rf {} + 2>/dev/null || true
    echo "servers: built the Debian 13 root in $((SECONDS - start)) s: $root" >&2
    echo "$root"
}

server_root() { if native; then install_native; echo /; else build_root; fi; }

inside() {
    local root=$1; shift
    if [ "$root" != / ]; then
        mount -t proc proc "$root/proc"
        mount --bind /dev "$root/dev"
        mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"  # PostgreSQL's shared memory
        mount -t sysfs sysfs "$root/sys"
        mount --rbind /tmp "$root/tmp"                      # tests and servers share their paths
    fi
    export FLOWVIZ_SERVER_ROOT=$root
    local rc=0
    "$@" || rc=$?
    if [ "$root" != / ]; then umount -l "$root/tmp" "$root/sys" "$root/dev/shm" "$root/dev" "$root/proc" || true; fi
    return $rc
}

case "${1:-}" in
    install) server_root ;;
    run)
        shift
        [ $# -gt 0 ] || die "usage: scripts/servers.sh run CMD..."
        root=$(server_root)
        if [ "$root" = / ]; then inside / "$@"
        else exec unshare --mount --propagation private -- "$0" _inside "$root" "$@"; fi ;;
    _inside) shift; inside "$@" ;;
    *) die "usage: scripts/servers.sh install | run CMD..." ;;
esac
