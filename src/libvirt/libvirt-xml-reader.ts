import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../core/errors.js";
import { isXmlSafe } from "./libvirt-xml-writer.js";

/**
 * A small, strict XML reader for libvirt documents: elements, attributes, text, comments,
 * processing instructions, CDATA, the five predefined entities and character references.
 * DOCTYPE declarations (and with them any entity expansion) are refused, as are documents over
 * {@link MAX_XML_BYTES} or nested deeper than {@link MAX_XML_DEPTH}. No namespace processing:
 * a prefixed name is just a name.
 */

/** A parsed element. */
export interface XmlNode {
  /** Element name as written. */
  readonly name: string;
  /** Attributes (duplicates are refused). */
  readonly attrs: Readonly<Record<string, string>>;
  /** Child elements in order. */
  readonly children: readonly XmlNode[];
  /** Concatenated text and CDATA directly inside the element, entities decoded. */
  readonly text: string;
}

/** Largest document accepted (libvirt domain XML is a few KiB). */
export const MAX_XML_BYTES = 4 * 1024 * 1024;
/** Deepest nesting accepted. */
export const MAX_XML_DEPTH = 64;

const NAME_START = /[A-Za-z_:]/;
const NAME_CHAR = /[A-Za-z0-9_:.-]/;
const PREDEFINED: ReadonlyMap<string, string> = new Map([
  ["lt", "<"],
  ["gt", ">"],
  ["amp", "&"],
  ["quot", '"'],
  ["apos", "'"],
]);

class Reader {
  pos = 0;
  constructor(readonly s: string) {}

  fail(message: string): VolkitError {
    const before = this.s.slice(0, this.pos);
    const line = before.split("\n").length;
    const column = this.pos - before.lastIndexOf("\n");
    return new VolkitError("PARSE_ERROR", `XML: ${message} at line ${line}, column ${column}`, { source: "libvirt", details: { line, column } });
  }

  startsWith(t: string): boolean {
    return this.s.startsWith(t, this.pos);
  }

  skipSpace(): void {
    while (this.pos < this.s.length && /[ \t\r\n]/.test(this.s[this.pos] ?? "")) this.pos++;
  }

  /** Skips to just after `end`, or fails. */
  skipPast(end: string, what: string): VolkitError | undefined {
    const i = this.s.indexOf(end, this.pos);
    if (i < 0) return this.fail(`unterminated ${what}`);
    this.pos = i + end.length;
    return undefined;
  }

  name(): string | VolkitError {
    const start = this.pos;
    if (!NAME_START.test(this.s[this.pos] ?? "")) return this.fail("expected a name");
    this.pos++;
    while (this.pos < this.s.length && NAME_CHAR.test(this.s[this.pos] ?? "")) this.pos++;
    return this.s.slice(start, this.pos);
  }

  /** Decodes entities in raw text; `<` is refused in attribute values. */
  decode(raw: string, inAttribute: boolean): string | VolkitError {
    if (inAttribute && raw.includes("<")) return this.fail("'<' in an attribute value");
    // Line-end normalization, then (attributes) literal tab/newline → space; character
    // references are decoded afterwards, so `&#10;` stays a newline.
    const lines = raw.replace(/\r\n?/g, "\n");
    const text = inAttribute ? lines.replace(/[\t\n]/g, " ") : lines;
    let out = "";
    let i = 0;
    while (i < text.length) {
      const amp = text.indexOf("&", i);
      if (amp < 0) {
        out += text.slice(i);
        break;
      }
      out += text.slice(i, amp);
      const semi = text.indexOf(";", amp);
      if (semi < 0) return this.fail("unterminated entity reference");
      const ref = text.slice(amp + 1, semi);
      let ch: string | undefined;
      if (/^#[0-9]{1,7}$/.test(ref)) ch = codePoint(Number(ref.slice(1)));
      else if (/^#x[0-9A-Fa-f]{1,6}$/.test(ref)) ch = codePoint(Number.parseInt(ref.slice(2), 16));
      else ch = PREDEFINED.get(ref);
      if (ch === undefined) return this.fail(`unknown or invalid entity '&${ref};'`);
      out += ch;
      i = semi + 1;
    }
    return out;
  }
}

function codePoint(n: number): string | undefined {
  if (n > 0x10ffff) return undefined;
  const ch = String.fromCodePoint(n);
  return isXmlSafe(ch) ? ch : undefined;
}

interface MutableNode {
  name: string;
  attrs: Record<string, string>;
  children: MutableNode[];
  text: string;
}

/** Skips the prolog or epilog: whitespace, comments, processing instructions. */
function skipMisc(r: Reader): VolkitError | undefined {
  for (;;) {
    r.skipSpace();
    if (r.startsWith("<!--")) {
      const e = r.skipPast("-->", "comment");
      if (e) return e;
    } else if (r.startsWith("<?")) {
      const e = r.skipPast("?>", "processing instruction");
      if (e) return e;
    } else if (r.startsWith("<!DOCTYPE") || r.startsWith("<!doctype")) {
      return r.fail("DOCTYPE declarations are not accepted");
    } else {
      return undefined;
    }
  }
}

function parseElement(r: Reader, depth: number): MutableNode | VolkitError {
  if (depth > MAX_XML_DEPTH) return r.fail(`nesting deeper than ${MAX_XML_DEPTH}`);
  r.pos++; // '<'
  const name = r.name();
  if (name instanceof VolkitError) return name;
  // A prototype-less record: an attribute named `__proto__` is just an attribute.
  const node: MutableNode = { name, attrs: Object.create(null) as Record<string, string>, children: [], text: "" };
  for (;;) {
    const hadSpace = /[ \t\r\n]/.test(r.s[r.pos] ?? "");
    r.skipSpace();
    if (r.startsWith("/>")) {
      r.pos += 2;
      return node;
    }
    if (r.startsWith(">")) {
      r.pos++;
      break;
    }
    if (!hadSpace) return r.fail(`expected whitespace, '>' or '/>' in <${name}>`);
    const attr = r.name();
    if (attr instanceof VolkitError) return attr;
    r.skipSpace();
    if (!r.startsWith("=")) return r.fail(`expected '=' after attribute ${attr}`);
    r.pos++;
    r.skipSpace();
    const quote = r.s[r.pos];
    if (quote !== "'" && quote !== '"') return r.fail(`attribute ${attr} value must be quoted`);
    const end = r.s.indexOf(quote, r.pos + 1);
    if (end < 0) return r.fail(`unterminated value of attribute ${attr}`);
    const value = r.decode(r.s.slice(r.pos + 1, end), true);
    if (value instanceof VolkitError) return value;
    if (Object.hasOwn(node.attrs, attr)) return r.fail(`duplicate attribute ${attr} on <${name}>`);
    node.attrs[attr] = value;
    r.pos = end + 1;
  }
  // Content.
  for (;;) {
    if (r.pos >= r.s.length) return r.fail(`<${name}> is not closed`);
    if (r.startsWith("</")) {
      r.pos += 2;
      const close = r.name();
      if (close instanceof VolkitError) return close;
      if (close !== name) return r.fail(`</${close}> closes <${name}>`);
      r.skipSpace();
      if (!r.startsWith(">")) return r.fail(`expected '>' after </${close}`);
      r.pos++;
      return node;
    }
    if (r.startsWith("<!--")) {
      const e = r.skipPast("-->", "comment");
      if (e) return e;
    } else if (r.startsWith("<![CDATA[")) {
      const start = r.pos + 9;
      const e = r.skipPast("]]>", "CDATA section");
      if (e) return e;
      node.text += r.s.slice(start, r.pos - 3);
    } else if (r.startsWith("<?")) {
      const e = r.skipPast("?>", "processing instruction");
      if (e) return e;
    } else if (r.startsWith("<!")) {
      return r.fail("declarations are not accepted inside elements");
    } else if (r.startsWith("<")) {
      const child = parseElement(r, depth + 1);
      if (child instanceof VolkitError) return child;
      node.children.push(child);
    } else {
      const next = r.s.indexOf("<", r.pos);
      const raw = r.s.slice(r.pos, next < 0 ? r.s.length : next);
      if (raw.includes("]]>")) return r.fail("']]>' in text");
      const text = r.decode(raw, false);
      if (text instanceof VolkitError) return text;
      node.text += text;
      r.pos = next < 0 ? r.s.length : next;
    }
  }
}

/**
 * Parses one XML document (or fragment with a single root element) into an {@link XmlNode} tree.
 * Fails with `PARSE_ERROR` naming the line and column of the first problem.
 *
 * @example
 * ```ts
 * const root = parseXml("<target dev='vdb' bus='virtio'/>")._unsafeUnwrap();
 * root.attrs.dev; // "vdb"
 * ```
 */
export function parseXml(xml: string): Result<XmlNode, VolkitError> {
  if (xml.length > MAX_XML_BYTES) return err(new VolkitError("PARSE_ERROR", `XML: document larger than ${MAX_XML_BYTES} characters`, { source: "libvirt" }));
  const r = new Reader(xml.startsWith("\uFEFF") ? xml.slice(1) : xml);
  const bad = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/u.exec(r.s); // eslint-disable-line no-control-regex
  if (bad) {
    r.pos = bad.index;
    return err(r.fail("character XML cannot carry"));
  }
  const e1 = skipMisc(r);
  if (e1) return err(e1);
  if (!r.startsWith("<")) return err(r.fail("expected the root element"));
  const root = parseElement(r, 1);
  if (root instanceof VolkitError) return err(root);
  const e2 = skipMisc(r);
  if (e2) return err(e2);
  if (r.pos < r.s.length) return err(r.fail("content after the root element"));
  return ok(root);
}

/**
 * The first child element named `name`.
 *
 * @example
 * ```ts
 * childNamed(parseXml("<disk><target dev='vdb'/></disk>")._unsafeUnwrap(), "target")?.attrs.dev; // "vdb"
 * ```
 */
export function childNamed(node: XmlNode, name: string): XmlNode | undefined {
  return node.children.find((c) => c.name === name);
}

/**
 * Every child element named `name`.
 *
 * @example
 * ```ts
 * childrenNamed(devicesNode, "disk").length;
 * ```
 */
export function childrenNamed(node: XmlNode, name: string): XmlNode[] {
  return node.children.filter((c) => c.name === name);
}
