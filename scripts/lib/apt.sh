# Sourced by scripts/lib/postgres.sh and containers.sh: installs Debian packages when it can.

# apt_install <package>...: as root with apt-get, installs the packages quietly and returns apt-get's
# status; otherwise installs nothing and returns 1, so the caller prints how to install them by hand.
apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    return 1
  fi
  echo "Installing $* with apt-get..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || true
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
