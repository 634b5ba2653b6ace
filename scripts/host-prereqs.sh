#!/usr/bin/env bash
# Makes sure this Debian host has the tools volkit's tests and demo drive for real (tgtd,
# libiscsi, qemu-img with iSCSI, qemu + debootstrap for the storage lab, virt-xml-validate, sshd,
# a single-node Ceph cluster and radosgw).
# Runs before `npm test` and `npm run demo`. As root it installs what is missing with apt-get;
# otherwise it names what is missing and fails. Fast (dpkg-query only) when all is present.
set -euo pipefail
list="$(dirname "$0")/apt-packages.txt"
missing=()
while read -r pkg; do
  [ -n "$pkg" ] || continue
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done < "$list"
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "volkit: missing Debian packages: ${missing[*]}" >&2
  echo "volkit: install them with: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 2
fi
echo "volkit: installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Other jobs on this machine may be installing packages too: wait for dpkg's lock instead of failing.
lock=(-o DPkg::Lock::Timeout=600)
apt-get "${lock[@]}" update -q >/dev/null
apt-get "${lock[@]}" install -y -q --no-install-recommends "${missing[@]}" >/dev/null
echo "volkit: installed ${#missing[@]} packages"
