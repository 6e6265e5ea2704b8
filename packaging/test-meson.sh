#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The distribution build, end to end: `meson setup`, `meson compile` and
# `meson install --destdir` into a staging tree, then a check of every file a
# package ships: one binary, man page and bash/zsh/fish completion per scheduler
# under scheds/, the systemd unit (accepted by `systemd-analyze verify`), the
# defaults file and the docs. Nothing here needs a sched_ext kernel or root
# (except installing missing tools with --install-deps).
#
#   packaging/test-meson.sh [--offline] [--install-deps] [--deps-only]
#
#   --offline       configure with -Doffline=true (cargo --offline); the caller
#                   provides the vendored registry (packaging/test-offline.sh does)
#   --install-deps  apt-get install packaging/debian-packages.txt when a tool is missing
#   --deps-only     only check (and with --install-deps, install) the tools
#
# SCX_PACKAGING_DIR (default <repo>/target/packaging) holds build/ (the meson
# build directory, with cargo's target directory inside) and stage/ (the staged
# install, kept for packaging/tests/vm-service.sh). The build directory is reused
# between runs, so a second run only re-checks; the staging tree is made anew.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${SCX_PACKAGING_DIR:-$repo/target/packaging}
build=$work/build
stage=$work/stage
prefix=/usr
offline=false
install_deps=false
deps_only=false
for arg in "$@"; do
	case $arg in
	--offline) offline=true ;;
	--install-deps) install_deps=true ;;
	--deps-only) deps_only=true ;;
	*) echo "usage: $0 [--offline] [--install-deps] [--deps-only]" >&2; exit 2 ;;
	esac
done

failures=0
pass() { echo "  ok    $*"; }
bad() { echo "  FAIL  $*" >&2; failures=$((failures + 1)); }
die() { echo "test-meson: error: $*" >&2; exit 1; }
step() { echo; echo "== $* ($(date +%T))"; }

# The build host's tools: packaging/debian-packages.txt lists their Debian packages.
tools=(meson ninja man systemd-analyze zsh fish clang-19 pkg-config)
missing=()
for t in "${tools[@]}"; do
	command -v "$t" >/dev/null 2>&1 || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
	packages=$(sed 's/#.*//' "$repo/packaging/debian-packages.txt" | xargs)
	if $install_deps; then
		step "installing $packages (missing: ${missing[*]})"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
	else
		die "missing ${missing[*]}: apt-get install $packages (or pass --install-deps)"
	fi
fi
$deps_only && exit 0

t0=$SECONDS
mkdir -p "$work"
step "meson setup $build (offline=$offline)"
if [ -f "$build/meson-private/coredata.dat" ]; then
	meson setup --reconfigure "$build" "$repo" --prefix="$prefix" -Doffline="$offline"
else
	rm -rf "$build"
	meson setup "$build" "$repo" --prefix="$prefix" -Doffline="$offline"
fi

# SCX_PACKAGING_SEED=DIR (CI): start cargo's target directory from a copy of the
# dependency artifacts of an earlier release build in the cargo target directory
# DIR, so that only the workspace's own crates are compiled again. Cargo still
# reads every vendored crate's sources to fingerprint it, so a crate missing from
# the vendored tree still fails the offline build; a cold build is the default.
if [ -n "${SCX_PACKAGING_SEED:-}" ]; then
	seed=$SCX_PACKAGING_SEED/release
	[ -d "$seed/deps" ] || die "SCX_PACKAGING_SEED=$SCX_PACKAGING_SEED has no release build to seed from"
	step "seeding $build/cargo-target/release from $seed"
	mkdir -p "$build/cargo-target/release"
	for d in deps build .fingerprint; do
		[ -d "$build/cargo-target/release/$d" ] || cp -a "$seed/$d" "$build/cargo-target/release/"
	done
fi

step "meson compile"
meson compile -C "$build"

step "meson install --destdir $stage"
rm -rf "$stage"
meson install -C "$build" --destdir "$stage" --quiet
build_secs=$((SECONDS - t0))

step "the staged tree"
(cd "$stage" && find . -mindepth 1 \( -type f -o -type l \) -printf '%M %8s  %p\n' | sort -k3)

step "checks"
bindir=$stage$prefix/bin
mandir=$stage$prefix/share/man/man8
docdir=$stage$prefix/share/doc/scx-suite
unit=$stage$prefix/lib/systemd/system/scx.service
defaults=$stage/etc/default/scx

# Expected: scx_<dir> for every scheds/<dir>/Cargo.toml (the house naming rule),
# found independently of the meson helper that decides what to build.
expected=()
for manifest in "$repo"/scheds/*/Cargo.toml; do
	expected+=("scx_$(basename "$(dirname "$manifest")")")
done
[ ${#expected[@]} -gt 0 ] || die "no schedulers under $repo/scheds"
echo "  expecting ${#expected[@]} schedulers: ${expected[*]}"

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml")
for name in "${expected[@]}"; do
	bin=$bindir/$name
	if [ -x "$bin" ] && [ -f "$bin" ]; then
		pass "$name: binary"
	else
		bad "$name: no executable $bin"
		continue
	fi
	v=$("$bin" --version 2>&1) || bad "$name --version failed: $v"
	if [ -n "${SCX_GIT_REV:-}" ] && [ "$v" = "$name $version ($SCX_GIT_REV)" ] ||
		[[ $v =~ ^$name\ $version\ \((git\ [0-9a-f]+|built\ without\ git.*)\)$ ]]; then
		pass "$name: --version says '$v'"
	else
		bad "$name: --version says '$v', want '$name $version (git <rev>)' or '(built without git...)'"
	fi

	page=$mandir/$name.8
	if [ -s "$page" ]; then
		# Render as a reader would; --warnings makes groff report roff mistakes.
		rendered=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>"$work/man.err") || bad "$name: man -l failed"
		if [ -s "$work/man.err" ]; then
			bad "$name: man -l warned: $(head -n 3 "$work/man.err")"
		elif grep -q '^NAME' <<<"$rendered" && grep -q -- '--exit-dump-len' <<<"$rendered" &&
			grep -q '^EXIT STATUS' <<<"$rendered" && grep -q "^$name(8)" <<<"$rendered"; then
			pass "$name: man page renders ($(wc -l <<<"$rendered") lines)"
		else
			bad "$name: the rendered man page lacks NAME, --exit-dump-len or EXIT STATUS"
		fi
	else
		bad "$name: no man page $page"
	fi

	f=$stage$prefix/share/bash-completion/completions/$name
	if [ -s "$f" ] && bash -n "$f" &&
		bash -c 'source "$1" && complete -p "$2"' _ "$f" "$name" >/dev/null 2>&1; then
		pass "$name: bash completion registers itself"
	else
		bad "$name: bash completion $f missing, malformed or not registering '$name'"
	fi
	# zsh and fish, when installed, load the file and complete an option from it.
	f=$stage$prefix/share/zsh/site-functions/_$name
	if [ ! -s "$f" ] || [ "$(head -n 1 "$f")" != "#compdef $name" ]; then
		bad "$name: zsh completion $f missing or without '#compdef $name'"
	elif ! command -v zsh >/dev/null; then
		pass "$name: zsh completion (zsh not installed: not loaded)"
	elif [ "$(zsh -fc 'fpath=("$1" $fpath); autoload -Uz compinit; compinit -u -D; print -r -- ${_comps[$2]}' \
		_ "$(dirname "$f")" "$name" 2>&1)" = "_$name" ]; then
		pass "$name: zsh completion loads (compinit binds _$name)"
	else
		bad "$name: zsh does not bind _$name from $f"
	fi
	f=$stage$prefix/share/fish/vendor_completions.d/$name.fish
	if [ ! -s "$f" ] || ! grep -q "^complete -c $name " "$f"; then
		bad "$name: fish completion $f missing or without 'complete -c $name'"
	elif ! command -v fish >/dev/null; then
		pass "$name: fish completion (fish not installed: not loaded)"
	elif fish --no-config -c 'source $argv[1]; complete -C"$argv[2] --exit-d"' "$f" "$name" 2>&1 |
		grep -q '^--exit-dump-len'; then
		pass "$name: fish completion loads and completes --exit-dump-len"
	else
		bad "$name: fish does not complete --exit-dump-len from $f"
	fi

	dir=${name#scx_}
	if [ -f "$repo/scheds/$dir/README.md" ]; then
		cmp -s "$repo/scheds/$dir/README.md" "$docdir/$name.md" && pass "$name: README as $name.md" ||
			bad "$name: scheds/$dir/README.md is not installed as $docdir/$name.md"
	fi
done

# Only the schedulers: no test fixture, no developer tool.
extra=$(cd "$bindir" && ls | grep -vxF -f <(printf '%s\n' "${expected[@]}") || true)
[ -z "$extra" ] && pass "bindir holds only the schedulers" || bad "unexpected files in bindir: $extra"

if [ -f "$unit" ]; then
	pass "unit: $unit"
	for line in 'ConditionPathExists=/sys/kernel/sched_ext' 'Restart=on-failure' \
		'RestartPreventExitStatus=2 69 77' "EnvironmentFile=-/etc/default/scx" \
		"Environment=PATH=$prefix/bin:"; do
		grep -q "^$line" "$unit" && pass "unit: $line" || bad "unit: no line '$line'"
	done
	# Verified as installed: the unit, and man pages for its Documentation= line,
	# come from the staging tree; ExecStart's /bin/sh from the host.
	if out=$(MANPATH=$stage$prefix/share/man SYSTEMD_LOG_LEVEL=notice \
		systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then
		pass "unit: systemd-analyze verify accepts it"
	else
		bad "unit: systemd-analyze verify: ${out:-failed}"
	fi
else
	bad "no unit $unit"
fi

if [ -f "$defaults" ]; then
	pass "defaults: $defaults"
	# The file is read by systemd, but it must also be valid shell: admins source it.
	if vals=$(env -i sh -c 'set -e; . "$1"; echo "$SCX_SCHEDULER|$SCX_FLAGS"' _ "$defaults"); then
		[ "$vals" = "scx_simple|" ] && pass "defaults: SCX_SCHEDULER=scx_simple, SCX_FLAGS empty" ||
			bad "defaults: want 'scx_simple|', got '$vals'"
	else
		bad "defaults: not valid shell"
	fi
	n=$(grep -c '^#' "$defaults")
	[ "$n" -ge 5 ] && pass "defaults: commented ($n comment lines)" || bad "defaults: only $n comment lines"
	grep -q "^# Installed here: ${expected[*]}" "$defaults" && pass "defaults: lists the installed schedulers" ||
		bad "defaults: does not list '${expected[*]}'"
else
	bad "no defaults file $defaults"
fi

# A build from a release tarball has no git: --version must say so rather than
# show a wrong revision. The revision comes from scx-core's build script, which
# needs nothing but std: run it in a copy of the tree outside any git repository.
tarball=$(mktemp -d)
mkdir -p "$tarball/crates/scx-core"
if rustc --edition 2021 -O -o "$tarball/build-script" "$repo/crates/scx-core/build.rs" 2>"$work/rustc.err"; then
	rev=$(cd "$tarball/crates/scx-core" && env -u SCX_GIT_REV GIT_CEILING_DIRECTORIES="$tarball" \
		"$tarball/build-script" | sed -n 's/^cargo:rustc-env=SCX_GIT_REV=//p')
	[[ $rev == "built without git"* ]] && pass "tarball build: --version would say '($rev)'" ||
		bad "tarball build: scx-core's build script gives '$rev' outside git"
else
	bad "tarball build: crates/scx-core/build.rs does not compile alone: $(head -n 3 "$work/rustc.err")"
fi
rm -rf "$tarball"

for doc in README.md "$repo"/docs/*.md; do
	doc=$(basename "$doc")
	src=$repo/$doc
	[ -f "$src" ] || src=$repo/docs/$doc
	cmp -s "$src" "$docdir/$doc" && pass "doc: $doc" || bad "doc: $doc is not installed in $docdir"
done

echo
echo "test-meson: build and install took ${build_secs} s; staging tree in $stage"
if [ "$failures" -gt 0 ]; then
	echo "test-meson: $failures check(s) failed" >&2
	exit 1
fi
echo "test-meson: all checks passed"
