# Debian packages each workflow needs, installed on demand. Sourced by the
# scripts in this folder; `deps_install <group>...` installs what is missing.
# Groups:
#   build   compiler, meson and the -dev libraries of a development build
#   test    what the test suites drive: kubectl's python client, tools
#   static  musl and the tools that build the static dependencies from
#           Debian source packages (also enables deb-src, see deps_sources)
#   cross   the aarch64/armhf cross compilers, musl for them, qemu-user
#   node    what a node agent runs: containerd and runc (the CNI plugin and
#           the NAT rules are k3c's own)

DEPS_build="gcc libc6-dev pkg-config meson ninja-build git libsqlite3-dev libmbedtls-dev libyaml-dev libcjson-dev libev-dev libnghttp2-dev"
DEPS_test="python3 shellcheck python3-kubernetes python3-yaml curl openssl file procps iproute2 clang-14 libclang-rt-14-dev containerd runc iptables busybox-static"
DEPS_node="containerd runc"
DEPS_static="musl-tools linux-libc-dev dpkg-dev tcl cmake make file patch xz-utils binutils"
DEPS_cross="gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf binutils-aarch64-linux-gnu binutils-arm-linux-gnueabihf qemu-user-static musl-dev:arm64 musl-dev:armhf linux-libc-dev-arm64-cross linux-libc-dev-armhf-cross"

deps__updated=0
# Wait for another apt/dpkg run (other builds on this machine) instead of failing.
deps__apt="-o DPkg::Lock::Timeout=600"
# Installs never remove packages: with foreign architectures enabled, a
# Multi-Arch: same package whose versions differ between architectures (an
# index that failed to download) would otherwise make apt remove the native
# one and everything depending on it (libc6-dev, compilers). Cross headers
# come from the Architecture: all *-cross packages for the same reason.

# deps_sources: make `apt-get source` work (deb-src lines), as root.
deps_sources() {
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ] && grep -q '^Types: deb$' "$f"; then
    [ "$(id -u)" = 0 ] || { echo "deps: enable deb-src in $f (needs root)" >&2; return 1; }
    sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
    deps__updated=0
  fi
  if [ "$deps__updated" = 0 ] && ! ls /var/lib/apt/lists/*_Sources* >/dev/null 2>&1; then
    apt-get $deps__apt update -qq >&2 || true
    deps__updated=1
  fi
  return 0
}

deps_install() {
  local group pkgs="" missing=""
  for group in "$@"; do
    eval "pkgs=\"\$pkgs \$DEPS_$group\""
  done
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
  case " $* " in
    *" static "*) deps_sources || return 1 ;;
  esac
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages:$missing (run as root so they can be installed)" >&2
    return 1
  fi
  case " $* " in
    *" cross "*)
      dpkg --print-foreign-architectures | grep -qx arm64 || { dpkg --add-architecture arm64; deps__updated=0; }
      dpkg --print-foreign-architectures | grep -qx armhf || { dpkg --add-architecture armhf; deps__updated=0; }
      ;;
  esac
  echo "deps: installing$missing" >&2
  if [ "$deps__updated" = 0 ]; then
    apt-get $deps__apt update -qq >&2 || true
    deps__updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get $deps__apt install -y -qq --no-install-recommends --no-remove $missing >&2
}
