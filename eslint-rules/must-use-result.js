/**
 * `volkit/must-use-result`: every neverthrow `Result`, `Ok`, `Err` or `ResultAsync` must be
 * consumed. An expression statement whose value is one of them (a bare `ok(1);`, a discarded
 * `ctx.phase(…);`, an `await resultAsync;` whose `Result` is thrown away) is reported. Assigning,
 * returning, passing on, or an explicit `void expr;` are fine.
 *
 * Replaces eslint-plugin-neverthrow (1.1.4, unmaintained, broken on ESLint 9). Needs type
 * information (`parserOptions.projectService`).
 */
import { ESLintUtils } from "@typescript-eslint/utils";

/** Class or alias names neverthrow uses for results. */
const RESULT_NAMES = new Set(["Result", "Ok", "Err", "ResultAsync"]);

/** A declaration file of the neverthrow package (npm, pnpm and yarn layouts). */
const NEVERTHROW_FILE = /[\\/]node_modules[\\/]neverthrow[\\/].*\.d\.[cm]?ts$/;

/**
 * @param {import("typescript").Symbol | undefined} symbol
 * @returns {boolean}
 */
function isNeverthrowResultSymbol(symbol) {
  if (!symbol || !RESULT_NAMES.has(symbol.getName())) return false;
  return (symbol.getDeclarations() ?? []).some((d) => NEVERTHROW_FILE.test(d.getSourceFile().fileName));
}

/**
 * The neverthrow type name found in `type` (or one member of its union), if any.
 *
 * @param {import("typescript").Type} type
 * @returns {string | undefined}
 */
function resultTypeName(type) {
  if (isNeverthrowResultSymbol(type.aliasSymbol)) return type.aliasSymbol?.getName();
  const parts = type.isUnion() ? type.types : [type];
  /** @type {Set<string>} */
  const found = new Set();
  for (const part of parts) {
    for (const symbol of [part.getSymbol(), part.aliasSymbol]) {
      if (symbol && isNeverthrowResultSymbol(symbol)) found.add(symbol.getName());
    }
  }
  // `cond && check()` is `false | Ok | Err`: the union lost its alias, but it is still a Result.
  if (found.has("Ok") && found.has("Err")) return "Result";
  return found.values().next().value;
}

/** @type {import("@typescript-eslint/utils").TSESLint.RuleModule<"unused", []>} */
const rule = {
  meta: {
    type: "problem",
    docs: {
      description: "Require every neverthrow Result/ResultAsync to be consumed (assigned, returned, passed on, or discarded with `void`).",
    },
    messages: {
      unused:
        "This {{name}} is discarded, so its error is lost. Handle it (match/map/orElse), return or assign it, or discard it explicitly with `void`.",
    },
    schema: [],
  },
  defaultOptions: [],
  create(context) {
    const services = ESLintUtils.getParserServices(context);
    return {
      ExpressionStatement(node) {
        const expression = node.expression;
        // `x = ok(1)` has the Result's type but stores it; `void r` is the explicit discard.
        if (expression.type === "AssignmentExpression") return;
        if (expression.type === "UnaryExpression" && expression.operator === "void") return;
        const name = resultTypeName(services.getTypeAtLocation(expression));
        if (name !== undefined) context.report({ node, messageId: "unused", data: { name } });
      },
    };
  },
};

export default rule;
