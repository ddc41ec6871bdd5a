#!/usr/bin/env bash
# A one-node Slurm on localhost for tests/test_slurm.py (Debian 12, root, no systemd needed).
#
#   tests/slurm/local_cluster.sh start   install Debian's Slurm if missing, write /etc/slurm from the
#                                        templates beside this script, start munge, MariaDB, slurmdbd,
#                                        slurmctld and slurmd, wait until the node is up and sacct answers
#   tests/slurm/local_cluster.sh stop    stop what `start` started, remove stale pid files
#
# Both are idempotent. The node has one GPU without a device (gres.conf File=/dev/null), so jobs that ask
# for `gpu=1` are scheduled and accounted (sacct AllocTRES gres/gpu=1) on a machine without one.
# `start` refuses to touch a Slurm configuration it did not write. Exit status 0 means ready; otherwise
# the reason and the tail of the daemons' logs are printed to stderr.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CLUSTER=mrissl-test
PARTITION=mrissl_test
DATABASE=slurm_acct_db
DB_PASSWORD=mrissl-local-test-only   # a throwaway database on 127.0.0.1, created by this script
MARKER="# mrissl local test cluster"
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
STARTED=/run/mrissl-slurm.started    # daemons this script started, one name a line, for `stop`
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
TIMEOUT_S=${MRISSL_SLURM_TIMEOUT_S:-90}
HOST="$(hostname -s)"

log() { echo "local_cluster: $*" >&2; }

show_logs() {
    local f
    for f in "$LOG_DIR/slurmdbd.log" "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log" /var/log/mysql/error.log; do
        [[ -s $f ]] || continue
        echo "----- last 25 lines of $f -----" >&2
        tail -n 25 "$f" >&2
    done
}

die() {
    log "ERROR: $*"
    show_logs
    exit 1
}

# wait_for DESCRIPTION COMMAND...: retry COMMAND every second until it succeeds or TIMEOUT_S passes.
wait_for() {
    local what=$1
    shift
    local deadline=$((SECONDS + TIMEOUT_S))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || die "$what did not happen within ${TIMEOUT_S} s (waited on: $*)"
        sleep 1
    done
}

# alive PIDFILE NAME: the pid file names a live process called NAME.
alive() {
    local pid
    [[ -s $1 ]] && pid="$(cat "$1")" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2" ]]
}

record_started() { grep -qx "$1" "$STARTED" 2>/dev/null || echo "$1" >>"$STARTED"; }

install_packages() {
    local missing=0 cmd
    for cmd in munged slurmctld slurmd slurmdbd sbatch sacct sacctmgr mariadbd; do
        command -v "$cmd" >/dev/null 2>&1 || missing=1
    done
    ((missing)) || return 0
    log "installing ${PACKAGES[*]} from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || die "apt-get update failed"
    # Package scripts cannot start daemons here (no init system): this script starts them itself.
    apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null || die "apt-get install ${PACKAGES[*]} failed"
}

# render TEMPLATE DEST MODE: fill @NAME@ placeholders from the variables of the same name.
render() {
    sed -e "s/@CLUSTER@/$CLUSTER/g" -e "s/@HOST@/$HOST/g" -e "s/@PARTITION@/$PARTITION/g" \
        -e "s/@HARDWARE@/$HARDWARE/g" -e "s/@MEMORY_MB@/$MEMORY_MB/g" \
        -e "s/@DATABASE@/$DATABASE/g" -e "s/@DB_PASSWORD@/$DB_PASSWORD/g" "$1" >"$2.tmp"
    chmod "$3" "$2.tmp"
    chown slurm:slurm "$2.tmp"
    mv "$2.tmp" "$2"
}

write_config() {
    local f
    for f in slurm.conf gres.conf slurmdbd.conf; do
        if [[ -e $CONF_DIR/$f ]] && ! head -n 1 "$CONF_DIR/$f" | grep -q "^$MARKER"; then
            log "ERROR: $CONF_DIR/$f exists and was not written by this script: this machine has its own Slurm; not touching it"
            exit 1
        fi
    done
    # The node exactly as slurmd sees it (CPUs, sockets, cores, threads); memory a little under the total
    # so that slurmd never reports less than the configuration and drains the node.
    local detected
    detected="$(slurmd -C | head -n 1)" || die "slurmd -C failed"
    HARDWARE="$(grep -oE '(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=[0-9]+' <<<"$detected" | paste -sd " ")"
    MEMORY_MB=$(($(grep -oE 'RealMemory=[0-9]+' <<<"$detected" | cut -d= -f2) * 95 / 100))
    mkdir -p "$CONF_DIR" "$LOG_DIR" /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
    chown slurm:slurm "$LOG_DIR" /var/lib/slurm/slurmctld
    render "$HERE/slurm.conf.in" "$CONF_DIR/slurm.conf" 644
    render "$HERE/gres.conf.in" "$CONF_DIR/gres.conf" 644
    render "$HERE/slurmdbd.conf.in" "$CONF_DIR/slurmdbd.conf" 600
}

munge_works() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }

start_munge() {
    munge_works && return 0
    [[ -s /etc/munge/munge.key ]] || {
        mungekey --create --keyfile=/etc/munge/munge.key && chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
    } || die "could not create /etc/munge/munge.key"
    mkdir -p /run/munge && chown munge:munge /run/munge && chmod 755 /run/munge
    rm -f /run/munge/munged.pid
    su -s /bin/sh munge -c /usr/sbin/munged || die "munged did not start (see /var/log/munge/munged.log)"
    record_started munge
    wait_for "munge credentials" munge_works
}

mariadb_up() { mariadb-admin --no-defaults --protocol=socket -uroot ping; }

start_mariadb() {
    if ! mariadb_up >/dev/null 2>&1; then
        /etc/init.d/mariadb start >/dev/null || die "/etc/init.d/mariadb start failed"
        record_started mariadb
        wait_for "MariaDB answering" mariadb_up
    fi
    mariadb -uroot <<SQL || die "could not create the accounting database $DATABASE in MariaDB"
CREATE DATABASE IF NOT EXISTS $DATABASE;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL ON $DATABASE.* TO 'slurm'@'localhost';
SQL
}

# start_daemon NAME PIDFILE: start a Slurm daemon unless it already runs.
start_daemon() {
    alive "$2" "$1" && return 0
    rm -f "$2"
    "/usr/sbin/$1" || die "$1 did not start"
    record_started "$1"
}

node_state() { sinfo -h -N -n "$HOST" -o %t 2>/dev/null | head -n 1; }
# Up and answering: idle, or running jobs of an earlier start.
node_up() { [[ "$(node_state)" =~ ^(idle|mix|alloc)$ ]]; }
cluster_known() { sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; }

start() {
    [[ $EUID -eq 0 ]] || { log "ERROR: must run as root (installs packages, starts daemons)"; exit 1; }
    local t0=$SECONDS
    install_packages
    write_config
    start_munge
    start_mariadb
    start_daemon slurmdbd /run/slurmdbd.pid
    wait_for "slurmdbd answering sacctmgr" sacctmgr -n list cluster
    cluster_known || sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr add cluster $CLUSTER failed"
    start_daemon slurmctld /run/slurmctld.pid
    wait_for "slurmctld answering" scontrol ping
    start_daemon slurmd /run/slurmd.pid
    local deadline=$((SECONDS + TIMEOUT_S))
    until node_up; do
        case "$(node_state)" in
            # Drained or down from an earlier run (not down*, which is slurmd not registered yet).
            drain* | drng* | down) scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
        esac
        ((SECONDS < deadline)) || die "node $HOST is '$(node_state)', not up, after ${TIMEOUT_S} s: $(sinfo -h -R -n "$HOST")"
        sleep 1
    done
    wait_for "sacct answering" sacct -n -X
    log "ready in $((SECONDS - t0)) s: cluster $CLUSTER, partition $PARTITION, node $HOST ($HARDWARE RealMemory=$MEMORY_MB, gpu:1)"
}

any_alive() {
    local pid
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && return 0; done
    return 1
}

# stop_daemons NAME:PIDFILE...: TERM them all at once (each takes 2-3 s to shut down), KILL what is
# left after 20 s, remove the pid files.
stop_daemons() {
    local pair pids=() pid
    for pair in "$@"; do
        alive "${pair#*:}" "${pair%%:*}" && pids+=("$(cat "${pair#*:}")")
    done
    ((${#pids[@]})) && { kill "${pids[@]}" 2>/dev/null || true; }
    local deadline=$((SECONDS + 20))
    while any_alive "${pids[@]}" && ((SECONDS < deadline)); do sleep 0.2; done
    for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    # Debian's package scripts act on these pid files (slurmctld's prerm runs scancel): none stale.
    for pair in "$@"; do rm -f "${pair#*:}"; done
}

stop() {
    [[ $EUID -eq 0 ]] || { log "ERROR: must run as root"; exit 1; }
    local started="" slurm_daemons=() name
    [[ -s $STARTED ]] && started="$(cat "$STARTED")"
    # Jobs left by a failed test would outlive slurmd: cancel every job of this one-node cluster.
    grep -qx slurmctld <<<"$started" && { squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null || true; }
    for name in slurmd slurmctld slurmdbd; do
        grep -qx "$name" <<<"$started" && slurm_daemons+=("$name:/run/$name.pid")
    done
    ((${#slurm_daemons[@]})) && stop_daemons "${slurm_daemons[@]}"
    grep -qx mariadb <<<"$started" && { /etc/init.d/mariadb stop >/dev/null 2>&1 || true; }
    grep -qx munge <<<"$started" && stop_daemons munged:/run/munge/munged.pid
    # Pid files of Slurm daemons that died on their own are stale, whoever started them.
    for name in slurmd slurmctld slurmdbd; do
        [[ -e /run/$name.pid ]] && ! alive "/run/$name.pid" "$name" && rm -f "/run/$name.pid"
    done
    rm -f "$STARTED"
    log "stopped: ${started//$'\n'/ }"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: $0 start|stop" >&2
        exit 2
        ;;
esac
