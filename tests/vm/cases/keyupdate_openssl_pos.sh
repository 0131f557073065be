# shellcheck shell=bash disable=SC2034
# keyupdate_openssl_pos.sh - zktls's KeyUpdates on a kernel plane, with
# OpenSSL on the other end (sourced by tests/vm/suite.sh)
#
# Description:
#	tests/host/key_update_pos.sh with zktls on the rw or splice plane
#	(ZKTLS_TEST_MODE): OpenSSL's s_server and s_client follow zktls's
#	KeyUpdates, zktls follows theirs and answers a request.
#
#	Linux 6.14 and later only: these cases need kernel TLS to take a new
#	key (TLS_TX/TLS_RX set again), which 6.12 refuses with EBUSY; there
#	zktls does not change keys on a kernel plane at all and chooses
#	ChaCha20-Poly1305 instead, which matrix_pos.sh and
#	keyupdate_pull_pos.sh check on every kernel.
#
# Strategy:
#	The host test under timeout 300, its last line in the verdict.
#
# Cases: keyupdate-openssl-rw keyupdate-openssl-splice
# Tags: kernels=6.14+
# Limit: 360
# Order: 33

for mode in rw splice; do
    want "keyupdate-openssl-$mode" && {
        t0=$SECONDS
        out=$(ZKTLS_TEST_MODE=$mode ZKTLS_BIN=$ZK timeout -k 5 300 bash "$SL_REPO/tests/host/key_update_pos.sh" 2>&1)
        rc=$?
        [[ $rc == 0 ]] || err "key_update_pos.sh exit $rc: $(tr '\n' ' ' <<<"$out" | cut -c1-600)"
        verdict "keyupdate-openssl-$mode" "zktls on $mode with s_server/s_client and itself: $(tail -n1 <<<"$out" | cut -c1-120) ($((SECONDS - t0)) s)"
    }
done
