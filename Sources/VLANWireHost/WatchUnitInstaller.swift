import VLANWire

#if canImport(Glibc)
    import Glibc
#endif

/// Installs `vlanwire-watch.service`, the systemd unit that runs `vlanwire watch`, for
/// `vlanwire install-hook --watch`. Like the hook, it is idempotent and never replaces a file it
/// did not write; unlike the hook there is no second place to go, so a foreign unit is an error.
/// It never runs systemctl (vlanwire runs no programs): the caller prints what to run.
///
/// The unit's text lives here, not in a resource file: ExecStart= must name the binary the hook
/// runs (`--binary`), as the hook script does. `hooks/vlanwire-watch.service` is this text for
/// /usr/local/bin/vlanwire, and a test keeps the two identical.
package struct WatchUnitInstaller: Sendable {
    package static let fileName = "vlanwire-watch.service"
    /// In every unit this installer writes; a file without it belongs to someone else.
    package static let marker = "# Installed by `vlanwire install-hook --watch`"
    /// What to run once the unit is in /etc/systemd/system.
    package static let enableCommand = "systemctl daemon-reload && systemctl enable --now \(fileName)"

    package var directory: String
    /// The vlanwire binary the unit runs (an absolute path).
    package var binary: String

    package init(directory: String = "/etc/systemd/system", binary: String) {
        self.directory = directory
        self.binary = binary
    }

    package struct Result: Sendable, Equatable {
        package var path: String
        /// False when the file already had this content.
        package var changed: Bool
    }

    package var path: String { directory + "/" + Self.fileName }

    package var unit: String {
        """
        \(Self.marker), which rewrites this file only
        # while it has that line. vlanwire watch keeps running guests' NICs as their policies say between
        # libvirt's hook calls (hot-plugged NICs, drift, live policy changes); see vlanwire's hooks/README.md.

        [Unit]
        Description=vlanwire watch: keep libvirt guests' NICs on their VLANs
        # watch reaches libvirt through its socket, which starts a socket-activated libvirtd or
        # virtqemud, and reconnects with backoff while neither answers. No Wants= on a daemon:
        # virtqemud.service conflicts with libvirtd.service, so wanting one would stop the other.
        After=libvirtd.service virtqemud.service network-online.target
        # After= alone orders only against a unit something else starts.
        Wants=network-online.target

        [Service]
        Type=simple
        ExecStart=\(binary) watch
        # SIGHUP reloads /etc/vlanwire/vlanwire.toml.
        ExecReload=/bin/kill -HUP $MAINPID
        Restart=on-failure
        RestartSec=2

        # /run/vlanwire holds the hook's state and watch.json. /run is emptied at boot, and under
        # ProtectSystem=strict neither watch nor ReadWritePaths= can create it: systemd does
        # (RuntimeDirectory=), and keeps it when watch stops, because the hook's state is in it.
        RuntimeDirectory=vlanwire
        RuntimeDirectoryMode=0700
        RuntimeDirectoryPreserve=yes
        ProtectSystem=strict
        ReadWritePaths=/run/vlanwire
        ProtectHome=yes
        PrivateTmp=yes
        NoNewPrivileges=yes
        # Root, with one capability: CAP_NET_ADMIN for the netlink changes (links, bridges, port
        # VLANs). libvirt needs none: connecting to a Unix socket needs write permission on it, and
        # its socket (/run/libvirt/libvirt-sock, virtqemud-sock) is root's, so root has that as its
        # owner whatever the mode (0666, 0660, 0600) and needs no CAP_DAC_OVERRIDE; the files in
        # /run/vlanwire are root's as well. As root, no AmbientCapabilities=. (`watch --netns`
        # would need CAP_SYS_ADMIN to enter the namespace.)
        CapabilityBoundingSet=CAP_NET_ADMIN
        # AF_UNIX: libvirt's socket; AF_NETLINK: the kernel's links. (A remote --connect, qemu+ssh or
        # qemu+tcp, would need AF_INET AF_INET6.)
        RestrictAddressFamilies=AF_UNIX AF_NETLINK
        SystemCallArchitectures=native
        LockPersonality=yes
        MemoryDenyWriteExecute=yes
        # The kernel loads 8021q and bridge itself when a link needs them, outside this sandbox.
        ProtectKernelModules=yes
        ProtectControlGroups=yes

        [Install]
        WantedBy=multi-user.target

        """
    }

    package func install() throws(HookInstaller.InstallError) -> Result {
        try HookInstaller.checkBinary(binary)
        // ProtectHome= and PrivateTmp= hide these from the service: systemd could not start it.
        for hidden in ["/home/", "/root/", "/run/user/", "/tmp/", "/var/tmp/"] where binary.hasPrefix(hidden) {
            throw HookInstaller.InstallError(
                description:
                    "\(binary.escapedForDisplay) is under \(hidden), which the unit's ProtectHome=/PrivateTmp= hide from the service: install vlanwire elsewhere (/usr/local/bin) and give that path with --binary"
            )
        }
        try HookInstaller.makeDirectory(directory)
        var info = stat()
        if lstat(path, &info) == 0 {
            let existing =
                info.st_mode & S_IFMT == S_IFREG
                ? try? FileAccess.read(path, limit: 1 << 20, followSymlinks: false) : nil
            guard let existing, String(decoding: existing, as: UTF8.self).contains(Self.marker) else {
                throw HookInstaller.InstallError(
                    description:
                        "\(path) exists and is not vlanwire's (no '\(Self.marker)' line): left alone; remove it for install-hook to write its own")
            }
        }
        return Result(path: path, changed: try HookInstaller.writeFile(Array(unit.utf8), to: path, mode: 0o644))
    }
}
