import { describe, expect, it } from "vitest";
import {
  childNamed,
  childrenNamed,
  escapeXmlAttribute,
  escapeXmlText,
  findInvalidXmlChar,
  isXmlSafe,
  MAX_XML_DEPTH,
  parseXml,
  writeXml,
  xmlElement,
  xmlTextElement,
} from "../../../src/libvirt/index.js";

describe("writeXml", () => {
  it("writes nested elements, single-quoted attributes, numbers, and drops undefined attributes and children", () => {
    const tree = xmlElement("disk", [["type", "block"], ["missing", undefined]], [
      xmlElement("source", [["dev", "/dev/sdb"]]),
      undefined,
      xmlElement("boot", [["order", 2]]),
      xmlTextElement("serial", "abc"),
      xmlElement("empty"),
    ]);
    expect(writeXml(tree)._unsafeUnwrap()).toBe(
      "<disk type='block'>\n  <source dev='/dev/sdb'/>\n  <boot order='2'/>\n  <serial>abc</serial>\n  <empty/>\n</disk>\n",
    );
    expect(writeXml(xmlElement("a", [], [xmlElement("b")]), "\t")._unsafeUnwrap()).toBe("<a>\n\t<b/>\n</a>\n");
  });

  it("escapes every special character in attributes and text", () => {
    expect(escapeXmlAttribute(`a'b"c<d>e&f\tg\nh\ri`)).toBe("a&apos;b&quot;c&lt;d&gt;e&amp;f&#9;g&#10;h&#13;i");
    expect(escapeXmlText("a<b>c&d]]>e'f\"g")).toBe("a&lt;b&gt;c&amp;d]]&gt;e'f\"g");
    const out = writeXml(xmlElement("x", [["v", `'"<>&`]], [xmlTextElement("t", "<&>")]))._unsafeUnwrap();
    expect(out).toBe("<x v='&apos;&quot;&lt;&gt;&amp;'>\n  <t>&lt;&amp;&gt;</t>\n</x>\n");
    const back = parseXml(out)._unsafeUnwrap();
    expect(back.attrs.v).toBe(`'"<>&`);
    expect(childNamed(back, "t")?.text).toBe("<&>");
  });

  it("keeps non-ASCII and astral characters as they are", () => {
    const out = writeXml(xmlElement("x", [["v", "é中😀"]]))._unsafeUnwrap();
    expect(out).toBe("<x v='é中😀'/>\n");
    expect(parseXml(out)._unsafeUnwrap().attrs.v).toBe("é中😀");
  });

  it.each([
    ["a NUL", "a\u0000b"],
    ["a C0 control", "a\u0001b"],
    ["a form feed", "a\u000cb"],
    ["a lone high surrogate", "a\ud800b"],
    ["a lone low surrogate", "a\udc00b"],
    ["U+FFFE", "a\ufffeb"],
  ])("refuses %s with INVALID_ARGUMENT naming where", (_what, value) => {
    expect(isXmlSafe(value)).toBe(false);
    expect(findInvalidXmlChar(value)).toBe(1);
    const inAttr = writeXml(xmlElement("disk", [], [xmlElement("source", [["dev", value]])]))._unsafeUnwrapErr();
    expect(inAttr).toMatchObject({ code: "INVALID_ARGUMENT", details: { rule: "xml-characters", where: "disk/source" } });
    expect(inAttr.message).toMatch(/attribute dev of <source> holds a character XML cannot represent \(at index 1\)/);
    expect(writeXml(xmlTextElement("serial", value))._unsafeUnwrapErr().message).toMatch(/text of <serial>/);
  });

  it("refuses bad names and non-integer numbers", () => {
    expect(writeXml(xmlElement("a b"))._unsafeUnwrapErr().message).toMatch(/invalid XML element name 'a b'/);
    expect(writeXml(xmlElement("a", [["x y", "1"]]))._unsafeUnwrapErr().message).toMatch(/invalid XML attribute name 'x y'/);
    expect(writeXml(xmlElement("a", [["n", 1.5]]))._unsafeUnwrapErr().message).toMatch(/not a finite whole number/);
    expect(writeXml(xmlElement("a", [["n", Number.NaN]])).isErr()).toBe(true);
  });

  it("accepts tab, newline and carriage return (escaped) and a surrogate pair", () => {
    expect(isXmlSafe("a\tb\nc\rd😀")).toBe(true);
    expect(findInvalidXmlChar("fine")).toBe(-1);
  });
});

describe("parseXml", () => {
  it("reads declaration, comments, PIs, CDATA, both quote styles, entities and character references", () => {
    const doc = `\uFEFF<?xml version="1.0"?>
<!-- a comment -->
<domain type="kvm" id='1'>
  <?pi data?>
  <name>vm&#45;1&#x41;&lt;&gt;&amp;&quot;&apos;</name>
  <devices><!-- c --><disk a = "1"  b='2' /><disk/></devices>
  <text><![CDATA[<raw & stuff>]]></text>
</domain>
<!-- trailing -->
`;
    const root = parseXml(doc)._unsafeUnwrap();
    expect(root.name).toBe("domain");
    expect(root.attrs).toEqual({ type: "kvm", id: "1" });
    expect(childNamed(root, "name")?.text).toBe(`vm-1A<>&"'`);
    const devices = childNamed(root, "devices");
    expect(devices && childrenNamed(devices, "disk").map((d) => d.attrs)).toEqual([{ a: "1", b: "2" }, {}]);
    expect(childNamed(root, "text")?.text).toBe("<raw & stuff>");
    expect(childNamed(root, "missing")).toBeUndefined();
  });

  it("normalizes literal whitespace in attributes, keeps character references", () => {
    expect(parseXml("<a v='x\ty\r\nz&#10;w'/>")._unsafeUnwrap().attrs.v).toBe("x y z\nw");
    expect(parseXml("<a>x\r\ny\rz</a>")._unsafeUnwrap().text).toBe("x\ny\nz");
  });

  it.each([
    ["an empty document", "", /expected the root element/],
    ["text only", "hello", /expected the root element/],
    ["a DOCTYPE (no entity expansion)", `<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>`, /DOCTYPE declarations are not accepted/],
    ["an unknown entity", "<x>&nbsp;</x>", /unknown or invalid entity '&nbsp;'/],
    ["an unterminated entity", "<x>&amp</x>", /unterminated entity reference/],
    ["an Object.prototype name as entity", "<x>&constructor;</x>", /unknown or invalid entity '&constructor;'/],
    ["__proto__ as entity", "<x>&__proto__;</x>", /unknown or invalid entity/],
    ["a reference to NUL", "<x>&#0;</x>", /unknown or invalid entity/],
    ["a reference past Unicode", "<x>&#x110000;</x>", /unknown or invalid entity/],
    ["a mismatched close", "<a><b></a></b>", /<\/a> closes <b> at line 1/],
    ["an unclosed element", "<a><b/>", /<a> is not closed/],
    ["two roots", "<a/><b/>", /content after the root element/],
    ["text after the root", "<a/>x", /content after the root element/],
    ["an unquoted attribute", "<a v=1/>", /attribute v value must be quoted/],
    ["a duplicate attribute", "<a v='1' v='2'/>", /duplicate attribute v on <a>/],
    ["'<' in an attribute", "<a v='<'/>", /'<' in an attribute value/],
    ["attributes without space", "<a v='1'w='2'/>", /expected whitespace/],
    ["a missing '='", "<a v '1'/>", /expected '=' after attribute v/],
    ["an unterminated comment", "<a><!-- x</a>", /unterminated comment/],
    ["an unterminated CDATA", "<a><![CDATA[x</a>", /unterminated CDATA section/],
    ["']]>' in text", "<a>x]]>y</a>", /']]>' in text/],
    ["a declaration inside an element", "<a><!ENTITY x 'y'></a>", /declarations are not accepted inside elements/],
    ["a control character", "<a>\u0001</a>", /character XML cannot carry at line 1, column 4/],
    ["a bad name", "<1a/>", /expected a name/],
  ])("refuses %s with PARSE_ERROR", (_what, xml, message) => {
    const e = parseXml(xml)._unsafeUnwrapErr();
    expect(e).toMatchObject({ code: "PARSE_ERROR", source: "libvirt" });
    expect(e.message).toMatch(message);
  });

  it("treats __proto__ and constructor as plain attribute names", () => {
    const node = parseXml("<a __proto__='x' constructor='y'/>")._unsafeUnwrap();
    expect(node.attrs.__proto__).toBe("x");
    expect(node.attrs.constructor).toBe("y");
    expect(Object.keys(node.attrs)).toEqual(["__proto__", "constructor"]);
    expect("hasOwnProperty" in parseXml("<a toString='1'/>")._unsafeUnwrap().attrs).toBe(false);
  });

  it("reports line and column", () => {
    const e = parseXml("<a>\n  <b>\n</a>")._unsafeUnwrapErr();
    expect(e.details).toMatchObject({ line: 3 });
  });

  it("refuses nesting deeper than the limit and oversized documents", () => {
    const deep = "<a>".repeat(MAX_XML_DEPTH + 1) + "</a>".repeat(MAX_XML_DEPTH + 1);
    expect(parseXml(deep)._unsafeUnwrapErr().message).toMatch(/nesting deeper than 64/);
    const ok = "<a>".repeat(MAX_XML_DEPTH) + "</a>".repeat(MAX_XML_DEPTH);
    expect(parseXml(ok).isOk()).toBe(true);
    expect(parseXml(`<a>${"x".repeat(4 * 1024 * 1024)}</a>`)._unsafeUnwrapErr().message).toMatch(/larger than/);
  });
});
