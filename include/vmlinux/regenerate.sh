#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Regenerate include/vmlinux/x86/vmlinux.h from the BTF of a sched_ext kernel.
#
# Usage: include/vmlinux/regenerate.sh [VMLINUZ]
#
# Without an argument the vmlinuz of Debian's 7.3.4 kernel is located with
# `cargo xtask kernels path 7.3.4`. The bzImage carries the kernel as a zstd
# frame; we find the frame magic (28 b5 2f fd), decompress it (the bytes after
# the frame are not zstd, so zstd's complaint about them is ignored as long
# as an ELF image came out) and let bpftool print the BTF as C.
#
# Needs: bpftool, zstd, GNU grep, coreutils.

set -euo pipefail

KVER_DEFAULT=7.3.4
here=$(cd "$(dirname "$0")" && pwd)
out="$here/x86/vmlinux.h"

die() {
	echo "regenerate.sh: $*" >&2
	exit 1
}

for tool in bpftool zstd grep; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found in PATH"
done

if [ $# -ge 1 ]; then
	vmlinuz=$1
else
	vmlinuz=$(cd "$here/../.." && cargo xtask kernels path "$KVER_DEFAULT") ||
		die "cargo xtask kernels path $KVER_DEFAULT failed; pass the vmlinuz explicitly"
	# The xtask may print the kernel's directory rather than the image.
	[ -d "$vmlinuz" ] && vmlinuz=$(find "$vmlinuz" -name 'vmlinuz*' -type f | head -n1)
fi
[ -f "$vmlinuz" ] || die "no such file: $vmlinuz"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Try every zstd magic in order: the first one that decompresses to an ELF
# file is the kernel. Earlier matches can be stray bytes in the setup code.
vmlinux="$tmp/vmlinux"
found=
for off in $(LC_ALL=C grep -obUaP '\x28\xb5\x2f\xfd' "$vmlinuz" | cut -d: -f1); do
	tail -c +"$((off + 1))" "$vmlinuz" | zstd -dcq 2>/dev/null >"$vmlinux" || true
	if [ "$(head -c 4 "$vmlinux" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
		found=$off
		break
	fi
done
[ -n "$found" ] || die "no zstd-compressed ELF image found in $vmlinuz"

# The kernel release is stored as "Linux version X ..." in the image.
release=$(LC_ALL=C grep -aoE 'Linux version [^ ]+' "$vmlinux" | head -n1 | cut -d' ' -f3)
[ -n "$release" ] || release=unknown

bpftool btf dump file "$vmlinux" format c >"$tmp/body.h" ||
	die "bpftool could not dump the BTF of $vmlinuz"

# Since 6.19 the kernel is built with -fms-extensions and embeds some tagged
# structs as anonymous members ("struct ns_tree;" inside struct ns_common).
# bpftool prints them that way, and plain C reads such a line as a no-op
# declaration: the members vanish and the enclosing struct shrinks. Rewrite
# each one as an untagged anonymous struct with the same body, so that the
# header needs no -fms-extensions and keeps the kernel's layout. The body is
# copied with its explicit padding; nested embeddings are expanded too.
expand_embedded() {
	awk '
	function emit(kind, name, indent,    i, line, key) {
		key = kind " " name
		if (!(key in nlines)) {
			print "regenerate.sh: no definition of " key > "/dev/stderr"
			exit 1
		}
		print indent kind " {"
		for (i = 1; i <= nlines[key]; i++) {
			line = body[key, i]
			if (line ~ /^\t+(struct|union) [A-Za-z_0-9]+;$/) {
				match(line, /^\t+/)
				split(substr(line, RLENGTH + 1), w, /[ ;]/)
				emit(w[1], w[2], indent substr(line, 1, RLENGTH))
			} else {
				print indent line
			}
		}
		print indent tail[key]
	}
	NR == FNR {
		if (cur == "" && $0 ~ /^(struct|union) [A-Za-z_0-9]+ \{$/) {
			cur = $1 " " $2
			nlines[cur] = 0
		} else if (cur != "" && $0 ~ /^}/) {
			tail[cur] = $0
			cur = ""
		} else if (cur != "") {
			body[cur, ++nlines[cur]] = $0
		}
		next
	}
	/^\t+(struct|union) [A-Za-z_0-9]+;$/ {
		match($0, /^\t+/)
		emit($1, substr($2, 1, length($2) - 1), substr($0, 1, RLENGTH))
		next
	}
	{ print }
	' "$1" "$1"
}
expand_embedded "$tmp/body.h" >"$tmp/expanded.h" ||
	die "could not expand the embedded anonymous structs"
mv "$tmp/expanded.h" "$tmp/body.h"

# A truncated 64-bit enum would silently break every DSQ id built from
# SCX_DSQ_FLAG_BUILTIN; pahole older than 1.24 produced exactly that.
grep -qE 'SCX_DSQ_FLAG_BUILTIN = 9223372036854775808ULL' "$tmp/body.h" ||
	die "SCX_DSQ_FLAG_BUILTIN lost its high bit: the kernel's BTF has truncated 64-bit enums"

mkdir -p "$(dirname "$out")"
{
	echo "/* SPDX-License-Identifier: GPL-2.0-only */"
	echo "/*"
	echo " * Generated from the BTF of Linux $release ($(basename "$vmlinuz"))"
	echo " * on $(date -u +%Y-%m-%d) by include/vmlinux/regenerate.sh."
	echo " * Do not edit: run include/vmlinux/regenerate.sh [VMLINUZ] instead."
	echo " */"
	cat "$tmp/body.h"
} >"$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out (Linux $release, $(wc -c <"$out") bytes)"
