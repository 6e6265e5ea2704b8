#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Compile test for include/: builds test/headers.bpf.c the way the
# schedulers are built and checks what the Rust loader relies on.
#
# Usage: include/test/check.sh
# Environment: BPF_CLANG (default clang-19), LIBBPF_INCLUDE (a directory
# holding bpf/bpf_helpers.h; found in cargo's output or registry otherwise).

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
inc=$(cd "$here/.." && pwd)
root=$(cd "$inc/.." && pwd)
clang=${BPF_CLANG:-clang-19}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
	echo "check.sh: FAIL: $*" >&2
	exit 1
}

pass() {
	echo "ok: $*"
}

# libbpf's BPF headers must be reachable as <bpf/...>. libbpf-sys installs
# them under its build output; the registry copy has no bpf/ directory, so
# a symlink provides one.
find_libbpf_include() {
	local d
	if [ -n "${LIBBPF_INCLUDE:-}" ]; then
		echo "$LIBBPF_INCLUDE"
		return
	fi
	for d in "$root"/target/*/build/libbpf-sys-*/out/include; do
		if [ -f "$d/bpf/bpf_helpers.h" ]; then
			echo "$d"
			return
		fi
	done
	for d in "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/libbpf-sys-*/libbpf/src; do
		if [ -f "$d/bpf_helpers.h" ]; then
			mkdir -p "$tmp/libbpf"
			ln -s "$d" "$tmp/libbpf/bpf"
			echo "$tmp/libbpf"
			return
		fi
	done
	return 1
}

libbpf_inc=$(find_libbpf_include) || fail "libbpf headers not found; set LIBBPF_INCLUDE"
command -v "$clang" >/dev/null || fail "$clang not found; set BPF_CLANG"

# 1. vmlinux.h kept its 64-bit enums.
grep -q 'SCX_DSQ_FLAG_BUILTIN = 9223372036854775808ULL' "$inc/vmlinux/x86/vmlinux.h" ||
	fail "vmlinux.h: SCX_DSQ_FLAG_BUILTIN lost its high bit"
pass "vmlinux.h has intact 64-bit enums"

# 2. The test scheduler compiles without a single diagnostic.
obj="$tmp/headers.bpf.o"
"$clang" -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 \
	-I "$inc" -I "$inc/vmlinux/x86" -I "$libbpf_inc" -Wall -Werror \
	-c "$here/headers.bpf.c" -o "$obj" 2>"$tmp/cc.err" ||
	{ cat "$tmp/cc.err" >&2; fail "headers.bpf.c does not compile"; }
[ ! -s "$tmp/cc.err" ] || { cat "$tmp/cc.err" >&2; fail "compiler printed diagnostics"; }
pass "headers.bpf.c compiles with -Wall -Werror and no diagnostics"

# 3. User space sees the exit record as plain C (no BPF-only macros).
printf '#include <scx/user_exit_info.h>\n_Static_assert(sizeof(struct user_exit_info) == 1168, "uei layout");\n' |
	"$clang" -x c -I "$inc" -Wall -Werror -fsyntax-only - ||
	fail "user_exit_info.h is not usable from user space"
pass "user_exit_info.h builds for user space, struct is 1168 bytes"

# 4. compat.bpf.h may be included first, and both headers twice.
printf '#include <scx/compat.bpf.h>\n#include <scx/common.bpf.h>\n#include <scx/compat.bpf.h>\nchar _license[] SEC("license") = "GPL";\n' |
	"$clang" -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -x c \
		-I "$inc" -I "$inc/vmlinux/x86" -I "$libbpf_inc" -Wall -Werror -c - -o "$tmp/order.o" ||
	fail "including compat.bpf.h before common.bpf.h does not compile"
pass "headers compile in either include order"

readelf=$(command -v llvm-readelf-19 || command -v llvm-readelf || command -v readelf) ||
	fail "no readelf"
"$readelf" -S -W "$obj" >"$tmp/sections"
"$readelf" -s -W "$obj" >"$tmp/symbols"

# 5. The UEI globals sit alone in their own sections.
for sec in .data.uei .data.uei_dump .rodata.uei .struct_ops.link; do
	grep -qE " \\$sec +PROGBITS" "$tmp/sections" || fail "section $sec missing"
done
sec_index() {
	grep -E " \\$1 +PROGBITS" "$tmp/sections" | sed -E 's/^ *\[ *([0-9]+)\].*/\1/'
}
check_alone() {
	local sec=$1 sym=$2 size=$3 idx syms
	idx=$(sec_index "$sec")
	syms=$(awk -v i="$idx" '$4 == "OBJECT" && $7 == i { print $8 ":" $3 }' "$tmp/symbols")
	[ "$syms" = "$sym:$size" ] || fail "$sec should hold only $sym ($size bytes), holds: $syms"
}
check_alone .data.uei uei 1168
check_alone .data.uei_dump uei_dump 1
check_alone .rodata.uei uei_dump_len 4
pass "UEI sections .data.uei, .data.uei_dump, .rodata.uei each hold one variable"

# 6. Every kfunc extern is weak, and none names a kfunc that is gone or
#    deprecated on some supported kernel under its own name.
strong=$(awk '$7 == "UND" && $5 == "GLOBAL" { print $8 }' "$tmp/symbols")
[ -z "$strong" ] || fail "strong extern(s): $strong"
pass "all kernel symbols are weak externs"
if awk '$7 == "UND" { print $8 }' "$tmp/symbols" |
	grep -Ex 'scx_bpf_cpu_rq|scx_bpf_dispatch(_vtime)?|scx_bpf_consume|scx_bpf_dispatch(_vtime)?_from_dsq.*'; then
	fail "extern to a removed kfunc under its plain name"
fi
pass "no plain-name extern to a removed kfunc"

# 7. libbpf's static linker and skeleton generator accept the object.
if command -v bpftool >/dev/null; then
	bpftool gen object "$tmp/linked.bpf.o" "$obj" ||
		fail "bpftool gen object rejected the object"
	bpftool gen skeleton "$tmp/linked.bpf.o" name headers >"$tmp/skel.h" 2>"$tmp/skel.err" ||
		{ cat "$tmp/skel.err" >&2; fail "bpftool gen skeleton rejected the object"; }
	pass "bpftool gen object/skeleton accept the object"
else
	echo "skip: bpftool not installed"
fi

echo "all checks passed"
