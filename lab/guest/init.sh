#!/bin/bash
# volkit storage lab guest init (PID 1, baked into the image as /volkit-init).
#
# Brings up a fixed storage environment (LVM VGs on fresh scratch disks, tgtd, LIO,
# iscsid, multipathd, nfsd), runs ONE command given by the host runner (lab/run.ts)
# through the 9p control share, writes its exit status back and powers off.
#
# Control share (9p tag "volkitctl", mounted at /run/volkit-ctl), written by the host:
#   project   absolute host path of the project (mounted at the same path, tag "volkitproj")
#   argv      command, NUL-separated           (absent: interactive shell on the console)
#   cwd       working directory (default: project)
#   env       extra environment, NUL-separated KEY=VALUE
#   node      "node" if the host's node directory is shared (tag "volkitnode"), "npm" too (tag "volkitnpm")
#   tty       present if the host's stdout is a terminal: the command then runs on the console tty
#   project-cache  9p cache mode for the project share (default loose)
# Written by the guest:
#   status    "ok <exit code>" or "setup <component>"
#   ready     boot-to-ready seconds (guest uptime)
#
# Exit codes / status: a setup failure prints "volkit-lab: SETUP FAILED: <component>: ..." and
# writes "setup <component>"; lab/run.ts turns that into exit code 3.

set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=${TERM:-linux}
umask 022

CTL=/run/volkit-ctl
ENV_FILE=/run/volkit-lab.env
LOG=/run/volkit-lab-init.log
TGT_PORT=3261
LIO_PORT=3260
PORTALS="127.0.0.1 127.0.0.2"
INITIATOR=iqn.2026-11.io.volkit:lab-initiator
VG_THICK=volkit-thick
VG_THIN=volkit-thin
TGT_VOLUMES_DIR=/var/lib/volkit/tgt-volumes
NFS_SHARES="127.0.0.1:/srv/nfs/share1,127.0.0.1:/srv/nfs/share2"
NINEP_OPTS="trans=virtio,version=9p2000.L,msize=512000" # 512000 = virtio transport maximum

say() { echo "volkit-lab: $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

poweroff_now() {
  sync
  [[ -n "${PROJECT:-}" ]] && umount "$PROJECT" 2>/dev/null
  umount "$CTL" 2>/dev/null
  sync
  echo 1 >/proc/sys/kernel/sysrq
  echo o >/proc/sysrq-trigger
  sleep 30 # never returns: qemu exits (-no-reboot)
  echo b >/proc/sysrq-trigger
}

write_status() { mountpoint -q "$CTL" && { echo "$*" >"$CTL/status"; sync; }; }

# fail COMPONENT MESSAGE: name the component, show the last log lines, power off.
fail() {
  local component=$1
  shift
  say "SETUP FAILED: $component: $*"
  if [[ -s "$LOG" ]]; then
    echo "---- last lines of $LOG ----"
    tail -n 25 "$LOG"
    echo "----"
  fi
  write_status "setup $component"
  poweroff_now
}

# step COMPONENT CMD...: run a setup command, output to the init log; failure -> fail COMPONENT
step() {
  local component=$1
  shift
  echo "+ $(uptime_s) [$component] $*" >>"$LOG"
  "$@" >>"$LOG" 2>&1 || fail "$component" "'$*' exited with $?"
}

# wait_for COMPONENT SECONDS CMD...: poll CMD until it succeeds
wait_for() {
  local component=$1 secs=$2 i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do
    "$@" >>"$LOG" 2>&1 && return 0
    sleep 0.1
  done
  fail "$component" "timed out after ${secs}s waiting for: $*"
}

cmdline_arg() { # cmdline_arg NAME -> value of NAME=value on the kernel command line
  local a
  for a in $(cat /proc/cmdline); do [[ $a == "$1="* ]] && { echo "${a#*=}"; return 0; }; done
  return 1
}

# ------------------------------------------------------------------ base system
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mountpoint -q /dev/pts || mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mountpoint -q /dev/shm || mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mountpoint -q /run || mount -t tmpfs -o mode=755 tmpfs /run
mountpoint -q /tmp || mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /run/lock /run/dbus /run/lvm /run/multipath "$CTL"
: >"$LOG"
dmesg -n 1 2>/dev/null # keep kernel messages (WRITE_ZEROES etc.) off the console
hostname volkit-lab
echo "volkit-lab: init started at $(uptime_s) s"
ip link set lo up || fail base "ip link set lo up"


# ------------------------------------------------------------------ 9p shares
# the control share first, so that even early setup failures reach the host
step shares modprobe -a 9p 9pnet_virtio
step shares mount -t 9p -o "$NINEP_OPTS" volkitctl "$CTL"
PROJECT=$(cat "$CTL/project" 2>/dev/null || cmdline_arg volkit.project || true)
if [[ -n "$PROJECT" ]]; then
  mkdir -p "$PROJECT"
  # read-write (vitest/vite write node_modules/.vite etc.). cache=loose: node's module loading
  # does thousands of lookups, uncached 9p makes them very slow under TCG; the VM is one-shot
  # and syncs + unmounts before power-off, so guest writes reach the host.
  PROJECT_CACHE=$(cat "$CTL/project-cache" 2>/dev/null || echo loose)
  step shares mount -t 9p -o "$NINEP_OPTS,cache=$PROJECT_CACHE" volkitproj "$PROJECT"
fi
if [[ -f "$CTL/node" ]]; then
  step shares mount -t 9p -o "$NINEP_OPTS,ro,cache=loose" volkitnode /opt/volkit-node/bin
  ln -sf /opt/volkit-node/bin/node /usr/local/bin/node
  if grep -q npm "$CTL/node"; then
    step shares mount -t 9p -o "$NINEP_OPTS,ro,cache=loose" volkitnpm /opt/volkit-node/lib/node_modules
    for t in npm:npm/bin/npm-cli.js corepack:corepack/dist/corepack.js; do
      [[ -e /opt/volkit-node/lib/node_modules/${t#*:} ]] && ln -sf "/opt/volkit-node/lib/node_modules/${t#*:}" "/usr/local/bin/${t%%:*}"
    done
    # npx: project-local bins run directly (see the script)
    [[ -e /opt/volkit-node/lib/node_modules/npm/bin/npx-cli.js ]] && ln -sf /usr/local/lib/volkit-lab/npx /usr/local/bin/npx
  fi
fi

# ------------------------------------------------------------------ kernel modules
step modules modprobe -a configfs dm_mod dm_multipath dm_thin_pool dm_snapshot loop iscsi_tcp \
  target_core_mod target_core_iblock target_core_file target_core_pscsi iscsi_target_mod nfsd nfs sg
mountpoint -q /sys/kernel/config || step modules mount -t configfs configfs /sys/kernel/config

# ------------------------------------------------------------------ udev
# Coldplug only block devices (the scratch disks' /dev/disk/by-id links and udev db entries
# LVM relies on); everything created later (dm, loop, iSCSI sdX) arrives as normal uevents.
UDEVD=$(command -v systemd-udevd || echo /lib/systemd/systemd-udevd)
step udev "$UDEVD" --daemon --resolve-names=never
step udev udevadm trigger --action=add --subsystem-match=block
step udev udevadm settle --timeout=60

# ------------------------------------------------------------------ components, in parallel
# Each runs in the background; a failure names its component and powers off (see fail).

setup_lvm() {
  # Fresh sparse scratch disks from the host (virtio serials volkit-thick / volkit-thin):
  # every boot starts with two EMPTY volume groups.
  mkdir -p /run/lvm
  local vg disk
  for vg in "$VG_THICK:/dev/disk/by-id/virtio-volkit-thick" "$VG_THIN:/dev/disk/by-id/virtio-volkit-thin"; do
    disk=${vg#*:} vg=${vg%%:*}
    wait_for "lvm $vg" 20 test -b "$disk"
    step "lvm $vg" vgcreate -qq -y "$vg" "$disk"
  done
  step lvm vgs "$VG_THICK" "$VG_THIN"
}

setup_tgtd() { # userspace target on port 3261 (LIO owns 3260)
  mkdir -p "$TGT_VOLUMES_DIR" /etc/tgt/conf.d /run/tgtd
  local first=${PORTALS%% *} p
  step tgtd tgtd --iscsi "portal=$first:$TGT_PORT"
  wait_for tgtd 20 tgtadm --lld iscsi --op show --mode sys
  # tgtd honours only one portal= option; add the others at runtime
  for p in ${PORTALS#"$first"}; do
    step tgtd tgtadm --lld iscsi --op new --mode portal --param "portal=$p:$TGT_PORT"
  done
  step tgtd tgt-admin -e # also validates /etc/tgt/targets.conf and its includes
}

setup_lio() { # kernel target; targetcli needs the system D-Bus
  mkdir -p /etc/target /run/dbus
  step lio dbus-daemon --system --fork
  # A fresh host: the target core is in configfs, but the iSCSI fabric directory
  # (/sys/kernel/config/target/iscsi) appears only when targetcli/rtslib first starts.
  step lio test -d /sys/kernel/config/target
}

setup_iscsid() {
  step iscsid grep -qx "InitiatorName=$INITIATOR" /etc/iscsi/initiatorname.iscsi
  step iscsid iscsid
  wait_for iscsid 20 test -e /run/iscsid.pid
}

setup_multipathd() {
  step multipathd multipathd
  wait_for multipathd 30 multipathd show status
}

setup_nfsd() {
  mkdir -p /srv/nfs/share1 /srv/nfs/share2 /var/lib/nfs/v4recovery /run/rpc_pipefs
  mountpoint -q /proc/fs/nfsd || step nfsd mount -t nfsd nfsd /proc/fs/nfsd
  mountpoint -q /run/rpc_pipefs || mount -t rpc_pipefs rpc_pipefs /run/rpc_pipefs 2>>"$LOG"
  step nfsd rpcbind -w
  step nfsd rpc.statd --no-notify
  step nfsd exportfs -ra
  step nfsd rpc.mountd
  step nfsd rpc.nfsd
  step nfsd exportfs -s
}

pids=()
for c in lvm tgtd lio iscsid multipathd nfsd; do
  "setup_$c" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done

# ------------------------------------------------------------------ environment for the command
NODE_PATHS=""
[[ -x /usr/local/bin/node ]] && NODE_PATHS="/usr/local/bin:"
cat >"$ENV_FILE" <<EOF
VOLKIT_LAB=1
VOLKIT_LAB_VG_THICK=$VG_THICK
VOLKIT_LAB_VG_THIN=$VG_THIN
VOLKIT_LAB_THIN_POOL=volkit-thin-pool
VOLKIT_LAB_INITIATOR=$INITIATOR
VOLKIT_LAB_PORTALS=${PORTALS// /,}
VOLKIT_LAB_TGT_PORT=$TGT_PORT
VOLKIT_LAB_LIO_PORT=$LIO_PORT
VOLKIT_LAB_TGT_VOLUMES_DIR=$TGT_VOLUMES_DIR
VOLKIT_LAB_NFS_SHARES=$NFS_SHARES
VOLKIT_LAB_PROJECT=${PROJECT:-}
PATH=$PATH
EOF
set -a
. "$ENV_FILE"
set +a
export NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false npm_config_offline=true

READY=$(uptime_s)
[[ -d "$CTL" ]] && echo "$READY" >"$CTL/ready" 2>/dev/null
say "ready after $READY s (uptime)"

# ------------------------------------------------------------------ the command
cwd=$(cat "$CTL/cwd" 2>/dev/null || true)
cwd=${cwd:-${PROJECT:-/root}}
[[ -d "$cwd" ]] || fail command "no directory $cwd in the guest"
if [[ -f "$CTL/env" ]]; then
  while IFS= read -r -d '' kv; do [[ "$kv" == *=* ]] && export "$kv"; done <"$CTL/env"
fi
[[ -n "${VOLKIT_LAB_COLUMNS:-}" ]] && stty cols "$VOLKIT_LAB_COLUMNS" rows "${VOLKIT_LAB_ROWS:-40}" 2>/dev/null

if [[ -f "$CTL/argv" ]]; then
  mapfile -d '' -t ARGV <"$CTL/argv"
  say "running: ${ARGV[*]} (cwd $cwd)"
  # a subshell, so that PID 1 never holds the project mount busy
  if [[ -f "$CTL/tty" ]]; then
    (cd "$cwd" && exec "${ARGV[@]}") </dev/null
    rc=$?
  else
    # the host's output is not a terminal: the command gets a pipe, not the console tty
    # (so test reporters do not draw progress bars or colours)
    (cd "$cwd" && exec "${ARGV[@]}") </dev/null 2>&1 | cat
    rc=${PIPESTATUS[0]}
  fi
else
  say "no command given: interactive shell (exit to power off)"
  (cd "$cwd" && exec setsid -c bash -i) </dev/console >/dev/console 2>&1
  rc=$?
fi
say "command exited with $rc after $(awk -v r="$READY" -v n="$(uptime_s)" 'BEGIN { printf "%.1f", n - r }') s"
write_status "ok $rc"
poweroff_now
