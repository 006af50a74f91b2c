#!/bin/bash
# lab-timeout: 240
# The host-built Swift test binary, run inside the VM where 802.1Q and bridge vlan_filtering
# exist (netlink tests that the host kernel cannot run). VLANWIRE_LAB=1 is exported, so
# tests can enable themselves with .enabled(if: ProcessInfo…["VLANWIRE_LAB"] != nil).
#
#   LAB_SWIFT_TEST_FILTER="REGEX [REGEX...]"  --filter per regex (OR); empty: every Swift Testing test
#   LAB_SWIFT_TEST_SKIP="REGEX [REGEX...]"    --skip per regex
#   LAB_SWIFT_TEST_BINARY=PATH                another test binary (default .build/debug/vlanwirePackageTests.xctest)
# Regexes match test IDs like "VLANWireTests.NetlinkTests/vlanLink()" (see --list-tests).
# The binary is run exactly as:
#   .build/debug/vlanwirePackageTests.xctest --testing-library swift-testing --filter REGEX ...
# Without --testing-library swift-testing it runs only XCTest tests (none) and exits 0.
# Exit status: 0 passed, 1 a test failed, 69 (EX_UNAVAILABLE) no test matched the filter.
. "$LAB_LIB"

# A lab root other than the host's (scripts/lab --root trixie) has no Swift toolchain: the test
# binary links the toolchain's runtime (libswiftCore, Foundation, swift-testing) dynamically from
# the host's toolchain path. Binding that in would test a Debian 12 toolchain's runtime on 13,
# which no user runs; what users run there is the release build with the static Swift runtime,
# which 02, 10-13, 20 and 26 exercise.
[[ ${LAB_ROOT:-host} == host ]] ||
    pending "skipped on the ${LAB_ROOT} root: the Swift test binary needs the toolchain's runtime, which that root does not have (the static-runtime release binaries run there: 02, 10-13, 20, 26)"

xctest=${LAB_SWIFT_TEST_BINARY:-${LAB_BUILD_DIR:-$REPO/.build/debug}/vlanwirePackageTests.xctest}
[[ -x $xctest ]] || pending "test binary not built: run 'swift build --build-tests' on the host ($xctest)"

args=(--testing-library swift-testing --xunit-output "$LAB_DIR/swift-tests.xml")
read -r -a filters <<<"${LAB_SWIFT_TEST_FILTER:-}"
read -r -a skips <<<"${LAB_SWIFT_TEST_SKIP:-}"
for f in "${filters[@]}"; do args+=(--filter "$f"); done
for f in "${skips[@]}"; do args+=(--skip "$f"); done

cd "$LAB_WORK"
lab_log "+ $xctest ${args[*]}"
set +e
NO_COLOR=1 "$xctest" "${args[@]}" 2>&1 | tee "$LAB_DIR/swift-tests.txt"
rc=${PIPESTATUS[0]}
set -e
summary=$(grep -E 'Test run with [0-9]+ tests?' "$LAB_DIR/swift-tests.txt" | tail -n1 | sed 's/^[^T]*//')
case $rc in
    0)  if [[ $summary == *" 0 tests "* ]]; then
            pending "no Swift Testing test${filters:+ matched '${filters[*]}'}"
        fi
        pass_note "${summary:-swift tests passed}" ;;
    69) pending "no Swift Testing test matched filter '${filters[*]}' (exit 69)" ;;
    *)  failed=$(grep -v 'Test run with' "$LAB_DIR/swift-tests.txt" | sed -n 's/^.*Test \(.*\) failed after .*/\1/p' | head -n 5 | tr '\n' ' ')
        die "${failed:+failed: $failed— }${summary:-test binary exited $rc}" ;;
esac
