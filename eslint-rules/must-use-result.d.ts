import type { TSESLint } from "@typescript-eslint/utils";

/** `volkit/must-use-result`: every neverthrow Result/ResultAsync must be consumed. */
declare const rule: TSESLint.RuleModule<"unused", []>;
export default rule;
