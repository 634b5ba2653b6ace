/**
 * Loads the real `rbd`/`ceph` output captured by test/fixtures/rbd/capture.ts: captures.json (a
 * host) and kernel-captures.json (the storage lab's kernel client, `--kernel`).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FakeReply } from "../../../../src/testing/fake-runner.js";
// Type only: erased at run time, so the capture script does not run.
import type { Capture as Entry } from "../../../fixtures/rbd/capture.js";

const dir = join(import.meta.dirname, "../../../fixtures/rbd");

/** One captured command (see test/fixtures/rbd/README.md). */
export interface Capture {
  readonly name: string;
  readonly program: "rbd" | "ceph";
  readonly as: string;
  readonly args: readonly string[];
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

const manifest = (name: string): Entry[] => (existsSync(join(dir, name)) ? (JSON.parse(readFileSync(join(dir, name), "utf8")) as Entry[]) : []);
const entries = [...manifest("captures.json"), ...manifest("kernel-captures.json")];

/** The capture called `name` (throws when there is none: the fixtures and the tests disagree). */
export function capture(name: string): Capture {
  const e = entries.find((x) => x.name === name);
  if (!e) throw new Error(`no capture named ${name} in test/fixtures/rbd/captures.json`);
  return {
    ...e,
    stdout: e.stdout === undefined ? "" : readFileSync(join(dir, e.stdout), "utf8"),
    stderr: e.stderr === undefined ? "" : readFileSync(join(dir, e.stderr), "utf8"),
  };
}

/** The captured stdout of `name`. */
export function stdoutOf(name: string): string {
  return capture(name).stdout;
}

/** A FakeRunner reply replaying the capture (stdout, stderr, exit code). */
export function replay(name: string): FakeReply {
  const c = capture(name);
  return { stdout: c.stdout, stderr: c.stderr, exitCode: c.exitCode };
}

/** A captured file of test/fixtures/rbd (e.g. `kernel-sysfs-mapped.txt`). */
export function fixtureText(file: string): string {
  return readFileSync(join(dir, file), "utf8");
}

/** Every capture's name. */
export function captureNames(): string[] {
  return entries.map((e) => e.name);
}
