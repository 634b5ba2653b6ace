/**
 * Colours for human output, only where a person reads them: the stream is a terminal, `NO_COLOR`
 * is unset or empty (https://no-color.org) and `TERM` is not `dumb`. `FORCE_COLOR` (non-empty,
 * not `0`) turns them on anyway, for tools that capture a terminal's output. JSON output is never
 * coloured.
 */

/** The part of a stream the colour decision reads. */
export interface ColourTarget {
  /** True when the stream is a terminal. */
  readonly isTTY?: boolean;
}

/** Whether text written to `stream` should carry ANSI colours. */
export function shouldColour(stream: ColourTarget, env: Readonly<Record<string, string | undefined>>): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== "" && force !== "0") return true;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

/** The styles human output uses. */
export type Style = "ok" | "warn" | "bad" | "dim" | "bold" | "accent";

/**
 * SGR open and close codes of each style. Written out rather than `util.styleText`, whose own
 * terminal check differs between Node 20 releases: the decision here is {@link shouldColour}'s.
 */
const SGR: { readonly [S in Style]: readonly [number, number] } = {
  ok: [32, 39],
  warn: [33, 39],
  bad: [31, 39],
  dim: [2, 22],
  bold: [1, 22],
  accent: [36, 39],
};

/** Applies styles, or returns the text as it is when colours are off. */
export interface Painter {
  /** Whether colours are on. */
  readonly enabled: boolean;
  /** `text` in `style` (unchanged when colours are off). */
  paint(style: Style, text: string): string;
}

/** A {@link Painter} for a stream. */
export function painterFor(stream: ColourTarget, env: Readonly<Record<string, string | undefined>>): Painter {
  const enabled = shouldColour(stream, env);
  return { enabled, paint: (style, text) => (enabled ? `\u001b[${SGR[style][0]}m${text}\u001b[${SGR[style][1]}m` : text) };
}
