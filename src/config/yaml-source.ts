// Reads a YAML config file defensively — bounded size, text only, bounded nesting, no alias bombs — and
// keeps the document, so that every error can point at the line and column of the value it is about.
import {
  CST,
  Lexer,
  LineCounter,
  Parser,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  type Document,
  type Node,
  type Pair,
  type YAMLError,
  type YAMLMap,
} from "yaml";
import { formatPath, type ConfigError, type ConfigPath } from "./errors.js";

/**
 * The largest shipped profile is 10 kB; a rig with 64 series needs about 30 kB. The bound also bounds the
 * time a hostile file takes: yaml needs about two seconds for 128 kB of nothing but syntax errors.
 */
export const MAX_CONFIG_BYTES = 128 * 1024;
/** Profiles nest six levels deep; the YAML composer recurses once per level. */
const MAX_NESTING = 64;
/** yaml's own guard against "billion laughs": how many times aliases may be expanded in all. */
const MAX_ALIAS_COUNT = 100;
const CORE_TAGS = new Set(["str", "int", "float", "bool", "null", "seq", "map"].map((t) => `tag:yaml.org,2002:${t}`));

export interface Position {
  line: number;
  col: number;
}

export interface YamlFile {
  data: unknown;
  /** Where the value at `path` is written; its key for `at: "key"`, and the nearest key when it is missing. */
  locate(path: ConfigPath, at?: "key"): Position;
}

export type ParsedYaml = { ok: true; yaml: YamlFile } | { ok: false; errors: ConfigError[] };

export function parseYaml(bytes: Uint8Array, source: string): ParsedYaml {
  if (bytes.length > MAX_CONFIG_BYTES) {
    return { ok: false, errors: [{ source, path: "", message: tooBig(bytes.length) }] };
  }
  const { text, notUtf8At } = decode(bytes);
  const lines = new LineCounter();
  lines.addNewLine(0);
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lines.addNewLine(i + 1);
  const at = (offset: number, path: ConfigPath, message: string): ConfigError => ({ source, ...lines.linePos(offset), path: formatPath(path), message });

  if (notUtf8At !== undefined) {
    return { ok: false, errors: [at(notUtf8At, [], "expected UTF-8 text, found bytes that are not UTF-8 (is this a binary file?)")] };
  }
  const control = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F\uFFFE\uFFFF]/.exec(text);
  if (control) {
    const code = control[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    return { ok: false, errors: [at(control.index, [], `expected text, found the control character U+${code} (is this a binary file?)`)] };
  }
  const deep = tooDeepAt(text);
  if (deep !== undefined) {
    return { ok: false, errors: [at(deep, [], `expected at most ${MAX_NESTING} levels of nesting, found more`)] };
  }

  // logLevel "error": no process warnings on stderr, but every error (a "silent" parse drops some).
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: false, logLevel: "error" });
  const yamlErrors = [...doc.errors, ...doc.warnings].filter((e) => e.code !== "TAG_RESOLVE_FAILED"); // tags: reported below
  // yaml reports a quote or bracket left open where it gave up — the end of the file, or a later line — so
  // each is reported at its opening instead, and yaml's errors from there on, mostly its aftermath, are dropped.
  const open = yamlErrors.length ? unclosed(text) : [];
  const firstOpen = open[0]?.offset ?? Infinity;
  const syntaxErrorLines = new Set<number>();
  const onOneLine = (node: Node) => lines.linePos(start(node)!).line === lines.linePos(node.range![1]).line;
  const errors = [
    ...[
      ...yamlErrors.filter((e) => e.pos[0] < firstOpen).map((e) => ({ offset: e.pos[0], message: yamlMessage(e), code: e.code })),
      ...open.map((o) => ({ ...o, code: undefined })),
    ].flatMap(({ offset, message, code }) => {
      // One syntax error per line: the parser often reports a single mistake twice. What it built from the
      // broken line is no guide to where the user is, so the path stops before that line (at the string or
      // collection left open, for one of those).
      const { line } = lines.linePos(offset);
      if (syntaxErrorLines.has(line)) return [];
      syntaxErrorLines.add(line);
      const before = code === undefined ? offset + 1 : lines.lineStarts[line - 1]!;
      const path = code === "MULTIPLE_DOCS" ? [] : pathAt(doc, offset, (node, isKey) => start(node)! < before && (!isKey || onOneLine(node)));
      return [at(offset, path, message)];
    }),
    ...unsupported(doc).map(({ node, message }) => {
      const offset = start(node) ?? 0;
      return at(offset, pathAt(doc, offset), message);
    }),
  ];
  if (errors.length) return { ok: false, errors };

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch {
    // The only throw left once unresolved and self-referring aliases are ruled out: too many expansions.
    const offset = start(firstAlias(doc)) ?? 0;
    return {
      ok: false,
      errors: [at(offset, pathAt(doc, offset), `expected aliases that expand at most ${MAX_ALIAS_COUNT} times, found more (an alias bomb?)`)],
    };
  }
  const locator = new Locator(doc);
  return { ok: true, yaml: { data, locate: (path, where) => lines.linePos(locator.offsetOf(path, where)) } };
}

function tooBig(size: number): string {
  return `expected a file of at most ${MAX_CONFIG_BYTES / 1024} KiB, found ${size} bytes`;
}

/** A check of the file's size before it is read at all. */
export function sizeError(source: string, size: number): ConfigError | undefined {
  return size > MAX_CONFIG_BYTES ? { source, path: "", message: tooBig(size) } : undefined;
}

function decode(bytes: Uint8Array): { text: string; notUtf8At?: number } {
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    const text = new TextDecoder("utf-8").decode(bytes);
    return { text, notUtf8At: Math.max(0, text.indexOf("\uFFFD")) };
  }
}

/** Offset at which collections nest deeper than MAX_NESTING, found with the lexer alone (it does not recurse). */
function tooDeepAt(text: string): number | undefined {
  let offset = 0;
  let flow = 0;
  let blockOnLine = 0; // "- - - x" and "? ? x" nest on a single line
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type === "flow-map-start" || type === "flow-seq-start") flow++;
    else if (type === "flow-map-end" || type === "flow-seq-end") flow--;
    else if (type === "seq-item-ind" || type === "explicit-key-ind") blockOnLine++;
    else if (type === "newline") blockOnLine = 0;
    if (flow + blockOnLine > MAX_NESTING) return offset;
    // The lexer's control tokens mark the start of a document, a scalar or a broken flow; they are not in the text.
    if (type !== "doc-mode" && type !== "scalar" && type !== "flow-error-end") offset += token.length;
  }
  return undefined;
}

/**
 * Quoted strings and flow collections (`[`, `{`) left open, by the rules yaml's composer applies to them,
 * in file order: the offset of each opening quote or bracket, with a message. Where one holds another
 * that is open too, only the inner one is given: its missing end took the outer one's.
 */
function unclosed(text: string): { offset: number; message: string }[] {
  const found: { offset: number; message: string }[] = [];
  /** Whether `token` or anything in it is left open. */
  const walk = (token: CST.Token | null | undefined): boolean => {
    if (!token) return false;
    if (token.type === "document") return walk(token.value);
    if (token.type === "single-quoted-scalar" || token.type === "double-quoted-scalar") {
      const quote = token.source[0]!;
      if (token.source.length > 1 && token.source.endsWith(quote)) return false;
      found.push({ offset: token.offset, message: `invalid YAML: expected a closing ${quote} for the string that starts here, found none` });
      return true;
    }
    if (!CST.isCollection(token)) return false;
    let inner = false;
    for (const item of token.items) {
      const [key, value] = [walk(item.key), walk(item.value)];
      inner ||= key || value;
    }
    if (token.type !== "flow-collection") return inner;
    const [close, what] = token.start.source === "{" ? ["}", "mapping"] : ["]", "list"];
    const end = token.end[0];
    if (end?.source === close) return inner;
    if (!inner) {
      const instead = end?.type === "flow-map-end" || end?.type === "flow-seq-end" ? end.source : "none";
      found.push({ offset: token.offset, message: `invalid YAML: expected a ${close} to close the ${what} that starts here, found ${instead}` });
    }
    return true;
  };
  for (const token of new Parser().parse(text)) walk(token);
  return found.sort((a, b) => a.offset - b.offset);
}

function yamlMessage(error: YAMLError): string {
  return error.code === "MULTIPLE_DOCS"
    ? "expected one YAML document, found a second one (after a \"---\" line)"
    : `invalid YAML: ${error.message}`;
}

/** YAML that parses but that a profile has no use for, and that would otherwise turn into strange values. */
function unsupported(doc: Document): { node: Node; message: string }[] {
  const found: { node: Node; message: string }[] = [];
  const anchors = new Set<string>();
  // One visitor for every node: yaml calls only the most specific visitor a node has.
  visit(doc, {
    Node(_, node, ancestors) {
      if (node.tag !== undefined && !CORE_TAGS.has(node.tag)) {
        found.push({ node, message: `expected no YAML tags but core ones such as !!str, found ${node.tag.replace("tag:yaml.org,2002:", "!!")}` });
      }
      if (isMap(node)) found.push(...keyProblems(node));
      if (isAlias(node)) {
        if (!anchors.has(node.source)) {
          found.push({ node, message: `expected an alias to an anchor defined above it, found *${node.source}` });
        } else if (ancestors.some((a) => isNode(a) && a.anchor === node.source)) {
          found.push({ node, message: `expected an alias outside the node it refers to, found *${node.source} inside &${node.source}` });
        }
      } else if (node.anchor) {
        anchors.add(node.anchor);
      }
    },
  });
  return found;
}

/** Keys that are lists or mappings, and keys written twice (yaml's own check compares every key with every other). */
function keyProblems(map: YAMLMap): { node: Node; message: string }[] {
  const found: { node: Node; message: string }[] = [];
  const keys = new Set<string>();
  for (const { key } of map.items as Pair[]) {
    if (!isNode(key)) continue;
    const name = keyOf(key);
    if (name === undefined) found.push({ node: key, message: "expected a plain key, found a list or mapping used as a key" });
    else if (keys.has(name)) found.push({ node: key, message: `expected each key once in a mapping, found ${JSON.stringify(name)} again` });
    else keys.add(name);
  }
  return found;
}

function firstAlias(doc: Document): Node | undefined {
  let alias: Node | undefined;
  visit(doc, {
    Alias(_, node) {
      alias = node;
      return visit.BREAK;
    },
  });
  return alias;
}

/** The key under which a scalar key appears in the parsed data (as yaml's toJS stringifies it). */
function keyOf(key: unknown): string | undefined {
  if (!isScalar(key)) return undefined;
  return key.value === null ? "" : String(key.value);
}

/** Whether `offset` is within the node's value (not the comments and blank lines after it). */
function contains(node: unknown, offset: number): boolean {
  return isNode(node) && node.range !== undefined && node.range !== null && node.range[0] <= offset && offset <= node.range[1];
}

/** The path of the innermost value written at `offset`, through the keys and items `trusted` accepts. */
function pathAt(doc: Document, offset: number, trusted: (node: Node, isKey: boolean) => boolean = () => true): ConfigPath {
  const path: (string | number)[] = [];
  let node: unknown = doc.contents;
  for (;;) {
    if (isMap(node)) {
      const pairs = node.items as Pair[];
      const pair = pairs[lastStartingBefore(pairs, offset, (p) => start(p.key) ?? start(p.value))];
      const key = keyOf(pair?.key);
      if (pair === undefined || key === undefined || !(contains(pair.key, offset) || contains(pair.value, offset))) return path;
      if (!trusted(pair.key as Node, true)) return path;
      path.push(key);
      node = pair.value;
    } else if (isSeq(node)) {
      const index = lastStartingBefore(node.items, offset, start);
      if (index < 0 || !contains(node.items[index], offset) || !trusted(node.items[index] as Node, false)) return path;
      path.push(index);
      node = node.items[index];
    } else {
      return path;
    }
  }
}

/** Index of the last item that starts at or before `offset` (items are in file order), or -1. */
function lastStartingBefore<T>(items: readonly T[], offset: number, startOf: (item: T) => number | undefined): number {
  let [low, high] = [0, items.length];
  while (low < high) {
    const middle = (low + high) >> 1;
    if ((startOf(items[middle]!) ?? Infinity) <= offset) low = middle + 1;
    else high = middle;
  }
  return low - 1;
}

/** Finds where a path's value is written; indexes each mapping's keys on first use, as a file can have thousands of errors. */
class Locator {
  private readonly pairs = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(private readonly doc: Document) {}

  offsetOf(path: ConfigPath, at?: "key"): number {
    let node: unknown = this.doc.contents;
    let key: unknown; // the key of the pair whose value `node` is, if it is one
    for (const segment of path) {
      const here = isAlias(node) ? node.resolve(this.doc) : node;
      let next: unknown;
      let nextKey: unknown;
      if (isMap(here)) {
        const pair = this.pairOf(here, String(segment));
        [next, nextKey] = [pair?.value, pair?.key];
      } else if (isSeq(here) && typeof segment === "number") {
        next = here.items[segment];
      }
      if (!isNode(next)) return start(nextKey) ?? start(key) ?? start(here) ?? 0; // missing: point at the nearest key
      [node, key] = [next, nextKey];
    }
    const empty = isScalar(node) && node.value === null && node.range?.[0] === node.range?.[1];
    if ((at === "key" || empty) && start(key) !== undefined) return start(key)!;
    return start(node) ?? 0;
  }

  private pairOf(map: YAMLMap, key: string): Pair | undefined {
    let index = this.pairs.get(map);
    if (!index) {
      index = new Map();
      for (const pair of map.items as Pair[]) {
        const k = keyOf(pair.key);
        if (k !== undefined) index.set(k, pair);
      }
      this.pairs.set(map, index);
    }
    return index.get(key);
  }
}

function start(node: unknown): number | undefined {
  return isNode(node) && node.range ? node.range[0] : undefined;
}
