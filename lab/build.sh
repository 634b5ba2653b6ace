#!/usr/bin/env bash
# volkit storage lab: build (or find in the cache) the Debian 12 guest image.
#
#   lab/build.sh            build if needed; prints the image directory on stdout (last line)
#   lab/build.sh --key      print the recipe key only
#   lab/build.sh --check    exit 0 if the image for the current recipe is cached, 1 if not
#
# The image directory holds rootfs.img (raw ext4), vmlinuz and initrd.img.
# Logs and timings go to stderr; stdout carries only the image directory.
#
# Environment:
#   VOLKIT_LAB_CACHE   cache root (default /var/cache/volkit-lab)
#   VOLKIT_LAB_MIRROR  Debian mirror URL (default: read from the host's apt configuration)
#   VOLKIT_LAB_KEEP    how many image versions to keep in the cache (default 3)
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GUEST_DIR="$LAB_DIR/guest"
CACHE=${VOLKIT_LAB_CACHE:-/var/cache/volkit-lab}
KEEP=${VOLKIT_LAB_KEEP:-3}
SUITE=bookworm

log() { printf 'volkit-lab build: %s\n' "$*" >&2; }
die() { printf 'volkit-lab build: ERROR: %s\n' "$*" >&2; exit "${2:-1}"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- recipe key
# Everything that ends up in the image: this script, the package lists, the guest
# init and the config overlay (every file below lab/guest/: path, mode and content).
manifest() { # manifest GUEST_DIR
  printf '%s 755 build.sh\n' "$(sha256sum <"$LAB_DIR/build.sh" | cut -d' ' -f1)"
  (cd "$1" && find . -type f -print | LC_ALL=C sort | while read -r f; do
    printf '%s %s guest/%s\n' "$(sha256sum <"$f" | cut -d' ' -f1)" "$(stat -c %a "$f")" "${f#./}"
  done)
}
recipe_key() { manifest "$1" | sha256sum | cut -c1-16; }

KEY=$(recipe_key "$GUEST_DIR")
IMAGE_DIR="$CACHE/$KEY"

image_complete() { [[ -f "$IMAGE_DIR/rootfs.img" && -f "$IMAGE_DIR/vmlinuz" && -f "$IMAGE_DIR/initrd.img" && -f "$IMAGE_DIR/recipe.txt" ]]; }

case "${1:-}" in
  --key) echo "$KEY"; exit 0 ;;
  --check) image_complete && { echo "$IMAGE_DIR"; exit 0; }; exit 1 ;;
  "") ;;
  *) die "unknown argument: $1 (usage: lab/build.sh [--key|--check])" 64 ;;
esac

if image_complete; then
  touch "$IMAGE_DIR" 2>/dev/null || true # LRU for pruning
  log "image cached: $IMAGE_DIR"
  echo "$IMAGE_DIR"
  exit 0
fi

# ---------------------------------------------------------------- host tools
T_ALL=$(now)
[[ $(id -u) -eq 0 ]] || die "no image for recipe $KEY in $CACHE and building needs root (debootstrap, chroot). Run 'sudo lab/build.sh' once." 2

declare -A TOOL_PKG=([debootstrap]=debootstrap [mkfs.ext4]=e2fsprogs [chroot]=coreutils [flock]=util-linux)
missing_pkgs=()
for tool in "${!TOOL_PKG[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing_pkgs+=("${TOOL_PKG[$tool]}")
done
[[ -f /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing_pkgs+=(debian-archive-keyring)
if ((${#missing_pkgs[@]})); then
  log "installing missing host packages: ${missing_pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing_pkgs[@]}" >&2 \
    || die "could not install host packages: apt-get install -y ${missing_pkgs[*]}" 2
fi

# ---------------------------------------------------------------- mirror
# Never hard-coded: VOLKIT_LAB_MIRROR, else the host's apt sources for the bookworm suite.
find_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] || continue
    # deb822 stanzas: pick the first URI of a "Types: deb" stanza whose Suites contain exactly "bookworm".
    uri=$(awk -v suite="$SUITE" '
      function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && uris != "" && enabled != "no") { split(uris, u, " "); print u[1]; found = 1; exit } types = suites = uris = enabled = "" }
      /^[[:space:]]*$/ { flush(); next }
      /^[[:space:]]*#/ { next }
      tolower($1) == "types:"   { $1 = ""; types = $0 }
      tolower($1) == "suites:"  { $1 = ""; suites = $0 }
      tolower($1) == "uris:"    { $1 = ""; uris = $0; sub(/^ +/, "", uris) }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      END { if (!found) flush() }' "$f")
    [[ -n "$uri" ]] && { echo "$uri"; return 0; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] || continue
    uri=$(awk -v suite="$SUITE" '
      $1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } if ($(i + 1) == suite) { print $i; exit } }' "$f")
    [[ -n "$uri" ]] && { echo "$uri"; return 0; }
  done
  return 1
}
MIRROR=${VOLKIT_LAB_MIRROR:-$(find_mirror || true)}
[[ -n "$MIRROR" ]] || die "no Debian mirror for '$SUITE' in /etc/apt/sources.list{,.d/*} and VOLKIT_LAB_MIRROR is unset"

# ---------------------------------------------------------------- build
mkdir -p "$CACHE"
exec 9>"$CACHE/.build.lock"
log "waiting for the build lock $CACHE/.build.lock"
flock 9
if image_complete; then # built by a concurrent run meanwhile
  log "image cached: $IMAGE_DIR"
  echo "$IMAGE_DIR"
  exit 0
fi

WORK=$(mktemp -d "$CACHE/.build-$KEY-XXXXXX")
ROOT="$WORK/rootfs"
# build from a snapshot of lab/guest that matches the key (edits during a build cannot leak in)
cp -a "$GUEST_DIR" "$WORK/guest"
GUEST_DIR="$WORK/guest"
[[ $(recipe_key "$GUEST_DIR") == "$KEY" ]] || die "lab/guest changed while starting the build; run again"
CHROOT_MOUNTS=()
cleanup() {
  local rc=$? m
  for ((i = ${#CHROOT_MOUNTS[@]} - 1; i >= 0; i--)); do
    m=${CHROOT_MOUNTS[$i]}
    mountpoint -q "$m" && { umount "$m" 2>/dev/null || umount -l "$m" || true; }
  done
  # debootstrap mounts these itself; make sure nothing is left behind on failure
  for m in "$ROOT/proc" "$ROOT/sys" "$ROOT/dev/pts" "$ROOT/dev"; do
    mountpoint -q "$m" 2>/dev/null && { umount "$m" 2>/dev/null || umount -l "$m" || true; }
  done
  if ((rc != 0)); then
    log "build FAILED (exit $rc); removing $WORK"
  fi
  [[ -d "$WORK" ]] && rm -rf --one-file-system "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

read_list() { sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$1"; }
PKGS=$(read_list "$GUEST_DIR/packages.txt" | paste -sd, -)
CHROOT_PKGS=$(read_list "$GUEST_DIR/packages-chroot.txt" | paste -sd' ' -)

log "recipe $KEY, mirror $MIRROR, suite $SUITE"
log "building in $WORK"

# Phase 1: debootstrap
T=$(now)
log "phase debootstrap: --variant=minbase --include=$PKGS"
debootstrap --variant=minbase --components=main --include="$PKGS" \
  --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
  "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
  tail -n 40 "$WORK/debootstrap.log" >&2
  [[ -f "$ROOT/debootstrap/debootstrap.log" ]] && tail -n 40 "$ROOT/debootstrap/debootstrap.log" >&2
  die "debootstrap failed"
}
T_DEBOOTSTRAP=$(elapsed "$T")
log "phase debootstrap: ${T_DEBOOTSTRAP} s"

# Phase 2: config overlay, packages with virtual dependencies (apt-get in the chroot), initramfs
T=$(now)
cp -a --no-preserve=ownership "$GUEST_DIR/rootfs/." "$ROOT/"
mount -t proc proc "$ROOT/proc"
CHROOT_MOUNTS+=("$ROOT/proc")
if [[ -n "$CHROOT_PKGS" ]]; then
  log "phase chroot: apt-get install $CHROOT_PKGS"
  printf 'deb %s %s main\n' "$MIRROR" "$SUITE" >"$ROOT/etc/apt/sources.list"
  # The host's mirror may be a dated snapshot whose Release file has expired.
  printf 'Acquire::Check-Valid-Until "false";\nAPT::Install-Recommends "false";\n' >"$ROOT/etc/apt/apt.conf.d/99volkit-lab-build"
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  {
    chroot "$ROOT" apt-get update &&
      chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $CHROOT_PKGS
  } >"$WORK/chroot-apt.log" 2>&1 || {
    tail -n 40 "$WORK/chroot-apt.log" >&2
    die "chroot apt-get install $CHROOT_PKGS failed"
  }
fi
# small initramfs (etc/initramfs-tools from the overlay: MODULES=list)
chroot "$ROOT" update-initramfs -u -k all >"$WORK/initramfs.log" 2>&1 || {
  cat "$WORK/initramfs.log" >&2
  die "update-initramfs failed"
}
umount "$ROOT/proc"
CHROOT_MOUNTS=()
T_CHROOT=$(elapsed "$T")
log "phase chroot (apt-get, initramfs): ${T_CHROOT} s"

# Phase 3: clean up and configure
T=$(now)
chroot "$ROOT" apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin \
  "$ROOT/etc/apt/apt.conf.d/99volkit-lab-build" "$ROOT/usr/sbin/policy-rc.d" \
  "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
  "$ROOT"/var/log/*.log "$ROOT"/var/log/apt/* "$ROOT/debootstrap"
: >"$ROOT/etc/apt/sources.list" # the guest has no network
: >"$ROOT/etc/resolv.conf"
find "$ROOT"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
find "$ROOT" -name __pycache__ -prune -o -name '*.pyc' -print0 | xargs -0r rm -f

install -m 0755 "$GUEST_DIR/init.sh" "$ROOT/volkit-init"
# iSCSI: fail a dead path to dm-multipath after 15 s instead of queueing I/O for 120 s
# (the usual setting on multipath hosts; the lab's path-cutting tests rely on it)
sed -i 's/^node.session.timeo.replacement_timeout = .*/node.session.timeo.replacement_timeout = 15/' "$ROOT/etc/iscsi/iscsid.conf"
grep -q '^node.session.timeo.replacement_timeout = 15$' "$ROOT/etc/iscsi/iscsid.conf" || die "could not set replacement_timeout in iscsid.conf"
mkdir -p "$ROOT/srv/nfs/share1" "$ROOT/srv/nfs/share2" "$ROOT/var/lib/volkit/tgt-volumes" \
  "$ROOT/etc/tgt/conf.d" "$ROOT/etc/target" "$ROOT/etc/multipath" "$ROOT/opt/volkit-node/bin" \
  "$ROOT/opt/volkit-node/lib/node_modules" "$ROOT/run/volkit-ctl" "$ROOT/root"
chmod 0777 "$ROOT/srv/nfs/share1" "$ROOT/srv/nfs/share2"
# empty fstab: the init mounts everything itself
printf '# volkit storage lab: the init (/volkit-init) mounts everything\n' >"$ROOT/etc/fstab"

# kernel + initrd next to the image (qemu -kernel/-initrd)
VMLINUZ=$(ls "$ROOT"/boot/vmlinuz-* | sort -V | tail -n1)
INITRD=$(ls "$ROOT"/boot/initrd.img-* | sort -V | tail -n1)
[[ -f "$VMLINUZ" && -f "$INITRD" ]] || die "no kernel/initrd in $ROOT/boot"
cp "$VMLINUZ" "$WORK/vmlinuz"
cp "$INITRD" "$WORK/initrd.img"
T_CONFIG=$(elapsed "$T")
log "phase configure: ${T_CONFIG} s (kernel $(basename "$VMLINUZ"))"

# Phase 4: the ext4 image (sparse), content + 1 GiB headroom
T=$(now)
USED_MB=$(du -sm --apparent-size "$ROOT" | cut -f1)
SIZE_MB=$(((USED_MB * 13 / 10 + 1024 + 255) / 256 * 256))
mkfs.ext4 -q -F -L volkit-root -d "$ROOT" "$WORK/rootfs.img" "${SIZE_MB}M" >&2
T_MKFS=$(elapsed "$T")
log "phase mkfs.ext4: ${T_MKFS} s (${USED_MB} MiB content, ${SIZE_MB} MiB image)"

{
  echo "key=$KEY"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "suite=$SUITE"
  echo "kernel=$(basename "$VMLINUZ")"
  echo "packages=$PKGS"
  echo "chroot_packages=$CHROOT_PKGS"
  echo "timings: debootstrap=${T_DEBOOTSTRAP}s chroot=${T_CHROOT}s configure=${T_CONFIG}s mkfs=${T_MKFS}s"
  echo "files:"
  manifest "$GUEST_DIR" | sed 's/^/  /'
} >"$WORK/recipe.txt"
chroot "$ROOT" dpkg-query -W -f '${Package} ${Version}\n' >"$WORK/packages.lock" 2>/dev/null || true
rm -rf --one-file-system "$ROOT" "$GUEST_DIR"
rm -f "$WORK/debootstrap.log" "$WORK/chroot-apt.log" "$WORK/initramfs.log"
chmod 0755 "$WORK"
chmod 0644 "$WORK"/*

# Phase 5: publish atomically, prune old versions
mv -T "$WORK" "$IMAGE_DIR" 2>/dev/null || {
  image_complete || die "could not rename $WORK to $IMAGE_DIR"
  rm -rf --one-file-system "$WORK"
}
WORK=""
touch "$IMAGE_DIR"
mapfile -t OLD < <(find "$CACHE" -mindepth 1 -maxdepth 1 -type d -regextype posix-extended -regex '.*/[0-9a-f]{16}' -printf '%T@ %p\n' | sort -rn | cut -d' ' -f2- | tail -n +"$((KEEP + 1))")
for d in "${OLD[@]}"; do
  [[ "$d" == "$IMAGE_DIR" ]] && continue
  log "pruning old image $d"
  rm -rf --one-file-system "$d"
done
# stale half-built dirs from killed builds (we hold the lock, so none is in progress)
find "$CACHE" -mindepth 1 -maxdepth 1 -type d -name '.build-*' -exec rm -rf --one-file-system {} + 2>/dev/null || true

log "image built in $(elapsed "$T_ALL") s: $IMAGE_DIR"
echo "$IMAGE_DIR"
