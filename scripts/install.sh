#!/bin/sh
# Install k3c as a systemd (or OpenRC) service, in the manner of k3s's installer:
#
#   curl -sfL <url>/install.sh | INSTALL_K3C_URL_BASE=<url> sh -
#   curl -sfL <url>/install.sh | K3C_URL=https://server:6443 K3C_TOKEN=<token> INSTALL_K3C_URL_BASE=<url> sh -
#   INSTALL_K3C_ARTIFACT_DIR=/media/usb sh install.sh          (air-gapped)
#
# Arguments after `sh -s -` are appended to INSTALL_K3C_EXEC.
#
# Environment:
#   INSTALL_K3C_URL_BASE      where <artifact> and <artifact>.sha256 are downloaded from
#   INSTALL_K3C_VERSION       download from INSTALL_K3C_URL_BASE/<version>/ instead
#   INSTALL_K3C_ARTIFACT_DIR  a local folder holding <artifact> and <artifact>.sha256
#                             (the out/ folder of scripts/release.sh); no download
#   INSTALL_K3C_SKIP_DOWNLOAD=true  keep the k3c binary already in INSTALL_K3C_BIN_DIR
#   INSTALL_K3C_EXEC          command and flags for the service ("server --flag ...");
#                             the command defaults to agent when K3C_URL is set, else server
#   INSTALL_K3C_BIN_DIR       default /usr/local/bin
#   INSTALL_K3C_SYSTEMD_DIR   default /etc/systemd/system
#   INSTALL_K3C_INIT          systemd or openrc; default: the one running here
#                             (systemd when neither runs or with INSTALL_K3C_ROOT)
#   INSTALL_K3C_SKIP_CONTAINERD=true  do not install containerd when it is missing
#   INSTALL_K3C_SKIP_ENABLE=true  do not enable the service (implies no start)
#   INSTALL_K3C_SKIP_START=true   do not (re)start the service
#   INSTALL_K3C_ARCH          use this instead of `uname -m` to pick the artifact
#   INSTALL_K3C_ROOT          write every file under this folder instead of / and
#                             leave the init system and packages alone (for tests
#                             and image building)
#   K3C_URL, K3C_TOKEN, other K3C_*  written to the service's environment file
#
# <artifact> is k3c (x86_64), k3c-arm64 (aarch64) or k3c-armhf (ARMv7 and later
# in 32-bit mode; ARMv6 boards such as the first Raspberry Pi are not supported).
set -e

info() { printf "[INFO]  %s\n" "$*"; }
fatal() { printf "[ERROR] %s\n" "$*" >&2; exit 1; }

# --- settings ---
ROOT=${INSTALL_K3C_ROOT:-}
BIN_DIR=${INSTALL_K3C_BIN_DIR:-/usr/local/bin}
SYSTEMD_DIR=${INSTALL_K3C_SYSTEMD_DIR:-/etc/systemd/system}
EXEC=${INSTALL_K3C_EXEC:-}
[ $# -gt 0 ] && EXEC="$EXEC $*"

# First word of EXEC picks the command, as in k3s. Split on blanks, no globbing.
set -f
# shellcheck disable=SC2086
set -- $EXEC
set +f
case ${1:-} in
  server|agent) CMD=$1; shift ;;
  -*|'') if [ -n "${K3C_URL:-}" ]; then CMD=agent; else CMD=server; fi ;;
  *) fatal "INSTALL_K3C_EXEC must start with server, agent or a flag, not '$1'" ;;
esac
for a in "$@"; do
  case $a in *"'"*|*"\\"*) fatal "INSTALL_K3C_EXEC is split on blanks; quotes and backslashes are not supported: $a" ;; esac
done
# The data dir the service will use (--data-dir/-d, else K3C_DATA_DIR, else
# k3c's default): k3c-killall.sh and the uninstaller act on it, not on a fixed path.
DATA_DIR=${K3C_DATA_DIR:-/var/lib/k3c}
prev=
for a in "$@"; do
  case $prev in --data-dir|-d) DATA_DIR=$a ;; esac
  case $a in --data-dir=*|-d=*) DATA_DIR=${a#*=} ;; esac
  prev=$a
done
case $DATA_DIR in
  /?*) DATA_DIR=${DATA_DIR%/} ;;
  *) fatal "the data dir must be an absolute path, not '$DATA_DIR'" ;;
esac
case $DATA_DIR in
  *[!A-Za-z0-9._/+@:-]*) fatal "the data dir may hold only letters, digits and ._/+@:- (the scripts written here name it unquoted): '$DATA_DIR'" ;;
esac
if [ "$CMD" = agent ]; then
  [ -n "${K3C_URL:-}" ] || fatal "an agent needs K3C_URL (https://<server>:6443)"
  [ -n "${K3C_TOKEN:-}" ] || fatal "an agent needs K3C_TOKEN (k3c token create on the server)"
  SERVICE=k3c-agent
  UNINSTALL=k3c-agent-uninstall.sh
else
  SERVICE=k3c
  UNINSTALL=k3c-uninstall.sh
fi

# --- which init system ---
INIT=${INSTALL_K3C_INIT:-}
if [ -z "$INIT" ]; then
  if [ -z "$ROOT" ] && [ ! -d /run/systemd/system ] &&
     { command -v openrc-run >/dev/null 2>&1 || [ -x /sbin/openrc-run ]; }; then
    INIT=openrc
  else
    INIT=systemd
  fi
fi
case $INIT in
  systemd) ENV_FILE=$SYSTEMD_DIR/$SERVICE.service.env ;;
  openrc) ENV_FILE=/etc/k3c/$SERVICE.env ;;
  *) fatal "INSTALL_K3C_INIT must be systemd or openrc, not '$INIT'" ;;
esac

# --- which artifact ---
MACHINE=${INSTALL_K3C_ARCH:-$(uname -m)}
case $MACHINE in
  x86_64|amd64) ARTIFACT=k3c ;;
  aarch64|arm64) ARTIFACT=k3c-arm64 ;;
  armv7*|armv8l|armhf|arm) ARTIFACT=k3c-armhf ;;
  armv6*|armv5*) fatal "k3c-armhf needs ARMv7 (Debian armhf baseline); $MACHINE is not supported" ;;
  *) fatal "no k3c build for architecture $MACHINE" ;;
esac

if [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
  fatal "run as root (or set INSTALL_K3C_ROOT to install into a folder)"
fi
if [ "$INIT" = systemd ]; then
  mkdir -p "$ROOT$BIN_DIR" "$ROOT$SYSTEMD_DIR"
else
  mkdir -p "$ROOT$BIN_DIR" "$ROOT/etc/init.d" "$ROOT/etc/k3c"
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/k3c-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 256 "$1" | cut -d' ' -f1
  else fatal "neither sha256sum nor shasum is installed: cannot verify the download"
  fi
}

download() { # URL FILE
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL -o "$2" "$1" || fatal "download of $1 failed"
  elif command -v wget >/dev/null 2>&1; then
    wget -qO "$2" "$1" || fatal "download of $1 failed"
  else
    fatal "neither curl nor wget is installed"
  fi
}

# --- get and verify the binary ---
if [ "${INSTALL_K3C_SKIP_DOWNLOAD:-}" = true ]; then
  [ -x "$ROOT$BIN_DIR/k3c" ] || fatal "INSTALL_K3C_SKIP_DOWNLOAD=true but $ROOT$BIN_DIR/k3c is missing"
  info "keeping $BIN_DIR/k3c"
else
  if [ -n "${INSTALL_K3C_ARTIFACT_DIR:-}" ]; then
    info "using $INSTALL_K3C_ARTIFACT_DIR/$ARTIFACT"
    [ -f "$INSTALL_K3C_ARTIFACT_DIR/$ARTIFACT" ] || fatal "$INSTALL_K3C_ARTIFACT_DIR/$ARTIFACT not found"
    [ -f "$INSTALL_K3C_ARTIFACT_DIR/$ARTIFACT.sha256" ] || fatal "$INSTALL_K3C_ARTIFACT_DIR/$ARTIFACT.sha256 not found"
    cp "$INSTALL_K3C_ARTIFACT_DIR/$ARTIFACT" "$TMP/k3c"
    cp "$INSTALL_K3C_ARTIFACT_DIR/$ARTIFACT.sha256" "$TMP/k3c.sha256"
  elif [ -n "${INSTALL_K3C_URL_BASE:-}" ]; then
    base=${INSTALL_K3C_URL_BASE%/}
    [ -n "${INSTALL_K3C_VERSION:-}" ] && base=$base/$INSTALL_K3C_VERSION
    info "downloading $base/$ARTIFACT"
    download "$base/$ARTIFACT.sha256" "$TMP/k3c.sha256"
    download "$base/$ARTIFACT" "$TMP/k3c"
  else
    fatal "set INSTALL_K3C_URL_BASE (download) or INSTALL_K3C_ARTIFACT_DIR (local files)"
  fi
  want=$(awk -v f="$ARTIFACT" '$2 == f || $2 == "*" f { print $1 }' "$TMP/k3c.sha256")
  [ -n "$want" ] || fatal "$ARTIFACT.sha256 has no line for $ARTIFACT"
  got=$(sha256_of "$TMP/k3c")
  [ "$got" = "$want" ] || fatal "sha256 of $ARTIFACT is $got, expected $want: refusing to install"
  info "sha256 verified: $got"
  chmod 755 "$TMP/k3c"
  mv -f "$TMP/k3c" "$ROOT$BIN_DIR/k3c.new"
  mv -f "$ROOT$BIN_DIR/k3c.new" "$ROOT$BIN_DIR/k3c"
  info "installed $BIN_DIR/k3c"
fi
if [ -n "${INSTALL_K3C_VERSION:-}" ]; then
  have=$("$ROOT$BIN_DIR/k3c" --version 2>/dev/null | head -n 1) || have=
  case $have in
    *"$INSTALL_K3C_VERSION"*) info "$have" ;;
    *) info "warning: INSTALL_K3C_VERSION is $INSTALL_K3C_VERSION but the binary says: ${have:-nothing}" ;;
  esac
fi

# --- containerd, which the agent runs pods with ---
if [ -n "$ROOT" ]; then
  :
elif command -v containerd >/dev/null 2>&1 && command -v runc >/dev/null 2>&1; then
  info "containerd: $(command -v containerd)"
elif [ "${INSTALL_K3C_SKIP_CONTAINERD:-}" = true ]; then
  info "warning: containerd or runc is missing and INSTALL_K3C_SKIP_CONTAINERD=true: pods will not run until they are installed"
elif command -v apt-get >/dev/null 2>&1; then
  info "installing containerd and runc with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q containerd runc >/dev/null ||
    fatal "apt-get could not install containerd (run 'apt-get update' and try again, or set INSTALL_K3C_SKIP_CONTAINERD=true)"
elif command -v apk >/dev/null 2>&1; then
  info "installing containerd and runc with apk"
  apk add -q containerd runc ||
    fatal "apk could not install containerd (or set INSTALL_K3C_SKIP_CONTAINERD=true)"
elif command -v dnf >/dev/null 2>&1; then
  info "installing containerd and runc with dnf"
  dnf install -y -q containerd runc ||
    fatal "dnf could not install containerd (or set INSTALL_K3C_SKIP_CONTAINERD=true)"
else
  fatal "containerd and runc are needed to run pods and no apt-get, apk or dnf was found: install them, or set INSTALL_K3C_SKIP_CONTAINERD=true"
fi

# --- service environment: every K3C_* variable, private ---
umask 077
env | grep -E '^K3C_[A-Z0-9_]+=' >"$ROOT$ENV_FILE" || true
umask 022
info "wrote $ENV_FILE"

# --- systemd unit ---
# Each argument in single quotes: systemd's own quoting, so spaces survive.
exec_args=""
for a in "$@"; do
  exec_args="$exec_args \\
    '$a'"
done
if [ "$INIT" = systemd ]; then
cat >"$ROOT$SYSTEMD_DIR/$SERVICE.service" <<EOF
[Unit]
Description=k3c $CMD: Kubernetes for edge and IoT devices
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=exec
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-$ENV_FILE
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=$BIN_DIR/k3c $CMD$exec_args
EOF
info "wrote $SYSTEMD_DIR/$SERVICE.service"
else
# OpenRC: supervise-daemon restarts it; arguments single-quoted for sh.
rc_args=""
for a in "$@"; do
  rc_args="$rc_args '$a'"
done
cat >"$ROOT/etc/init.d/$SERVICE" <<EOF
#!/sbin/openrc-run
# k3c $CMD: Kubernetes for edge and IoT devices (written by k3c's install.sh)
description="k3c $CMD"
depend() {
  after network-online
  want cgroups
}
supervisor=supervise-daemon
name=$SERVICE
command="$BIN_DIR/k3c"
command_args="$CMD$rc_args"
output_log=/var/log/$SERVICE.log
error_log=/var/log/$SERVICE.log
pidfile=/run/$SERVICE.pid
respawn_delay=5
respawn_max=0
rc_ulimit="-n 1048576 -u unlimited"
start_pre() {
  modprobe br_netfilter 2>/dev/null || true
  modprobe overlay 2>/dev/null || true
}
set -o allexport
[ -f $ENV_FILE ] && . $ENV_FILE
set +o allexport
EOF
chmod 755 "$ROOT/etc/init.d/$SERVICE"
info "wrote /etc/init.d/$SERVICE"
fi

# --- k3c-killall.sh: stop everything k3c started, keep the data ---
cat >"$ROOT$BIN_DIR/k3c-killall.sh" <<EOF
#!/bin/sh
# Stop k3c and everything it started (containerd, the containers, mounts,
# network devices). The data in $DATA_DIR and /etc/k3c is kept.
[ "\$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
for s in k3c k3c-agent; do
  systemctl stop "\$s" 2>/dev/null || true
  if [ -x "/etc/init.d/\$s" ]; then "/etc/init.d/\$s" stop 2>/dev/null || true; fi
done
# The roots: processes running this k3c binary, and the containerd and
# container shims of this data dir (containerd outlives k3c, the shims
# outlive containerd); then each root with all its descendants (the
# containers are the shims' children).
roots=
nets=
for p in /proc/[0-9]*; do
  exe=\$(readlink "\$p/exe" 2>/dev/null) || continue
  case \$exe in
    $BIN_DIR/k3c|"$BIN_DIR/k3c (deleted)") roots="\$roots \${p#/proc/}"; continue ;;
  esac
  case \$(tr '\0' ' ' <"\$p/cmdline" 2>/dev/null) in
    *containerd*" $DATA_DIR/"*) roots="\$roots \${p#/proc/}" ;;
  esac
done
if [ -n "\$roots" ]; then
  pids=\$(cat /proc/[0-9]*/status 2>/dev/null | awk -v roots="\$roots" '
    /^Pid:/ { p = \$2 } /^PPid:/ { pp[p] = \$2 }
    END {
      n = split(roots, r, " "); for (i = 1; i <= n; i++) t[r[i]] = 1
      do { more = 0; for (p in pp) if (!(p in t) && (pp[p] in t)) { t[p] = 1; more = 1 } } while (more)
      for (p in t) print p
    }')
  # the network namespaces of the pods (CNI's /run/netns/cni-*) these processes are in
  nets=\$(for p in \$pids; do stat -L -c %i "/proc/\$p/ns/net" 2>/dev/null; done | sort -u | tr '\n' ' ')
  # shellcheck disable=SC2086
  kill -9 \$pids 2>/dev/null
  i=0
  while [ \$i -lt 50 ]; do
    left=
    for p in \$pids; do [ -d "/proc/\$p" ] && left=1; done
    [ -z "\$left" ] && break
    sleep 0.1; i=\$((i + 1))
  done
fi
# Mounts under the data dir, /run/k3c and /var/lib/kubelet, deepest first.
awk -v d="$DATA_DIR" '{ m = \$2
    if (m == d || index(m, d "/") == 1 || m == "/run/k3c" || index(m, "/run/k3c/") == 1 ||
        m == "/var/lib/kubelet" || index(m, "/var/lib/kubelet/") == 1) print m }' /proc/self/mounts |
  sort -r | while read -r m; do umount -l "\$m" 2>/dev/null || true; done
for f in /run/netns/cni-*; do
  [ -e "\$f" ] || continue
  case " \$nets " in
    *" \$(stat -L -c %i "\$f" 2>/dev/null) "*) umount "\$f" 2>/dev/null; rm -f "\$f" ;;
  esac
done
for dev in cni0 flannel.1 k3c-dns0; do
  ip link delete "\$dev" 2>/dev/null || true
done
# k3c's nf_tables tables (pkg/net: the overlay's masquerade, the service proxy, the network
# policies, the CNI plugin's hostPorts), where nft is installed
if command -v nft >/dev/null 2>&1; then
  for t in k3c-overlay k3c-proxy k3c-netpol k3c-hostport; do
    nft delete table ip "\$t" 2>/dev/null || true
  done
fi
rm -rf /run/k3c
EOF
chmod 755 "$ROOT$BIN_DIR/k3c-killall.sh"
info "wrote $BIN_DIR/k3c-killall.sh"

# --- the uninstaller: remove everything this script installed, and the data ---
cat >"$ROOT$BIN_DIR/$UNINSTALL" <<EOF
#!/bin/sh
# Remove k3c: stop it, delete the service, the binary, its data and config.
[ "\$(id -u)" = 0 ] || { echo "run as root" >&2; exit 1; }
$BIN_DIR/k3c-killall.sh
systemctl disable $SERVICE 2>/dev/null || true
rm -f $SYSTEMD_DIR/$SERVICE.service $ENV_FILE
systemctl daemon-reload 2>/dev/null || true
if [ -x /etc/init.d/$SERVICE ]; then
  rc-update del $SERVICE default 2>/dev/null || true
  rm -f /etc/init.d/$SERVICE /var/log/$SERVICE.log
fi
rm -rf /etc/k3c $DATA_DIR /var/lib/kubelet
rm -f $BIN_DIR/k3c $BIN_DIR/k3c-killall.sh
rm -f $BIN_DIR/$UNINSTALL
EOF
chmod 755 "$ROOT$BIN_DIR/$UNINSTALL"
info "wrote $BIN_DIR/$UNINSTALL"

# --- enable and start ---
if [ -n "$ROOT" ]; then
  info "INSTALL_K3C_ROOT is set: not touching systemd or OpenRC"
elif [ "$INIT" = openrc ]; then
  if [ "${INSTALL_K3C_SKIP_ENABLE:-}" = true ]; then
    info "not enabling $SERVICE (INSTALL_K3C_SKIP_ENABLE=true)"
  else
    rc-update add "$SERVICE" default >/dev/null
    info "enabled $SERVICE"
    if [ "${INSTALL_K3C_SKIP_START:-}" = true ]; then
      info "not starting $SERVICE (INSTALL_K3C_SKIP_START=true)"
    else
      info "starting $SERVICE"
      rc-service "$SERVICE" restart
    fi
  fi
elif ! command -v systemctl >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then
  info "systemd is not running here: start k3c with '$BIN_DIR/k3c $CMD' or enable $SERVICE later"
elif [ "${INSTALL_K3C_SKIP_ENABLE:-}" = true ]; then
  systemctl daemon-reload
  info "not enabling $SERVICE (INSTALL_K3C_SKIP_ENABLE=true)"
else
  systemctl daemon-reload
  systemctl enable "$SERVICE" >/dev/null 2>&1
  info "enabled $SERVICE"
  if [ "${INSTALL_K3C_SKIP_START:-}" = true ]; then
    info "not starting $SERVICE (INSTALL_K3C_SKIP_START=true)"
  else
    info "starting $SERVICE"
    systemctl restart "$SERVICE"
  fi
fi
