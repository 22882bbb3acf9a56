import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  describeFound,
  durationSchema,
  formatDuration,
  formatSize,
  maxDurationMs,
  parseDuration,
  parseSize,
  sizeSchema,
} from '../../../src/core/units.ts';

describe('parseDuration', () => {
  it('parses each unit to integer milliseconds', () => {
    const cases: [string, number][] = [
      ['250ms', 250],
      ['5s', 5_000],
      ['1.5s', 1_500],
      ['1.1s', 1_100],
      ['0.5s', 500],
      ['2m', 120_000],
      ['1.5m', 90_000],
      ['1h', 3_600_000],
      ['596h', 2_145_600_000],
      ['1.10s', 1_100],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it('reads 0, 0s and 0ms as off', () => {
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('0s'), 0);
    assert.equal(parseDuration('0ms'), 0);
  });

  it('rejects bare numbers, whitespace, case, exponents, signs and trailing junk', () => {
    const rejected = [
      '', '5', '10', '-5s', '+5s', ' 5s', '5s ', '5 s', '5S', '5Ms', '1e3ms', '5sec', '5s5', '5ss', '05s', '.5s', '1.s',
      '5d', '5us', 's', '1,5s', '1.5.5s', '0x10s', 'Infinitys', 'NaNs',
    ];
    for (const text of rejected) assert.equal(parseDuration(text), undefined, JSON.stringify(text));
  });

  it('rejects fractions of a millisecond', () => {
    assert.equal(parseDuration('1.5ms'), undefined);
    assert.equal(parseDuration('0.0001s'), undefined);
    assert.equal(parseDuration('0.001s'), 1);
  });

  it('rejects durations beyond what a Node timer can hold', () => {
    assert.equal(maxDurationMs, 2_147_483_647);
    assert.equal(parseDuration('597h'), undefined);
    assert.equal(parseDuration(`${maxDurationMs}ms`), maxDurationMs);
    assert.equal(parseDuration(`${maxDurationMs + 1}ms`), undefined);
  });

  it('round-trips formatDuration for any valid duration', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: maxDurationMs }), (ms) => parseDuration(formatDuration(ms)) === ms),
      { seed: 0x5eed, numRuns: 2000 },
    );
    assert.equal(formatDuration(90_000), '90s');
    assert.equal(formatDuration(3_600_000), '1h');
    assert.equal(formatDuration(1_500), '1500ms');
    assert.equal(formatDuration(0), '0');
  });
});

describe('parseSize', () => {
  it('parses binary multiples to bytes', () => {
    const cases: [string, number][] = [
      ['512b', 512],
      ['0b', 0],
      ['64kb', 65_536],
      ['8kb', 8_192],
      ['1mb', 1_048_576],
      ['1gb', 1_073_741_824],
      ['1.5kb', 1_536],
      ['0.5mb', 524_288],
    ];
    for (const [text, bytes] of cases) assert.equal(parseSize(text), bytes, text);
  });

  it('rejects anything else', () => {
    const rejected = ['', '64', '0', '64KB', '64Kb', '64k', '64 kb', '-1kb', '1.3b', '1e3b', '64kib', '64kb!', ' 1kb', '1tb'];
    for (const text of rejected) assert.equal(parseSize(text), undefined, JSON.stringify(text));
  });

  it('round-trips formatSize', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (bytes) => parseSize(formatSize(bytes)) === bytes),
      { seed: 0x5eed, numRuns: 2000 },
    );
    assert.equal(formatSize(65_536), '64kb');
    assert.equal(formatSize(1_000), '1000b');
    assert.equal(formatSize(0), '0b');
  });
});

describe('durationSchema and sizeSchema', () => {
  it('produce numbers', () => {
    assert.equal(durationSchema.parse('5s'), 5_000);
    assert.equal(durationSchema.parse(0), 0);
    assert.equal(durationSchema.parse('0'), 0);
    assert.equal(sizeSchema.parse('64kb'), 65_536);
  });

  it('say what was expected and what was found', () => {
    const message = (result: { error?: { issues: { message: string }[] } }) => result.error?.issues[0].message;
    assert.equal(
      message(durationSchema.safeParse('5 seconds')),
      'expected a duration like "5s" or "250ms", found "5 seconds"',
    );
    assert.equal(
      message(durationSchema.safeParse(5000)),
      'expected a duration like "5s" or "250ms", found 5000 (a number needs a unit: "5000ms")',
    );
    assert.equal(
      message(durationSchema.safeParse('5S')),
      'expected a duration like "5s" or "250ms", found "5S" (units are lowercase: "5s")',
    );
    assert.equal(
      message(durationSchema.safeParse('1000h')),
      'expected a duration like "5s" or "250ms", found "1000h" (at most 596h, the timer limit, in whole milliseconds)',
    );
    assert.equal(message(durationSchema.safeParse(true)), 'expected a duration like "5s" or "250ms", found true');
    assert.equal(message(sizeSchema.safeParse('64KB')), 'expected a size like "64kb" or "1mb", found "64KB" (units are lowercase: "64kb")');
    assert.equal(message(sizeSchema.safeParse(8192)), 'expected a size like "64kb" or "1mb", found 8192 (a number needs a unit: "8192b")');
    assert.equal(message(sizeSchema.safeParse([])), 'expected a size like "64kb" or "1mb", found an empty list');
  });
});

describe('describeFound', () => {
  it('names each kind of value', () => {
    assert.equal(describeFound('a'), '"a"');
    assert.equal(describeFound(5), '5');
    assert.equal(describeFound(false), 'false');
    assert.equal(describeFound(null), 'an empty value');
    assert.equal(describeFound(undefined), 'nothing');
    assert.equal(describeFound([1]), 'a list');
    assert.equal(describeFound({}), 'an object');
    assert.equal(describeFound('x'.repeat(100)), JSON.stringify(`${'x'.repeat(57)}...`));
  });
});
