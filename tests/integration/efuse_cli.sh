#!/bin/bash
# `espfab flash efuse-summary` against espfab-sim: the eFuse file is written
# here (format in protocol/sim/simdev_efuse.h) with a read-protected HMAC_UP
# key in BLOCK_KEY1 and a readable USER block; the summary must report
# purposes and protection and never print key bytes.
# usage: efuse_cli.sh ESPFAB ESPFAB_SIM
set -u
ESPFAB=$1
SIM=$2
. "$(dirname "$0")/sim_port.sh"
sim_test_init efuse-it

start_sim() { # chip
	stop_sim
	SIM_N=$((${SIM_N:-0} + 1))
	"$SIM" --chip "$1" --no-timing --flash "$T/flash.bin" >"$T/sim$SIM_N.out" 2>"$T/sim.err" &
	SIM_PID=$!
	PORT=$(sim_first_line "$T/sim$SIM_N.out")
	[ -n "$PORT" ] || { echo "espfab-sim did not start: $(cat "$T/sim.err")"; exit 1; }
}

fl() {
	timeout 60 "$ESPFAB" flash --port "$PORT" --before no_reset --after no_reset "$@" >"$T/out" 2>"$T/err"
	RC=$?
}

# BLOCK0: WR_DIS = KEY_PURPOSE_1 (bit 9) | BLOCK_KEY1 (bit 24), RD_DIS bit 1,
# KEY_PURPOSE_1 = 8 (HMAC_UP); BLOCK5 (KEY1) = a key whose words contain
# 0xc0ffee11 with its RS check words; BLOCK6 (KEY2) readable data (purpose
# USER, RS left invalid: a coding failure)
python3 - "$T/flash.bin.efuse" "$(cd "$(dirname "$0")" && pwd)" <<'PY'
import struct, sys

sys.path.insert(0, sys.argv[2])
from efuse_file import rs12

fuse = [[0] * 11 for _ in range(11)]
fuse[0][0] = 1 << 9 | 1 << 24
fuse[0][1] = 1 << 1
fuse[0][2] = 8 << 28
key = struct.pack("<8I", *([0xc0ffee11] * 8))
fuse[5] = [0xc0ffee11] * 8 + list(struct.unpack("<3I", rs12(key)))
fuse[6][0] = 0x5a5a0001
with open(sys.argv[1], "wb") as f:
    f.write(b"espfab-efuse 1\n")
    for b in fuse:
        f.write(struct.pack("<11I", *b))
PY

start_sim esp32c3
fl --json efuse-summary
if [ $RC -eq 0 ] && python3 - "$T/out" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
e = o["efuse"]
k = {x["name"]: x for x in e["keys"]}
assert o["ok"] is True and o["device"]["chip"] == "ESP32-C3"
assert e["wr_dis"] == (1 << 9 | 1 << 24) and e["rd_dis"] == 2, e
k1 = k["BLOCK_KEY1"]
assert (k1["purpose"], k1["purpose_value"], k1["state"]) == ("HMAC_UP", 8, "read-protected"), k1
assert k1["read_protected"] and k1["write_protected"] and k1["purpose_write_protected"], k1
# a valid code computed by this script: the simulator's RS agrees
assert (k1["rs_fail"], k1["rs_errors"]) == (False, 0), k1
k2 = k["BLOCK_KEY2"]
assert (k2["purpose"], k2["state"], k2["rs_fail"]) == ("USER", "in-use", True), k2
k0 = k["BLOCK_KEY0"]
assert (k0["purpose"], k0["state"], k0["read_protected"]) == ("USER", "empty", False), k0
assert len(e["keys"]) == 6
PY
then ok "efuse-summary --json reports purpose, protection and state per key block"
else bad "efuse-summary --json: rc=$RC $(cat "$T/out" "$T/err")"; fi
if grep -qi "c0ffee11\|11eeffc0\|5a5a0001" "$T/out" "$T/err"; then bad "summary printed key block bytes"
else ok "no key block bytes in the JSON output"; fi

fl efuse-summary
if [ $RC -eq 0 ] && grep -q "^BLOCK_KEY1 (BLOCK5)  purpose HMAC_UP .*read-protected .*read protected, write protected, purpose locked" "$T/out" &&
	grep -q "^BLOCK_KEY0 (BLOCK4)  purpose USER .*empty" "$T/out" && [ "$(grep -c '^BLOCK_KEY' "$T/out")" = 6 ]; then
	ok "efuse-summary text"
else bad "efuse-summary text: rc=$RC $(cat "$T/out" "$T/err")"; fi
if grep -qi "c0ffee11\|11eeffc0\|5a5a0001" "$T/out" "$T/err"; then bad "text summary printed key block bytes"
else ok "no key block bytes in the text output"; fi

# a chip without the HMAC peripheral: one line, exit 1, nothing on stdout
start_sim esp32c2
fl efuse-summary
if [ $RC -eq 1 ] && [ ! -s "$T/out" ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "ESP32-C2 has no HMAC peripheral" "$T/err"; then
	ok "ESP32-C2 refused with a clear message"
else bad "ESP32-C2: rc=$RC out=$(cat "$T/out") err=$(cat "$T/err")"; fi

# a damaged eFuse file stops the simulator with the file's name
stop_sim
printf 'junk' >"$T/bad.efuse"
if "$SIM" --chip esp32s3 --efuse "$T/bad.efuse" --no-timing >"$T/o" 2>"$T/e" </dev/null & p=$!; sleep 1; ! kill -0 $p 2>/dev/null; then
	wait $p; r=$?
	if [ $r -ne 0 ] && grep -q "$T/bad.efuse" "$T/e"; then ok "bad eFuse file refused, named"; else bad "bad eFuse file: rc=$r $(cat "$T/e")"; fi
else kill $p; wait $p; bad "espfab-sim ran with a damaged eFuse file"; fi

echo "$steps steps, $fails failed"
[ $fails -eq 0 ]
