import { sameTgtTargetFile, type TgtTargetFile } from "./tgt-config-file.js";
import { TGT_VOLUME_LUN } from "./tgt-commands.js";
import type { TgtTarget } from "./tgt-parsers.js";

/**
 * Decides what `createExport` must do, from what tgtd runs, what the target file on disk says and
 * what was asked. Pure, so every branch is unit-tested without a runner.
 */

/** What to do for one export request. */
export type TgtExportPlan =
  /** tgtd and the file already match the request: no command needed. */
  | { readonly kind: "unchanged" }
  /** tgtd matches; only the file is missing or outdated (rewrite it, touch nothing else). */
  | { readonly kind: "write-file"; readonly warning?: string }
  /** (Re)create the target with tgt-admin (it is absent, or has no sessions and differs). */
  | { readonly kind: "apply" }
  /** The target has sessions and differs from the request: changing it would cut them off. */
  | { readonly kind: "busy"; readonly reason: string };

/** How a running target differs from the requested file; empty when it matches. */
export function tgtTargetDifferences(target: TgtTarget, desired: TgtTargetFile): string[] {
  const diffs: string[] = [];
  const lun = target.luns.find((l) => l.lun === TGT_VOLUME_LUN);
  if (!lun) diffs.push(`it has no LUN ${TGT_VOLUME_LUN}`);
  else if (lun.backingStorePath !== desired.backingStore) diffs.push(`LUN ${TGT_VOLUME_LUN} is backed by ${lun.backingStorePath ?? "nothing"}, not ${desired.backingStore}`);
  const incoming = target.accounts.filter((a) => !a.outgoing).map((a) => a.user);
  const wanted = desired.chap ? [desired.chap.username] : [];
  if (incoming.length !== wanted.length || incoming.some((u, i) => u !== wanted[i])) {
    diffs.push(`its CHAP accounts are [${incoming.join(", ")}], not [${wanted.join(", ")}]`);
  }
  if (!target.acl.includes("ALL")) diffs.push(`its initiator ACL is [${target.acl.join(", ")}], not [ALL]`);
  return diffs;
}

/** Plans an export; see {@link TgtExportPlan}. `old` is the parsed target file, if one exists. */
export function planTgtExport(current: TgtTarget | undefined, old: TgtTargetFile | undefined, desired: TgtTargetFile): TgtExportPlan {
  if (!current) return { kind: "apply" };
  const diffs = tgtTargetDifferences(current, desired);
  const inUse = current.sessions.length > 0;
  if (diffs.length > 0) {
    return inUse ? { kind: "busy", reason: diffs.join("; ") } : { kind: "apply" };
  }
  if (old && sameTgtTargetFile(old, desired)) return { kind: "unchanged" };
  // tgtd never shows passwords or the write-cache mode page: the old file is the only record.
  const secretKnown = !desired.chap || (old?.chap?.username === desired.chap.username && old.chap.password === desired.chap.password);
  const cacheSame = !old || old.writeCache === desired.writeCache;
  if (secretKnown && cacheSame) return { kind: "write-file" };
  if (!inUse) return { kind: "apply" };
  if (!old) {
    return { kind: "write-file", warning: "the target file was missing and the target has sessions: its CHAP secret cannot be verified" };
  }
  return { kind: "busy", reason: secretKnown ? "its write cache setting differs" : "its CHAP secret differs" };
}
