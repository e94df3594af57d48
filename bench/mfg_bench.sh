#!/usr/bin/env bash
# espfab mfg generate over a generated values file, whole process, timed.
#   bench/mfg_bench.sh ESPFAB [ROWS] [WORKDIR] [extra mfg options...]
# ROWS defaults to 100000; WORKDIR (default: a new folder under $TMPDIR) is
# where the inputs and out/ go, so pass a tmpfs path to leave the disk out.
# Prints images written per second next to mfg_gen.py's figure on these
# machines (../shared/golden/README.md: ~900-1,300 images/s).
set -euo pipefail
espfab=${1:?usage: mfg_bench.sh ESPFAB [ROWS] [WORKDIR] [options]}
rows=${2:-100000}
work=${3:-}
shift $(( $# < 3 ? $# : 3 ))
espfab=$(cd "$(dirname "$espfab")" && pwd -P)/$(basename "$espfab")
if [ -z "$work" ]; then work=$(mktemp -d); own=1; else mkdir -p "$work"; own=0; fi
cleanup() { rm -rf "$work/out"; [ "$own" = 1 ] && rm -rf "$work"; return 0; }
trap cleanup EXIT
cd "$work"
rm -rf out
printf 'mass_prod,namespace,\nProductID,data,string\nDeviceSecret,data,string\nDeviceName,data,string\n' > config.csv
# 32 hex characters of secret per device, deterministic.
awk -v n="$rows" 'BEGIN { srand(1); print "id,ProductID,DeviceSecret,DeviceName";
  for (i = 1; i <= n; i++) { s = ""; for (k = 0; k < 4; k++) s = s sprintf("%08x", int(rand() * 4294967296));
    printf "%d,PRD-%06d,%s,lamp-%06d\n", i, i, s, i } }' > values.csv
sync
start=$(date +%s.%N)
/usr/bin/time -f '%U %S' -o cpu.txt "$espfab" mfg generate config.csv values.csv dev 0x6000 --outdir out "$@" > /dev/null
end=$(date +%s.%N)
read -r cpu_user cpu_sys < cpu.txt
n=$(find out/bin -name '*.bin' | wc -l)
[ "$n" -eq "$rows" ] || { echo "mfg_bench: expected $rows images, found $n" >&2; exit 1; }
fs=$(df -T . | awk 'NR==2 {print $2}')
load=$(cut -d' ' -f1 /proc/loadavg)
awk -v n="$n" -v s="$start" -v e="$end" -v fs="$fs" -v opts="$*" -v u="$cpu_user" -v k="$cpu_sys" -v load="$load" 'BEGIN {
  t = e - s; c = u + k; if (c <= 0) c = 0.01
  printf "mfg generate: %d images (0x6000, 3 strings%s) on %s: %.2f s wall = %.0f images/s; %.2f s CPU (user %.2f + sys %.2f) = %.0f images/s per CPU-second; load %s  (mfg_gen.py: ~900-1,300 images/s)\n",
  n, opts == "" ? "" : ", " opts, fs, t, n / t, c, u, k, n / c, load }'
