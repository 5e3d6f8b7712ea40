#!/usr/bin/env bash
# A one-node Slurm on this machine, for trying and testing the study's emitted job graph:
#   scripts/slurm_local.sh start DIR   starts munged, slurmctld and slurmd (as root, loopback only),
#                                      everything (key, sockets, state, spool, logs, pids) under DIR;
#                                      then  export SLURM_CONF=DIR/slurm.conf  and use sbatch/squeue
#   scripts/slurm_local.sh start DIR PID  the same, and the daemons are stopped when process PID ends
#                                      (a test that dies leaves no Slurm behind)
#   scripts/slurm_local.sh stop DIR    stops the three daemons started in DIR (by their pid files)
# Needs Debian's slurm-wlm and munge (scripts/bootstrap.sh installs them). The node has 2 CPUs
# whatever the machine has (config_overrides), so a job graph schedules the same everywhere.
set -euo pipefail

die() { printf 'slurm_local: error: %s\n' "$*" >&2; exit 1; }

cmd=${1:-}; dir=${2:-}; owner=${3:-}
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
[[ ( $cmd == start || $cmd == stop ) && -n $dir ]] || die "usage: $0 start|stop DIR"

# Runs a daemon (or the watcher) with stdio on /dev/null and no other inherited descriptor: a caller's
# bookkeeping socket or output pipe held open by a daemon keeps that caller waiting for a child that
# has long exited (Foundation's Process does).
closefds() {
  local fd n
  for fd in /proc/self/fd/*; do n=${fd##*/}; if [[ $n -gt 2 ]]; then eval "exec $n>&-" 2>/dev/null || true; fi; done
}
detached() { ( closefds; exec "$@" </dev/null >/dev/null 2>&1 ); }
detached_background() { ( closefds; exec "$@" </dev/null >/dev/null 2>&1 ) & }

stop() {
  local name pid
  for name in slurmd slurmctld munged; do
    [[ -f $dir/$name.pid ]] || continue
    pid=$(cat "$dir/$name.pid" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}

if [[ $cmd == stop ]]; then
  stop
  exit 0
fi

for tool in munged slurmctld slurmd sinfo; do
  command -v "$tool" >/dev/null || die "$tool is missing: install Debian's slurm-wlm and munge (bash scripts/bootstrap.sh does)"
done
[[ $(id -u) -eq 0 ]] || die "run as root: this one-node Slurm runs its daemons and jobs as root (SlurmUser=root)"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chmod 700 "$dir/munge"

# Two free TCP ports for the controller and the node daemon (asked of the kernel, then released).
read -r ctld_port slurmd_port < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')

head -c 1024 /dev/urandom > "$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
# --force: munged refuses to run as root, or with its key in a folder it does not own, without it.
detached munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed" || die "munged did not start; see $dir/munged.log"

cat > "$dir/slurm.conf" <<EOF
ClusterName=maskdm-local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=600
NodeName=maskdm-node NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=2 State=UNKNOWN
PartitionName=local Nodes=maskdm-node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf

detached slurmctld -f "$SLURM_CONF" -i || { stop; die "slurmctld did not start; see $dir/slurmctld.log"; }
detached slurmd -f "$SLURM_CONF" -N maskdm-node || { stop; die "slurmd did not start; see $dir/slurmd.log"; }

# Ready when the node is idle (at most 30 s: a daemon that hangs fails here, not later).
for _ in $(seq 150); do
  state=$(sinfo -h -n maskdm-node -o %T 2>/dev/null || true)
  if [[ $state == idle ]]; then
    if [[ $owner =~ ^[0-9]+$ ]]; then
      detached_background bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec bash "$2" stop "$3"' _ "$owner" "$self" "$dir"
    fi
    echo "slurm_local: one-node Slurm up (export SLURM_CONF=$SLURM_CONF)"
    exit 0
  fi
  sleep 0.2
done
stop
die "the node did not become idle in 30 s (state: ${state:-none}); logs: $dir/slurmctld.log, $dir/slurmd.log
$(tail -n 5 "$dir/slurmctld.log" "$dir/slurmd.log" 2>/dev/null)"
