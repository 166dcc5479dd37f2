// The share of the feed cache one client address may hold: the distinct (node, message type) keys its
// /feed sockets subscribe to, at most FEED_MAX_KEYS_PER_ADDRESS, so made-up subscriptions from one
// address cannot fill FEED_MAX_KEYS and lock real viewers out. A key is counted once per address
// however many of its sockets watch it.
export class AddressKeyBudget {
  /** address → key → number of its sockets subscribed to the key. */
  private readonly held = new Map<string, Map<string, number>>();

  constructor(readonly maxKeysPerAddress: number) {}

  /** Takes a share of `key` for `address`; false when the address already holds its maximum of other keys. */
  acquire(address: string, key: string): boolean {
    let keys = this.held.get(address);
    const count = keys?.get(key) ?? 0;
    if (count === 0 && (keys?.size ?? 0) >= this.maxKeysPerAddress) return false;
    if (keys === undefined) this.held.set(address, (keys = new Map<string, number>()));
    keys.set(key, count + 1);
    return true;
  }

  release(address: string, key: string): void {
    const keys = this.held.get(address);
    const count = keys?.get(key);
    if (keys === undefined || count === undefined) return;
    if (count > 1) keys.set(key, count - 1);
    else {
      keys.delete(key);
      if (keys.size === 0) this.held.delete(address);
    }
  }

  keysOf(address: string): number {
    return this.held.get(address)?.size ?? 0;
  }
}
