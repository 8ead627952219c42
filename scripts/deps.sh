# Debian packages each workflow needs, installed on demand. Sourced by the
# scripts in this folder; `deps_install <group>...` installs what is missing.
# Groups:
#   build   compiler, meson and the -dev libraries of a development build
#   test    what the test suites drive: kubectl's python client, tools
#   static  musl and the source packages of the static build
#   cross   the aarch64/armhf cross compilers, musl for them, qemu-user

DEPS_build="gcc libc6-dev pkg-config meson ninja-build git libsqlite3-dev libmbedtls-dev libyaml-dev libcjson-dev libev-dev"
DEPS_test="python3 python3-kubernetes python3-yaml curl openssl file procps iproute2 libclang-rt-14-dev"
DEPS_static="musl-tools dpkg-dev tcl cmake make file"
DEPS_cross="gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user-static musl-dev:arm64 musl-dev:armhf"

deps__updated=0

deps_install() {
  local group pkgs="" missing=""
  for group in "$@"; do
    eval "pkgs=\"\$pkgs \$DEPS_$group\""
  done
  for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
  done
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
  case " $* " in
    *" static "*)
      if ! grep -q '^Types: deb deb-src' /etc/apt/sources.list.d/debian.sources 2>/dev/null; then
        sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
        deps__updated=0
      fi
      ;;
  esac
  echo "deps: installing$missing" >&2
  if [ "$deps__updated" = 0 ]; then
    apt-get update -qq >&2 || true
    deps__updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
}
