import { err, ok, type Result } from "neverthrow";
import { VolkitError } from "../core/errors.js";

/**
 * A tiny XML writer for the libvirt documents volkit emits: elements, attributes and text, every
 * value escaped, no dependency. Attribute values use single quotes, as libvirt writes them.
 */

/** One attribute; `undefined` values are left out, numbers are written in decimal. */
export type XmlAttribute = readonly [name: string, value: string | number | undefined];

/** An element to write. Text and children are exclusive in what volkit writes (no mixed content). */
export interface XmlElement {
  /** Element name, e.g. `disk`. */
  readonly name: string;
  /** Attributes in the order they are written. */
  readonly attrs?: readonly XmlAttribute[];
  /** Child elements. */
  readonly children?: readonly XmlElement[];
  /** Text content (escaped on output). */
  readonly text?: string;
}

/**
 * Builds an {@link XmlElement}; `undefined` children are dropped so optional parts read naturally.
 *
 * @example
 * ```ts
 * const target = xmlElement("target", [["dev", "vdb"], ["bus", "virtio"]]);
 * ```
 */
export function xmlElement(name: string, attrs: readonly XmlAttribute[] = [], children: ReadonlyArray<XmlElement | undefined> = []): XmlElement {
  return { name, attrs, children: children.filter((c): c is XmlElement => c !== undefined) };
}

/**
 * Builds an element holding only text.
 *
 * @example
 * ```ts
 * xmlTextElement("serial", "vol-1"); // <serial>vol-1</serial>
 * ```
 */
export function xmlTextElement(name: string, text: string): XmlElement {
  return { name, text };
}

/**
 * Characters XML 1.0 cannot carry at all, not even as a character reference: C0 controls other
 * than tab/newline/return, lone surrogates, U+FFFE and U+FFFF.
 */
// With the `u` flag a well-formed surrogate pair is one code point, so the range below only
// matches lone surrogates.
// eslint-disable-next-line no-control-regex
const INVALID_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uD800-\uDFFF\uFFFE\uFFFF]/u;

/**
 * Index of the first character XML 1.0 cannot represent, or -1.
 *
 * @example
 * ```ts
 * findInvalidXmlChar("/dev/sd\u0000b"); // 7
 * ```
 */
export function findInvalidXmlChar(value: string): number {
  const m = INVALID_XML_CHAR.exec(value);
  return m ? m.index : -1;
}

/**
 * True when `value` can be written into an XML 1.0 document (after escaping).
 *
 * @example
 * ```ts
 * isXmlSafe(`it's <fine> & "ok"`); // true
 * isXmlSafe("bell\u0007");         // false
 * ```
 */
export function isXmlSafe(value: string): boolean {
  return findInvalidXmlChar(value) === -1;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * Escapes an attribute value for either quote style: `& < > " '` become entities and tab, newline
 * and carriage return become character references (a literal one would be normalized to a space
 * by every XML parser).
 *
 * @example
 * ```ts
 * escapeXmlAttribute(`/srv/it's "a" <vol> & co`); // "/srv/it&apos;s &quot;a&quot; &lt;vol&gt; &amp; co"
 * ```
 */
export function escapeXmlAttribute(value: string): string {
  return value.replace(/[&<>"'\t\n\r]/g, (c) => ATTRIBUTE_ENTITIES[c] ?? c);
}

/**
 * Escapes text content: `& < >` become entities (`>` too, so `]]>` can never appear) and a
 * carriage return a character reference.
 *
 * @example
 * ```ts
 * escapeXmlText("a<b & c"); // "a&lt;b &amp; c"
 * ```
 */
export function escapeXmlText(value: string): string {
  return value.replace(/[&<>\r]/g, (c) => ATTRIBUTE_ENTITIES[c] ?? c);
}

const ATTRIBUTE_ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

function invalid(message: string, where: string): VolkitError {
  return new VolkitError("INVALID_ARGUMENT", message, { source: "libvirt", details: { rule: "xml-characters", where } });
}

/**
 * Writes `root` as an indented XML fragment (no XML declaration), one element per line.
 * Fails with `INVALID_ARGUMENT` when a name is not a plain XML name or a value holds a character
 * XML cannot represent (a NUL, other C0 controls, a lone surrogate).
 *
 * @example
 * ```ts
 * writeXml(xmlElement("source", [["dev", "/dev/sdb"]]))._unsafeUnwrap(); // "<source dev='/dev/sdb'/>\n"
 * ```
 */
export function writeXml(root: XmlElement, indent = "  "): Result<string, VolkitError> {
  const lines: string[] = [];
  const visit = (node: XmlElement, depth: number, path: string): VolkitError | undefined => {
    const where = path === "" ? node.name : `${path}/${node.name}`;
    if (!NAME.test(node.name)) return invalid(`invalid XML element name '${node.name}'`, where);
    let open = `${indent.repeat(depth)}<${node.name}`;
    for (const [name, value] of node.attrs ?? []) {
      if (value === undefined) continue;
      if (!NAME.test(name)) return invalid(`invalid XML attribute name '${name}' on <${node.name}>`, where);
      const text = typeof value === "number" ? numberText(value) : value;
      if (text === undefined) return invalid(`attribute ${name} of <${node.name}> is not a finite whole number`, where);
      if (!isXmlSafe(text)) return invalid(`attribute ${name} of <${node.name}> holds a character XML cannot represent (at index ${findInvalidXmlChar(text)})`, where);
      open += ` ${name}='${escapeXmlAttribute(text)}'`;
    }
    const children = node.children ?? [];
    if (node.text !== undefined) {
      if (!isXmlSafe(node.text)) return invalid(`text of <${node.name}> holds a character XML cannot represent (at index ${findInvalidXmlChar(node.text)})`, where);
      lines.push(`${open}>${escapeXmlText(node.text)}</${node.name}>`);
      return undefined;
    }
    if (children.length === 0) {
      lines.push(`${open}/>`);
      return undefined;
    }
    lines.push(`${open}>`);
    for (const child of children) {
      const e = visit(child, depth + 1, where);
      if (e) return e;
    }
    lines.push(`${indent.repeat(depth)}</${node.name}>`);
    return undefined;
  };
  const e = visit(root, 0, "");
  return e ? err(e) : ok(`${lines.join("\n")}\n`);
}

function numberText(value: number): string | undefined {
  return Number.isSafeInteger(value) ? String(value) : undefined;
}
