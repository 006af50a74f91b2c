/// vlanwire's version: the one place it is written. `vlanwire --version` prints it, and
/// `scripts/package` reads it from the built binary for the Debian package's version
/// (`VERSION-REVISION`). Bump it here for a release.
let vlanwireVersion = "0.1.0"
