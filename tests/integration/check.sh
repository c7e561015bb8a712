#!/usr/bin/env bash
# keepalive-check and its --exact helper, against live programs on loopback.
# shellcheck source=tests/lib.sh
. "$(dirname "$0")/../lib.sh"

KC=$SCRIPTS_DIR/keepalive-check
HELPER=$KAP_BUILD/keepalive-check-helper
PY=$(python3 -c 'import sys; print(sys.executable)')
chmod 0755 "$T_TMP"

# A test peer: sets its own process name, then plays one role and waits.
#   peer.py NAME server [ka] [v6]                      -> "ready PORT"
#   peer.py NAME client PORT [ka I N C U] [v6] [fork]  -> "ready LOCALPORT [CHILDPID]"
#   peer.py NAME listen                                -> "ready PORT"
#   peer.py NAME combo   (server with keepalive, clients K, N, P) -> "ready PORT"
# SIGUSR1 makes every client except P send one byte.
cat >"$T_TMP/peer.py" <<'EOF'
import ctypes, os, signal, socket, sys, threading, time
name = sys.argv[1].encode().decode('unicode_escape').encode('latin-1')
ctypes.CDLL(None).prctl(15, ctypes.c_char_p(name), 0, 0, 0)
role, args = sys.argv[2], sys.argv[3:]
fam = socket.AF_INET6 if 'v6' in args else socket.AF_INET
host = '::1' if 'v6' in args else '127.0.0.1'
held, senders = [], []

def ka(s, idle, intvl, cnt, uto):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, intvl)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, cnt)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, uto)

def listener(keepalive):
    l = socket.socket(fam)
    l.bind((host, 0))
    if keepalive:
        ka(l, 100, 10, 5, 0)
    l.listen(16)
    held.append(l)
    return l

def serve(l):
    while True:
        held.append(l.accept()[0])

def client(port, opts=None):
    c = socket.socket(fam)
    if opts:
        ka(c, *opts)
    c.connect((host, port))
    held.append(c)
    return c

def send(*_):
    for c in senders:
        c.send(b'x')
signal.signal(signal.SIGUSR1, send)

if role in ('server', 'listen'):
    l = listener('ka' in args)
    if role == 'server':
        threading.Thread(target=serve, args=(l,), daemon=True).start()
    print('ready', l.getsockname()[1], flush=True)
elif role == 'client':
    opts = tuple(int(v) for v in args[2:6]) if len(args) > 1 and args[1] == 'ka' else None
    c = client(int(args[0]), opts)
    senders.append(c)
    extra = ''
    if 'fork' in args:
        child = os.fork()
        if child == 0:
            while True:
                signal.pause()
        extra = ' %d' % child
    print('ready %d%s' % (c.getsockname()[1], extra), flush=True)
elif role == 'combo':
    l = listener(True)
    port = l.getsockname()[1]
    senders.append(client(port, (30, 5, 3, 0)))   # K
    senders.append(client(port))                  # N
    client(port, (1, 1, 100, 0))                  # P: idle, probes every second
    for _ in range(3):
        held.append(l.accept()[0])
    print('ready', port, flush=True)
while True:
    signal.pause()
EOF

# start NAME ARGS...: run a peer in the background; sets PID and READY (its
# "ready" line without the word).
start() {
	local out=$T_TMP/out.$((++n_started)) i
	"$PY" "$T_TMP/peer.py" "$@" >"$out" 2>&1 &
	PID=$!
	T_PIDS+=("$PID")
	for ((i = 0; i < 100; i++)); do
		grep -qs '^ready' "$out" && break
		sleep 0.05
	done
	READY=$(sed -n 's/^ready *//p' "$out")
	[ -n "$READY" ] || echo "peer $1 did not start: $(cat "$out")" >&2
}

# kc ARGS...: run keepalive-check; sets OUT, ERR, RC.
kc() {
	OUT=$("$KC" "$@" 2>"$T_TMP/err")
	RC=$?
	ERR=$(cat "$T_TMP/err")
}

# pyq "STMT; ...; EXPR": print EXPR with d = the JSON in $OUT ("BAD JSON" if
# invalid), row(PROGRAM) its only row of that program, rows_to(PORT) the rows
# whose remote port is PORT in fd order.
pyq() {
	printf '%s' "$OUT" | "$PY" -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print("BAD JSON"); sys.exit(0)
def row(prog):
    r = [x for x in d if x["program"] == prog]
    return r[0] if len(r) == 1 else {"rows": len(r)}
def rows_to(port):
    return sorted((x for x in d if x["remote"].endswith(":%d" % port)), key=lambda x: x["fd"])
*stmts, expr = sys.argv[1].split("; ")
for st in stmts:
    exec(st)
print(eval(expr))' "$1"
}

# ---- the programs themselves ------------------------------------------------
if [ -x "$HELPER" ]; then
	t_pass "helper built"
	export KAP_CHECK_HELPER=$HELPER
	have_helper=1
else
	t_fail "helper built" "$HELPER missing (make $HELPER)"
	have_helper=0
fi

if have shellcheck; then
	t_check "shellcheck" shellcheck -x "$KC"
else
	t_skip "shellcheck" "shellcheck not installed"
fi

kc --help
t_eq "--help exit" 0 "$RC"
t_contains "--help usage" "Usage: keepalive-check" "$OUT"
want_version=$(sed -n 's/^VERSION *= *//p' "$TOP_DIR/Makefile")
kc --version
t_eq "--version from Makefile" "keepalive-check (libkapreload) $want_version" "$OUT"

# ---- argument errors: exit 2, one line, our prefix --------------------------
for bad in "" "--bogus" "--port abc" "--port 70000" "--port" "1 --all" "--all --port 80" "0" "abc" "99999999"; do
	# shellcheck disable=SC2086 # split on purpose
	kc $bad
	t_eq "error exit [$bad]" 2 "$RC"
	if [[ $ERR == "keepalive-check: "* ]] && [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ]; then
		t_pass "error message [$bad]"
	else
		t_fail "error message [$bad]" "got [$ERR]"
	fi
done
kc 99999999
t_contains "no such process named" "no such process: 99999999" "$ERR"
kc "$$" # negative control: a real pid is no error
t_eq "existing pid is no error" 0 "$RC"

# ---- live peers -----------------------------------------------------------------
n_started=0
start kapc-srv-ka server ka
S_KA=$PID P1=$READY
start kapc-srv-no server
P2=$READY
start kapc-ka client "$P1" ka 45 11 4 1234
C_KA=$PID L_KA=$READY
start kapc-no client "$P2"
C_NO=$PID L_NO=$READY
start kapc-listen listen
LST=$PID
sleep 60 &
SLEEPER=$!
T_PIDS+=("$SLEEPER")

kc "$C_KA"
t_eq "keepalive on: exit 0" 0 "$RC"
t_contains "keepalive on: header" "KEEPALIVE" "$OUT"
t_check "keepalive on: row" grep -Eq "^$C_KA +kapc-ka +ESTAB +127\.0\.0\.1:$L_KA +127\.0\.0\.1:$P1 +on " <<<"$OUT"
kc "$C_NO"
t_eq "keepalive off: exit 1" 1 "$RC"
t_check "keepalive off: row" grep -Eq "^$C_NO +kapc-no +ESTAB .* off +- +-$" <<<"$OUT"
kc "$C_KA" "$C_NO"
t_eq "one off among two: exit 1" 1 "$RC"
t_contains "summary" "2 connections: 1 with keepalive, 1 without" "$OUT"

kc --json "$C_KA" "$C_NO"
t_eq "json: exit 1" 1 "$RC"
t_check "json: valid (json.tool)" "$PY" -m json.tool <<<"$OUT" >/dev/null
if have jq; then t_check "json: valid (jq)" jq -e 'length == 2' <<<"$OUT" >/dev/null; fi
if "$PY" -m json.tool <<<'[{"a": "x"y"}]' >/dev/null 2>&1; then
	t_fail "json: negative control" "json.tool accepted an unescaped quote"
else
	t_pass "json: negative control"
fi
t_eq "json: keys" "True" "$(pyq 'all({"pid","program","local","remote","state","keepalive","next_probe_s","probes"} <= set(r) for r in d)')"
t_eq "json: on row" "True $C_KA 127.0.0.1:$L_KA 127.0.0.1:$P1 ESTAB 0" \
	"$(pyq 'r = row("kapc-ka"); " ".join(map(str, [r["keepalive"], r["pid"], r["local"], r["remote"], r["state"], r["probes"]]))')"
t_eq "json: on row next probe in (0, 45]" "True" "$(pyq '0 < row("kapc-ka")["next_probe_s"] <= 45')"
t_eq "json: off row" "False None None" \
	"$(pyq 'r = row("kapc-no"); " ".join(map(str, [r["keepalive"], r["next_probe_s"], r["probes"]]))')"

# The same timer as ss sees it: between an ss reading just before and one
# just after (ss prints whole seconds here, the timer counts down).
before=$(ss_keepalive_secs "sport = :$L_KA")
kc --json "$C_KA"
after=$(ss_keepalive_secs "sport = :$L_KA")
ours=$(pyq 'row("kapc-ka")["next_probe_s"]')
t_eq "next probe agrees with ss ($after <= $ours < $before + 1)" "True" \
	"$("$PY" -c "print($after <= $ours < $before + 1)" 2>&1)"
t_eq "ss sees no timer on the off connection" "none" "$(ss_keepalive_secs "sport = :$L_NO")"

# ---- --exact ------------------------------------------------------------------
read -r ka_time ka_intvl ka_probes < <(sysctl -n net.ipv4.tcp_keepalive_time \
	net.ipv4.tcp_keepalive_intvl net.ipv4.tcp_keepalive_probes | tr '\n' ' ')
if ((have_helper)); then
	kc --exact --json "$C_KA" "$C_NO"
	t_eq "exact: exit 1" 1 "$RC"
	t_eq "exact: app values" "True 45 11 4 1234" \
		"$(pyq 'r = row("kapc-ka"); " ".join(map(str, [r["keepalive"], r["idle"], r["interval"], r["count"], r["user_timeout"]]))')"
	t_eq "exact: no keepalive, sysctl values" "False $ka_time $ka_intvl $ka_probes 0" \
		"$(pyq 'r = row("kapc-no"); " ".join(map(str, [r["keepalive"], r["idle"], r["interval"], r["count"], r["user_timeout"]]))')"
	kc --exact "$C_KA"
	t_eq "exact table: exit 0" 0 "$RC"
	if [ -x "$TOP_DIR/build/keepalive-check-helper" ]; then
		out=$(env -u KAP_CHECK_HELPER "$KC" --exact "$C_KA")
		t_check "exact: helper found in the source tree" grep -Eq " 45 +11 +4 +1234ms$" <<<"$out"
	fi
	t_check "exact table: values" grep -Eq "^$C_KA +kapc-ka .* on +[0-9.]+s +0 +45 +11 +4 +1234ms$" <<<"$OUT"

	KAP_CHECK_HELPER=$T_TMP/no-such-helper kc --exact "$C_KA"
	t_eq "exact: helper missing exit 2" 2 "$RC"
	t_contains "exact: helper missing said" "keepalive-check: --exact needs the helper" "$ERR"
	KAP_CHECK_HELPER=$T_TMP/no-such-helper kc "$C_KA"
	t_eq "no --exact: helper not needed" 0 "$RC"

	# The helper on its own.
	kc --json "$C_KA"
	fd=$(pyq 'row("kapc-ka")["fd"]')
	out=$("$HELPER" "$C_KA:$fd")
	t_eq "helper: line" "$C_KA $fd ino=$(pyq 'row("kapc-ka")["inode"]') keepalive=1 idle=45 interval=11 count=4 user_timeout=1234" "$out"
	out=$("$HELPER" "$C_KA:99999" 2>/dev/null)
	t_eq "helper: closed fd exit 1" "1 $C_KA 99999 error=EBADF" "$? $out"
	"$HELPER" "$C_KA" >/dev/null 2>&1
	t_eq "helper: bad argument exit 2" 2 "$?"

	# A fake helper that was refused: the script stops with exit 2 and relays it.
	printf '#!/bin/sh\necho "keepalive-check-helper: pid 7: no permission (fake)" >&2\nexit 3\n' >"$T_TMP/fake-helper"
	chmod +x "$T_TMP/fake-helper"
	KAP_CHECK_HELPER=$T_TMP/fake-helper kc --exact "$C_KA"
	t_eq "exact: helper refused exit 2" 2 "$RC"
	t_eq "exact: helper refusal relayed" "keepalive-check: pid 7: no permission (fake)" "$ERR"
else
	t_skip "exact" "helper not built"
fi

# ---- --port and --all ------------------------------------------------------------
kc --port "$P1"
t_eq "port with keepalive both sides: exit 0" 0 "$RC"
t_eq "port: both ends listed" 2 "$(grep -c " 127\.0\.0\.1:$P1 " <<<"$OUT")"
t_contains "port: listener noted" "1 listening socket not listed" "$OUT"
kc --port "$P2"
t_eq "port without keepalive: exit 1" 1 "$RC"
t_eq "port: server side found" 1 "$(grep -Ec "^[0-9]+ +kapc-srv-no .*127\.0\.0\.1:$P2 .* off " <<<"$OUT")"
kc --json --port="$P1"
t_eq "port json: client and server" "True" "$(pyq "sorted(r['pid'] for r in d) == sorted([$C_KA, $S_KA])")"
kc --all
t_eq "all: exit 1" 1 "$RC"
t_contains "all: on row" "kapc-ka" "$OUT"
t_contains "all: off row" "kapc-no" "$OUT"

# ---- nothing to list ---------------------------------------------------------------
kc "$SLEEPER"
t_eq "none: exit 0" 0 "$RC"
t_eq "none: said" "no TCP connections for pid $SLEEPER" "$OUT"
kc --json "$SLEEPER"
t_eq "none json: empty array" "[]" "$OUT"
t_contains "none json: said on stderr" "no TCP connections for pid $SLEEPER" "$ERR"
kc "$C_KA"
t_not_contains "none: negative control" "no TCP connections" "$OUT"

kc "$LST"
t_eq "listen only: exit 0" 0 "$RC"
t_contains "listen only: none" "no TCP connections for pid $LST" "$OUT"
t_contains "listen only: listener noted" "1 listening socket not listed" "$OUT"
t_check "listen only: the listener exists" test -n "$(ss -Htlnp | grep "pid=$LST,")"

# ---- odd program names, shared sockets, IPv6 ------------------------------------------
start 'k"b\\c\n\x01\xff' client "$P2"
W=$PID
t_check "odd name: raw name has a control byte" grep -q $'\x01' "/proc/$W/comm"
kc --json "$W"
t_eq "odd name: json decodes to the bytes" "True 1" \
	"$(pyq 'str(d[0]["program"] == "k\"b\\c\n\x01\xff") + " " + str(len(d))')"
kc "$W"
t_check "odd name: table escaped" grep -Fq 'k"b\\c\x0a\x01\xff' <<<"$OUT"
t_not_contains "odd name: no raw control byte" $'\x01' "$OUT"

start kapc-fork client "$P1" ka 50 10 3 0 fork
read -r _ CHILD <<<"$READY"
T_PIDS+=("$CHILD")
kc --json "$PID" "$CHILD"
t_eq "shared socket: one row, two owners" "1 [$PID, $CHILD]" \
	"$(pyq 'str(len(d)) + " " + str([o["pid"] for o in d[0]["owners"]])')"
kc "$PID" "$CHILD"
t_check "shared socket: table marks it" grep -Eq "^$PID\+1 +kapc-fork " <<<"$OUT"
kc --json "$CHILD"
t_eq "shared socket: the child alone owns it too" "$CHILD" "$(pyq 'd[0]["pid"]')"

start kapc-srv6 server v6
start kapc-v6 client "$READY" ka 20 5 2 0 v6
kc --json "$PID"
t_eq "ipv6: addresses as ss prints them" "[::1]:$READY True" \
	"$(pyq 'r = d[0]; r["local"] + " " + str(r["keepalive"])')"
t_check "ipv6: ss agrees" grep -q "\[::1\]:$READY" <<<"$(ss -Htn)"

# ---- installed layout: placeholders replaced --------------------------------------------
mkdir -p "$T_TMP/inst/bin" "$T_TMP/inst/libexec/libkapreload"
sed -e 's|@VERSION@|9.9.9|g' -e "s|@LIBEXECDIR@|$T_TMP/inst/libexec|g" "$KC" >"$T_TMP/inst/bin/keepalive-check"
chmod +x "$T_TMP/inst/bin/keepalive-check"
t_eq "installed: version" "keepalive-check (libkapreload) 9.9.9" "$("$T_TMP/inst/bin/keepalive-check" --version)"
if ((have_helper)); then
	env -u KAP_CHECK_HELPER "$T_TMP/inst/bin/keepalive-check" --exact "$C_KA" >/dev/null 2>&1
	t_eq "installed: helper not installed yet" 2 "$?"
	cp "$HELPER" "$T_TMP/inst/libexec/libkapreload/"
	out=$(env -u KAP_CHECK_HELPER "$T_TMP/inst/bin/keepalive-check" --exact "$C_KA")
	t_check "installed: finds its helper" grep -Eq " 45 +11 +4 +1234ms$" <<<"$out"
fi

# ---- permissions (root runs as nobody) -----------------------------------------------------
if ! is_root || ! have setpriv; then
	t_skip "permission" "needs root and setpriv"
else
	nobody=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	out=$("${nobody[@]}" "$KC" "$C_KA" 2>&1)
	t_eq "unprivileged: exit 2" "2" "$?"
	t_contains "unprivileged: says why" "keepalive-check: cannot read the open files of pid $C_KA: permission denied" "$out"
	if ((have_helper)); then
		kc --json "$C_KA"
		fd=$(pyq 'd[0]["fd"]')
		out=$("${nobody[@]}" "$HELPER" "$C_KA:$fd" 2>&1)
		t_eq "unprivileged helper: exit 3" 3 "$?"
		t_contains "unprivileged helper: names pid and ptrace" "pid $C_KA: no permission to read its sockets: pidfd_getfd needs ptrace permission" "$out"
		"$HELPER" "$C_KA:$fd" >/dev/null
		t_eq "root helper: negative control" 0 "$?"
	fi
fi

# ---- cgroup-v1 net_cls warning (a private mount namespace fakes /proc/cgroups) ----
if ! is_root || ! have unshare || ((!have_helper)); then
	t_skip "cgroup warning" "needs root, unshare and the helper"
else
	sed 's/^\(net_cls\|net_prio\)\t0\t/\1\t9\t/' /proc/cgroups >"$T_TMP/cgroups"
	# shellcheck disable=SC2016 # expanded by the inner shell
	out=$(unshare -m sh -c 'mount --bind "$1" /proc/cgroups && exec "$2" --exact "$3" "$4"' _ \
		"$T_TMP/cgroups" "$KC" "$C_KA" "$C_NO" 2>&1 >/dev/null)
	t_eq "cgroup v1: warned once" 1 "$(grep -c '^keepalive-check: warning: cgroup-v1 net_cls/net_prio is mounted' <<<"$out")"
	if grep -Eq '^(net_cls|net_prio)[[:space:]]+[1-9]' /proc/cgroups || grep -q '^cgroup .*net_\(cls\|prio\)' /proc/self/mounts; then
		t_skip "cgroup v1: negative control" "this host really has cgroup-v1 net_cls/net_prio"
	else
		kc --exact "$C_KA" "$C_NO"
		t_not_contains "cgroup v1: negative control" "cgroup-v1" "$ERR"
	fi
fi

# ---- the shim ---------------------------------------------------------------------------
if [ ! -e "$KAP_LIB" ]; then
	t_skip "shim" "$KAP_LIB not built"
else
	out=$T_TMP/shim.out
	LD_PRELOAD=$KAP_PRELOAD KAP_IDLE=33 KAP_INTERVAL=7 KAP_COUNT=3 \
		"$PY" "$T_TMP/peer.py" kapc-shim client "$P2" >"$out" 2>&1 &
	SHIM=$!
	T_PIDS+=("$SHIM")
	KAP_IDLE=33 KAP_INTERVAL=7 KAP_COUNT=3 "$PY" "$T_TMP/peer.py" kapc-noshim client "$P2" >"$out.2" 2>&1 &
	NOSHIM=$!
	T_PIDS+=("$NOSHIM")
	for ((i = 0; i < 100; i++)); do
		grep -qs ready "$out" && grep -qs ready "$out.2" && break
		sleep 0.05
	done
	kc "$SHIM"
	t_eq "shim: exit 0" 0 "$RC"
	kc "$NOSHIM"
	t_eq "shim negative control: exit 1" 1 "$RC"
	if ((have_helper)); then
		kc --exact --json "$SHIM"
		t_eq "shim: exact values" "True 33 7 3" \
			"$(pyq 'r = d[0]; " ".join(map(str, [r["keepalive"], r["idle"], r["interval"], r["count"]]))')"
	fi
fi

# ---- data in flight: retransmit timer hides keepalive -----------------------------------------
# A namespace of our own where the peer's port is black-holed after connecting.
if ! is_root || ! have nft || ! have unshare || ! have nsenter; then
	t_skip "retransmit" "needs root, nft, unshare and nsenter"
else
	out=$T_TMP/combo.out
	# shellcheck disable=SC2016 # expanded by the inner shell
	unshare -n -- sh -c 'ip link set lo up && exec "$0" "$@"' "$PY" "$T_TMP/peer.py" kapc-combo combo >"$out" 2>&1 &
	COMBO=$!
	T_PIDS+=("$COMBO")
	for ((i = 0; i < 100; i++)); do
		grep -qs ready "$out" && break
		sleep 0.05
	done
	port=$(sed -n 's/^ready //p' "$out")
	# A new namespace starts from the kernel's default sysctls, not the host's.
	read -r ns_time ns_intvl ns_probes < <(nsenter -t "$COMBO" -n sysctl -n net.ipv4.tcp_keepalive_time \
		net.ipv4.tcp_keepalive_intvl net.ipv4.tcp_keepalive_probes | tr '\n' ' ')
	# rows_to(port): clients K (keepalive 30/5/3), N (none), P (keepalive 1/1/100).
	kc --json "$COMBO"
	t_eq "netns: seen through /proc/PID/net, exit 1" 1 "$RC"
	t_eq "netns: before: K on, N off, P on with 0 probes" "[True, False, True] 0" \
		"$(pyq "k = rows_to($port); str([r['keepalive'] for r in k]) + ' ' + str(k[2]['probes'])")"
	nsenter -t "$COMBO" -n nft -f - <<EOF
table inet kapcheck {
	chain out {
		type filter hook output priority 0;
		tcp dport $port drop
	}
}
EOF
	kill -USR1 "$COMBO"
	for ((i = 0; i < 50; i++)); do
		kc --json "$COMBO"
		[ "$(pyq "[r['timer'] for r in rows_to($port)][:2]")" = "['retransmit', 'retransmit']" ] && break
		sleep 0.1
	done
	t_eq "retransmit: K and N unknown, not off" "[None, None]" \
		"$(pyq "[r['keepalive'] for r in rows_to($port)][:2]")"
	kc "$COMBO"
	t_eq "retransmit: unknown does not fail (exit 0)" 0 "$RC"
	t_contains "retransmit: table says unknown" " unknown " "$OUT"
	t_contains "retransmit: suggests --exact" "run with --exact" "$OUT"
	if ((have_helper)); then
		kc --exact --json "$COMBO"
		t_eq "retransmit: --exact exit 1" 1 "$RC"
		t_eq "retransmit: --exact K on 30/5/3, N off" "[(True, 30, 5, 3), (False, $ns_time, $ns_intvl, $ns_probes)]" \
			"$(pyq "[(r['keepalive'], r['idle'], r['interval'], r['count']) for r in rows_to($port)][:2]")"
	fi
	# P's probes go unanswered now: the count rises.
	for ((i = 0; i < 60; i++)); do
		kc --json "$COMBO"
		[ "$(pyq "(rows_to($port)[2]['probes'] or 0) >= 2")" = True ] && break
		sleep 0.1
	done
	t_eq "black hole: unanswered probes counted" "True" "$(pyq "rows_to($port)[2]['probes'] >= 2")"
fi

t_done
