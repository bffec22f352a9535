// A budget of bytes held in memory overall (docs/design.md §Budgets): work asks for the bytes it is about to
// hold and waits, first come first served, until they fit. A request larger than the whole budget is
// granted when nothing else is held, so it runs alone rather than never. Holds are bounded by their owner
// (a fetch has a time limit, a mail is queued or refused), so every waiter is served in turn.

export interface Hold {
  /** the bytes this hold counts now */
  readonly bytes: number;
  /** Count `bytes` instead (the real size once known, or what was derived from it); never waits. */
  resize(bytes: number): void;
  /** Give the bytes back; a second call does nothing. */
  release(): void;
}

export interface ByteBudget {
  acquire(bytes: number): Promise<Hold>;
  /** bytes held now (for metrics and tests) */
  held(): number;
  /** requests waiting now */
  waiting(): number;
}

export function createByteBudget(config: { bytes: number }): ByteBudget {
  let held = 0;
  const queue: { bytes: number; grant(): void }[] = [];

  const fits = (bytes: number) => held === 0 || held + Math.min(bytes, config.bytes) <= config.bytes;
  const wake = () => {
    // FIFO: the head waits until it fits, and nobody passes it (no starvation of large requests).
    while (queue.length > 0 && fits(queue[0]!.bytes)) queue.shift()!.grant();
  };

  const hold = (initial: number): Hold => {
    let bytes = initial;
    let released = false;
    held += bytes;
    return {
      get bytes() { return bytes; },
      resize(next) {
        if (released) return;
        held += next - bytes;
        bytes = next;
        wake();
      },
      release() {
        if (released) return;
        released = true;
        held -= bytes;
        bytes = 0;
        wake();
      },
    };
  };

  return {
    acquire(bytes) {
      const want = Math.max(0, bytes);
      if (queue.length === 0 && fits(want)) return Promise.resolve(hold(want));
      return new Promise((resolve) => queue.push({ bytes: want, grant: () => resolve(hold(want)) }));
    },
    held: () => held,
    waiting: () => queue.length,
  };
}
