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
# Redis Cluster of three masters. Each node's cluster bus port is set (cluster-port) so that
# it stays in the block instead of Redis's default, the client port + 10000.
REDIS_CLUSTER_PORT_1="${KYUTA_REDIS_CLUSTER_PORT_1:-$((PORT_BASE + 81))}" # 16481
REDIS_CLUSTER_PORT_2="${KYUTA_REDIS_CLUSTER_PORT_2:-$((PORT_BASE + 82))}" # 16482
REDIS_CLUSTER_PORT_3="${KYUTA_REDIS_CLUSTER_PORT_3:-$((PORT_BASE + 83))}" # 16483
REDIS_CLUSTER_BUS_PORT_1="${KYUTA_REDIS_CLUSTER_BUS_PORT_1:-$((PORT_BASE + 91))}" # 16491
REDIS_CLUSTER_BUS_PORT_2="${KYUTA_REDIS_CLUSTER_BUS_PORT_2:-$((PORT_BASE + 92))}" # 16492
REDIS_CLUSTER_BUS_PORT_3="${KYUTA_REDIS_CLUSTER_BUS_PORT_3:-$((PORT_BASE + 93))}" # 16493
REDIS_CLUSTER_NODES=(redis-cluster-1 redis-cluster-2 redis-cluster-3)
REDIS_CLUSTER_PORTS=("$REDIS_CLUSTER_PORT_1" "$REDIS_CLUSTER_PORT_2" "$REDIS_CLUSTER_PORT_3")
REDIS_CLUSTER_BUS_PORTS=("$REDIS_CLUSTER_BUS_PORT_1" "$REDIS_CLUSTER_BUS_PORT_2" "$REDIS_CLUSTER_BUS_PORT_3")
SERVICE_CIDR="${KYUTA_SERVICE_CIDR:-10.96.0.0/16}"
SERVICE_IP="${KYUTA_SERVICE_IP:-10.96.0.1}"

COMPONENTS=(redis "${REDIS_CLUSTER_NODES[@]}" ferretdb etcd kube-apiserver kube-controller-manager)

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

# Prints the pid of a component this script has just started while it is alive, or fails.
# Unlike running_pid it does not match the command line: right after `setsid CMD &` the
# child may not have exec'd CMD yet, and a start-up check must not mistake that for an exit.
started_pid() {
  local pid state
  pid="$(cat "$(pidfile "$1")" 2>/dev/null)" || return 1
  [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
  state="$(sed 's/^.*) \(.\).*$/\1/' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ "$state" != Z ]] || return 1
  echo "$pid"
}

# stop NAME: stops a component we started (SIGTERM, then SIGKILL after 10s) and waits until
# it is gone; nothing when it is not running.
stop() {
  local name="$1" pid
  if pid="$(running_pid "$name")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      [[ -d "/proc/$pid" ]] || break
      sleep 0.1
    done
    if [[ -d "/proc/$pid" ]]; then
      log "$name (pid $pid) ignored SIGTERM for 10s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do [[ -d "/proc/$pid" ]] || break; sleep 0.1; done
    fi
    [[ -d "/proc/$pid" ]] && die "$name (pid $pid) is still running; log: $(logfile "$name")"
    log "stopped $name (pid $pid)"
  fi
  rm -f "$(pidfile "$name")" "$(pidfile "$name").cmd"
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
