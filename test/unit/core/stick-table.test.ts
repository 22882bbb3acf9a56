// The stick table keeps at most maxEntries keys, forgets keys ttl after their last use, and evicts
// expired keys first, then the least recently used.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StickTable } from '../../../src/core/stick-table.ts';

test('values are kept and read back until they expire', () => {
  let t = 1000;
  const table = new StickTable<string>(10, 100, () => t);
  table.set('a', 'x');
  t += 99;
  assert.equal(table.get('a'), 'x'); // a read extends the entry
  t += 99;
  assert.equal(table.get('a'), 'x');
  t += 100;
  assert.equal(table.get('a'), undefined);
  assert.equal(table.size, 0);
});

test('a full table evicts the least recently used key', () => {
  let t = 0;
  const table = new StickTable<number>(3, 1000, () => t);
  table.set('a', 1);
  table.set('b', 2);
  table.set('c', 3);
  t++;
  assert.equal(table.get('a'), 1); // a is now the most recent
  table.set('d', 4);
  assert.equal(table.size, 3);
  assert.equal(table.get('b'), undefined, 'b was the least recently used');
  assert.equal(table.get('a'), 1);
  assert.equal(table.get('c'), 3);
  assert.equal(table.get('d'), 4);
});

test('expired keys go before live ones when the table is full', () => {
  let t = 0;
  const table = new StickTable<number>(3, 10, () => t);
  table.set('old1', 1);
  table.set('old2', 2);
  t = 5;
  table.set('live', 3);
  t = 12; // old1 and old2 expired, live has not
  table.set('new', 4);
  assert.equal(table.get('live'), 3);
  assert.equal(table.get('new'), 4);
  assert.equal(table.size, 2);
});

test('the bound holds under many distinct keys', () => {
  const table = new StickTable<number>(1000, 60_000);
  for (let i = 0; i < 50_000; i++) table.set(`k${i}`, i);
  assert.equal(table.size, 1000);
  assert.equal(table.get('k49999'), 49999);
  assert.equal(table.get('k0'), undefined);
});
