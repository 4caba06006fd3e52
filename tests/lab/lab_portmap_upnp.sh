#!/usr/bin/env bash
# lab_portmap_upnp: msock's portmapper maps with upnp against miniupnpd (tests/lab/portmap.sh).
exec bash "$(dirname "$0")/portmap.sh" upnp
