# Shared by tests/integration/compat_*.sh, after tests/lib.sh. Source it; do not run it.
# shellcheck shell=bash disable=SC2034 # the variables are for the sourcing scripts
#
# Every check looks at a socket from outside the program under test:
#   - the keepalive timer in `ss -tnoe` (seconds to the next probe), and
#   - the exact values through pidfd_getfd(2) (build/keepalive-check-helper),
#     with the owning pid and fd taken from `ss -p`.

CP_DIR=$TESTS_DIR/integration/compat
CP_CHECK=$KAP_BUILD/keepalive-check-helper

# Command prefixes: env execs the program, so a background job's pid is the
# program's own. CP_NOSHIM is the negative control.
CP_SHIM=(env LD_PRELOAD="$KAP_PRELOAD")
CP_NOSHIM=(env -u LD_PRELOAD)

# What getsockopt reports for a socket nobody configured.
CP_DEF_IDLE=$(cat /proc/sys/net/ipv4/tcp_keepalive_time)
CP_DEF_INTVL=$(cat /proc/sys/net/ipv4/tcp_keepalive_intvl)
CP_DEF_CNT=$(cat /proc/sys/net/ipv4/tcp_keepalive_probes)
CP_UNTOUCHED="keepalive=0 idle=$CP_DEF_IDLE interval=$CP_DEF_INTVL count=$CP_DEF_CNT user_timeout=0"

# cp_ka IDLE INTERVAL COUNT [UTO]: the line the check helper prints for a
# socket with keepalive on and these values.
cp_ka() {
	echo "keepalive=1 idle=$1 interval=$2 count=$3 user_timeout=${4:-0}"
}

# cp_require: one FAIL and exit when the shim is not built.
cp_require() {
	if [ ! -e "$KAP_LIB" ]; then
		t_fail setup "missing $KAP_LIB (run make test-programs)"
		exit 1
	fi
}

# cp_need NAME PROGRAM...: 0 when every PROGRAM exists, else a SKIP line.
cp_need() {
	local name=$1 p
	shift
	for p in "$@"; do
		if ! have "$p"; then
			t_skip "$name" "$p is not installed (CI installs it through .ci/run)"
			return 1
		fi
	done
}

# cp_bg OUT CMD...: t_bg, with the pid in CP_PID.
cp_bg() {
	t_bg "$@"
	CP_PID=$T_BG_PID
}

# cp_wait_line FILE REGEX [TRIES] and cp_stop PID...: as t_wait_line, t_stop.
cp_wait_line() { t_wait_line "$@"; }
cp_stop() { t_stop "$@"; }

# cp_row PID FILTER...: the `ss -Htnoep` row of the first established socket
# that matches the ss FILTER and belongs to PID ('-': to any process; a
# connection still waiting in a listen queue belongs to none). Polls up to
# 5 s, so callers do not race a handshake or an accept; prints nothing when
# none shows up.
cp_row() {
	local pid=$1 i row
	shift
	for ((i = 0; i < 100; i++)); do
		row=$(ss -Htnoep state established "$@" 2>/dev/null | grep -F 'users:(')
		[ "$pid" != - ] && row=$(grep -F "pid=$pid," <<<"$row")
		row=$(head -n 1 <<<"$row")
		if [ -n "$row" ]; then
			echo "$row"
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# cp_timer_secs ROW: whole seconds to the next keepalive probe, or "none".
# ss prints the remaining time as [Nmin][N(sec|.)][NNNms]: "4.996ms" is
# 4.996 s, "996ms" 0.996 s, "59sec", "4min59sec", "119min".
cp_timer_secs() {
	local t m=0 s=0
	t=$(grep -o 'timer:(keepalive,[^,]*' <<<"$1" | head -n 1)
	if [ -z "$t" ]; then
		echo none
		return
	fi
	t=${t#timer:(keepalive,}
	if [[ $t =~ ^([0-9]+)min ]]; then
		m=${BASH_REMATCH[1]}
		t=${t#*min}
	fi
	if [[ $t =~ ^([0-9]+)(sec|\.) ]]; then
		s=${BASH_REMATCH[1]}
	fi
	echo $((m * 60 + s))
}

# cp_owner ROW: "PID:FD" of the first process holding the row's socket.
cp_owner() {
	local u
	u=$(grep -o 'pid=[0-9]*,fd=[0-9]*' <<<"$1" | head -n 1)
	[ -n "$u" ] || return 1
	u=${u#pid=}
	echo "${u%%,fd=*}:${u#*,fd=}"
}

# cp_exact ROW: the socket's values as its owner sees them, read through
# pidfd_getfd: "keepalive=K idle=S interval=S count=N user_timeout=MS".
cp_exact() {
	local o line
	o=$(cp_owner "$1") || {
		echo "no-owner-in-ss-row"
		return
	}
	line=$("$CP_CHECK" "$o" 2>&1)
	case $line in
	*ino=*) echo "keepalive=${line#*keepalive=}" ;;
	*) echo "check-helper: $line" ;;
	esac
}

# cp_expect NAME PID LOW HIGH EXACT FILTER...
# One established socket (ss FILTER, owned by PID or '-' for anyone):
#   NAME_timer: its keepalive timer is LOW..HIGH seconds, or LOW=none: no timer;
#   NAME_exact: its values match EXACT, a line as cp_ka prints it or a glob
#   pattern such as "keepalive=0 *" (skipped without the check helper).
# A socket shows up in its owner's descriptor table a few microseconds before
# accept() returns and the shim configures it: a mismatch is read again
# (3 times, 0.1 s apart) before it counts.
cp_expect() {
	local name=$1 pid=$2 low=$3 high=$4 exact=$5 row secs got try timer_ok exact_ok
	shift 5
	for try in 1 2 3; do
		if ! row=$(cp_row "$pid" "$@"); then
			t_fail "${name}_socket" "no established socket matching [$*] owned by $pid"
			return
		fi
		secs=$(cp_timer_secs "$row")
		timer_ok=0
		if [ "$low" = none ]; then
			[ "$secs" = none ] && timer_ok=1
		elif [ "$secs" != none ] && [ "$secs" -ge "$low" ] && [ "$secs" -le "$high" ]; then
			timer_ok=1
		fi
		exact_ok=1
		if [ -x "$CP_CHECK" ]; then
			got=$(cp_exact "$row")
			# shellcheck disable=SC2053 # EXACT may be a pattern
			[[ $got == $exact ]] || exact_ok=0
		fi
		[ "$timer_ok$exact_ok" = 11 ] && break
		sleep 0.1
	done
	if [ "$timer_ok" = 1 ]; then
		t_pass "${name}_timer"
	elif [ "$low" = none ]; then
		t_fail "${name}_timer" "keepalive timer [$secs] s, expected none; ss: $row"
	else
		t_fail "${name}_timer" "keepalive timer [$secs] s not in $low..$high; ss: $row"
	fi
	if [ ! -x "$CP_CHECK" ]; then
		t_skip "${name}_exact" "$CP_CHECK not built"
	elif [ "$exact_ok" = 1 ]; then
		t_pass "${name}_exact"
	else
		t_fail "${name}_exact" "expected [$exact], got [$got]"
	fi
}

# cp_quiet NAME FILE: nothing from the shim in FILE (a program's stderr or
# log): with valid settings it prints nothing, and under check-sanitize no
# sanitizer report either.
cp_quiet() {
	local hit
	hit=$(grep -E -m 3 'libkapreload|Sanitizer|runtime error:' "$2" 2>/dev/null)
	t_eq "$1" "" "$hit"
}

# python3 -c "$CP_PY_HOLD" SECONDS PORT...: a client without keepalive of its
# own: connects to 127.0.0.1:PORT for every PORT, prints "connected", sends
# nothing and holds the connections for SECONDS.
CP_PY_HOLD='
import socket, sys, time
keep = [socket.create_connection(("127.0.0.1", int(p))) for p in sys.argv[2:]]
print("connected", flush=True)
time.sleep(float(sys.argv[1]))
'
