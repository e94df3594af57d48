#!/bin/bash
# `espfab flash` takes esptool's spellings where they mean the same thing
# (issue 17): --chip, --port=X, -p/-b, chip_id/read_mac/flash_id,
# write_flash/write-flash, verify_flash, read_flash, erase_region,
# --flash_mode/--flash_freq/--flash_size with the bootloader-header rule,
# dashed values (default-reset). Against espfab-sim on a pty.
#   esptool_spellings.sh ESPFAB ESPFAB_SIM
set -u
ESPFAB=$1
SIM=$2
. "$(dirname "$0")/wait.sh"
. "$(dirname "$0")/sim_port.sh"
T=$(mktemp -d /tmp/espfab-esptool.XXXXXX)
SIM_PID=
fails=0
steps=0
cleanup() {
	if [ -n "$SIM_PID" ]; then
		kill "$SIM_PID" 2>/dev/null
		for _ in $(seq 1 20); do
			kill -0 "$SIM_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -9 "$SIM_PID" 2>/dev/null
		wait "$SIM_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
ok() { steps=$((steps + 1)); echo "ok   $steps $*"; }
bad() { steps=$((steps + 1)); fails=$((fails + 1)); echo "FAIL $steps $*"; }
fl() { # espfab flash ARGS (the port given by the caller); out, err, RC
	timeout 60 "$ESPFAB" flash "$@" >"$T/out" 2>"$T/err"
	RC=$?
}
region() { # offset size -> stdout
	python3 -c "import sys; f=open('$T/flash.bin','rb'); f.seek($1); sys.stdout.buffer.write(f.read($2))"
}

"$SIM" --chip esp32s3 --mac 24:0a:c4:12:34:57 --flash "$T/flash.bin" >"$T/sim.out" 2>"$T/sim.err" &
SIM_PID=$!
PORT=$(sim_first_line "$T/sim.out")
[ -n "$PORT" ] || { echo "FAIL: espfab-sim did not start: $(cat "$T/sim.err")"; exit 1; }
# A bootloader whose header says dio (byte 2 = 2) and 4MB (byte 3 high nibble = 2), and an app.
python3 - "$T" <<'PY'
import os, sys
d = sys.argv[1]
b = bytearray((i * 7 + 3) & 255 for i in range(4096))
b[0], b[2], b[3] = 0xE9, 2, 0x2F
open(os.path.join(d, 'boot.bin'), 'wb').write(bytes(b))
open(os.path.join(d, 'app.bin'), 'wb').write(bytes((i * 13 + 5) & 255 for i in range(8192)))
PY

fl --port="$PORT" --before=no_reset --after=no_reset read_mac
[ $RC = 0 ] && grep -q "24:0a:c4:12:34:57" "$T/out" && ok "--port=X --before=no_reset read_mac" ||
	bad "--port=X read_mac: rc $RC $(cat "$T/err")"
fl -p "$PORT" -b 115200 --before no-reset --after no-reset -c esp32s3 chip_id
[ $RC = 0 ] && grep -q "Chip: ESP32-S3" "$T/out" && ok "-p -b -c esp32s3, dashed values, chip_id" ||
	bad "chip_id: rc $RC $(cat "$T/err")"
fl --port "$PORT" --chip auto --after no_reset flash_id
[ $RC = 0 ] && grep -q "Flash size: 4MB" "$T/out" && ok "--chip auto flash_id" || bad "flash_id: rc $RC $(cat "$T/err")"
fl --port "$PORT" --chip esp32 --after no_reset read_mac
[ $RC != 0 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q -- "--chip esp32 but the device is an ESP32-S3" "$T/err" &&
	ok "--chip of another chip refused" || bad "wrong --chip: rc $RC $(cat "$T/err")"

cp "$T/flash.bin" "$T/before.bin"
fl --port "$PORT" --after no_reset write_flash --flash_mode qio --flash_size 4MB 0x0 "$T/boot.bin" 0x10000 "$T/app.bin"
[ $RC = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q -- "--flash-mode qio but .*boot.bin's header says dio" "$T/err" &&
	cmp -s "$T/flash.bin" "$T/before.bin" && ok "a mode the header disagrees with: refused, nothing written" ||
	bad "write_flash --flash_mode qio: rc $RC $(cat "$T/err")"
fl --port "$PORT" --after no_reset write-flash --flash-size 8MB 0x0 "$T/boot.bin"
[ $RC = 2 ] && grep -q -- "--flash-size 8MB but .*boot.bin's header says 4MB" "$T/err" &&
	cmp -s "$T/flash.bin" "$T/before.bin" && ok "a size the header disagrees with: refused" ||
	bad "write-flash --flash-size 8MB: rc $RC $(cat "$T/err")"
fl --port "$PORT" --after no_reset write_flash -z --flash_mode dio --flash_freq 80m --flash_size 4MB \
	0x0 "$T/boot.bin" 0x10000 "$T/app.bin"
[ $RC = 0 ] && cmp -s <(region 0 4096) "$T/boot.bin" && cmp -s <(region 0x10000 8192) "$T/app.bin" &&
	ok "write_flash -z --flash_mode dio --flash_freq 80m --flash_size 4MB: written as they are" ||
	bad "write_flash dio/4MB: rc $RC $(cat "$T/err")"
fl --port "$PORT" --after no_reset write-flash --flash-mode=keep -u 0x0 "$T/boot.bin"
[ $RC = 0 ] && ok "write-flash --flash-mode=keep -u" || bad "--flash-mode=keep: rc $RC $(cat "$T/err")"
# The rule only concerns the bootloader's offset (0x0 on an ESP32-S3).
fl --port "$PORT" --after no_reset write_flash --flash_mode qio 0x20000 "$T/boot.bin"
[ $RC = 0 ] && ok "--flash_mode ignored away from the bootloader offset" || bad "0x20000: rc $RC $(cat "$T/err")"
fl --port "$PORT" --after no_reset verify_flash 0x10000 "$T/app.bin"
[ $RC = 0 ] && ok "verify_flash" || bad "verify_flash: rc $RC $(cat "$T/err")"
fl --port "$PORT" --after no_reset read_flash 0x10000 8192 "$T/back.bin"
[ $RC = 0 ] && cmp -s "$T/back.bin" "$T/app.bin" && ok "read_flash" || bad "read_flash: rc $RC $(cat "$T/err")"
fl --port "$PORT" --after no_reset erase_region 0x10000 0x2000
[ $RC = 0 ] && [ "$(region 0x10000 8192 | tr -d '\377' | wc -c)" = 0 ] && ok "erase_region" ||
	bad "erase_region: rc $RC $(cat "$T/err")"
# Still refused: what means nothing here.
fl --port "$PORT" --flash_mode fast read_mac
[ $RC = 2 ] && grep -q "is not qio, qout, dio, dout or keep" "$T/err" && ok "bad --flash_mode value refused" ||
	bad "--flash_mode fast: rc $RC"
fl --port "$PORT" --flash_moda dio read_mac
[ $RC = 2 ] && grep -q "unknown option '--flash_moda'" "$T/err" && ok "misspelt option refused" || bad "--flash_moda: rc $RC"
fl --port "$PORT" --json=1 read_mac
[ $RC = 2 ] && grep -q -- "--json takes no value" "$T/err" && ok "--json=1 refused" || bad "--json=1: rc $RC"
echo "$steps checks, $fails failed"
[ "$fails" = 0 ]
