#!/bin/sh
# Independent check of espfab's key burn: Espressif's espefuse (esptool
# v4.8.1, ROM path) burns the same 256-bit key with purpose HMAC_UP into
#   (a) espfab-sim, over a pty: the simulator's eFuse file must equal,
#       byte for byte, the one espfab's efuse_burn_key left (RS check words
#       and protection bits included): same register semantics;
#   (b) its own virtual eFuses (--virt): BLOCK0 and, when the key stays
#       readable, the key block must equal what espfab burnt.
# for every chip with the HMAC peripheral, with and without read protection.
# Runs only when $ESPTOOL_DIR points at an esptool v4.8.1 tree (never
# committed); needs a python3 with pyserial, bitstring, yaml, ecdsa,
# intelhex (Debian: python3-serial python3-bitstring python3-yaml
# python3-ecdsa python3-intelhex). Debian 12 has no python3-reedsolo: when
# it is missing a minimal RSCodec.encode is provided here (espefuse uses
# nothing else of it).
# usage: efuse_espefuse.sh efuse_burn_helper espfab-sim WORKDIR
set -u
HELPER=$1
SIM=$2
WORK=$3
SKIP=77

if [ -z "${ESPTOOL_DIR:-}" ] || [ ! -d "$ESPTOOL_DIR/espefuse" ]; then
	echo "SKIP: set ESPTOOL_DIR to an esptool v4.8.1 tree to run this test"
	exit $SKIP
fi
NEED='import serial, bitstring, yaml, ecdsa, intelhex'
PY=${ESPTOOL_PYTHON:-}
if [ -z "$PY" ]; then
	for c in /usr/bin/python3 python3; do
		if "$c" -c "$NEED" 2>/dev/null; then PY=$c; break; fi
	done
fi
if [ -z "$PY" ]; then
	echo "SKIP: no python3 with pyserial, bitstring, yaml, ecdsa, intelhex"
	exit $SKIP
fi
rm -rf "$WORK" && mkdir -p "$WORK/shim" || exit 1
if ! "$PY" -c 'import reedsolo' 2>/dev/null; then
	# Stand-in for reedsolo's RSCodec(n).encode with its defaults (prim
	# 0x11D, generator 2, fcr 0): the tests' one RS encoder, efuse_file.py's.
	cat >"$WORK/shim/reedsolo.py" <<PY
import sys
sys.path.insert(0, "$(cd "$(dirname "$0")" && pwd)")
from efuse_file import rs_check


class RSCodec:
    def __init__(self, nsym=10):
        self.nsym = nsym

    def encode(self, data):
        return bytearray(bytes(data) + rs_check(bytes(data), self.nsym))
PY
fi
espefuse() {
	PYTHONPATH="$WORK/shim:$ESPTOOL_DIR" timeout 180 "$PY" -m espefuse "$@"
}

SIM_PID=
stop_sim() {
	[ -n "$SIM_PID" ] || return 0
	kill "$SIM_PID" 2>/dev/null
	wait "$SIM_PID" 2>/dev/null
	SIM_PID=
}
trap stop_sim EXIT INT TERM
start_sim() { # chip efuse-file
	stop_sim
	"$SIM" --chip "$1" --no-timing --efuse "$2" >"$WORK/sim.out" 2>"$WORK/sim.err" &
	SIM_PID=$!
	PORT=
	for _ in $(seq 1 50); do
		PORT=$(head -n1 "$WORK/sim.out" 2>/dev/null)
		[ -n "$PORT" ] && break
		sleep 0.1
	done
	[ -n "$PORT" ] || { echo "espfab-sim did not start: $(cat "$WORK/sim.err")"; exit 1; }
}

FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }

n=0
for chip in esp32c3 esp32c6 esp32h2 esp32s3; do
	for rp in protect open; do
		n=$((n + 1))
		k=$((n % 6))
		W="$WORK/$chip-$rp"
		mkdir -p "$W"
		head -c 32 /dev/urandom >"$W/key.bin"
		hflag= ; eflag=
		[ $rp = open ] && { hflag=no-read-protect; eflag=--no-read-protect; }

		start_sim $chip "$W/espfab.efuse"
		if ! "$HELPER" "$PORT" BLOCK_KEY$k HMAC_UP "$W/key.bin" $hflag 2>"$W/helper.err"; then
			fail "$chip $rp: espfab burn: $(cat "$W/helper.err")"; continue
		fi
		start_sim $chip "$W/espefuse.efuse"
		if ! espefuse --chip $chip --port "$PORT" --before no_reset --do-not-confirm \
			burn_key BLOCK_KEY$k "$W/key.bin" HMAC_UP $eflag >"$W/espefuse.log" 2>&1; then
			fail "$chip $rp: espefuse against espfab-sim: $(tail -3 "$W/espefuse.log")"; continue
		fi
		stop_sim
		if cmp -s "$W/espfab.efuse" "$W/espefuse.efuse"; then
			pass "$chip BLOCK_KEY$k $rp: espefuse and espfab leave identical eFuses in espfab-sim"
		else
			fail "$chip BLOCK_KEY$k $rp: eFuses differ between espefuse and espfab"
		fi
		if ! espefuse --chip $chip --virt --path-efuse-file "$W/virt.bin" --do-not-confirm \
			burn_key BLOCK_KEY$k "$W/key.bin" HMAC_UP $eflag >"$W/virt.log" 2>&1; then
			fail "$chip $rp: espefuse --virt: $(tail -3 "$W/virt.log")"; continue
		fi
		# espefuse's virtual file is the 0x200-byte register image, byte-reversed
		if "$PY" - "$W/virt.bin" "$W/espfab.efuse" $k $rp <<'PY'
import struct, sys
virt = open(sys.argv[1], "rb").read()[::-1]
ours = open(sys.argv[2], "rb").read()[15:]
k, rp = int(sys.argv[3]), sys.argv[4]
def vwords(off, n):
    return list(struct.unpack("<%dI" % n, virt[off:off + 4 * n]))
def owords(b, n):
    return list(struct.unpack("<%dI" % n, ours[44 * b:44 * b + 4 * n]))
assert vwords(0x2C, 6) == owords(0, 6), ("BLOCK0", vwords(0x2C, 6), owords(0, 6))
kb = vwords(0x9C + 32 * k, 8)
if rp == "open":
    assert kb == owords(4 + k, 8), "key block differs"
else:
    assert kb == [0] * 8, "espefuse's emulator keeps a read-protected block readable?"
PY
		then pass "$chip BLOCK_KEY$k $rp: espefuse --virt burns the same BLOCK0 and key block"
		else fail "$chip BLOCK_KEY$k $rp: espefuse --virt differs"; fi
	done
done
[ $FAILS -eq 0 ] && echo "all espefuse comparisons passed"
[ $FAILS -eq 0 ]
