#!/usr/bin/env python3
"""Checks docker-compose.yml for what the schema cannot: every service BoxOffice needs is
there, every long-running one has a health check, the start order waits on health and on
the one-shot jobs, and every file it mounts or reads exists in the repository.

Usage: check_deploy.py [docker-compose.yml [override.yml ...]]
Override files are merged over the first as `docker compose -f a -f b` does (maps merged,
other values replaced), and the result is checked; with deploy/compose/cluster.yml the API
and the workers must also wait for the Redis Cluster's creation.
Prints one line per check and "N passed, N failed" at the end; exits 1 on a failure.
"""
import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
def merged(base, over):
    """`over` laid on `base`: maps merged key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merged(base[key], value) if key in base else value
        return out
    return over


files = sys.argv[1:] or ["docker-compose.yml"]
compose = {}
for file in files:
    compose = merged(compose, yaml.safe_load((ROOT / file).read_text()))
print(f"  checking {' + '.join(files)}")
services = compose.get("services", {})
passed = failed = 0


def check(ok, what):
    global passed, failed
    passed, failed = (passed + 1, failed) if ok else (passed, failed + 1)
    print(f"  {'ok  ' if ok else 'FAIL'}  {what}")


NEEDED = ["redis", "postgres", "kafka", "kafka-init", "migrate", "api", "worker", "lb", "prometheus", "grafana"]
ONE_SHOT = {"kafka-init", "migrate", "redis-cluster-init"}
for name in NEEDED:
    check(name in services, f"service {name} is defined")
for name, service in services.items():
    if name in ONE_SHOT:
        check(service.get("restart") == "no", f"{name} runs once (restart: \"no\")")
        continue
    test = (service.get("healthcheck") or {}).get("test")
    check(bool(test), f"{name} has a health check")
    for dependency, condition in (service.get("depends_on") or {}).items():
        wanted = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
        check(condition.get("condition") == wanted, f"{name} waits for {dependency} ({wanted})")
for name in ("api", "worker"):
    depends = services.get(name, {}).get("depends_on") or {}
    for needed in ("redis", "postgres", "kafka-init", "migrate") + (("redis-cluster-init",) if "redis-cluster-init" in services else ()):
        check(needed in depends, f"{name} starts after {needed}")
    check((services.get(name, {}).get("deploy") or {}).get("replicas", 1) >= 2, f"{name} runs 2 replicas")
for name, service in services.items():
    for volume in service.get("volumes") or []:
        source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
        if source.startswith("./"):
            check((ROOT / source).exists(), f"{name} mounts {source}, which exists")
        else:
            check(source in (compose.get("volumes") or {}), f"{name} uses the named volume {source}")
    env_file = service.get("env_file")
    if env_file:
        check((ROOT / env_file).is_file(), f"{name} reads {env_file}, which exists")
    build = service.get("build")
    if build:
        check((ROOT / build["context"] / build["dockerfile"]).is_file(), f"{name} builds from {build['dockerfile']}, which exists")
print(f"deploy: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
