#!/usr/bin/env bash
# lab_portmap_natpmp: msock's portmapper maps with nat-pmp against miniupnpd (tests/lab/portmap.sh).
exec bash "$(dirname "$0")/portmap.sh" nat-pmp
