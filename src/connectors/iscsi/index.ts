/**
 * The iSCSI connector (`volkit/connectors/iscsi`): attaches iSCSI volumes on this host with
 * open-iscsi and dm-multipath, the way os-brick does, minus its pain points — logins to every
 * portal in parallel, per-session locks instead of one host-wide lock, devices found through
 * sysfs with a scan of only the volume's LUN, a multipath map verified before it is handed out,
 * typed errors (`AUTH_FAILED` "CHAP rejected by target … at …", `LOGIN_FAILED`,
 * `DEVICE_NOT_FOUND`, `DETACH_INCOMPLETE`…), a failed connect undone, and a disconnect report of
 * anything left behind.
 *
 * Needs root (or a runner with a root helper) for iscsiadm, multipath and the sysfs writes, and
 * runs on the host that attaches (sysfs is read with `node:fs`, see `HostFs`).
 *
 * @example
 * ```ts
 * import { createIscsiConnector } from "volkit/connectors/iscsi";
 * const iscsi = createIscsiConnector({ multipath: true, enforceMultipath: true })._unsafeUnwrap();
 * const dev = await iscsi.connectVolume(info, { deadline: Date.now() + 120_000 });
 * if (dev.isErr() && dev.error.code === "AUTH_FAILED") console.error(dev.error.message);
 * ```
 *
 * @packageDocumentation
 */
export { IscsiConnector, createIscsiConnector, type IscsiConnectorDeps } from "./iscsi-connector.js";
export { IscsiConnectorConfigSchema, type IscsiConnectorConfig, type ParsedIscsiConnectorConfig } from "./iscsi-config.js";
export { ISCSIADM_EXIT, ISCSIADM_OUTCOMES, classifyIscsiadmError, type ExitOutcome, type IscsiadmWhere } from "./iscsi-errors.js";
export * from "./iscsi-parsers.js";
export { listIscsiSessions, sessionLuns, findSessionLun, scanSessionLun, sessionMatches, type IscsiSession, type SessionLun } from "./iscsi-sysfs.js";
export { pathTargets, resolveWithSystem, type IscsiPathTarget, type ResolveHost } from "./iscsi-plan.js";
