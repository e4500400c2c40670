#!/usr/bin/env python3
"""Runs a load generator and records where the machine's CPU went meanwhile.

    cpu-split.py --run-dir .run --out FILE -- wrk ...

The command's output passes through unchanged. FILE gets JSON: CPU seconds
(user + system) of each process of the stack (`--run-dir`'s pids/*.pid, and
PostgreSQL's backends, the postmaster's children), of the command itself
(`load generator`), the machine's idle seconds and its total. Dividing by the
requests the command made gives the cost of one request to each part of the
machine: on a small box the API shares its cores with Redis, the pipeline
(Kafka, worker, PostgreSQL) and the load generator, and this shows how much
each takes.
"""
import argparse
import json
import os
import resource
import subprocess
import sys

TICK = os.sysconf("SC_CLK_TCK")
NAMES = {"api": "API", "redis": "Redis", "postgres": "PostgreSQL", "worker": "worker",
         "kafka": "Kafka broker", "prometheus": "Prometheus"}


def stat(pid):
    """The fields of /proc/PID/stat after the command name (state, ppid, ...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def stack_processes(run_dir):
    """name -> set of pids: each pid file's process; PostgreSQL with every child of the postmaster."""
    procs = {}
    pids_dir = os.path.join(run_dir, "pids")
    for file in sorted(os.listdir(pids_dir)) if os.path.isdir(pids_dir) else []:
        name = file.removesuffix(".pid")
        try:
            with open(os.path.join(pids_dir, file)) as f:
                procs[name] = {int(f.read().split()[0])}
        except (OSError, ValueError, IndexError):
            continue
    # A Redis Cluster's nodes (the scaled shape) keep their pid files in their own folders.
    cluster = os.path.join(run_dir, "redis-cluster")
    for node in sorted(os.listdir(cluster)) if os.path.isdir(cluster) else []:
        try:
            with open(os.path.join(cluster, node, "redis.pid")) as f:
                procs[f"redis-{node}"] = {int(f.read().split()[0])}
        except (OSError, ValueError, IndexError):
            continue
    if "postgres" in procs:
        postmaster = next(iter(procs["postgres"]))
        for entry in os.listdir("/proc"):
            fields = stat(entry) if entry.isdigit() else None
            if fields and int(fields[1]) == postmaster:
                procs["postgres"].add(int(entry))
    return procs


def snapshot(procs):
    out = {}
    for name, pids in procs.items():
        for pid in pids:
            fields = stat(pid)
            if fields:
                out[(name, pid)] = (int(fields[11]) + int(fields[12])) / TICK  # utime + stime
    return out


def machine():
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return (values[3] + values[4]) / TICK, sum(values) / TICK  # idle + iowait, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command to run")

    procs = stack_processes(args.run_dir)
    before, (idle0, total0) = snapshot(procs), machine()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = subprocess.call(command)
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # Backends that started during the run count from zero.
    for name, pids in stack_processes(args.run_dir).items():
        procs[name] = procs.get(name, set()) | pids
    after, (idle1, total1) = snapshot(procs), machine()

    split = {}
    for key, seconds in after.items():
        split[key[0]] = split.get(key[0], 0.0) + seconds - before.get(key, 0.0)
    split["load generator"] = (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)
    result = {"processes": {NAMES.get(k, k): round(v, 3) for k, v in split.items()},
              "idle": round(idle1 - idle0, 3), "total": round(total1 - total0, 3)}
    with open(args.out, "w") as f:
        json.dump(result, f)
    return code


if __name__ == "__main__":
    sys.exit(main())
