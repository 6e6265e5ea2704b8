#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The staged scx.service does its job on a sched_ext kernel. Its ExecStart= line,
# taken from the staged unit and run as written (with the environment systemd would
# give it: the staged /etc/default/scx, and PATH with the staged bindir):
#   - loads the scheduler the defaults file names (scx_simple), with SCX_FLAGS
#     reaching it (-f shows in its stats as mode=fifo), the shell having exec'd
#     into it so that systemd's signals reach the scheduler itself;
#   - a second start while it runs exits 69, and a bad flag exits 2: both are in
#     RestartPreventExitStatus=, so systemd does not loop on them;
#   - SIGINT stops it with status 0 and the kernel back to `disabled`;
#   - a scheduler that fails (fixtures/error: scx_bpf_error() 2 s after loading)
#     makes the line exit non-zero (5), so Restart=on-failure applies.
#
# Runs in the VM, as root:
#   packaging/test-meson.sh        # (or test-offline.sh) stages target/packaging/stage
#   cargo xtask vm --kernel 7.3.4 -- bash packaging/tests/vm-service.sh
# Same env contract as scheds/*/tests/vm/*.sh (crates/xtask/vm/lib.sh), with
# defaults so it needs none: SCX_LIB, SCX_OUT, SCX_OPS=simple. Also honoured:
# SCX_PACKAGING_DIR (default <repo>/target/packaging), SCX_STAGE (default
# $SCX_PACKAGING_DIR/stage), SCX_FIXTURE_ERROR (default: scx_fixture_error from the
# meson build's cargo target dir, else from $CARGO_TARGET_DIR or <repo>/target).
# timeout: 150
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
: "${SCX_LIB:=$repo/crates/xtask/vm/lib.sh}"
: "${SCX_NAME:=simple}"
: "${SCX_OPS:=simple}"
: "${SCX_OUT:=$(mktemp -d)}"
# shellcheck source=../../crates/xtask/vm/lib.sh
source "$SCX_LIB"

work=${SCX_PACKAGING_DIR:-$repo/target/packaging}
stage=${SCX_STAGE:-$work/stage}
unit=$stage/usr/lib/systemd/system/scx.service
defaults=$stage/etc/default/scx
[ -f "$unit" ] && [ -f "$defaults" ] || skip "no staged unit under $stage: run packaging/test-meson.sh first"
[ -d /sys/kernel/sched_ext ] || fail "this kernel has no /sys/kernel/sched_ext"

fixture=${SCX_FIXTURE_ERROR:-}
if [ -z "$fixture" ]; then
	for f in "$work/build/cargo-target/release/scx_fixture_error" \
		"${CARGO_TARGET_DIR:-$repo/target}/release/scx_fixture_error"; do
		[ -x "$f" ] && fixture=$f && break
	done
fi
[ -n "$fixture" ] && [ -x "$fixture" ] ||
	fail "no scx_fixture_error (cargo build --release -p scx_fixture_error, or set SCX_FIXTURE_ERROR)"

exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ "$(grep -c '^ExecStart=' "$unit")" = 1 ] || fail "want exactly one ExecStart= in $unit"
prevent=" $(sed -n 's/^RestartPreventExitStatus=//p' "$unit") "
echo "ExecStart: $exec_start"
echo "RestartPreventExitStatus:$prevent"

# The service's environment: the unit's PATH with the staged bindir in front of
# it (its first entry is the install bindir), then the staged defaults file; more
# VAR=VALUE words after it override. Every step execs, so the PID of a background
# run is the scheduler's, as systemd's main PID would be.
unit_path=$(sed -n 's/^Environment=PATH=//p' "$unit")
service_env=(env -i TERM=dumb PATH="$stage${unit_path%%:*}:$unit_path"
	bash -c 'set -a; . "$1"; set +a; shift; exec env "$@"' _ "$defaults")
# run_unit [VAR=VALUE...]: the ExecStart line as written, in that environment.
run_unit() {
	"${service_env[@]}" "$@" bash -c "$exec_start"
}
# prevented STATUS: true when systemd would not restart after STATUS.
prevented() {
	[[ $prevent == *" $1 "* ]]
}

# 1. The defaults file's scheduler, found by name, with flags.
grep -qx 'SCX_SCHEDULER=scx_simple' "$defaults" || fail "the staged defaults file does not name scx_simple"
"${service_env[@]}" SCX_FLAGS="-f --stats 0.5" bash -c "$exec_start" \
	>"$SCX_OUT/service.out" 2>"$SCX_OUT/service.err" &
pid=$!
deadline=$((SECONDS + 30))
until [ "$(scx_state)" = enabled ] && [[ "$(scx_ops)" == "$SCX_OPS"* ]]; do
	kill -0 "$pid" 2>/dev/null || { wait "$pid"; fail "ExecStart exited with status $? before the scheduler was enabled: $(tail -n 2 "$SCX_OUT/service.err")"; }
	[ "$SECONDS" -lt "$deadline" ] || fail "not enabled within 30 s (state $(scx_state), ops '$(scx_ops)')"
	sleep 0.1
done
comm=$(cat "/proc/$pid/comm")
[ "$comm" = scx_simple ] || fail "the ExecStart process is '$comm', not scx_simple: the shell did not exec"
echo "loaded: state $(scx_state), ops '$(scx_ops)', main process $pid is $comm"
sleep 2
grep -q 'mode=fifo' "$SCX_OUT/service.out" ||
	fail "SCX_FLAGS did not reach the scheduler: no 'mode=fifo' in its stats: $(tail -n 1 "$SCX_OUT/service.out")"
echo "flags reached it: $(tail -n 1 "$SCX_OUT/service.out")"

# 2. Starts that restarting cannot fix exit with a status systemd will not restart on.
run_unit >"$SCX_OUT/second.out" 2>"$SCX_OUT/second.err"
rc=$?
[ "$rc" = 69 ] || fail "a second start exited $rc, want 69: $(tail -n 1 "$SCX_OUT/second.err")"
prevented 69 || fail "69 is not in RestartPreventExitStatus"
echo "second start: status 69 (not restarted): $(tail -n 1 "$SCX_OUT/second.err")"
run_unit SCX_FLAGS="--no-such-flag" >/dev/null 2>"$SCX_OUT/usage.err"
rc=$?
[ "$rc" = 2 ] && prevented 2 || fail "a bad flag exited $rc, want 2 and in RestartPreventExitStatus"
echo "bad flag: status 2 (not restarted)"
[[ "$(scx_ops)" == "$SCX_OPS"* ]] || fail "the running scheduler lost its place: ops '$(scx_ops)'"

# 3. SIGINT (systemd sends SIGTERM, which the scheduler handles the same way).
kill -INT "$pid"
deadline=$((SECONDS + 15))
while kill -0 "$pid" 2>/dev/null; do
	[ "$SECONDS" -lt "$deadline" ] || { kill -KILL "$pid"; fail "did not exit within 15 s of SIGINT"; }
	sleep 0.1
done
wait "$pid"
rc=$?
[ "$rc" = 0 ] || fail "exited with status $rc after SIGINT, want 0: $(tail -n 2 "$SCX_OUT/service.err")"
wait_state disabled 15 || fail "state reads $(scx_state) after the scheduler exited"
echo "SIGINT: status 0, state disabled"

# 4. A scheduler that fails: the service's main process exits non-zero.
t=$SECONDS
"${service_env[@]}" SCX_SCHEDULER="$fixture" SCX_FLAGS= bash -c "$exec_start" \
	>"$SCX_OUT/error.out" 2>"$SCX_OUT/error.err" &
epid=$!
deadline=$((SECONDS + 60))
while kill -0 "$epid" 2>/dev/null; do
	[ "$SECONDS" -lt "$deadline" ] || { kill -KILL "$epid"; fail "the failing scheduler did not exit within 60 s"; }
	sleep 0.1
done
wait "$epid"
rc=$?
[ "$rc" != 0 ] || fail "the failing scheduler exited 0: Restart=on-failure would not apply"
prevented "$rc" && fail "status $rc is in RestartPreventExitStatus: a runtime failure would not be restarted"
wait_state disabled 15 || fail "state reads $(scx_state) after the failing scheduler exited"
echo "failing scheduler: status $rc after $((SECONDS - t)) s, restartable: $(grep '^error:' "$SCX_OUT/error.err" | tail -n 1)"
[ "$rc" = 5 ] || fail "want status 5 (SCX_EXIT_ERROR_BPF) from the fixture, got $rc"

echo "scx.service's ExecStart loads scx_simple with its flags, stops on SIGINT with 0, and fails with $rc"
