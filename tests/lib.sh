# shellcheck shell=bash disable=SC2034
# Shared helpers for the black-box tests. Source it; do not run it.
# (SC2034: the variables set here are used by the scripts that source it.)
#
# A test script reports each check on its own line:
#   PASS name | FAIL name: why | SKIP name: why
# tests/run.sh counts those lines. A script that exits non-zero without
# printing FAIL is counted as one failure too.

set -u

TESTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(cd "$TESTS_DIR/.." && pwd)
KAP_BUILD=${KAP_BUILD:-$TOP_DIR/build}
KAP_LIB=$KAP_BUILD/libkapreload.so
KAP_BIN=$KAP_BUILD/tests          # compiled test helpers (tests/helpers/*.c)
SCRIPTS_DIR=$TOP_DIR/scripts

# What tests put in LD_PRELOAD. Under check-sanitize the library needs the
# sanitizer runtime loaded first.
KAP_PRELOAD=$KAP_LIB
if [ "${KAP_SANITIZE:-0}" = 1 ]; then
	KAP_PRELOAD="$(${CC:-gcc} -print-file-name=libasan.so) $KAP_LIB"
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0:exitcode=99}
fi

# Start every test from a known environment: no KAP_* or peer-shim
# variables leak in from the caller, and no system config file is read.
for v in $(env | sed -n 's/^\(KAP_[A-Z_]*\|KEEPIDLE\|KEEPINTVL\|KEEPCNT\|KEEPALIVE\|DD_[A-Z_]*\)=.*/\1/p'); do
	case $v in KAP_BUILD|KAP_SANITIZE) ;; *) unset "$v" ;; esac
done
export KAP_CONFIG=

T_FAILED=0
t_pass() { echo "PASS $1"; }
t_fail() { echo "FAIL $1: ${2:-}"; T_FAILED=$((T_FAILED + 1)); }
t_skip() { echo "SKIP $1: ${2:-}"; }

# t_check NAME CONDITION-COMMAND...: pass when the command succeeds.
t_check() {
	local name=$1
	shift
	if "$@"; then t_pass "$name"; else t_fail "$name" "command failed: $*"; fi
}

# t_eq NAME EXPECTED ACTUAL
t_eq() {
	if [ "$2" = "$3" ]; then t_pass "$1"; else t_fail "$1" "expected [$2], got [$3]"; fi
}

# t_contains NAME NEEDLE HAYSTACK
t_contains() {
	case $3 in *"$2"*) t_pass "$1" ;; *) t_fail "$1" "[$2] not in [$3]" ;; esac
}

# t_not_contains NAME NEEDLE HAYSTACK
t_not_contains() {
	case $3 in *"$2"*) t_fail "$1" "[$2] unexpectedly in [$3]" ;; *) t_pass "$1" ;; esac
}

is_root() { [ "$(id -u)" = 0 ]; }

# t_require_files FILE...: a built file the script needs; a missing one
# fails the script at once (make test builds them all).
t_require_files() {
	local f
	for f in "$@"; do
		if [ ! -e "$f" ]; then
			t_fail setup "missing $f (run make test-programs)"
			exit 1
		fi
	done
}
have() { command -v "$1" >/dev/null 2>&1; }

# A per-script scratch directory, removed on exit.
T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kaptest.XXXXXX")
T_PIDS=()
t_cleanup() {
	local p
	for p in "${T_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T_TMP"
}
trap t_cleanup EXIT

# t_bg OUT CMD...: CMD in the background, stdout in OUT, stderr in OUT.err;
# its pid in T_BG_PID and T_PIDS (killed at exit).
t_bg() {
	local o=$1
	shift
	"$@" >"$o" 2>"$o.err" &
	T_BG_PID=$!
	T_PIDS+=("$T_BG_PID")
}

# t_wait_line FILE REGEX [TRIES]: poll (0.05 s steps, default 10 s) until a
# line of FILE matches REGEX; print it.
t_wait_line() {
	local i
	for ((i = 0; i < ${3:-200}; i++)); do
		grep -E -m 1 -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# t_listen_port FILE [TRIES]: the port of a server that prints
# "listening PORT" (tcpprobe does) into FILE; fails when none shows up.
t_listen_port() {
	local l
	l=$(t_wait_line "$1" '^listening [0-9]+$' "${2:-200}") || return 1
	echo "${l#listening }"
}

# t_stop PID...: kill background programs and reap them.
t_stop() {
	local p
	for p in "$@"; do kill "$p" 2>/dev/null; done
	for p in "$@"; do wait "$p" 2>/dev/null; done
	return 0
}

# A free TCP port on loopback (the kernel picks it).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_listen PORT [TRIES]: until something listens on PORT (0.1 s steps).
wait_listen() {
	local i
	for ((i = 0; i < ${2:-50}; i++)); do
		ss -Htln "sport = :$1" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

# t_ss_wait FILTER...: until an established TCP socket matches the ss
# filter (up to 3 s), so that a timer read does not race the handshake.
t_ss_wait() {
	local i
	for ((i = 0; i < 60; i++)); do
		ss -Htn state established "$@" | grep -q . && return 0
		sleep 0.05
	done
	return 1
}

# t_ss_wait_gone FILTER...: until no established TCP socket matches (up to 5 s).
t_ss_wait_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		ss -Htn state established "$@" | grep -q . || return 0
		sleep 0.05
	done
	return 1
}

# t_field KEY LINE: the value of the first KEY=... word of LINE ("" when absent).
t_field() {
	local w
	for w in $2; do
		case $w in "$1="*)
			echo "${w#*=}"
			return
			;;
		esac
	done
}

# ss_timer FILTER: the timer field of the first established socket that
# matches the ss filter, e.g. "timer:(keepalive,4.9ms,0)" or "" when none.
ss_timer() {
	ss -Htnoe state established "$@" | grep -o 'timer:([^)]*)' | head -n 1
}

# ss_keepalive_secs FILTER: whole seconds until the next keepalive probe of
# the first matching established socket, or "none" without a keepalive timer.
# ss builds EXPIRES from its non-zero parts: "760ms" is 0.76 s, "4.996ms" is
# 4.996 s, "40sec", "1min14sec", "1min5.200ms", "119min"; empty is due now.
ss_keepalive_secs() {
	local t min=0 sec=0
	t=$(ss_timer "$@")
	case $t in
	"timer:(keepalive,"*) ;;
	*)
		echo none
		return
		;;
	esac
	t=${t#timer:(keepalive,}
	t=${t%%,*}
	case $t in *min*)
		min=${t%%min*}
		t=${t#*min}
		;;
	esac
	case $t in
	*sec) sec=${t%sec} ;;
	*.*ms) sec=${t%%.*} ;;
	esac
	echo $((min * 60 + sec))
}

# Finish a test script: exit status says whether anything failed.
t_done() { [ "$T_FAILED" -eq 0 ]; }
