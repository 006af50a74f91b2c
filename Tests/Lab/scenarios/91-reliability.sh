#!/bin/bash
# lab-timeout: 240
# Issue 9's reliability suites that need 802.1Q (LabVLANReliabilityTests: a fault at every step of
# the seed's full plans, SIGKILL mid-prepare with VLAN legs, 32 concurrent hooks sharing access
# bridges). Their own scenario with their own time budget: 32 hook processes are slow under TCG.
# scripts/test keeps them out of 90-swift-tests (LAB_SWIFT_TEST_SKIP=LabVLANReliability).
# The concurrent hooks run the hook libvirt runs (vlanwire-hook beside $VLANWIRE: the release
# build under scripts/test); the fault tests need the debug build's fault seam.
VLANWIRE_HOOK_BINARY=${VLANWIRE:+$VLANWIRE-hook} LAB_SWIFT_TEST_FILTER=LabVLANReliability LAB_SWIFT_TEST_SKIP= exec bash "$(dirname "${BASH_SOURCE[0]}")/90-swift-tests.sh"
