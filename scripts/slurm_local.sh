#!/usr/bin/env bash
# Install and start a one-node SLURM cluster on this machine (Debian, as root), for the
# SLURM sweep tests and for trying `mnsim sweep submit` without a cluster.
#   bash scripts/slurm_local.sh          # install (once), configure, start; idempotent
#   bash scripts/slurm_local.sh stop
set -euo pipefail
CONF=/etc/slurm/slurm.conf
if [ "${1:-}" = "stop" ]; then
    for p in /run/slurmd.pid /run/slurmctld.pid; do
        [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
    done
    pkill -u munge munged 2>/dev/null || true
    exit 0
fi
if ! command -v slurmctld >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi
if ! sinfo >/dev/null 2>&1; then
    mem_mb=$(awk '/MemTotal/ {print int($2 / 1024) - 512}' /proc/meminfo)
    cpus=$(nproc)
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
    cat > "$CONF" <<CONF
ClusterName=local
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
SchedulerParameters=batch_sched_delay=0,sched_interval=1
MaxArraySize=1001
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=30
NodeName=localhost CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    chown munge:munge /run/munge
    [ -f /etc/munge/munge.key ] || /usr/sbin/mungekey --create >/dev/null 2>&1 || true
    pgrep -u munge munged >/dev/null || su -s /bin/sh munge -c /usr/sbin/munged
    pgrep slurmctld >/dev/null || slurmctld -c
    pgrep slurmd >/dev/null || slurmd -N localhost
    for _ in $(seq 1 30); do
        sinfo -h -o %T 2>/dev/null | grep -q idle && break
        sleep 1
    done
fi
sinfo
