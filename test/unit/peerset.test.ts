// Peer-set parsing of system.network_state (src/api/peerset.ts) without a server: both peerset shapes,
// a peer in several sets, entries that are skipped, the JSONB key order of the arrays.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { expandPeerset, mergeEntries } from '../../src/api/peerset.js';

const text = (value: unknown) => JSON.stringify(value);

describe('expandPeerset', () => {
  it('is empty for no peerset, a peerset that is not an object, or one without nodes', () => {
    const empty = { remote_peer: [], reputation: [], connected: [] };
    assert.deepEqual(expandPeerset(null), empty);
    assert.deepEqual(expandPeerset('[1,2]'), empty);
    assert.deepEqual(expandPeerset('"x"'), empty);
    assert.deepEqual(expandPeerset(text({ sets: 'no' })), empty);
  });

  it('reads the older Substrate shape (peerset.nodes) into parallel arrays, reputations truncated', () => {
    const out = expandPeerset(text({ nodes: { a: { reputation: -5.7, connected: true }, b: { reputation: 0, connected: false } } }));
    assert.deepEqual(out, { remote_peer: ['a', 'b'], reputation: [-5, 0], connected: [true, false] });
  });

  it('reads the Tetcore shape (peerset.sets[].nodes): a peer in several sets appears once, connected if in any', () => {
    const out = expandPeerset(text({ sets: [{ nodes: { bb: { reputation: 3, connected: false }, a: { reputation: 1, connected: false } } }, { nodes: { bb: { reputation: 99, connected: true }, c: { reputation: 2, connected: true } } }] }));
    // reputation from the first set that has the peer; order: shorter ids first, then bytewise (JSONB's)
    assert.deepEqual(out, { remote_peer: ['a', 'c', 'bb'], reputation: [1, 2, 3], connected: [false, true, true] });
  });

  it('skips entries that are not objects or whose reputation is not a finite number; a non-boolean connected is false', () => {
    const out = expandPeerset(text({ nodes: { a: 5, b: { reputation: 'high' }, c: { reputation: null }, d: { reputation: 7, connected: 'yes' } } }));
    assert.deepEqual(out, { remote_peer: ['d'], reputation: [7], connected: [false] });
  });

  it('a peer first seen without a number takes the reputation of a later set', () => {
    const out = expandPeerset(text({ sets: [{ nodes: { p: { connected: true } } }, { nodes: { p: { reputation: 4, connected: false } } }] }));
    assert.deepEqual(out, { remote_peer: ['p'], reputation: [4], connected: [false] });
  });

  it('keeps only the peers asked for', () => {
    const out = expandPeerset(text({ nodes: { a: { reputation: 1 }, b: { reputation: 2 }, c: { reputation: 3 } } }), new Set(['c', 'a']));
    assert.deepEqual(out.remote_peer, ['a', 'c']);
    assert.deepEqual(out.reputation, [1, 3]);
  });

  it('takes both shapes in one peerset', () => {
    const out = expandPeerset(text({ nodes: { zz: { reputation: 1, connected: false } }, sets: [{ nodes: { y: { reputation: 2, connected: true }, zz: { reputation: 5, connected: true } } }] }));
    assert.deepEqual(out, { remote_peer: ['y', 'zz'], reputation: [2, 1], connected: [true, true] });
  });
});

describe('mergeEntries', () => {
  it('takes the first numeric reputation and is connected when any entry is', () => {
    assert.deepEqual(mergeEntries(text([{ reputation: 'x', connected: false }, { reputation: 8.9 }, { reputation: 1, connected: true }])), { reputation: 8, connected: true });
  });

  it('is null without an array or without a numeric reputation', () => {
    assert.equal(mergeEntries('{}'), null);
    assert.equal(mergeEntries(text([null, 3, { connected: true }])), null);
  });
});
