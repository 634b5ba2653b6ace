import { RuleTester, type Rule } from "eslint";
import tseslint from "typescript-eslint";
import { describe, it } from "vitest";
import mustUseResult from "../../../eslint-rules/must-use-result.js";

// ESLint's RuleTester runs each case through vitest. The first case starts the TypeScript project
// service, which takes a few seconds on a loaded machine: allow more than vitest's default 5 s.
const CASE_TIMEOUT_MS = 60_000;
RuleTester.describe = describe;
RuleTester.it = (name: string, fn: () => void) => it(name, fn, CASE_TIMEOUT_MS);
RuleTester.itOnly = (name: string, fn: () => void) => it.only(name, fn, CASE_TIMEOUT_MS);

const repoRoot = new URL("../../..", import.meta.url).pathname;

const ruleTester = new RuleTester({
  languageOptions: {
    parser: tseslint.parser,
    parserOptions: {
      // A virtual file outside tsconfig.json, type-checked alone in the default project: fast, and
      // its imports resolve against the real neverthrow declarations in node_modules.
      projectService: { allowDefaultProject: ["eslint-rules/__fixture__.ts"] },
      tsconfigRootDir: repoRoot,
    },
  },
});

const filename = `${repoRoot}eslint-rules/__fixture__.ts`;

const prelude = `
import { ok, err, okAsync, ResultAsync, type Result } from "neverthrow";
declare const r: Result<number, Error>;
declare const resultAsync: ResultAsync<number, Error>;
declare function load(): ResultAsync<string, Error>;
declare function check(n: number): Result<number, string>;
`;

const code = (body: string): { code: string; filename: string } => ({ code: `${prelude}\n${body}`, filename });

const unused = (name: string) => ({ messageId: "unused", data: { name } });

// typescript-eslint's RuleModule is structurally ESLint's; the d.ts describes it with the richer type.
const rule = mustUseResult as unknown as Rule.RuleModule;

ruleTester.run("volkit/must-use-result", rule, {
  valid: [
    code("const x = ok(1);"),
    code("export function f() { return r; }"),
    code("void r;"),
    code("void load();"),
    code("let y: Result<number, Error>; y = ok(2); void y;"),
    code("export async function g() { const res = await resultAsync; return res.isOk(); }"),
    code("r.match((n) => n, () => 0);"),
    code("export const h = () => load().map((s) => s.length);"),
    code("console.log(r);"),
    code("[1, 2].map((n) => check(n));"),
    // Local types that happen to be called Ok/Result are not neverthrow's.
    { code: "class Ok { value = 1; } declare function mine(): Ok; mine();", filename },
    { code: "type Result = { ok: boolean }; declare function theirs(): Result; theirs();", filename },
  ],
  invalid: [
    { ...code("ok(1);"), errors: [unused("Ok")] },
    { ...code("err('x');"), errors: [unused("Err")] },
    { ...code("export async function f() { await resultAsync; }"), errors: [unused("Result")] },
    { ...code("okAsync(1);"), errors: [unused("ResultAsync")] },
    { ...code("load();"), errors: [unused("ResultAsync")] },
    { ...code("check(1);"), errors: [unused("Result")] },
    { ...code("r.map((n) => n + 1);"), errors: [unused("Result")] },
    { ...code("declare const flag: boolean; flag && check(1);"), errors: [unused("Result")] },
    { ...code("declare const flag: boolean; flag ? ok(1) : err('no');"), errors: [{ messageId: "unused" }] },
  ],
});
