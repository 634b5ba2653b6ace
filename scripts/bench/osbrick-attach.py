#!/usr/bin/python3
"""os-brick's turn in scripts/bench/iscsi-attach.ts (issue 15): attach then detach LUNs of one
target over every portal with multipath, with Debian's python3-os-brick, run as root in the lab.

    python3 scripts/bench/osbrick-attach.py --iqn IQN --portals 127.0.0.1:3260,127.0.0.2:3260 --luns 0[,1,...]

One LUN: connect_volume then disconnect_volume. Several: every connect_volume at once (one thread
each, as Nova/Cinder's threads would), then every disconnect_volume at once. The import and set-up
are not timed. Prints one JSON line: {"attachMs": ..., "detachMs": ...}.
"""
import argparse
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

from oslo_concurrency import lockutils

import os_brick.privileged
from os_brick.initiator import connector

parser = argparse.ArgumentParser()
parser.add_argument("--iqn", required=True)
parser.add_argument("--portals", required=True)
parser.add_argument("--luns", required=True)
args = parser.parse_args()
portals = args.portals.split(",")
luns = [int(x) for x in args.luns.split(",")]

# Root already: privileged calls run in this process (no privsep daemon), external locks in a
# private directory.
os_brick.privileged.default.set_client_mode(False)
lockutils.set_defaults(lock_path=tempfile.mkdtemp(prefix="osbrick-locks-"))

conn = connector.InitiatorConnector.factory("ISCSI", None, use_multipath=True, device_scan_attempts=5)


def props(lun):
    return {
        "target_discovered": False,
        "target_portal": portals[0],
        "target_iqn": args.iqn,
        "target_lun": lun,
        "target_portals": portals,
        "target_iqns": [args.iqn] * len(portals),
        "target_luns": [lun] * len(portals),
        "volume_id": "bench-%d" % lun,
    }


def attach(lun):
    return conn.connect_volume(props(lun))


def detach(lun, dev):
    conn.disconnect_volume(props(lun), dev)


t0 = time.monotonic()
if len(luns) == 1:
    devs = [attach(luns[0])]
else:
    with ThreadPoolExecutor(max_workers=len(luns)) as pool:
        devs = list(pool.map(attach, luns))
t1 = time.monotonic()
if len(luns) == 1:
    detach(luns[0], devs[0])
else:
    with ThreadPoolExecutor(max_workers=len(luns)) as pool:
        list(pool.map(detach, luns, devs))
t2 = time.monotonic()
print(json.dumps({"attachMs": (t1 - t0) * 1000, "detachMs": (t2 - t1) * 1000, "paths": [d.get("path") for d in devs]}))
