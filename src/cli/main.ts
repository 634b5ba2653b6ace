#!/usr/bin/env node
/**
 * The `volkit` bin (package.json "bin"; built to dist/cli/main.js). Runs one command line and
 * exits with its code. The volume service is bound here: until `VolumeService` lands, the
 * service-backed commands answer NOT_SUPPORTED (see src/cli/service-like.ts for the interface the
 * binding implements).
 */
import { processEnvironment } from "./cli-env.js";
import { runCli } from "./program.js";
import type { ServiceFactory } from "./service-like.js";

/** The volume service binding; undefined until the service lands. */
const service: ServiceFactory | undefined = undefined;

process.exitCode = await runCli(process.argv.slice(2), processEnvironment(service));
