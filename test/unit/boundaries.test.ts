// The import rules of ARCHITECTURE.md "Boundaries", checked over every source file under src/:
//   http/, l4/                              never import control/, observability/ or cli/
//   upstream/, routing/, filters/, ratelimit/  import only core/, tls/ and each other (plus node: and npm)
//   core/                                   imports only core/ (plus node: and npm)
//   control/                                is imported only by cli/, main.ts and control/ itself
// Specifiers are found with regexes (static import/export … from, side-effect import, dynamic import()).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const srcDir = join(root, 'src');

const dataPlane = new Set(['http', 'l4']);
const dataPlaneForbidden = new Set(['control', 'observability', 'cli']);
const libraryParts = new Set(['upstream', 'routing', 'filters', 'ratelimit']);
const libraryAllowed = new Set(['core', 'tls', 'upstream', 'routing', 'filters', 'ratelimit']);
const controlImporters = new Set(['cli', 'main.ts', 'control']);

/** Where an import points: a top-level part of src/ (folder, or file such as `main.ts`), or outside it. */
type Target = { kind: 'src'; part: string } | { kind: 'package' } | { kind: 'builtin' } | { kind: 'outside' };

// Comments are blanked (strings kept) so commented-out imports are not counted.
const commentsOrStrings = /('(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`)|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g;
const staticFrom = /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g;
const sideEffect = /\bimport\s*['"]([^'"]+)['"]/g;
const dynamic = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

function importSpecifiers(source: string): string[] {
  const code = source.replace(commentsOrStrings, (match, str: string | undefined) => str ?? '');
  const found: string[] = [];
  for (const re of [staticFrom, sideEffect, dynamic]) {
    for (const m of code.matchAll(re)) found.push(m[1]);
  }
  return found;
}

/** Top-level part of a path relative to src/ (`http/parse/head.ts` → `http`, `main.ts` → `main.ts`). */
function partOf(srcRelative: string): string {
  return srcRelative.split('/')[0];
}

function resolveTarget(fileSrcRelative: string, specifier: string): Target {
  if (specifier.startsWith('node:')) return { kind: 'builtin' };
  if (specifier.startsWith('.')) {
    const target = resolve(srcDir, dirname(fileSrcRelative), specifier);
    const rel = relative(srcDir, target).split(sep).join('/');
    if (rel === '' || rel.startsWith('..') || rel.startsWith('/')) return { kind: 'outside' };
    return { kind: 'src', part: partOf(rel) };
  }
  if (specifier.startsWith('/') || /^[a-z]+:/i.test(specifier)) return { kind: 'outside' };
  return { kind: 'package' };
}

/** The rule an import from part `from` to `target` breaks, or null. */
function brokenRule(from: string, target: Target): string | null {
  if (target.kind === 'outside') return 'src/ imports only src/, node: and npm packages';
  if (target.kind !== 'src') return null;
  const to = target.part;
  if (to === from) return null;
  if (to === 'control' && !controlImporters.has(from)) return 'only cli/ and main.ts import control/';
  if (dataPlane.has(from) && dataPlaneForbidden.has(to)) return `${from}/ never imports ${to}/`;
  if (libraryParts.has(from) && !libraryAllowed.has(to)) return `${from}/ imports only core/, tls/, upstream/, routing/, filters/, ratelimit/`;
  if (from === 'core') return 'core/ imports only core/';
  return null;
}

/** `file: imports X (rule)` for every broken rule in one file's source. */
function violationsIn(fileSrcRelative: string, source: string): string[] {
  const from = partOf(fileSrcRelative);
  const out: string[] = [];
  for (const specifier of importSpecifiers(source)) {
    const target = resolveTarget(fileSrcRelative, specifier);
    const rule = brokenRule(from, target);
    if (rule !== null) {
      const where = target.kind === 'src' ? `${target.part}/` : specifier;
      out.push(`src/${fileSrcRelative}: imports ${where} ('${specifier}'; ${rule})`);
    }
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...sourceFiles(full));
    else if (/\.(?:[mc]?ts|[mc]?js)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) files.push(full);
  }
  return files.sort();
}

describe('import boundaries (ARCHITECTURE.md "Boundaries")', () => {
  it('no file under src/ breaks an import rule', () => {
    const files = sourceFiles(srcDir);
    assert.ok(files.length > 0, 'src/ has source files');
    const violations: string[] = [];
    for (const file of files) {
      const rel = relative(srcDir, file).split(sep).join('/');
      violations.push(...violationsIn(rel, readFileSync(file, 'utf8')));
    }
    assert.deepEqual(violations, [], `import rule violations:\n${violations.join('\n')}`);
  });

  it('finds static, type-only, re-export, side-effect and dynamic imports, but not commented ones', () => {
    const source = [
      `import { a } from './a.ts';`,
      `import type {`,
      `  B,`,
      `} from "../b.ts";`,
      `export * from './c.ts';`,
      `export { d } from './d.ts';`,
      `export type { E } from './e.ts';`,
      `import './f.ts';`,
      `const g = await import('./g.ts');`,
      `// import { h } from './h.ts';`,
      `/* import { i } from './i.ts'; */`,
      `const url = 'http://example.com/'; import { j } from './j.ts';`,
    ].join('\n');
    assert.deepEqual(importSpecifiers(source).sort(), ['../b.ts', './a.ts', './c.ts', './d.ts', './e.ts', './f.ts', './g.ts', './j.ts']);
  });

  it('reports each rule broken', () => {
    const cases: [file: string, specifier: string, broken: boolean][] = [
      ['http/exchange.ts', '../control/reload.ts', true],
      ['http/parse/head.ts', '../../observability/metrics.ts', true],
      ['l4/tcp-proxy.ts', '../cli/run.ts', true],
      ['http/exchange.ts', '../upstream/pool.ts', false],
      ['l4/tcp-proxy.ts', '../routing/route-table.ts', false],
      ['upstream/pool.ts', '../http/exchange.ts', true],
      ['routing/route-table.ts', '../observability/metrics.ts', true],
      ['filters/auth.ts', '../l4/pipe.ts', true],
      ['ratelimit/store/memory.ts', '../../core/stick-table.ts', false],
      ['upstream/health/check/tls.ts', '../../../tls/store.ts', false],
      ['routing/split.ts', '../upstream/pool.ts', false],
      ['upstream/health/check/tcp.ts', 'node:net', false],
      ['upstream/balancing/round-robin.ts', 'zod', false],
      ['core/units.ts', '../upstream/endpoint.ts', true],
      ['core/units.ts', './clock.ts', false],
      ['core/units.ts', 'zod', false],
      ['tls/store.ts', '../control/reload.ts', true],
      ['observability/metrics.ts', '../control/generation.ts', true],
      ['cli/run.ts', '../control/reload.ts', false],
      ['main.ts', './control/reload.ts', false],
      ['control/reload.ts', '../http/listener.ts', false],
      ['upstream/pool.ts', '../../test/helpers/origins.ts', true],
    ];
    for (const [file, specifier, broken] of cases) {
      const violations = violationsIn(file, `import { x } from '${specifier}';\n`);
      assert.equal(violations.length, broken ? 1 : 0, `${file} importing ${specifier}: ${violations.join('; ')}`);
      if (broken) assert.match(violations[0], new RegExp(`^src/${file}: imports `));
    }
  });
});
