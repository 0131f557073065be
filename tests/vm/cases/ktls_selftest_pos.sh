# shellcheck shell=bash disable=SC2034
# ktls_selftest_pos.sh - the kernel behaviours zktls relies on or works
# around, reproduced (sourced by tests/vm/suite.sh)
#
# Description:
#	tests/vm/ktls_selftest.c (build/vm/ktls_selftest), 5 runs per stress
#	method: every suite of it passes on this kernel (the long run:
#	tests/vm/ktls_selftest.sh).
#
# Strategy:
#	The selftest under timeout 600, its PASS lines counted and its
#	splice lines quoted in the verdict.  Runs after the background group
#	has ended (as it always did: it measures the kernel under stress).
#
# Cases: ktls-selftest
# Tags: kernels=all slow alone
# Limit: 660
# Order: 90

if want ktls-selftest; then
    t0=$SECONDS
    if [[ -x $SL_REPO/build/vm/ktls_selftest ]]; then
        timeout -k 5 600 "$SL_REPO/build/vm/ktls_selftest" 5 >"$W/selftest.log" 2>&1
        st=$?
        [[ $st == 0 ]] || err "ktls_selftest exit $st: $(grep -E 'FAIL|CHECK failed|!=' "$W/selftest.log" | head -3 | tr '\n' ' ')"
    else
        err "no build/vm/ktls_selftest (make build/vm/ktls_selftest)"
    fi
    verdict ktls-selftest "$(grep -c '^PASS' "$W/selftest.log" 2>/dev/null) suites; $(grep -E 'raw splice\(socket -> consumer pipe 64 KiB\)|SPLICE_F_MORE\) +sendmsg' "$W/selftest.log" | sed 's/  */ /g' | tr '\n' ';') ($((SECONDS - t0)) s)" selftest
fi
