#!/bin/sh
# overlay.sh SHARED_SET OVERRIDES_SET OUT_DIR
# Build a view of a shared golden set in which the cases listed under
# OVERRIDES_SET carry our extra files (port-expected.bin) and OVERRIDES_SET's
# policy.tsv is read after the shared one (run-cases.sh reads SET/policy.tsv
# last). Every other case is a symlink to the shared case, untouched.
set -eu
shared=$1 over=$2 out=$3
rm -rf "$out"
mkdir -p "$out"
for c in "$shared"/*/; do
	id=$(basename "$c")
	if [ -d "$over/$id" ]; then
		cp -r "$c" "$out/$id"
		cp -r "$over/$id/." "$out/$id/"
	else
		ln -s "${c%/}" "$out/$id"
	fi
done
cp "$over/policy.tsv" "$out/policy.tsv"
