// A bounded FIFO on a power-of-two ring: O(1) push and shift without the array re-indexing of Array#shift.
export class RingQueue<T> {
  private items: (T | undefined)[];
  private head: number;
  private size: number;
  private mask: number;

  constructor(initialCapacity = 16) {
    let cap = 1;
    while (cap < initialCapacity) cap <<= 1;
    this.items = new Array(cap);
    this.head = 0;
    this.size = 0;
    this.mask = cap - 1;
  }

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size === this.items.length) this.grow();
    this.items[(this.head + this.size) & this.mask] = item;
    this.size++;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.items[this.head];
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size--;
    return item;
  }

  /** Removes the first item matching `pred` wherever it is (O(n); used only for cancellations). */
  removeWhere(pred: (item: T) => boolean): boolean {
    for (let i = 0; i < this.size; i++) {
      if (pred(this.items[(this.head + i) & this.mask] as T)) {
        for (let j = i; j < this.size - 1; j++) {
          this.items[(this.head + j) & this.mask] = this.items[(this.head + j + 1) & this.mask];
        }
        this.items[(this.head + this.size - 1) & this.mask] = undefined;
        this.size--;
        return true;
      }
    }
    return false;
  }

  private grow(): void {
    const old = this.items;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & this.mask];
    this.items = next;
    this.head = 0;
    this.mask = next.length - 1;
  }
}
