/** The NFS driver in the hostile-input suite. */
import { createNfsDriver } from "../../../../src/drivers/nfs/index.js";
import { wrapDriver } from "../../../../src/drivers/backend.js";
import { LocalDirectoryMounts } from "../../../../src/remotefs/local-directory-mounts.js";
import { FakeShares } from "../../drivers/nfs/fake-share.js";
import { HOSTILE_PATHS, HOSTILE_SHARES, HOSTILE_TEXT } from "../hostile.js";
import { HOSTILE_ROOT_HELPERS, NUMBERS, type DriverCase, type DriverVariant } from "./driver-case.js";

const NFS_SHARE = "10.0.0.5:/export/a";
const NFS_DIR = "/mnt/s1";

const nfs: DriverVariant = {
  label: "nfs",
  config: { driver: "nfs", shares: [NFS_SHARE] },
  unservableIds: [],
  // The NFS driver keeps no credential; the planted secret rides in the record's providerAuth.
  volume: (secret) => ({ id: "aaaa", sizeGiB: 1, providerLocation: NFS_SHARE, providerAuth: `CHAP user-aaaa ${secret}` }),
  world: (wrap, sinks) => {
    const shares = new FakeShares([NFS_DIR]);
    shares.put(`${NFS_DIR}/volume-aaaa`, { kind: "image", format: "raw", size: 1024 ** 3 });
    const runner = wrap(shares.runner);
    const mounts = new LocalDirectoryMounts({ runner, directories: { [NFS_SHARE]: NFS_DIR } });
    const driver = createNfsDriver({ driver: "nfs", shares: [NFS_SHARE] }, { runner, mounts })._unsafeUnwrap();
    return Promise.resolve({ backend: wrapDriver(driver, { logger: sinks.logger, events: sinks.events }) });
  },
};

/** How the suite drives the NFS driver. */
export const NFS_CASE: DriverCase = {
  variants: [nfs],
  configFields: [
    { path: "shares.0", values: HOSTILE_SHARES },
    { path: "shares.0.options", values: [["exec", "exec"], ["suid after a comma", "vers=3,suid"], ["a second -o", "vers=3 -o exec"], ["a newline", "vers=3\nexec"], ["NUL", "vers=3\u0000"]], base: { driver: "nfs", shares: [{ share: NFS_SHARE, options: "vers=3" }] } },
    { path: "sharesConfig", values: [["a dashed share", "-o exec\n"], ["a share with ..", "10.0.0.5:/a/../b\n"], ["smuggled options", `${NFS_SHARE} -o vers=3,exec\n`], ["NUL", `${NFS_SHARE}\u0000\n`], ["an override", `${NFS_SHARE}\u202e\n`]] },
    { path: "mountPointBase", values: HOSTILE_PATHS.filter(([l]) => l !== "root") },
    { path: "mountOptions", values: [["exec", "exec"], ["an option", "-o exec"], ["a newline", "vers=3\nexec"]] },
    { path: "nfsVersions.0", values: [["an unknown version", "5"], ["an option", "--help"]] },
    { path: "mountAttempts", values: NUMBERS },
    { path: "mountTimeoutMs", values: NUMBERS },
    { path: "rootHelper", values: HOSTILE_ROOT_HELPERS },
    { path: "backendName", values: HOSTILE_TEXT },
  ],
};
