// Loading: config text (YAML, or JSON — a YAML subset — through the same parser) → validated Config. The
// document tree is kept with its source ranges, so every issue, syntax or schema, maps to file:line:column.
// On any error nothing is returned: ConfigError carries every diagnostic, sorted by position.
import { readFile } from 'node:fs/promises';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { ConfigError, formatPath, sortDiagnostics, type ConfigIssue, type Diagnostic } from './diagnostics.ts';
import { validateConfig, type Config } from './schema.ts';

/** yaml's own guard against alias bombs ("billion laughs"), made explicit. */
const maxAliasCount = 100;

function lowerFirst(text: string): string {
  return text.length === 0 ? text : text[0].toLowerCase() + text.slice(1);
}

function resolve(node: unknown, doc: Document): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function start(node: unknown): number | undefined {
  return (node as Node | null)?.range?.[0] ?? undefined;
}

/** The text of the map key that starts at `offset`, if any (to name a duplicate key). */
function keyAt(doc: Document, offset: number): string | undefined {
  let key: string | undefined;
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) {
        key = String(pair.key.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return key;
}

/** The source offset an issue points at: the value, the key naming it, or the object it is missing from. */
function locate(doc: Document, issue: ConfigIssue): number {
  let node = resolve(doc.contents, doc);
  let offset = start(node) ?? 0;
  let keyOffset: number | undefined;
  for (const segment of issue.path) {
    let next: unknown;
    let nextKeyOffset: number | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) => String(isScalar(p.key) ? p.key.value : p.key) === String(segment));
      if (pair === undefined) return offset;
      next = pair.value;
      nextKeyOffset = start(pair.key);
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      next = node.items[segment];
    } else {
      return offset;
    }
    keyOffset = nextKeyOffset;
    node = resolve(next, doc);
    // An empty value (`routes:`) has an empty range just after the colon: point at its key instead.
    const range = (node as Node | null)?.range;
    const empty = range == null || (isScalar(node) && node.value === null && range[0] === range[1]);
    offset = empty && keyOffset !== undefined ? keyOffset : (start(node) ?? keyOffset ?? offset);
  }
  if (issue.at === 'key' && keyOffset !== undefined) return keyOffset;
  return offset;
}

/** Parses and validates config text; `file` names it in diagnostics. Throws ConfigError listing every error. */
export function parseConfigText(text: string, file: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number, path: string, message: string): Diagnostic => {
    const pos = lineCounter.linePos(offset);
    return { file, line: pos.line, column: pos.col, path, message };
  };

  if (doc.errors.length > 0) {
    throw new ConfigError(
      sortDiagnostics(
        doc.errors.map((e) => {
          const key = e.code === 'DUPLICATE_KEY' ? keyAt(doc, e.pos[0]) : undefined;
          const message = key === undefined ? lowerFirst(e.message) : `duplicate key ${JSON.stringify(key)}`;
          return at(e.pos[0], '', `YAML: ${message}`);
        }),
      ),
    );
  }

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount });
  } catch (error) {
    throw new ConfigError([at(0, '', `YAML: ${lowerFirst((error as Error).message)}`)]);
  }

  const result = validateConfig(raw ?? undefined);
  if (result.ok) return result.config;
  const diagnostics = result.issues.map((issue) => at(locate(doc, issue), formatPath(issue.path), issue.message));
  throw new ConfigError(sortDiagnostics(diagnostics));
}

/** Validates an already-parsed value (tests, generated configs); diagnostics carry paths but no positions. */
export function parseConfigValue(value: unknown, file = '<config>'): Config {
  const result = validateConfig(value);
  if (result.ok) return result.config;
  throw new ConfigError(
    result.issues.map((issue) => ({ file, line: 0, column: 0, path: formatPath(issue.path), message: issue.message })),
  );
}

/** Reads and parses a config file. File-system errors (ENOENT, EACCES) propagate as they are. */
export async function loadConfigFile(path: string): Promise<Config> {
  return parseConfigText(await readFile(path, 'utf8'), path);
}
