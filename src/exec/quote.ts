import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../core/errors.js";

/**
 * Turns an argv into ONE string for a POSIX shell (`sh`, `dash`, `bash`, `ksh`, `zsh`) such that the
 * shell hands every element to the program unchanged: each element is wrapped in single quotes and
 * every single quote inside it becomes `'\''` (close, escaped quote, reopen). Inside single quotes a
 * POSIX shell interprets nothing — not `$`, `` ` ``, `\`, `;`, `|`, `*`, newlines or spaces — so no
 * value can inject a command. An empty element becomes `''` and stays an (empty) argument.
 *
 * This is the only place in volkit that builds a command line string; it exists because SSH sends
 * one string that the remote login shell parses (see `createSshRunner`). Everything else passes argv
 * arrays. The remote login shell must be POSIX-compatible (not `csh`/`fish`).
 *
 * Fails with `INVALID_ARGUMENT` for an empty argv or an element containing a NUL byte (no process
 * can receive one). The offending value is never echoed: it may be a secret.
 *
 * @example
 * ```ts
 * quoteArgv(["echo", "it's $(here)"]); // ok("'echo' 'it'\\''s $(here)'")
 * ```
 */
export function quoteArgv(argv: readonly string[]): Result<string, VolkitError> {
  if (argv.length === 0) {
    return err(new VolkitError("INVALID_ARGUMENT", "cannot quote an empty argv", { source: "exec" }));
  }
  const quoted: string[] = [];
  for (const [index, arg] of argv.entries()) {
    if (arg.includes("\0")) {
      return err(
        new VolkitError("INVALID_ARGUMENT", `argument ${index} contains a NUL byte, which no command can receive`, {
          source: "exec",
          details: { argumentIndex: index },
        }),
      );
    }
    quoted.push(`'${arg.replaceAll("'", `'\\''`)}'`);
  }
  return ok(quoted.join(" "));
}
