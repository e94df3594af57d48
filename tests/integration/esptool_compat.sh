#!/bin/sh
# Espressif's esptool (v4.8.1, ROM path: --before no_reset --no-stub) against
# espfab-sim, on a pty and over TCP, for every personality. Runs only when
# $ESPTOOL_DIR points at an esptool checkout (we never commit esptool):
#   git clone -b v4.8.1 <esptool repo> /tmp/esptool && ESPTOOL_DIR=/tmp/esptool ctest -R esptool
# Needs a python3 with pyserial and intelhex (Debian: python3-serial,
# python3-intelhex); $ESPTOOL_PYTHON overrides the interpreter.
# usage: esptool_compat.sh PATH/TO/espfab-sim WORKDIR
set -u
SIM=$1
WORK=$2
SKIP=77

if [ -z "${ESPTOOL_DIR:-}" ] || [ ! -f "$ESPTOOL_DIR/esptool.py" ]; then
	echo "SKIP: set ESPTOOL_DIR to an esptool v4.8.1 checkout to run this test"
	exit $SKIP
fi
PY=${ESPTOOL_PYTHON:-}
if [ -z "$PY" ]; then
	for c in /usr/bin/python3 python3; do
		if "$c" -c 'import serial, intelhex' 2>/dev/null; then PY=$c; break; fi
	done
fi
if [ -z "$PY" ] || ! "$PY" -c 'import serial, intelhex' 2>/dev/null; then
	echo "SKIP: no python3 with pyserial + intelhex (apt-get install python3-serial python3-intelhex)"
	exit $SKIP
fi

rm -rf "$WORK" && mkdir -p "$WORK" || exit 1
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
}
trap cleanup EXIT INT TERM

FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

# A 24 KiB NVS-like image (mostly 0xFF) and 8 KiB of incompressible data.
"$PY" -c 'import sys; sys.stdout.buffer.write(bytes((i * 7) & 0xff for i in range(3000)) + b"\xff" * 21576)' > "$WORK/nvs.bin"
head -c 8192 /dev/urandom > "$WORK/rand.bin"

start_sim() { # name args... -> sets URL, SIMPID
	name=$1; shift
	"$SIM" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" &
	SIMPID=$!
	PIDS="$PIDS $SIMPID"
	i=0
	while [ ! -s "$WORK/$name.out" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
	URL=$(head -n 1 "$WORK/$name.out")
	[ -n "$URL" ] || { fail "$name: espfab-sim did not start: $(cat "$WORK/$name.err")"; return 1; }
}

et() { # label port extra-args... ; output in $WORK/last.log
	label=$1; port=$2; shift 2
	echo "+ esptool.py --port $port --before no_reset --after no_reset --no-stub $*" > "$WORK/last.log"
	timeout 120 "$PY" "$ESPTOOL_DIR/esptool.py" --port "$port" --before no_reset --after no_reset --no-stub "$@" >> "$WORK/last.log" 2>&1
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$label: esptool exited $rc"; tail -n 5 "$WORK/last.log"; return 1
	fi
	return 0
}

expect() { # label pattern
	if grep -q "$2" "$WORK/last.log"; then pass "$1"; else fail "$1: no '$2' in output"; tail -n 5 "$WORK/last.log"; fi
}

run_chip() { # chip transport(pty|tcp) baud [espfab-sim options...]
	chip=$1; tr=$2; baud=$3; shift 3
	n="$chip-$tr${1:+-usb}"
	flash="$WORK/$n.flash"
	if [ "$tr" = tcp ]; then
		start_sim "$n" --chip "$chip" --tcp 0 --flash "$flash" --mac 7c:df:a1:00:11:22 "$@" || return
	else
		start_sim "$n" --chip "$chip" --flash "$flash" --mac 7c:df:a1:00:11:22 "$@" || return
	fi
	port=$URL
	case $chip in
	esp32) want="Chip is ESP32-D0WD";; esp32s2) want="Chip is ESP32-S2";; esp32s3) want="Chip is ESP32-S3";;
	esp32c2) want="Chip is ESP32-C2";; esp32c3) want="Chip is ESP32-C3";; esp32c6) want="Chip is ESP32-C6";;
	esp32h2) want="Chip is ESP32-H2";; *) want="Chip is ?";;
	esac
	et "$n chip_id" "$port" chip_id && expect "$n chip_id" "$want"
	et "$n read_mac" "$port" read_mac && expect "$n read_mac" "MAC: 7c:df:a1:00:11:22"
	et "$n flash_id" "$port" flash_id && expect "$n flash_id" "Detected flash size: 4MB"
	et "$n write_flash --compress" "$port" --baud "$baud" write_flash --compress 0x9000 "$WORK/nvs.bin" 0x10000 "$WORK/rand.bin" &&
		expect "$n write_flash --compress" "compressed) at 0x00009000" && expect "$n write_flash --compress verified" "Hash of data verified"
	et "$n write_flash --no-compress" "$port" --baud "$baud" write_flash --no-compress 0x20000 "$WORK/nvs.bin" &&
		expect "$n write_flash --no-compress" "Hash of data verified"
	et "$n verify_flash" "$port" --baud "$baud" verify_flash 0x9000 "$WORK/nvs.bin" 0x10000 "$WORK/rand.bin" 0x20000 "$WORK/nvs.bin" &&
		expect "$n verify_flash" "verify OK"
	et "$n read_flash" "$port" --baud "$baud" read_flash 0x10000 0x800 "$WORK/$n.read" &&
		if head -c 2048 "$WORK/rand.bin" | cmp -s - "$WORK/$n.read"; then pass "$n read_flash bytes"; else fail "$n read_flash bytes differ"; fi
	# the backing file holds what esptool wrote
	if dd if="$flash" bs=4096 skip=9 count=6 2>/dev/null | cmp -s - "$WORK/nvs.bin"; then pass "$n flash file at 0x9000"; else fail "$n flash file at 0x9000"; fi
	kill "$SIMPID"; wait "$SIMPID"
	[ $? -eq 0 ] && pass "$n espfab-sim exit 0" || fail "$n espfab-sim exit status"
}

# No --chip: esptool's own detect_chip runs. On the ESP32 it sends
# GET_SECURITY_INFO, which that ROM does not know: espfab-sim answers as the
# chip does (01 05 under the last header, then silent until a new SYNC), and
# esptool must take that as UnsupportedCommandError, reconnect and read the
# magic register.
run_chip esp32 pty 921600
run_chip esp32s2 pty 460800
run_chip esp32c2 pty 921600
run_chip esp32c6 tcp 460800
run_chip esp32h2 tcp 115200
run_chip esp32s3 pty 115200
run_chip esp32c3 pty 460800
run_chip esp32s3 tcp 115200
run_chip esp32 tcp 921600
# USB-Serial/JTAG console: esptool must disable the RTC and super watchdogs, or
# the chip resets 2 s after connecting, in the middle of the 2.3 s plain write.
run_chip esp32c3 tcp 115200 --usb-jtag --wdt-ms 2000

[ $FAILS -eq 0 ] && echo "esptool compat: all passed" && exit 0
echo "esptool compat: $FAILS failure(s)"
exit 1
