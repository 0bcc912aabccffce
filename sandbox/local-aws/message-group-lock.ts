/**
 * Serialises work per FIFO message group: `acquire(groups)` resolves once every earlier holder of any of those
 * groups has released, in acquisition order. Waiters only wait for earlier acquirers, so there is no deadlock.
 */
export class MessageGroupLock {
  private readonly tails = new Map<string, Promise<void>>();

  async acquire(groups: Iterable<string>): Promise<() => void> {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const earlier: Promise<void>[] = [];
    const mine = new Map<string, Promise<void>>();
    for (const group of new Set(groups)) {
      const previous = this.tails.get(group) ?? Promise.resolve();
      earlier.push(previous);
      const tail = previous.then(() => released);
      mine.set(group, tail);
      this.tails.set(group, tail);
    }
    await Promise.all(earlier);
    return () => {
      release();
      for (const [group, tail] of mine) {
        if (this.tails.get(group) === tail) this.tails.delete(group);
      }
    };
  }
}
