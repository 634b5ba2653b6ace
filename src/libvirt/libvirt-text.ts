import { z } from "zod";
import { AbsolutePathSchema, CONTROL_CHARS_MESSAGE, hasControlChar } from "../core/validation.js";
import { isXmlSafe } from "./libvirt-xml-writer.js";

/**
 * Field checks for the strings volkit writes into libvirt XML that no enumeration or pattern of
 * libvirt's schema covers: paths, secret usages, UUIDs.
 */

/** libvirt's `UUID` pattern (with or without dashes). */
export const UUID_PATTERN = /^([a-fA-F0-9]{32}|[a-fA-F0-9]{8}-([a-fA-F0-9]{4}-){3}[a-fA-F0-9]{12})$/;

/** True when `value` holds none of the characters `hasControlChar` refuses (and XML can carry it). */
export function isPlainText(value: string): boolean {
  return !hasControlChar(value) && isXmlSafe(value);
}

const PLAIN_TEXT_MESSAGE = CONTROL_CHARS_MESSAGE;

/**
 * A libvirt secret usage name (`<secret usage=…>`): what `virsh secret-define` was given in
 * `<usage><target>` (iSCSI) or `<usage><name>` (Ceph). No `/` (libvirt looks secrets up by it) and
 * nothing {@link isPlainText} refuses.
 */
export const SecretUsageSchema = z.string().min(1).max(255).regex(/^[^/]+$/, "must not contain '/'").refine(isPlainText, PLAIN_TEXT_MESSAGE);

/**
 * A path the guest's disk is backed by (`<source dev|file=…>`): absolute, no `..`, none of the
 * characters {@link isPlainText} refuses, and never a directory (`/`, or a trailing `/`).
 */
export const DiskSourcePathSchema = AbsolutePathSchema.refine(isPlainText, PLAIN_TEXT_MESSAGE).refine(
  (p) => p !== "/" && !p.endsWith("/"),
  "must name a device or file, not a directory ('/' or a trailing '/')",
);

