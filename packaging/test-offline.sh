#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Proves that the suite builds with no network, the way a distribution's builder
# runs: with the crates vendored (`cargo vendor`), the config snippet from
# docs/packaging.md in an otherwise empty CARGO_HOME, cargo told it is offline,
# and every proxy variable pointing at a closed loopback port (127.0.0.1:9, the
# discard port), so any attempt to reach a registry fails at once.
#
#   1. build once normally (network allowed): cargo build --release --locked --workspace
#   2. cargo vendor --locked into $SCX_PACKAGING_DIR/vendor, and write the snippet
#      to $SCX_PACKAGING_DIR/cargo-home/config.toml
#   3. control: in that sealed environment, without the vendored sources, cargo
#      cannot fetch (so the seal holds)
#   4. from a fresh build directory: packaging/test-meson.sh --offline (meson with
#      -Doffline=true, a cold cargo build of every scheduler, install, all the
#      staging-tree checks), then the rest of the workspace (test fixtures, xtask)
#      with cargo build --offline into the same target directory
#
#   packaging/test-offline.sh [--install-deps]   (passed on to test-meson.sh)
#
# SCX_PACKAGING_DIR defaults to <repo>/target/packaging. Step 1 uses the caller's
# CARGO_TARGET_DIR (default <repo>/target), so after a normal CI build it is quick;
# step 4 is one cold release build.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${SCX_PACKAGING_DIR:-$repo/target/packaging}
export SCX_PACKAGING_DIR=$work
vendor=$work/vendor
home=$work/cargo-home
step() { echo; echo "== $* ($(date +%T))"; }
die() { echo "test-offline: error: $*" >&2; exit 1; }
cd "$repo"
t_start=$SECONDS

# Install missing tools now, while apt can still reach its mirror.
for arg in "$@"; do
	if [ "$arg" = --install-deps ]; then
		bash "$repo/packaging/test-meson.sh" --deps-only --install-deps
	fi
done

step "1. normal build, network allowed"
t=$SECONDS
cargo build --release --locked --workspace
t_normal=$((SECONDS - t))

step "2. cargo vendor into $vendor"
t=$SECONDS
rm -rf "$vendor" "$home"
cargo vendor --locked --quiet "$vendor" >/dev/null
mkdir -p "$home"
# The snippet docs/packaging.md documents, with the vendor directory's path.
cat >"$home/config.toml" <<EOF
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "$vendor"
EOF
echo "$(find "$vendor" -mindepth 1 -maxdepth 1 -type d | wc -l) crates vendored ($(du -sh "$vendor" | cut -f1)); CARGO_HOME=$home:"
sed 's/^/    /' "$home/config.toml"
t_vendor=$((SECONDS - t))

# The sealed environment: no registry cache, offline, and no way out through a proxy.
seal=(
	CARGO_HOME="$home"
	CARGO_NET_OFFLINE=true
	CARGO_NET_RETRY=0
	CARGO_HTTP_PROXY=http://127.0.0.1:9
	https_proxy=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9
	http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9
	ALL_PROXY=http://127.0.0.1:9 all_proxy=http://127.0.0.1:9
	no_proxy= NO_PROXY=
)

step "3. control: the seal holds (without the vendored sources cargo cannot fetch)"
control=$work/cargo-home-control
rm -rf "$control"
mkdir -p "$control"
if env "${seal[@]}" CARGO_HOME="$control" CARGO_NET_OFFLINE=false \
	cargo fetch --locked >"$work/control.log" 2>&1; then
	die "cargo fetched crates in the sealed environment: the network is reachable (see $work/control.log)"
fi
grep -q '127.0.0.1 port 9' "$work/control.log" ||
	die "cargo fetch failed, but not at the sealed proxy (see $work/control.log)"
echo "    cargo fetch failed as it must: $(tail -n 1 "$work/control.log" | sed 's/^ *//')"
rm -rf "$control"

step "4. offline: meson build from scratch with the vendored crates only"
t=$SECONDS
rm -rf "$work/build"
env "${seal[@]}" bash "$repo/packaging/test-meson.sh" --offline "$@"
step "4b. offline: the rest of the workspace (fixtures, xtask)"
env "${seal[@]}" cargo build --release --locked --offline --workspace --target-dir "$work/build/cargo-target"
t_offline=$((SECONDS - t))

echo
echo "test-offline: normal build ${t_normal} s, vendor ${t_vendor} s, offline build and checks ${t_offline} s, total $((SECONDS - t_start)) s"
echo "test-offline: the whole workspace built with no network"
