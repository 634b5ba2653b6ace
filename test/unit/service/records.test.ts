import { describe, expect, it } from "vitest";
import { VolkitError } from "../../../src/core/errors.js";
import {
  AttachmentRecordSchema,
  BackendRecordSchema,
  ImageCacheEntrySchema,
  QosSpecsRecordSchema,
  VolumeRecordSchema,
  VolumeTypeRecordSchema,
  volumePoolRef,
} from "../../../src/service/index.js";

describe("service records", () => {
  it("fills Cinder's defaults on a new volume", () => {
    const v = VolumeRecordSchema.parse({ id: "vol-1", sizeGiB: 10 });
    expect(v).toMatchObject({ status: "creating", attachStatus: "detached", bootable: false, multiattach: false, metadata: {}, revision: 1 });
    expect(v.createdAt).toBeInstanceOf(Date);
    expect(volumePoolRef(v)).toBeUndefined();
    expect(volumePoolRef({ backend: "lvm-a", pool: "thin" })).toBe("lvm-a#thin");
  });

  it("accepts times as Date, ISO text or epoch ms, and refuses nonsense", () => {
    const iso = "2026-01-02T03:04:05.000Z";
    for (const t of [new Date(iso), iso, Date.parse(iso)]) expect(VolumeRecordSchema.parse({ id: "v", sizeGiB: 1, createdAt: t }).createdAt.toISOString()).toBe(iso);
    expect(VolumeRecordSchema.safeParse({ id: "v", sizeGiB: 1, createdAt: "yesterday" }).success).toBe(false);
  });

  it("refuses ids, sizes and statuses that are not Cinder's", () => {
    expect(VolumeRecordSchema.safeParse({ id: "../x", sizeGiB: 1 }).success).toBe(false);
    expect(VolumeRecordSchema.safeParse({ id: "v", sizeGiB: 1.5 }).success).toBe(false);
    expect(VolumeRecordSchema.safeParse({ id: "v", sizeGiB: 1, status: "attached" }).success).toBe(false);
    expect(VolumeRecordSchema.safeParse({ id: "v", sizeGiB: 1, source: { kind: "snapshot" } }).success).toBe(false);
    expect(VolumeRecordSchema.parse({ id: "v", sizeGiB: 1, migrationStatus: "target:vol-2" }).migrationStatus).toBe("target:vol-2");
  });

  it("registers providerAuth and connection-info credentials for redaction when parsed", () => {
    VolumeRecordSchema.parse({ id: "v", sizeGiB: 1, providerAuth: "CHAP admin Provider-Auth-Secret-1" });
    const iscsi = {
      type: "iscsi",
      volumeId: "v",
      targetIqn: "iqn.2010-10.org.openstack:v",
      targetPortal: "127.0.0.1:3260",
      targetLun: 0,
      authMethod: "CHAP",
      authUsername: "u",
      authPassword: "Chap-Session-Secret-2",
      discoveryAuthMethod: "CHAP",
      discoveryAuthUsername: "d",
      discoveryAuthPassword: "Chap-Discovery-Secret-3",
    };
    AttachmentRecordSchema.parse({ id: "a", volumeId: "v", host: "h", hostProperties: { host: "h" }, connectionInfo: iscsi });
    const rbd = { type: "rbd", volumeId: "v", pool: "volumes", image: "volume-v", monitors: ["127.0.0.1:6789"], clientId: "cinder", key: "QVFEcmVhbGx5c2VjcmV0Cg==" };
    AttachmentRecordSchema.parse({ id: "b", volumeId: "v", host: "h", hostProperties: { host: "h" }, connectionInfo: rbd });
    const e = new VolkitError("INTERNAL", "leak? CHAP admin Provider-Auth-Secret-1 / Provider-Auth-Secret-1 Chap-Session-Secret-2 Chap-Discovery-Secret-3 QVFEcmVhbGx5c2VjcmV0Cg==");
    expect(e.message).toBe("leak? *** / *** *** *** ***");
  });

  it("needs the attaching host's name in its properties", () => {
    expect(AttachmentRecordSchema.safeParse({ id: "a", volumeId: "v", host: "h", hostProperties: { initiator: "iqn.x" } }).success).toBe(false);
    const a = AttachmentRecordSchema.parse({ id: "a", volumeId: "v", host: "h", hostProperties: { host: "h", multipath: true } });
    expect(a).toMatchObject({ attachStatus: "reserved", attachMode: "rw", purpose: "instance", exportCreated: false, hostProperties: { host: "h", multipath: true } });
    // The host-side parts are the core records: a device outside /dev or bad connection info is refused.
    expect(AttachmentRecordSchema.safeParse({ id: "a", volumeId: "v", host: "h", hostProperties: { host: "h" }, device: { type: "block", path: "/tmp/x" } }).success).toBe(false);
    expect(AttachmentRecordSchema.safeParse({ id: "a", volumeId: "v", host: "h", hostProperties: { host: "h" }, connectionInfo: { type: "iscsi", volumeId: "v" } }).success).toBe(false);
  });

  it("types, QoS specs, backends and cache entries", () => {
    expect(VolumeTypeRecordSchema.parse({ id: "t", name: "ssd", extraSpecs: { "capabilities:disk_type": "ssd" } }).isPublic).toBe(true);
    expect(VolumeTypeRecordSchema.safeParse({ id: "t", name: "ssd", extraSpecs: { "bad key": "x" } }).success).toBe(false);
    expect(QosSpecsRecordSchema.parse({ id: "q", name: "gold" }).consumer).toBe("back-end");
    expect(QosSpecsRecordSchema.safeParse({ id: "q", name: "gold", consumer: "hypervisor" }).success).toBe(false);
    expect(BackendRecordSchema.parse({ name: "lvm-a", driver: "lvm", configHash: "sha256:ab" }).state).toBe("up");
    expect(ImageCacheEntrySchema.safeParse({ id: "c", imageId: "i", imageChecksum: "abc", backend: "b", pool: "p", volumeId: "v", sizeGiB: 1 }).success).toBe(false);
  });
});
