/**
 * The shape of a driver's entry in the hostile-input suite (see ../driver-cases.ts) and what the
 * entries share: hostile root helpers and numbers, a command router.
 */
import type { CommandRunner, CommandSpec } from "../../../../src/exec/runner.js";
import type { VolumeBackend } from "../../../../src/drivers/backend.js";
import type { VolumeInput } from "../../../../src/core/records.js";
import { HOSTILE_SIZES, type Hostile, type Sinks } from "../hostile.js";

/** A scripted world in which the suite's valid calls succeed. */
export interface DriverWorld {
  /** The backend, built on the world's runner as wrapped by the test (to inject failures). */
  readonly backend: VolumeBackend;
  /** The existing volume when the world made it (its record is the world's, e.g. an array LUN id). */
  readonly volume?: VolumeInput;
  /**
   * For drivers that talk to their backend over a protocol rather than through commands (a REST
   * API): the requests of the world, to fail one at a time as the runner's commands are.
   */
  readonly requests?: WorldRequests;
  /** Releases what the world holds (a simulator's listeners). */
  readonly close?: () => Promise<void>;
}

/** Failure injection at the world's requests (counted from the end of the world's set-up). */
export interface WorldRequests {
  /** Requests handled since the world was set up. */
  readonly count: () => number;
  /** Ways one request can fail, each echoing the secret in the backend's own error text. */
  readonly modes: readonly string[];
  /** Makes request number `index` (0-based, from now) fail in mode `mode`, quoting `secret`. */
  readonly failAt: (index: number, mode: string, secret: string) => void;
}

/** One way a driver runs. */
export interface DriverVariant {
  /** Human-readable label (`lvm with LIO`). */
  readonly label: string;
  /** A valid config for `createBackend`. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Valid ids (by `IdSchema`) this variant's `idRule` refuses. */
  readonly unservableIds: readonly Hostile[];
  /**
   * The secret planted for the secret-leak tests when the suite's own cannot serve (a Ceph key, a
   * 12-16 character array CHAP secret): it goes into the world's config.
   */
  readonly secret?: string;
  /**
   * Runtime operations this variant serves without a command or a request (the IP-SAN driver's
   * exports: the array maps at initializeConnection). The secret-leak tests check that a clean
   * run of each makes none, so there is nothing to fail.
   */
  readonly untouched?: readonly string[];
  /** An existing volume of the world, carrying the planted secret where the driver keeps one. */
  readonly volume: (secret: string) => VolumeInput;
  /** Builds the world on `wrap(runner)` with the sinks' logger and events. */
  readonly world: (wrap: (inner: CommandRunner) => CommandRunner, sinks: Sinks, secret: string) => Promise<DriverWorld>;
}

/** A config field and the hostile values it must refuse. */
export interface ConfigPoison {
  /** Dot path in the config (`target.portals.0`). */
  readonly path: string;
  /** Values to refuse. */
  readonly values: readonly Hostile[];
}

/** How the suite drives one registered driver. */
export interface DriverCase {
  /** Variants of a valid config. */
  readonly variants: readonly DriverVariant[];
  /** Config fields to poison, each against a valid config of the first variant (or `base`). */
  readonly configFields: readonly (ConfigPoison & { readonly base?: Readonly<Record<string, unknown>> })[];
}

/** Root helpers a config must never accept (issue 14, defect 5). */
export const HOSTILE_ROOT_HELPERS: readonly Hostile[] = [
  ["a shell", ["sh", "-c"]],
  ["env with LD_PRELOAD", ["env", "LD_PRELOAD=/tmp/x.so"]],
  ["a bare option", ["--help"]],
  ["sudo with a shell", ["sudo", "-s"]],
  ["sudo preserving the environment", ["sudo", "-E"]],
  ["sudo then a shell", ["sudo", "-n", "--", "sh"]],
  ["a relative sudo", ["./sudo", "-n"]],
  ["sudo in /tmp", ["/tmp/sudo"]],
  ["an element with a space", ["sudo -n"]],
  ["a NUL", ["sudo\u0000", "-n"]],
  ["not an array", "sudo -n"],
];

export const NUMBERS: readonly Hostile[] = HOSTILE_SIZES.filter(([label]) => label !== "zero");

/** Routes each command to the first runner whose predicate accepts its argv. */
export function route(...routes: readonly (readonly [(argv: readonly string[]) => boolean, CommandRunner])[]): CommandRunner {
  return {
    description: "routed fake",
    run: (spec: CommandSpec) => {
      const found = routes.find(([accepts]) => accepts(spec.argv));
      return (found?.[1] ?? (routes.at(-1) as readonly [unknown, CommandRunner])[1]).run(spec);
    },
  };
}

