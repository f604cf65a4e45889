#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for tests and development (not for production).
#
#   sudo tools/local-slurm.sh up       # install (Debian packages), configure, start; idempotent
#   sudo tools/local-slurm.sh status   # daemons, node state, accounting
#   sudo tools/local-slurm.sh down     # stop the daemons this script started
#
# `up` installs munge, MariaDB, slurmdbd, slurmctld and slurmd from Debian's packages (Slurm 22.05
# on Debian 12) and starts them by hand, in dependency order, because containers and CI machines
# have no systemd to do it: munged -> MariaDB -> slurmdbd -> slurmctld -> slurmd. It then waits
# until the node is idle and `sacct` answers. Running it again changes nothing that is already
# right: packages are installed once, configs are rewritten (and the daemons restarted) only when
# their content changes, running daemons are left alone.
#
# Why accounting (MariaDB + slurmdbd) rather than none: snakemake-executor-plugin-slurm asks
# `sacct` for job states, like on real clusters; without accounting storage sacct fails and
# Snakemake waits forever after the jobs finish.
#
# The cluster: one node named after `hostname -s` (address 127.0.0.1) with every core and the
# machine's memory less 1 GiB (more and slurmd drains the node), one partition `main`. Memory is a
# consumable resource and enforced (jobacct_gather/linux with OverMemoryKill, no cgroups needed):
# a job that exceeds its --mem is killed ("exceeded memory limit" in its log; state FAILED, where
# cgroup clusters say OUT_OF_MEMORY).
# Daemon logs: /var/log/slurm/ (slurmctld.log, slurmd.log, slurmdbd.log), /var/log/mysql/.
set -euo pipefail

NODE=$(hostname -s)
CLUSTER=snakeherd
PARTITION=main
CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
STATE_DIR=/var/lib/slurm
DB_PASSWORD=snakeherd-local-slurm # the accounting DB listens on 127.0.0.1 only
PACKAGES=(munge mariadb-server slurmdbd slurmctld slurmd slurm-client)
WAIT_SECONDS=${LOCAL_SLURM_WAIT_SECONDS:-90}

say() { echo "local-slurm: $*" >&2; }
die() {
    say "ERROR: $*"
    exit 1
}

need_root() {
    [[ $(id -u) -eq 0 ]] || die "run as root (it installs packages and starts daemons): sudo $0 $*"
}

wait_for() { # wait_for DESCRIPTION COMMAND...: poll until COMMAND succeeds or WAIT_SECONDS pass
    local what=$1 deadline=$((SECONDS + WAIT_SECONDS))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
    say "$what: ok"
}

# A pid file is trusted only while its process is that daemon: a machine restored from a snapshot
# keeps /run's stale pid files, and their numbers may belong to other processes by now.
pid_alive() { # pid_alive PIDFILE NAME
    [[ -s $1 ]] && [[ $(cat "/proc/$(cat "$1")/comm" 2>/dev/null) == "$2" ]]
}

# A daemon started over a stale pid file may act on that number: slurmctld sends SIGTERM to the
# process its pid file names, taking it for an old slurmctld.
start_daemon() { # start_daemon NAME PIDFILE COMMAND...: start unless running, over no stale file
    local name=$1 pidfile=$2
    shift 2
    pid_alive "$pidfile" "$name" && return 0
    rm -f "$pidfile"
    say "starting $name"
    "$@"
}

log_tail() { # log_tail LOG: its last lines, for an error message read where the log is not
    [[ -s $1 ]] && { echo "last lines of $1:"; tail -n 15 "$1"; } >&2 || true
}

install_packages() {
    local missing=()
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" ||
            missing+=("$package")
    done
    ((${#missing[@]})) || return 0
    say "installing ${missing[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    # The package lists of a fresh machine are empty or stale.
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

CHANGED=0
write_config() { # write_config PATH OWNER MODE < content: replace only when different
    local path=$1 owner=$2 mode=$3 content
    content=$(cat)
    if [[ -f $path ]] && [[ "$(cat "$path")" == "$content" ]]; then
        return 0
    fi
    printf '%s\n' "$content" >"$path"
    chown "$owner" "$path"
    chmod "$mode" "$path"
    CHANGED=1
    say "wrote $path"
}

configure() {
    local cpus mem_mb
    cpus=$(nproc)
    # RealMemory above what slurmd measures drains the node; leave 1 GiB for the daemons.
    mem_mb=$(($(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo) - 1024))
    mkdir -p "$CONF_DIR" "$LOG_DIR" "$STATE_DIR/slurmctld" "$STATE_DIR/slurmd"
    chown slurm:slurm "$LOG_DIR" "$STATE_DIR/slurmctld"

    write_config "$CONF_DIR/slurm.conf" root:root 0644 <<EOF
# Written by snakeherd's tools/local-slurm.sh: a single-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
AuthType=auth/munge
SlurmUser=slurm
SlurmdUser=root
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
MpiDefault=none
# No cgroups in containers: track processes through /proc, no task affinity.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Enforce --mem by polling the job's processes every second, as clusters enforce it.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
JobCompType=jobcomp/none
# Finished jobs stay visible to squeue for 5 minutes (a status command that polls squeue needs it).
MinJobAge=300
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

    write_config "$CONF_DIR/slurmdbd.conf" slurm:slurm 0600 <<EOF
# Written by snakeherd's tools/local-slurm.sh: accounting for the single-node test cluster.
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
LogFile=$LOG_DIR/slurmdbd.log
PidFile=/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StorageUser=slurm
StoragePass=$DB_PASSWORD
StorageLoc=slurm_acct_db
EOF
}

start_munge() {
    install -d -o munge -g munge -m 0755 /run/munge
    [[ -s /etc/munge/munge.key ]] || runuser -u munge -- mungekey --create
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
    start_daemon munged /run/munge/munged.pid runuser -u munge -- /usr/sbin/munged
    wait_for "munge" bash -c 'munge -n | unmunge' || die "munged does not answer (see /var/log/munge/)"
}

start_mariadb() {
    install -d -o mysql -g mysql -m 0755 /run/mysqld /var/log/mysql
    if ! mariadb-admin ping >/dev/null 2>&1; then
        say "starting MariaDB"
        # Small buffers: a test cluster's accounting needs little and the machine is shared.
        setsid /usr/sbin/mariadbd --user=mysql --bind-address=127.0.0.1 \
            --innodb-buffer-pool-size=64M --log-error=/var/log/mysql/error.log \
            </dev/null >/dev/null 2>&1 &
    fi
    wait_for "MariaDB" mariadb-admin ping || die "MariaDB does not start (see /var/log/mysql/error.log)"
    mariadb -u root <<EOF
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
EOF
}

stop_pidfile() { # stop_pidfile NAME PIDFILE
    if pid_alive "$2" "$1"; then
        say "stopping $1"
        local pid deadline=$((SECONDS + 30))
        pid=$(cat "$2")
        kill "$pid"
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
    fi
}

start_slurm() {
    if ((CHANGED)); then
        # New configuration: restart what runs with the old one.
        stop_pidfile slurmd /run/slurmd.pid
        stop_pidfile slurmctld /run/slurmctld.pid
        stop_pidfile slurmdbd /run/slurmdbd.pid
    fi
    start_daemon slurmdbd /run/slurmdbd.pid /usr/sbin/slurmdbd
    wait_for "slurmdbd" sacctmgr -i -n list cluster || {
        log_tail "$LOG_DIR/slurmdbd.log"
        die "slurmdbd does not answer (see $LOG_DIR/slurmdbd.log)"
    }
    start_daemon slurmctld /run/slurmctld.pid /usr/sbin/slurmctld -i
    wait_for "slurmctld" scontrol ping || {
        log_tail "$LOG_DIR/slurmctld.log"
        die "slurmctld does not answer (see $LOG_DIR/slurmctld.log)"
    }
    start_daemon slurmd /run/slurmd.pid /usr/sbin/slurmd -N "$NODE"
    # A node left DOWN/DRAINED by an earlier run (e.g. the machine restarted) is resumed.
    local state
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    if [[ $state == down* || $state == drain* ]]; then
        scontrol update NodeName="$NODE" State=RESUME || true
    fi
    wait_for "node $NODE idle" node_ready || {
        log_tail "$LOG_DIR/slurmd.log"
        die "node $NODE is not idle: $(sinfo -h -N -o '%T %E'; true) (see $LOG_DIR/slurmd.log)"
    }
    # The cluster registers itself with slurmdbd once slurmctld connects; sacct then answers.
    wait_for "accounting (sacct)" bash -c "sacctmgr -n -P list cluster format=cluster | grep -qx $CLUSTER && sacct -n -X -S now" || {
        log_tail "$LOG_DIR/slurmctld.log"
        die "sacct does not answer (see $LOG_DIR/slurmdbd.log and $LOG_DIR/slurmctld.log)"
    }
}

node_ready() {
    local state
    state=$(sinfo -h -n "$NODE" -o %T)
    [[ $state == idle || $state == mixed || $state == allocated ]]
}

up() {
    need_root up
    install_packages
    configure
    start_munge
    start_mariadb
    start_slurm
    say "ready: partition $PARTITION on node $NODE ($(nproc) CPUs); logs in $LOG_DIR"
}

down() {
    need_root down
    stop_pidfile slurmd /run/slurmd.pid
    stop_pidfile slurmctld /run/slurmctld.pid
    stop_pidfile slurmdbd /run/slurmdbd.pid
    if mariadb-admin ping >/dev/null 2>&1; then
        say "stopping MariaDB"
        mariadb-admin shutdown
    fi
    stop_pidfile munged /run/munge/munged.pid
}

status() {
    for daemon in munge/munged slurmdbd slurmctld slurmd; do
        local name=${daemon#*/}
        if pid_alive "/run/$daemon.pid" "$name"; then echo "$name: running"; else echo "$name: stopped"; fi
    done
    if mariadb-admin ping >/dev/null 2>&1; then echo "mariadb: running"; else echo "mariadb: stopped"; fi
    sinfo -N -o '%N %P %T %c %m' 2>/dev/null || true
    sacct -n -X -S now >/dev/null 2>&1 && echo "accounting: answers" || echo "accounting: no answer"
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
*)
    echo "usage: $0 up|status|down" >&2
    exit 2
    ;;
esac
