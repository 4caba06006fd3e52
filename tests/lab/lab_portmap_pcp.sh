#!/usr/bin/env bash
# lab_portmap_pcp: msock's portmapper maps with pcp against miniupnpd (tests/lab/portmap.sh).
exec bash "$(dirname "$0")/portmap.sh" pcp
