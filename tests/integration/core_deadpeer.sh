#!/usr/bin/env bash
# Dead peer, the point of the project: two network namespaces joined by a
# veth pair; a server in one, clients in the other blocked in recv().  The
# server's namespace is then black-holed with nftables (drop everything).
# Clients under the shim (C and Python, idle 2, interval 1, count 3) must fail
# with ETIMEDOUT within 7 s of the drop (5 s + margin); the same C client
# without the shim (negative control) must still be blocked after 12 s.
# Needs root; the namespaces are always deleted.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=../helpers/kt_lib.sh
. "$TESTS_DIR/helpers/kt_lib.sh"

if ! is_root; then
	t_skip deadpeer "needs root (network namespaces, veth, nftables)"
	exit 0
fi
for c in ip nft; do
	if ! have "$c"; then
		t_skip deadpeer "$c not installed (iproute2, nftables)"
		exit 0
	fi
done
kt_require

id=$$
ns_s=kapdp-s-$id
ns_c=kapdp-c-$id
veth_s=kds$id
veth_c=kdc$id
# A /30 of 10.231.0.0/16 picked from the pid, inside the namespaces only.
net="10.231.$((id / 64 % 256))"
base=$((id % 64 * 4))
addr_s=$net.$((base + 1))
addr_c=$net.$((base + 2))

dp_cleanup() {
	# Processes first (lib.sh's cleanup), then the namespaces; the veth pair
	# goes with them (and is deleted by hand if the move never happened).
	t_cleanup
	ip netns del "$ns_s" 2>/dev/null
	ip netns del "$ns_c" 2>/dev/null
	ip link del "$veth_c" 2>/dev/null
	return 0
}
trap dp_cleanup EXIT
trap 'exit 143' TERM INT HUP

setup() {
	ip netns add "$ns_s" &&
		ip netns add "$ns_c" &&
		ip link add "$veth_c" type veth peer name "$veth_s" &&
		ip link set "$veth_c" netns "$ns_c" &&
		ip link set "$veth_s" netns "$ns_s" &&
		ip -n "$ns_s" addr add "$addr_s/30" dev "$veth_s" &&
		ip -n "$ns_c" addr add "$addr_c/30" dev "$veth_c" &&
		ip -n "$ns_s" link set lo up &&
		ip -n "$ns_c" link set lo up &&
		ip -n "$ns_s" link set "$veth_s" up &&
		ip -n "$ns_c" link set "$veth_c" up
}
if ! setup >"$T_TMP/setup.err" 2>&1; then
	t_fail deadpeer_setup "$(cat "$T_TMP/setup.err")"
	exit 1
fi

kt_bg "$T_TMP/srv" ip netns exec "$ns_s" "$KT_PROBE" server 0 --bind "$addr_s" --accept 3 --hold -1
port=$(kt_port "$T_TMP/srv") || {
	t_fail deadpeer_server "no listening line: $(cat "$T_TMP/srv.err")"
	exit 1
}

py_client=$KT_PY_LINE'
import errno
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.settimeout(None)
print(line(s), flush=True)
t = time.monotonic()
try:
    n = len(s.recv(1))
    print("recv=%d errno=0 elapsed=%.2f" % (n, time.monotonic() - t), flush=True)
except OSError as e:
    print("recv=-1 errno=%s elapsed=%.2f" % (errno.errorcode.get(e.errno, e.errno),
                                              time.monotonic() - t), flush=True)
'
dp=(KAP_IDLE=2 KAP_INTERVAL=1 KAP_COUNT=3)
# The three clients run in parallel: one wait covers them all.
kt_bg "$T_TMP/c_shim" ip netns exec "$ns_c" "${KT_SHIM[@]}" "${dp[@]}" \
	"$KT_PROBE" client "$addr_s" "$port" --recv
kt_bg "$T_TMP/py_shim" ip netns exec "$ns_c" "${KT_SHIM[@]}" "${dp[@]}" \
	"$KT_PY" -c "$py_client" "$addr_s" "$port"
kt_bg "$T_TMP/c_noshim" ip netns exec "$ns_c" "${KT_NOSHIM[@]}" "${dp[@]}" \
	"$KT_PROBE" client "$addr_s" "$port" --recv
noshim_pid=$KT_PID

for c in c_shim py_shim c_noshim; do
	if ! line=$(kt_wait_line "$T_TMP/$c" 'keepalive=' 100); then
		t_fail "deadpeer_${c}_connected" "no line: $(cat "$T_TMP/$c.err")"
		exit 1
	fi
	case $c in
	*_noshim) t_eq "deadpeer_${c}_untouched" "$KT_UNTOUCHED" "$line" ;;
	*) t_eq "deadpeer_${c}_configured" "keepalive=1 idle=2 interval=1 count=3 user_timeout=0" "$line" ;;
	esac
done

# Black-hole the server: its namespace drops every packet in and out.
if ! ip netns exec "$ns_s" nft -f - <<'NFT' 2>"$T_TMP/nft.err"; then
table inet kapdrop {
	chain in { type filter hook input priority 0; policy drop; }
	chain out { type filter hook output priority 0; policy drop; }
}
NFT
	t_fail deadpeer_nft_drop "$(cat "$T_TMP/nft.err")"
	exit 1
fi
t0=$EPOCHREALTIME

# since T0: seconds (2 decimals) from T0 until now.
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

declare -A done_at=()
while :; do
	for c in c_shim py_shim; do
		if [ -z "${done_at[$c]:-}" ] && grep -q '^recv=' "$T_TMP/$c"; then
			done_at[$c]=$(since "$t0")
		fi
	done
	[ -n "${done_at[c_shim]:-}" ] && [ -n "${done_at[py_shim]:-}" ] && break
	awk -v s="$(since "$t0")" 'BEGIN { exit !(s > 7.5) }' && break
	sleep 0.1
done
for c in c_shim py_shim; do
	res=$(grep '^recv=' "$T_TMP/$c")
	t_contains "deadpeer_${c}_etimedout" "recv=-1 errno=ETIMEDOUT" "${res:-still blocked after 7.5 s}"
	if [ -n "${done_at[$c]:-}" ] &&
		awk -v s="${done_at[$c]}" 'BEGIN { exit !(s <= 7.0) }'; then
		t_pass "deadpeer_${c}_within_7s (${done_at[$c]} s after the drop)"
	else
		t_fail "deadpeer_${c}_within_7s" "${done_at[$c]:-no answer} s after the drop"
	fi
done

# Negative control: without the shim the client is still blocked at +12 s.
while awk -v s="$(since "$t0")" 'BEGIN { exit !(s < 12) }'; do
	grep -q '^recv=' "$T_TMP/c_noshim" && break
	sleep 0.2
done
if kill -0 "$noshim_pid" 2>/dev/null && ! grep -q '^recv=' "$T_TMP/c_noshim"; then
	t_pass "deadpeer_noshim_still_blocked_after_12s"
else
	t_fail deadpeer_noshim_still_blocked_after_12s "$(cat "$T_TMP/c_noshim" "$T_TMP/c_noshim.err")"
fi
kt_stop "$noshim_pid"

t_done
