#!/usr/bin/env bash
# bench.sh - the same random stream over loopback, in one run, through:
# zktls pipe (user plane), socat OPENSSL (256 KiB buffers), stunnel, and
# plain socat TCP.  Prints MiB/s, CPU seconds per GiB (both transport
# processes together) and the ratio of zktls to socat OPENSSL.  Then
# zktls and socat OPENSSL again as a user would time socat: to
# /dev/null, -b 262144, best of BENCH_BEST (3) runs taken in turns;
# the best throughput and the least CPU per GiB of each, and their
# ratios.
#
#   bench/bench.sh [SIZE_MiB]     (default 2048)
#
# BENCH_BASE=PATH adds another zktls binary (say, an older build) to every
# part, in turn with the others, as "zktls base".
#
# Absolute numbers depend on the machine and its noise; compare ratios
# taken in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
size_mib=${1:-2048}
zk=${ZKTLS_BIN:-$top/zktls}
base=${BENCH_BASE:-}
w=$(mktemp -d /tmp/zktls-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$w"
}
trap cleanup EXIT

tests/host/mkcerts.sh "$w/pki" >/dev/null
P=$w/pki
echo "bench: making a ${size_mib} MiB random stream"
head -c $((size_mib * 1048576)) /dev/urandom >"$w/stream"
cat "$w/stream" >/dev/null # into the page cache

port() { # free TCP port on 127.0.0.1
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# tm OUT CMD...: run CMD under GNU time, "elapsed user sys" into OUT.
tm() {
	local o=$1
	shift
	/usr/bin/time -f '%e %U %S' -o "$o" "$@"
}

wait_port() {
	for _ in $(seq 100); do
		# Never connect to probe: the listeners accept one connection.
		ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	echo "bench: nothing listens on $1" >&2
	return 1
}

results=()
# report NAME T_SEND T_RECV [EXTRA_TIME_FILES...]
report() {
	local name=$1
	shift
	python3 - "$name" "$size_mib" "$@" <<'EOF' >>"$w/results"
import sys
name, mib, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
# The first two files are the two ends (elapsed time); CPU counts the
# transport processes: the ends themselves, or the extra files (stunnel).
wall, cpu = 0.0, 0.0
for i, f in enumerate(files):
    e, u, s = (float(x) for x in open(f).read().split()[-3:])
    if i < 2:
        wall = max(wall, e)
    if len(files) == 2 or i >= 2:
        cpu += u + s
print(f"{name}\t{mib / wall:.0f}\t{cpu / (mib / 1024):.2f}")
EOF
}

check_size() {
	local got
	got=$(cat "$w/count")
	if [ "$got" != $((size_mib * 1048576)) ]; then
		echo "bench: $1 delivered $got bytes, not $((size_mib * 1048576))" >&2
		exit 1
	fi
}

sink() { wc -c >"$w/count"; }

# --- zktls pipe, user plane ------------------------------------------------
run_zktls() {
	local p name=${1:-zktls pipe (user)} zk=${2:-$zk}
	p=$(port)
	tm "$w/t.recv" "$zk" pipe recv --listen 127.0.0.1:"$p" --mode user -q \
		--cert "$P/beta.pem" --key "$P/beta.key" --ca "$P/ca.pem" \
		--peer-name alpha 2>"$w/zk.err" | sink &
	pids+=($!)
	wait_port "$p"
	tm "$w/t.send" "$zk" pipe send --connect 127.0.0.1:"$p" --mode user -q \
		--cert "$P/alpha.pem" --key "$P/alpha.key" --ca "$P/ca.pem" \
		--peer-name beta <"$w/stream"
	wait
	check_size "$name"
	report "$name" "$w/t.send" "$w/t.recv"
}
run_base() { run_zktls "zktls base" "$base"; }

# --- socat OPENSSL, 256 KiB buffers ----------------------------------------
run_socat_tls() {
	local p
	p=$(port)
	tm "$w/t.recv" socat -b262144 -u \
		OPENSSL-LISTEN:"$p",bind=127.0.0.1,reuseaddr,cert="$P/beta.pem",key="$P/beta.key",cafile="$P/ca.pem",verify=1 \
		STDOUT | sink &
	pids+=($!)
	wait_port "$p"
	tm "$w/t.send" socat -b262144 -u STDIN \
		OPENSSL:127.0.0.1:"$p",cert="$P/alpha.pem",key="$P/alpha.key",cafile="$P/ca.pem",verify=1,commonname=beta \
		<"$w/stream"
	wait
	check_size "socat OPENSSL"
	report "socat OPENSSL" "$w/t.send" "$w/t.recv"
}

# --- stunnel (client and server), socat TCP at both ends -----------------
run_stunnel() {
	local pa pb pc
	pa=$(port) pb=$(port) pc=$(port)
	cat >"$w/st-server.conf" <<EOF
foreground = yes
pid =
[srv]
accept = 127.0.0.1:$pb
connect = 127.0.0.1:$pc
cert = $P/beta.pem
key = $P/beta.key
CAfile = $P/ca.pem
verifyChain = yes
sslVersionMin = TLSv1.3
EOF
	cat >"$w/st-client.conf" <<EOF
foreground = yes
pid =
[cli]
client = yes
accept = 127.0.0.1:$pa
connect = 127.0.0.1:$pb
cert = $P/alpha.pem
key = $P/alpha.key
CAfile = $P/ca.pem
verifyChain = yes
checkHost = beta
sslVersionMin = TLSv1.3
EOF
	tm "$w/t.recv" socat -b262144 -u TCP-LISTEN:"$pc",bind=127.0.0.1,reuseaddr \
		STDOUT | sink &
	local rpid=$!
	pids+=($rpid)
	wait_port "$pc"
	tm "$w/t.st1" stunnel4 "$w/st-server.conf" 2>/dev/null &
	local s1=$!
	tm "$w/t.st2" stunnel4 "$w/st-client.conf" 2>/dev/null &
	local s2=$!
	pids+=($s1 $s2)
	wait_port "$pb"
	wait_port "$pa"
	tm "$w/t.send" socat -b262144 -u STDIN TCP:127.0.0.1:"$pa" <"$w/stream"
	# The receiver ends when the server-side stunnel closes its leg.
	wait "$rpid"
	# Stop the stunnels themselves (not the time(1) wrappers) so that
	# time(1) reports their CPU.
	pkill -TERM -f "^stunnel4 $w/st-" || true
	wait "$s1" "$s2" || true
	check_size stunnel
	# Elapsed: the plain endpoints; CPU: the two stunnel processes.
	report "stunnel" "$w/t.send" "$w/t.recv" "$w/t.st1" "$w/t.st2"
}

# --- plain TCP -------------------------------------------------------------
run_tcp() {
	local p
	p=$(port)
	tm "$w/t.recv" socat -b262144 -u TCP-LISTEN:"$p",bind=127.0.0.1,reuseaddr \
		STDOUT | sink &
	pids+=($!)
	wait_port "$p"
	tm "$w/t.send" socat -b262144 -u STDIN TCP:127.0.0.1:"$p" <"$w/stream"
	wait
	check_size "plain TCP"
	report "plain TCP (socat)" "$w/t.send" "$w/t.recv"
}

: >"$w/results"
for f in run_zktls ${base:+run_base} run_socat_tls run_stunnel run_tcp; do
	rm -f "$w/count"
	echo "bench: $f"
	$f
done

# --- zktls and socat OPENSSL to /dev/null, best of BENCH_BEST ----------------
# Both sides' exit status is the check here (zktls's sender compares the
# receiver's byte count with its own).
null_zktls() {
	local p name=${1:-zktls pipe (user)} zk=${2:-$zk}
	p=$(port)
	tm "$w/t.recv" "$zk" pipe recv --listen 127.0.0.1:"$p" --mode user -q \
		--cert "$P/beta.pem" --key "$P/beta.key" --ca "$P/ca.pem" \
		--peer-name alpha >/dev/null 2>"$w/zk.err" &
	local rpid=$!
	pids+=($rpid)
	wait_port "$p"
	tm "$w/t.send" "$zk" pipe send --connect 127.0.0.1:"$p" --mode user -q \
		--cert "$P/alpha.pem" --key "$P/alpha.key" --ca "$P/ca.pem" \
		--peer-name beta <"$w/stream"
	wait "$rpid"
	report "$name" "$w/t.send" "$w/t.recv"
}
null_base() { null_zktls "zktls base" "$base"; }

null_socat() {
	local p
	p=$(port)
	tm "$w/t.recv" socat -b262144 -u \
		OPENSSL-LISTEN:"$p",bind=127.0.0.1,reuseaddr,cert="$P/beta.pem",key="$P/beta.key",cafile="$P/ca.pem",verify=1 \
		STDOUT >/dev/null &
	local rpid=$!
	pids+=($rpid)
	wait_port "$p"
	tm "$w/t.send" socat -b262144 -u STDIN \
		OPENSSL:127.0.0.1:"$p",cert="$P/alpha.pem",key="$P/alpha.key",cafile="$P/ca.pem",verify=1,commonname=beta \
		<"$w/stream"
	wait "$rpid"
	report "socat OPENSSL" "$w/t.send" "$w/t.recv"
}

best=${BENCH_BEST:-3}
for i in $(seq "$best"); do
	for f in null_zktls ${base:+null_base} null_socat; do
		echo "bench: $f ($i of $best)"
		$f
	done
done

python3 - "$w/results" "$size_mib" <<'EOF'
import sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().splitlines()]
# One run each into wc -c, then the runs to /dev/null.
first = 5 if rows[1][0] == "zktls base" else 4
rows, null = rows[:first], rows[first:]
print(f"\nbench: {sys.argv[2]} MiB random stream over loopback, one run")
print(f"{'transport':<22}{'MiB/s':>10}{'CPU s/GiB':>12}")
for name, rate, cpu in rows:
    print(f"{name:<22}{rate:>10}{cpu:>12}")
d = {r[0]: (float(r[1]), float(r[2])) for r in rows}
z, s = d["zktls pipe (user)"], d["socat OPENSSL"]
print(f"\nzktls / socat OPENSSL: {z[0] / s[0]:.2f}x throughput, "
      f"{s[1] / z[1]:.2f}x less CPU per GiB "
      f"(CPU per GiB {z[1] / s[1]:.2f}x socat's)")
if "zktls base" in d:
    b = d["zktls base"]
    print(f"zktls base / socat OPENSSL: {b[0] / s[0]:.2f}x throughput, "
          f"CPU per GiB {b[1] / s[1]:.2f}x socat's")
if null:
    n = len(null) // (first - 2)
    print(f"\nto /dev/null, best of {n} runs each (MiB/s; CPU s/GiB):")
    best = {}
    for name, rate, cpu in null:
        print(f"  {name:<20}{rate:>8}{cpu:>8}")
        r, c = best.get(name, (0.0, 1e9))
        best[name] = (max(r, float(rate)), min(c, float(cpu)))
    z, s = best["zktls pipe (user)"], best["socat OPENSSL"]
    print(f"best: zktls {z[0]:.0f} MiB/s {z[1]:.2f} CPU s/GiB, "
          f"socat OPENSSL {s[0]:.0f} MiB/s {s[1]:.2f} CPU s/GiB")
    print(f"zktls / socat OPENSSL (to /dev/null, best of {n}): "
          f"{z[0] / s[0]:.2f}x throughput, CPU per GiB {z[1] / s[1]:.2f}x "
          f"socat's")
    if "zktls base" in best:
        b = best["zktls base"]
        print(f"zktls base / socat OPENSSL (to /dev/null, best of {n}): "
              f"{b[0] / s[0]:.2f}x throughput, CPU per GiB "
              f"{b[1] / s[1]:.2f}x socat's")
EOF
