// `fulcrum status` output: one line per listener, a summary line per pool (panic flagged), and an aligned
// endpoint table with the numbers right-aligned.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStatus } from '../../../src/cli/status.ts';

describe('formatStatus', () => {
  it('prints pools and endpoints as an aligned table', () => {
    const text = formatStatus({
      generation: 4,
      listeners: [{ name: 'web', address: '0.0.0.0:8080', connections: 12 }],
      pools: [
        {
          name: 'api',
          algorithm: 'least-connections',
          panic: true,
          totals: { endpoints: 2, eligible: 2, inFlight: 3, requests: 12345, failures: 7 },
          endpoints: [
            { address: '10.0.0.11:9000', state: 'healthy', weight: 3, inFlight: 3, requests: 12340, failures: 2 },
            { address: '[fd00::12]:9000', state: 'unhealthy', weight: 1, inFlight: 0, requests: 5, failures: 5 },
          ],
        },
      ],
    });
    assert.equal(
      text,
      [
        'generation 4',
        'listener web  0.0.0.0:8080  12 connections',
        '',
        'pool api (least-connections)  PANIC: balancing over all endpoints  2/2 eligible · 3 in flight · 12345 requests · 7 failures',
        '  ENDPOINT         STATE      WEIGHT  IN-FLIGHT  REQUESTS  FAILURES',
        '  10.0.0.11:9000   healthy         3          3     12340         2',
        '  [fd00::12]:9000  unhealthy       1          0         5         5',
        '',
      ].join('\n'),
    );
  });
});
