// The index behind the load-ordered balancers (least-connections, least-response-time): a tournament tree over
// endpoint slots (a winner tree, Knuth TAOCP vol. 3 §5.4.1), each node holding the slot of least load num/den
// below it. The minimum is at the root; a load change re-plays one leaf-to-root path, O(log n); the next tied
// minimum at or after a slot is one climb and one descent, O(log n). Hand-written: the O(n) scan it replaces
// cost µs per pick at 1,000 endpoints (docs/algorithms.md). Property (load-tree.test.ts): every answer equals
// a linear scan's over 100k random changes.
//
//                     [1] least of slots 0..3
//            [2] least of 0..1      [3] least of 2..3
//          [4]=0       [5]=1      [6]=2       [7]=3        leaves at size + slot; -1 = absent
//
// Loads are compared by cross-multiplication (a/wa ≤ b/wb ⇔ a·wb ≤ b·wa for wa, wb > 0): no division, exact
// ties for integer counts and weights. Ties go to the lower slot, so the root is the leftmost minimum.
import type { Endpoint } from '../endpoint.ts';

export class LoadTree {
  /** Per slot: the load is num / den (den > 0). Kept while the slot is absent, so insert() restores it. */
  num: Float64Array;
  den: Float64Array;
  /** Per node: the winning slot ([1] the root, [size + slot] the leaves), -1 when every slot below is absent. */
  private win: Int32Array;
  /** Per node v: the winner's load as key[2v] / key[2v + 1], next to each other so a match reads one cache
   *  line; an empty node holds ∞ / 1, which loses every match without a branch (den > 0, so never 0·∞). */
  private key: Float64Array;
  /** Leaves: the smallest power of two ≥ the slot count. */
  private size: number;

  constructor() {
    this.num = new Float64Array(0);
    this.den = new Float64Array(0);
    this.win = new Int32Array(2);
    this.key = new Float64Array(4);
    this.size = 1;
    this.clear();
  }

  /** Empties the tree for `n` slots, all absent; allocates only when `n` changed. */
  reset(n: number): void {
    if (n !== this.num.length) {
      let size = 1;
      while (size < n) size <<= 1;
      this.size = size;
      this.num = new Float64Array(n);
      this.den = new Float64Array(n);
      this.win = new Int32Array(2 * size);
      this.key = new Float64Array(4 * size);
    }
    this.clear();
  }

  /** Puts slot `i` in with load num/den, leaving the paths to build(): for filling the tree after reset(). */
  place(i: number, num: number, den: number): void {
    this.num[i] = num;
    this.den[i] = den;
    this.setLeaf(i, i);
  }

  /** Plays every match once, bottom up: O(n). */
  build(): void {
    for (let v = this.size - 1; v > 0; v--) this.play(v);
  }

  has(i: number): boolean {
    return this.win[this.size + i] === i;
  }

  /** A new numerator for slot `i` (its load changed): O(log n) when present, O(1) when absent. */
  setNum(i: number, num: number): void {
    this.num[i] = num;
    const leaf = this.size + i;
    if (this.win[leaf] !== i) return;
    this.key[2 * leaf] = num;
    this.fix(i);
  }

  /** Slot `i` takes part again, with the load last stored for it. */
  insert(i: number): void {
    this.setLeaf(i, i);
    this.fix(i);
  }

  /** Slot `i` no longer takes part (until insert()); its load is kept. */
  remove(i: number): void {
    this.setLeaf(i, -1);
    this.fix(i);
  }

  /** The leftmost slot of least load, or -1 when none is present. */
  min(): number {
    return this.win[1];
  }

  // HOT PATH: the slot of least load that comes first in the cyclic order from `from` (a scan starting at
  // `from` that keeps the first strict minimum would find the same): the root when it is at or after `from`,
  // else the leftmost tied minimum at or after `from` — one climb over the nodes right of `from`, one descent —
  // else the root. -1 when none is present.
  first(from: number): number {
    const win = this.win;
    const r = win[1];
    if (r < 0 || r >= from) return r;
    const key = this.key;
    const rn = key[2];
    const rd = key[3];
    // climb: the nodes covering [from, size) left to right, until one holds a tie with the root
    let v = this.size + from;
    while (key[2 * v] * rd !== rn * key[2 * v + 1]) {
      while ((v & 1) === 1) v >>= 1; // a right child: its parent covers nothing further right
      if (v === 0) return r; // climbed past the root: no tie at or after `from`
      v++;
    }
    // descend to the leftmost tied leaf below v
    while (v < this.size) {
      v <<= 1;
      if (key[2 * v] * rd !== rn * key[2 * v + 1]) v++;
    }
    return win[v];
  }

  private clear(): void {
    this.win.fill(-1);
    const key = this.key;
    for (let j = 0; j < key.length; j += 2) {
      key[j] = Infinity;
      key[j + 1] = 1;
    }
  }

  private setLeaf(i: number, winner: number): void {
    const leaf = this.size + i;
    this.win[leaf] = winner;
    this.key[2 * leaf] = winner < 0 ? Infinity : this.num[i];
    this.key[2 * leaf + 1] = winner < 0 ? 1 : this.den[i];
  }

  /** Node v's match between its children; the left one wins ties. */
  private play(v: number): void {
    const key = this.key;
    const l = 2 * v;
    const r = l + 1;
    const w = key[2 * l] * key[2 * r + 1] <= key[2 * r] * key[2 * l + 1] ? l : r;
    this.win[v] = this.win[w];
    key[2 * v] = key[2 * w];
    key[2 * v + 1] = key[2 * w + 1];
  }

  // HOT PATH: re-plays the matches above slot i, carrying the winner from below and reading only the
  // sibling; stops where the winner neither changed nor is i, since the nodes above then see the same
  // winners with the same loads.
  private fix(i: number): void {
    const win = this.win;
    const key = this.key;
    let c = this.size + i;
    let w = win[c];
    let wn = key[2 * c];
    let wd = key[2 * c + 1];
    while (c > 1) {
      const s = c ^ 1;
      const sn = key[2 * s];
      const sd = key[2 * s + 1];
      // the carried winner is the left operand when c is a left child, and wins ties there
      if ((c & 1) === 0 ? sn * wd < wn * sd : sn * wd <= wn * sd) {
        w = win[s];
        wn = sn;
        wd = sd;
      }
      c >>= 1;
      if (w === win[c] && w !== i) return;
      win[c] = w;
      key[2 * c] = wn;
      key[2 * c + 1] = wd;
    }
  }
}

/** Bumped whenever a balancer hooks an endpoint another balancer had hooked (a reload hands a pool's endpoints
 *  to the newer generation's balancer) or unhooks endpoints on close(). Each balancer then checks, once, at its
 *  next pick, whether it still hears every load change of its endpoints. */
let handovers = 0;

/**
 * The `loadHook`s of one balancer's endpoints: one closure per slot, so a load change reaches its slot without
 * a lookup. One balancer owns an endpoint's hook at a time — the last to call attach() with it, unless closed.
 * A balancer whose hook was taken (a newer generation's balancer updated with the endpoint) is detached: its
 * tree no longer hears every change, so it re-reads the loads before each pick (O(n), exact; only retries of
 * exchanges still in flight on an old generation pick there). A hook released by close() — a generation
 * retired, or one built for a reload that failed — is taken back by the next pick of the balancer it was taken
 * from, which re-reads the loads once and is O(log n) again.
 */
export class LoadHooks {
  private list: readonly Endpoint[];
  private hooks: ((e: Endpoint) => void)[];
  private seen: number;
  private detached: boolean;
  private closed: boolean;

  constructor() {
    this.list = [];
    this.hooks = [];
    this.seen = handovers;
    this.detached = false;
    this.closed = false;
  }

  /** Hooks every endpoint of `list` with `make(slot)`, taking it over from any other balancer, and unhooks
   *  this balancer's endpoints that left (control path). A closed balancer hooks nothing and stays detached. */
  attach(list: readonly Endpoint[], make: (slot: number) => (e: Endpoint) => void): void {
    if (this.closed) {
      this.list = list;
      this.hooks = [];
      return;
    }
    const mine = new Set(this.hooks);
    const stays = new Set(list);
    for (let i = 0; i < this.list.length; i++) {
      const e = this.list[i];
      if (!stays.has(e) && e.loadHook === this.hooks[i]) e.loadHook = null;
    }
    const hooks = new Array<(e: Endpoint) => void>(list.length);
    for (let i = 0; i < list.length; i++) {
      const e = list[i];
      if (e.loadHook !== null && !mine.has(e.loadHook)) handovers++;
      hooks[i] = make(i);
      e.loadHook = hooks[i];
    }
    this.list = list;
    this.hooks = hooks;
    this.seen = handovers;
    this.detached = false;
  }

  // HOT PATH: whether the tree heard every load change since the last pick (false: re-read the loads now);
  // one comparison unless hooks changed hands since the last check.
  heardAll(): boolean {
    return this.seen === handovers ? !this.detached : this.recheck();
  }

  /** Unhooks the endpoints still hooked here, for good (the balancer's generation was replaced). */
  release(): void {
    for (let i = 0; i < this.list.length; i++) if (this.list[i].loadHook === this.hooks[i]) this.list[i].loadHook = null;
    this.closed = true;
    this.detached = true;
    handovers++;
  }

  /** Takes back released hooks; detached while another balancer holds one. False when loads were missed. */
  private recheck(): boolean {
    this.seen = handovers;
    if (this.closed) return false;
    let heard = !this.detached;
    let taken = false;
    for (let i = 0; i < this.list.length; i++) {
      const e = this.list[i];
      if (e.loadHook === this.hooks[i]) continue;
      if (e.loadHook === null) {
        e.loadHook = this.hooks[i];
        heard = false;
      } else taken = true;
    }
    this.detached = taken;
    return heard && !taken;
  }
}
