#!/bin/sh
# Installs the optional Debian data packages reprlab reads (Fashion-MNIST, WordNet glosses, KJV Bible).
# Never fails: without root or apt-get it prints the command and reprlab falls back to bundled data.
PKGS="dataset-fashion-mnist wordnet-base bible-kjv"
missing=""
[ -d /usr/share/datasets/fashion-mnist ] || missing="$missing dataset-fashion-mnist"
[ -f /usr/share/wordnet/data.noun ] || missing="$missing wordnet-base"
command -v bible >/dev/null 2>&1 || missing="$missing bible-kjv"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing optional data packages:$missing"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing) >/dev/null 2>&1 \
        || echo "warning: could not install$missing; tests that need them are skipped"
else
    echo "optional data not installed; as root run: apt-get update && apt-get install -y --no-install-recommends$missing"
fi
exit 0
