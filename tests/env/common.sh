# Shared settings for tests/env/up and tests/env/down (sourced, not run).
#
# Every component listens on 127.0.0.1 only. Default ports sit in a block that usual
# services do not use; move the whole block with KYUTA_TESTENV_PORT_BASE or set one port
# with its own variable.

ENV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$ENV_DIR/../.." && pwd)"
STATE="${KYUTA_TESTENV_STATE:-$REPO_ROOT/target/testenv}"

K8S_VERSION="${K8S_VERSION:-1.35.4}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
FERRETDB_VERSION="${FERRETDB_VERSION:-1.24.2}"
HELM_VERSION="${HELM_VERSION:-3.19.5}"
CACHE="${KYUTA_TESTENV_CACHE:-$HOME/.cache/kyuta-testenv}"
BIN="$CACHE/bin"

ETCD_BIN="$BIN/etcd-$ETCD_VERSION/etcd"
FERRETDB_BIN="$BIN/ferretdb-$FERRETDB_VERSION/ferretdb"
APISERVER_BIN="$BIN/k8s-$K8S_VERSION/kube-apiserver"
CM_BIN="$BIN/k8s-$K8S_VERSION/kube-controller-manager"
KUBECTL_BIN="$BIN/k8s-$K8S_VERSION/kubectl"
HELM_BIN="$BIN/helm-$HELM_VERSION/helm"

PORT_BASE="${KYUTA_TESTENV_PORT_BASE:-16400}"
REDIS_PORT="${KYUTA_REDIS_PORT:-$((PORT_BASE + 79))}"      # 16479
MONGO_PORT="${KYUTA_MONGO_PORT:-$((PORT_BASE + 17))}"      # 16417
ETCD_PORT="${KYUTA_ETCD_PORT:-$((PORT_BASE + 23))}"        # 16423
ETCD_PEER_PORT="${KYUTA_ETCD_PEER_PORT:-$((PORT_BASE + 24))}" # 16424
APISERVER_PORT="${KYUTA_APISERVER_PORT:-$((PORT_BASE + 43))}" # 16443
CM_PORT="${KYUTA_CONTROLLER_MANAGER_PORT:-$((PORT_BASE + 57))}" # 16457
SERVICE_CIDR="${KYUTA_SERVICE_CIDR:-10.96.0.0/16}"
SERVICE_IP="${KYUTA_SERVICE_IP:-10.96.0.1}"

COMPONENTS=(redis ferretdb etcd kube-apiserver kube-controller-manager)

log() { printf '[testenv] %s\n' "$*" >&2; }
die() { printf '[testenv] ERROR: %s\n' "$*" >&2; exit 1; }

pidfile() { echo "$STATE/run/$1.pid"; }
logfile() { echo "$STATE/logs/$1.log"; }

# Prints the pid of a running component we started, or fails.
running_pid() {
  local f pid
  f="$(pidfile "$1")"
  [[ -f "$f" ]] || return 1
  pid="$(cat "$f")"
  [[ -n "$pid" && -d "/proc/$pid" ]] || return 1
  # Guard against a recycled pid: the process must be the component's binary.
  grep -qa -- "$(cat "$f.cmd" 2>/dev/null || echo '///')" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Describes the process listening on 127.0.0.1:$1 (pid and command line), when it can be found.
port_holder() {
  local pid
  pid="$(ss -ltnpH "sport = :$1" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1)"
  [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 0
  printf 'pid %s: %s' "$pid" "$(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-300 | sed 's/ *$//')"
}
