#!/usr/bin/env bash
# A one-machine Slurm on loopback, for the tests: its own munged (own key and socket), slurmctld
# and slurmd, every file in DIR, nothing under /etc touched. Needs root (slurmd runs the jobs)
# and Debian's slurm-wlm and munge (scripts/setup.sh installs them).
#
#   scripts/slurm-cluster.sh start DIR   prints the SLURM_CONF to export; waits until the node is idle
#   scripts/slurm-cluster.sh stop DIR    stops the daemons by the PIDs in their pid files
#
# The settings are those seen to work in a container without systemd or cgroup control
# (../shared/SLURM_MPI.md): process tracking by the process tree, no task plugin, no accounting.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?a folder for the cluster\'s files}

stop() {
  for name in slurmd slurmctld munged; do
    pidfile="$dir/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

if [ "$action" = stop ]; then
  stop
  exit 0
fi
[ "$action" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "slurm-cluster: needs root (slurmd runs jobs as their users)" >&2; exit 1; }
for command in munged slurmctld slurmd sinfo; do
  command -v "$command" >/dev/null || { echo "slurm-cluster: $command not found; run scripts/setup.sh" >&2; exit 1; }
done

# The daemons must not inherit the caller's descriptors beyond stdio: a caller that waits for
# a pipe's end (or, like Foundation's Process, for a descriptor of its own to close) would
# wait as long as the cluster runs.
for fd in /proc/$$/fd/*; do
  n=${fd##*/}
  if [ "$n" -gt 2 ] 2>/dev/null; then eval "exec $n>&-" 2>/dev/null || true; fi
done
mkdir -p "$dir"/{state,spool,munge}
dir=$(cd "$dir" && pwd)
chmod 700 "$dir/munge"
# munged: its own 1024-byte key and socket, run as root (--force: it warns about root otherwise).
[ -f "$dir/munge/munge.key" ] || head -c 1024 /dev/urandom > "$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed" </dev/null >>"$dir/daemons.log" 2>&1

host=$(hostname -s)
cores=$(nproc)
memory=$(awk '/MemTotal/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)
cat > "$dir/slurm.conf" <<EOF
ClusterName=runnertest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$((17000 + RANDOM % 2000))
SlurmdPort=$((19000 + RANDOM % 2000))
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmUser=root
SlurmdUser=root
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
KillWait=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cores RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
# The daemons' own stdio goes to a file: one holding the caller's pipe open would keep a
# reader of this script's output waiting for its end.
slurmctld -f "$SLURM_CONF" </dev/null >>"$dir/daemons.log" 2>&1
slurmd -f "$SLURM_CONF" </dev/null >>"$dir/daemons.log" 2>&1
for _ in $(seq 100); do
  if sinfo -h -o %T 2>/dev/null | grep -q idle; then
    echo "$SLURM_CONF"
    exit 0
  fi
  sleep 0.2
done
echo "slurm-cluster: the node did not come up within 20 s; logs in $dir:" >&2
tail -n 5 "$dir"/*.log >&2
stop
exit 1
