#!/bin/bash
# Smoke test of the test VM itself (guest side): tests/vm/run.sh -- tests/vm/smoke.sh
# Checks KTLS, OpenZFS (userland = module version, send | recv between the two
# pools), the two network-namespace hosts, and KTLS really used by a TLS 1.3
# connection between them (openssl s_server/s_client with Options = KTLS).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
trap zk_teardown EXIT
step() { echo "--- smoke: $*"; }

step "kernel $(uname -r)"
modprobe tls
[[ -r /proc/net/tls_stat ]]
tls_stat TlsTxSw >/dev/null

step "zfs version"
zfs version
user=$(zfs version | sed -n 's/^zfs-\([0-9].*\)/\1/p')
kmod=$(zfs version | sed -n 's/^zfs-kmod-//p')
[[ -n $user && $user == "$kmod" ]] || { echo "userland '$user' != module '$kmod'"; exit 1; }

step "pools, snapshot, send | recv"
zk_pool srcpool
zk_pool dstpool
zfs create srcpool/data
zfs set mountpoint=/tmp/srcdata srcpool/data
head -c 4M /dev/urandom > /tmp/srcdata/blob
zfs snapshot srcpool/data@s1
zfs send srcpool/data@s1 | zfs recv -u dstpool/data
src_guid=$(zfs get -Hpo value guid srcpool/data@s1)
dst_guid=$(zfs get -Hpo value guid dstpool/data@s1)
echo "guid src=$src_guid dst=$dst_guid"
[[ $src_guid == "$dst_guid" ]]

step "hosts zka/zkb"
zk_hosts_up
zka ping -c1 -W5 "$ZKB_IP"

step "KTLS between the hosts (TLS 1.3, OpenSSL KTLS send offload)"
dir=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=zkb -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
printf 'openssl_conf = c\n[c]\nssl_conf = s\n[s]\nsystem_default = d\n[d]\nOptions = KTLS\n' > "$dir/ktls.cnf"
export OPENSSL_CONF=$dir/ktls.cnf
zkb timeout 60 openssl s_server -quiet -naccept 1 -rev -tls1_3 -accept 4433 \
    -cert "$dir/cert.pem" -key "$dir/key.pem" &
server=$!
for _ in $(seq 50); do zkb ss -Hltn 'sport = :4433' | grep -q . && break; sleep 0.1; done
reply=$(printf 'hello\nCLOSE\n' | zka timeout 60 openssl s_client -quiet -tls1_3 -connect "$ZKB_IP:4433" 2>/dev/null)
wait "$server"
echo "reply: $reply; TlsTxSw zka=$(tls_stat TlsTxSw zka) zkb=$(tls_stat TlsTxSw zkb)"
[[ $reply == *olleh* ]]
[[ $(tls_stat TlsTxSw zka) -ge 1 && $(tls_stat TlsTxSw zkb) -ge 1 ]]

step "OK"
