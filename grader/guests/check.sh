#!/bin/sh
# Runs every guest in guests.list under a VMM and checks how it ended: the
# exit status, and no "not ok" line. A guest whose host-needs are not in
# HOST_CAN (space-separated) is skipped with the reason. {disk:SIZE} in a
# line's flags is a fresh disk of SIZE bytes (K or M) for that run, filled as
# the grader fills a rubric's disk= (guest_abi.h ABI_DISK_FILL).
#   grader/guests/check.sh [VMM [IMAGES_DIR]]
#   HOST_CAN="irqchip vmcall vmxon-ud" grader/guests/check.sh
# Default HOST_CAN suits the Linux KVM of HOST-KVM.md: irqchip only.
set -u
here=$(cd "$(dirname "$0")" && pwd)
vmm=${1:-$here/../../build/solution/vmm}
images=${2:-$here/../../build/guests}
can=" ${HOST_CAN-irqchip} "
timeout=${TIMEOUT:-20}
pass=0 fail=0 skipped=0

while read -r image flags want needs; do
	case $image in ''|'#'*) continue ;; esac
	label=$image
	[ "$flags" = - ] || label="$image $flags"
	# --opt=value becomes "--opt value" (only the first '=': values may hold more);
	# {guests} is the images' directory, for files a guest is given (--initrd).
	[ "$flags" = - ] && flags= || flags=$(echo "$flags" | tr ',' '\n' | sed -e 's/=/ /' -e "s|{guests}|$images|g" | tr '\n' ' ')
	missing=
	[ "$needs" = - ] || for n in $(echo "$needs" | tr ',' ' '); do
		case $can in *" $n "*) ;; *) missing="$missing $n" ;; esac
	done
	if [ -n "$missing" ]; then
		echo "SKIP $label: host cannot:$missing"
		skipped=$((skipped + 1))
		continue
	fi
	scratch=
	case $flags in *"{disk:"*)
		scratch=$(mktemp -d)
		size=$(echo "$flags" | sed -n 's/.*{disk:\([0-9]*[KM]*\)}.*/\1/p')
		python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); from lib import runner, rubric
n = rubric.parse_size(sys.argv[3]); open(sys.argv[2], "wb").write(runner.disk_fill(n))' \
			"$here/.." "$scratch/disk.img" "$size"
		flags=$(echo "$flags" | sed "s|{disk:[0-9]*[KM]*}|$scratch/disk.img|g") ;;
	esac
	out=$("$vmm" run --timeout "$timeout" $flags "$images/$image" </dev/null 2>&1 | head -c 65536)
	[ -z "$scratch" ] || rm -rf "$scratch"
	# The VMM's last line names its exit status (the pipe's status is head's).
	got=$(printf '%s\n' "$out" | sed -n 's/.*(exit status \([0-9]*\)).*/\1/p' | tail -n 1)
	notok=$(printf '%s\n' "$out" | grep -c '^not ok ')
	if [ "$got" = "$want" ] && [ "$notok" -eq 0 ]; then
		echo "PASS $label (status $got)"
		pass=$((pass + 1))
	else
		echo "FAIL $label: status ${got:-?} want $want, $notok not-ok lines"
		printf '%s\n' "$out" | grep -v '^ok ' | tail -n 12 | cut -c1-200 | sed 's/^/    /'
		fail=$((fail + 1))
	fi
done < "$here/guests.list"

echo "guests: passed=$pass failed=$fail skipped=$skipped"
[ "$fail" -eq 0 ]
