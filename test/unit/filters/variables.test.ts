// `${…}` templates: parsing ($$, unknown variables, stray $), folding constants, expanding per request, and
// dropping values unsafe where they land.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileTemplate, parseTemplate, unsafeInFieldValue, unsafeInUrl } from '../../../src/filters/variables.ts';

const known = ['host', 'path', 'route'];

describe('parseTemplate', () => {
  it('splits literals and variables; $$ is a literal $', () => {
    assert.deepEqual(parseTemplate('a${host}b$$c${path}', known), { literals: ['a', 'b$c', ''], variables: ['host', 'path'] });
    assert.deepEqual(parseTemplate('plain', known), { literals: ['plain'], variables: [] });
    assert.deepEqual(parseTemplate('$$${host}$$', known), { literals: ['$', '$'], variables: ['host'] });
  });

  it('names an unknown variable and lists the known ones', () => {
    assert.equal(
      parseTemplate('x-${hots}', known),
      'expected a known variable (${host}, ${path}, ${route}), found "${hots}"',
    );
  });

  it('refuses a stray $ and an unclosed ${', () => {
    assert.equal(parseTemplate('cost: 5$', known), 'expected "${name}" for a variable or "$$" for a literal "$", found "$" at character 8');
    assert.equal(parseTemplate('a$b', known), 'expected "${name}" for a variable or "$$" for a literal "$", found "$b" at character 2');
    assert.equal(parseTemplate('${host', known), 'expected "}" closing "${host", found the end of the text');
  });
});

describe('compileTemplate', () => {
  type Src = { host: string; path: string };
  const values = { host: (s: Src) => s.host, path: (s: Src) => s.path, route: 'api' };

  it('folds string values in: a template of constants is constant', () => {
    const t = compileTemplate<Src>('r=${route}; $$1', values, unsafeInFieldValue);
    assert.equal(t.constant, 'r=api; $1');
    assert.equal(t.expand({ host: 'x', path: '/' }), 'r=api; $1');
  });

  it('expands getters per source', () => {
    const t = compileTemplate<Src>('${host}|${route}|${path}', values, unsafeInFieldValue);
    assert.equal(t.constant, null);
    assert.equal(t.expand({ host: 'a.example', path: '/x' }), 'a.example|api|/x');
    assert.equal(t.expand({ host: 'b.example', path: '/y' }), 'b.example|api|/y');
  });

  it('drops a value with control characters instead of injecting it', () => {
    const t = compileTemplate<Src>('[${host}]', values, unsafeInFieldValue);
    assert.equal(t.expand({ host: 'evil\r\nx-injected: 1', path: '/' }), '[]');
    assert.equal(t.expand({ host: 'nul\0', path: '/' }), '[]');
    assert.equal(t.expand({ host: 'tab\tok', path: '/' }), '[tab\tok]');
  });

  it('for URLs also drops values with spaces', () => {
    const t = compileTemplate<Src>('/go${path}', values, unsafeInUrl);
    assert.equal(t.expand({ host: '', path: '/a b' }), '/go');
    assert.equal(t.expand({ host: '', path: '/a%20b' }), '/go/a%20b');
  });

  it('throws on text the schema would refuse', () => {
    assert.throws(() => compileTemplate<Src>('${nope}', values, unsafeInUrl), /found "\$\{nope\}"/);
  });
});
