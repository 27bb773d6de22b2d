#!/bin/sh
# Installs everything kvmlabs needs on Debian 12 (idempotent). Run as root or
# as a user with sudo. The package list is grader/packages.txt.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "setup: run as root, or install sudo" >&2; exit 1; fi
else
	SUDO=
fi
pkgs=$(grep -v '^#' "$here/packages.txt" | tr -s ' \n' ' ')
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
else
	echo "setup: all $(echo $pkgs | wc -w) packages are installed"
fi
if [ -e /dev/kvm ] && [ ! -w /dev/kvm ] && [ "$(id -u)" -ne 0 ]; then
	echo "setup: /dev/kvm is not writable by $(id -un): sudo usermod -aG kvm $(id -un), then log in again" >&2
fi
