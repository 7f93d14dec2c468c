// A strict checker for the XML subset an SVG file uses (declaration, comments, elements, attributes,
// text with the predefined and numeric entities), so tests can say "well-formed" without a dependency.
// It shares no code with src/demo/svg-chart.ts. It also returns the elements, for questions about them.

export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  /** Names of the enclosing elements, outermost first. */
  readonly ancestors: readonly string[];
  /** The text directly inside it, entities decoded. */
  text: string;
}

const NAME = /^[A-Za-z_:][\w:.-]*/;
const ENTITY = /^&(lt|gt|amp|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/;
const DECODE: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(raw: string, where: number): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '<') throw new Error(`'<' in text or attribute value at ${where + i}`);
    if (c !== '&') { out += c; continue; }
    const m = ENTITY.exec(raw.slice(i));
    if (m === null) throw new Error(`bare '&' at ${where + i}`);
    const e = m[1]!;
    out += DECODE[e] ?? String.fromCodePoint(e.startsWith('#x') ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1)));
    i += m[0].length - 1;
  }
  return out;
}

/** Parses `xml`; throws an Error saying where it is not well-formed. */
export function parseXml(xml: string): XmlElement[] {
  const elements: XmlElement[] = [];
  const open: XmlElement[] = [];
  let roots = 0;
  let i = 0;
  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>');
    if (end === -1) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    const decoded = decodeText(text, i);
    if (open.length === 0 && decoded.trim() !== '') throw new Error(`text outside the root element at ${i}`);
    if (open.length > 0) open.at(-1)!.text += decoded;
    if (lt === -1) break;
    i = lt;
    if (xml.startsWith('<!--', i)) {
      const end = xml.indexOf('-->', i + 4);
      if (end === -1) throw new Error(`unterminated comment at ${i}`);
      i = end + 3;
      continue;
    }
    if (xml.startsWith('</', i)) {
      const name = NAME.exec(xml.slice(i + 2))?.[0];
      const close = xml.indexOf('>', i);
      if (name === undefined || close === -1 || xml.slice(i + 2 + name.length, close).trim() !== '') throw new Error(`bad end tag at ${i}`);
      const top = open.pop();
      if (top?.name !== name) throw new Error(`</${name}> at ${i} closes <${top?.name ?? 'nothing'}>`);
      i = close + 1;
      continue;
    }
    const name = NAME.exec(xml.slice(i + 1))?.[0];
    if (name === undefined) throw new Error(`bad tag at ${i}`);
    if (open.length === 0 && roots++ > 0) throw new Error(`a second root element <${name}> at ${i}`);
    i += 1 + name.length;
    const attributes: Record<string, string> = {};
    for (;;) {
      const ws = /^\s*/.exec(xml.slice(i))![0].length;
      i += ws;
      if (xml.startsWith('/>', i) || xml.startsWith('>', i)) break;
      if (ws === 0) throw new Error(`no space before an attribute at ${i}`);
      const attr = /^([A-Za-z_:][\w:.-]*)\s*=\s*(["'])/.exec(xml.slice(i));
      if (attr === null) throw new Error(`bad attribute at ${i}`);
      const quote = attr[2]!;
      const start = i + attr[0].length;
      const end = xml.indexOf(quote, start);
      if (end === -1) throw new Error(`unterminated attribute value at ${start}`);
      if (Object.hasOwn(attributes, attr[1]!)) throw new Error(`duplicate attribute ${attr[1]} at ${i}`);
      attributes[attr[1]!] = decodeText(xml.slice(start, end), start);
      i = end + 1;
    }
    const element: XmlElement = { name, attributes, ancestors: open.map((e) => e.name), text: '' };
    elements.push(element);
    if (xml.startsWith('/>', i)) {
      i += 2;
    } else {
      open.push(element);
      i += 1;
    }
  }
  if (open.length > 0) throw new Error(`<${open.at(-1)!.name}> is never closed`);
  if (roots !== 1) throw new Error('no root element');
  return elements;
}
