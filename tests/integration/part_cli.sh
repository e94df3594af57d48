#!/bin/sh
# espfab part: what the golden cases do not pin down. Usage: part_cli.sh ESPFAB
set -u
espfab=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
cd "$dir" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

printf 'nvs,data,nvs,,0x6000\nphy_init,data,phy,,4K\nfactory,app,factory,,1M\n' > t.csv

# file output and stdout are the same bytes; -q drops the progress lines
"$espfab" part t.csv t.bin 2>err || fail "convert exited $?"
grep -qx 'Parsing CSV input...' err || fail "no progress line"
"$espfab" part -q t.csv > stdout.bin 2>err || fail "convert to stdout"
[ -s err ] && fail "-q still printed: $(cat err)"
cmp -s t.bin stdout.bin || fail "stdout differs from the file"
[ "$(wc -c < t.bin)" -eq 3072 ] || fail "table is not 0xC00 bytes"

# binary back to CSV
"$espfab" part -q t.bin t2.csv || fail "bin->csv"
grep -qx 'factory,app,factory,0x10000,1M,' t2.csv || fail "bin->csv text: $(cat t2.csv)"

# a missing output folder is created, as the reference's os.makedirs does
"$espfab" part -q t.csv sub/dir/out.bin && [ -f sub/dir/out.bin ] || fail "nested output"

# a failure writes nothing and says where, on one line
printf 'nvs,data,nvs,,0x6000\nbad,app,,,1M\n' > bad.csv
"$espfab" part -q bad.csv bad.bin 2>err; rc=$?
[ $rc -eq 2 ] || fail "bad CSV exit $rc"
[ -e bad.bin ] && fail "bad CSV left bad.bin"
[ "$(cat err)" = "bad.csv:2: App partition cannot have an empty subtype" ] || fail "error line: $(cat err)"
ls | grep -q '\.tmp\.' && fail "temporary file left: $(ls)"
# the too-long table fails after the output folder check, still no file
i=0; : > long.csv
while [ $i -lt 95 ]; do echo "p$i,data,fat,,4K" >> long.csv; i=$((i + 1)); done
"$espfab" part -q long.csv long.bin 2>err && fail "95 entries accepted"
[ -e long.bin ] && fail "long table left a file"
grep -q 'longer than max' err || fail "long table message: $(cat err)"
# an existing output survives a failed run untouched
cp t.bin keep.bin
"$espfab" part -q bad.csv keep.bin 2>/dev/null
cmp -s t.bin keep.bin || fail "failed run changed an existing output"

# part show: a report, never a file
"$espfab" part show t.csv > show.txt 2>err || fail "show exited $?"
grep -q '^Name  *Type  *SubType  *Offset  *Size  *Flags$' show.txt || fail "show header: $(cat show.txt)"
grep -q '^factory  *app  *factory  *0x10000  *1M$' show.txt || fail "show row: $(cat show.txt)"
grep -q 'smallest flash that fits is 2MB' show.txt || fail "show flash: $(cat show.txt)"
grep -q '^Free: ' show.txt || fail "show free: $(cat show.txt)"
[ -s err ] && fail "show printed on stderr: $(cat err)"
"$espfab" part show --json t.bin > show.json || fail "show --json"
python3 - show.json <<'PY' || fail "show --json content: $(cat show.json)"
import json, sys
d = json.load(open(sys.argv[1]))
p = {x["name"]: x for x in d["partitions"]}
assert d["format"] == "binary" and d["md5"] is True
assert p["nvs"]["offset"] == 0x9000 and p["nvs"]["size"] == 0x6000 and p["nvs"]["subtype_name"] == "nvs"
assert d["flash_size"] == 2 << 20 and d["free_total"] == sum(g["size"] for g in d["free"])
PY
"$espfab" part show --offset 0x20000 t.bin > /dev/null 2>err && fail "show ignored --offset"
grep -q 'below 0x21000' err || fail "show --offset message: $(cat err)"
"$espfab" part --json t.csv x.bin 2>/dev/null && fail "--json accepted without show"

# a table file literally named "show"
cp t.csv show
"$espfab" part -q ./show a.bin && cmp -s a.bin t.bin || fail "./show not converted"
"$espfab" part -q -- show b.bin && cmp -s b.bin t.bin || fail "-- show not converted"
"$espfab" part show show > /dev/null || fail "show show"
"$espfab" part show out.bin 2>err && fail "show of a missing file succeeded"
grep -q "write ./show" err || fail "no hint about ./show: $(cat err)"
[ -e out.bin ] && fail "show wrote a file"

# argparse-style options
"$espfab" part -q --off 0x9000 t.csv o.bin || fail "abbreviated --offset"
"$espfab" part -qo0x9000 t.csv o2.bin && cmp -s o.bin o2.bin || fail "-qo0x9000"
"$espfab" part -q --offset=0x9000 t.csv o3.bin && cmp -s o.bin o3.bin || fail "--offset="
"$espfab" part --flash-size 3MB t.csv o4.bin 2>/dev/null && fail "--flash-size 3MB accepted"
"$espfab" part --offset zz t.csv o5.bin 2>/dev/null && fail "--offset zz accepted"
"$espfab" part --help | grep -q '^usage: espfab part' || fail "--help"

[ $fails -eq 0 ] && echo "part cli: all checks passed"
exit $fails
