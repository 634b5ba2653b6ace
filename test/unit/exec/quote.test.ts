import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { quoteArgv } from "../../../src/exec/quote.js";

const SHELLS = ["/bin/sh", "/bin/dash", "/bin/bash"].filter((s) => existsSync(s));
const scratch = mkdtempSync(join(tmpdir(), "volkit-quote-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** What a real POSIX shell passes to `printf` when it parses the quoted string. */
function parsedBy(shell: string, args: readonly string[]): string[] {
  const line = quoteArgv(["printf", "%s\\0", ...args])._unsafeUnwrap();
  const out = execFileSync(shell, ["-c", line], { encoding: "utf8", cwd: scratch });
  const parts = out.split("\0");
  expect(parts.pop()).toBe("");
  return parts;
}

describe("quoteArgv", () => {
  it("wraps every element in single quotes and joins with spaces", () => {
    expect(quoteArgv(["lvs", "--reportformat", "json"])._unsafeUnwrap()).toBe("'lvs' '--reportformat' 'json'");
  });

  it("turns an embedded single quote into '\\''", () => {
    expect(quoteArgv(["echo", "it's"])._unsafeUnwrap()).toBe(`'echo' 'it'\\''s'`);
    expect(quoteArgv(["'"])._unsafeUnwrap()).toBe(`''\\'''`);
  });

  it("keeps an empty element as an empty argument", () => {
    expect(quoteArgv(["printf", ""])._unsafeUnwrap()).toBe("'printf' ''");
  });

  it("leaves every other character literally inside the quotes", () => {
    const arg = "$(id) `id` ; | & > < * ? ~ \\ \" \n \t ${X} !";
    expect(quoteArgv([arg])._unsafeUnwrap()).toBe(`'${arg}'`);
  });

  it("refuses an empty argv", () => {
    const e = quoteArgv([])._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
  });

  it("refuses a NUL byte without echoing the value", () => {
    const e = quoteArgv(["echo", "top-secret\0value"])._unsafeUnwrapErr();
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.details.argumentIndex).toBe(1);
    expect(JSON.stringify(e.toJSON())).not.toContain("top-secret");
  });

  describe.each(SHELLS)("parsed by %s", (shell) => {
    it("round-trips hostile arguments byte for byte and executes none of them", () => {
      const marker = join(scratch, "injected");
      const args = [
        "",
        " ",
        "-n",
        "--",
        "'",
        "''",
        "'\\''",
        `a'b"c`,
        `$(touch ${marker}-1)`,
        `\`touch ${marker}-2\``,
        `x; touch ${marker}-3`,
        `x && touch ${marker}-4`,
        `x | tee ${marker}-5`,
        `> ${marker}-6`,
        "multi\nline\n",
        "\r\n\t\v\f",
        "$HOME $1 $@ $* $$ ${PATH:-x}",
        "*",
        "~",
        "\\",
        "\\\\'",
        "#",
        "!!",
        "{a,b}",
        "héllo ✓ 🚀",
      ];
      expect(parsedBy(shell, args)).toEqual(args);
      for (let i = 1; i <= 6; i++) expect(existsSync(`${marker}-${i}`)).toBe(false);
    });

    it("round-trips 300 random strings of every byte value except NUL", () => {
      let seed = 42;
      const rand = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const alphabet = [..."'\"\\$`;|&<>(){}[]*?~!# \t\n"].concat(Array.from({ length: 126 }, (_, i) => String.fromCharCode(i + 1)));
      const args = Array.from({ length: 300 }, () => Array.from({ length: rand(20) }, () => alphabet[rand(alphabet.length)]).join(""));
      expect(parsedBy(shell, args)).toEqual(args);
    });
  });
});
