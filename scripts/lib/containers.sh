# Sourced by scripts/test.sh: a container engine for Testcontainers, and the PostgreSQL images the
# tests run on. Nothing here writes a host name: the Debian mirror comes from this machine's own apt
# configuration.
#
#   ensure_engine            an engine that answers: DOCKER_HOST's or the default one, else (as root)
#                            Debian's docker.io, installed if needed and started here with its data in
#                            a temp folder, no NAT and no iptables rules (containers get no route out)
#   ensure_postgres_image N  prints the image for PostgreSQL N: postgres:N if the engine has or can
#                            pull it (not under CI), else a local build from Debian's packages
#   stop_engine              removes the tests' containers, and stops an engine started here

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

STATUSDATA_ENGINE_DIR=""
STATUSDATA_ENGINE_DESCRIPTION=""
STATUSDATA_DOCKER0_EXISTED=""

engine_version() { docker version --format '{{.Server.Version}}' 2>/dev/null; }

ensure_engine() {
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    STATUSDATA_ENGINE_DESCRIPTION="docker $(engine_version) at ${DOCKER_HOST:-the default socket} (already running)"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    return 1
  fi
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    apt_install docker.io || return 1
  fi
  reap_stale_engines
  ip link show docker0 >/dev/null 2>&1 && STATUSDATA_DOCKER0_EXISTED=1
  STATUSDATA_ENGINE_DIR="$(mktemp -d "${TMPDIR:-/tmp}/statusdata-docker-XXXXXX")"
  # --iptables=false --ip-masq=false --ip-forward=false: no NAT, no forwarding, no iptables rules, so a
  # container can reach nothing beyond the host; its ports are published on 127.0.0.1 by docker-proxy.
  dockerd --data-root "$STATUSDATA_ENGINE_DIR/data" --exec-root "$STATUSDATA_ENGINE_DIR/exec" \
    --pidfile "$STATUSDATA_ENGINE_DIR/dockerd.pid" -H "unix://$STATUSDATA_ENGINE_DIR/docker.sock" \
    --iptables=false --ip-masq=false --ip-forward=false --ip=127.0.0.1 \
    >"$STATUSDATA_ENGINE_DIR/dockerd.log" 2>&1 &
  export DOCKER_HOST="unix://$STATUSDATA_ENGINE_DIR/docker.sock"
  local waited=0
  until docker info >/dev/null 2>&1; do
    if [ "$waited" -ge 60 ]; then
      echo "error: dockerd did not start within 30 s; its log:" >&2
      tail -n 20 "$STATUSDATA_ENGINE_DIR/dockerd.log" >&2
      return 1
    fi
    sleep 0.5
    waited=$((waited + 1))
  done
  STATUSDATA_ENGINE_DESCRIPTION="docker $(engine_version) (Debian's docker.io, started by this script, data in $STATUSDATA_ENGINE_DIR)"
}

# An engine of an earlier run that was killed before its clean-up (SIGKILL, a machine stopped mid-run) leaves its
# containers' network namespaces mounted under its exec root, their veths on docker0 with 172.17.0.x addresses.
# A new engine hands the same addresses out again, and docker-proxy then reaches the dead namespace: every
# connection to the new container is reset. So before starting, the folders of engines whose dockerd is gone
# are taken down: their processes (containerd, shims, docker-proxy, and what ran inside their namespaces)
# killed, their mounts removed, the folder deleted; and a docker0 that no running dockerd owns is deleted.
reap_stale_engines() {
  local dir pid ns inode proc
  for dir in "${TMPDIR:-/tmp}"/statusdata-docker-*; do
    [ -d "$dir" ] || continue
    pid="$(cat "$dir/dockerd.pid" 2>/dev/null || true)"
    if [ -n "$pid" ] && [ -d "/proc/$pid" ] && grep -qF "$dir" "/proc/$pid/cmdline" 2>/dev/null; then continue; fi
    echo "Removing the container engine state of an earlier run that did not clean up: $dir" >&2
    for ns in $({ grep -F "$dir" /proc/mounts || true; } | awk '$3 == "nsfs" {print $2}'); do
      inode="$(stat -L -c %i "$ns" 2>/dev/null || true)"
      [ -n "$inode" ] || continue
      for proc in /proc/[0-9]*; do
        if [ "$(readlink "$proc/ns/net" 2>/dev/null)" = "net:[$inode]" ]; then kill -9 "${proc#/proc/}" 2>/dev/null || true; fi
      done
    done
    pkill -9 -f -- "$dir" 2>/dev/null || true
    { grep -F "$dir" /proc/mounts || true; } | awk '{print $2}' | sort -r | xargs -r umount -l 2>/dev/null || true
    rm -rf "$dir"
  done
  if ip link show docker0 >/dev/null 2>&1 && ! pgrep -x dockerd >/dev/null; then
    ip link delete docker0 2>/dev/null || true
  fi
}

stop_engine() {
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    # Ryuk (Testcontainers' reaper) cannot be pulled here, so a crashed run's containers are removed by
    # the per-run label ContainerPostgresServer puts on them: this run's only, even on a shared engine.
    local ids
    ids="$(docker ps -aq --filter "label=org.statusdata.tests.run=${STATUSDATA_TEST_RUN:-none}" || true)"
    if [ -n "$ids" ]; then docker rm -f -v $ids >/dev/null 2>&1 || true; fi
  fi
  [ -n "$STATUSDATA_ENGINE_DIR" ] || return 0
  local pid
  pid="$(cat "$STATUSDATA_ENGINE_DIR/dockerd.pid" 2>/dev/null || true)"
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do [ -d "/proc/$pid" ] || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  # dockerd leaves its bridge, and may leave mounts under its data root. (Every step may find nothing to do:
  # this runs under set -e -o pipefail, and from the EXIT trap.)
  if [ -z "$STATUSDATA_DOCKER0_EXISTED" ]; then ip link delete docker0 2>/dev/null || true; fi
  { grep -F "$STATUSDATA_ENGINE_DIR" /proc/mounts || true; } | awk '{print $2}' | sort -r | xargs -r umount -l 2>/dev/null || true
  rm -rf "$STATUSDATA_ENGINE_DIR"
  STATUSDATA_ENGINE_DIR=""
}

# The Debian mirror this machine's apt uses (deb822 .sources files or sources.list), security repos aside.
debian_mirror() {
  { grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}'; awk '/^deb /{print $2}' /etc/apt/sources.list 2>/dev/null; } \
    | grep -v security | head -n 1
}

# $1: PostgreSQL major version, $2: Debian suite that packages it, $3: the tag to build.
build_postgres_image() {
  local major="$1" suite="$2" tag="$3" mirror root
  mirror="$(debian_mirror)"
  [ -n "$mirror" ] || { echo "error: no Debian mirror in this machine's apt configuration" >&2; return 1; }
  command -v debootstrap >/dev/null || apt_install debootstrap || return 1
  root="$(mktemp -d "${TMPDIR:-/tmp}/statusdata-rootfs-XXXXXX")"
  echo "Building $tag: debootstrap $suite from the machine's apt mirror, then postgresql-$major..." >&2
  if ! debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.log" 2>&1; then
    echo "error: debootstrap $suite failed; last lines of its log:" >&2
    tail -n 20 "$root.log" >&2
    rm -rf "$root" "$root.log"
    return 1
  fi
  # No service may start inside the chroot while the package installs.
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  mount -t proc proc "$root/proc"
  local status=0
  chroot "$root" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql-$major >/dev/null \
    && (pg_dropcluster $major main 2>/dev/null || true) && apt-get clean && rm -rf /var/lib/apt/lists/*" >>"$root.log" 2>&1 || status=$?
  umount "$root/proc"
  rm -f "$root/usr/sbin/policy-rc.d"
  if [ "$status" -ne 0 ]; then
    echo "error: installing postgresql-$major in the $suite root failed; last lines of its log:" >&2
    tail -n 20 "$root.log" >&2
    rm -rf "$root" "$root.log"
    return 1
  fi
  tar -C "$root" -c . | docker import - "$tag-rootfs" >/dev/null
  rm -rf "$root" "$root.log"
  docker build -q -t "$tag" --build-arg "BASE=$tag-rootfs" --build-arg "PG_MAJOR=$major" tests/containers/postgres >/dev/null || return 1
  docker rmi "$tag-rootfs" >/dev/null 2>&1 || true
}

ensure_postgres_image() {
  local major="$1" suite
  case "$major" in
    15) suite=bookworm ;;
    17) suite=trixie ;;
    *) echo "error: no Debian suite known for PostgreSQL $major" >&2; return 1 ;;
  esac
  local official="postgres:$major" tag="statusdata/postgres:$major-debian"
  if docker image inspect "$official" >/dev/null 2>&1; then echo "$official"; return 0; fi
  # On a connected machine a developer gets the official image; CI never reaches out to a registry.
  if [ "${CI:-}" != true ]; then
    echo "Trying to pull $official (at most 60 s; where no registry answers, an image is built from Debian's packages instead)..." >&2
    if timeout 60 docker pull -q "$official" >/dev/null 2>&1; then echo "$official"; return 0; fi
  fi
  if docker image inspect "$tag" >/dev/null 2>&1; then echo "$tag"; return 0; fi
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/statusdata/images/postgres-$major-debian.tar"
  if [ -f "$cache" ] && docker load -q -i "$cache" >/dev/null 2>&1 && docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    return 0
  fi
  build_postgres_image "$major" "$suite" "$tag" || return 1
  mkdir -p "$(dirname "$cache")"
  docker save -o "$cache" "$tag" 2>/dev/null || rm -f "$cache"
  echo "$tag"
}
