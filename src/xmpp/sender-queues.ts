// Stanza work in bounded queues (docs/design.md §Budgets): one queue a sender, handled in its arrival
// order (RFC 6120 §10.1), at most `perSender` waiting in one queue and `total` in all. A few senders are
// served at once, `chunk` stanzas each in turn, and the event loop is given back (setImmediate) between
// turns: the link's keep-alive, its answers and mail delivery never wait behind one sender's flood.

export interface QueueLimits {
  /** stanzas waiting for one sender at most */
  perSender: number;
  /** stanzas waiting in all queues at most */
  total: number;
  /** senders served at once (each holds at most one database connection) */
  concurrency?: number;
  /** stanzas of one sender handled before the next sender's turn */
  chunk?: number;
}

export type Pushed = "queued" | "queue" | "busy";

export interface SenderQueues {
  /** Queues the task behind the sender's earlier ones; "queue" when that sender's queue is full, "busy" when all are. */
  push(sender: string, task: () => Promise<void>): Pushed;
  /** Stanzas waiting or being handled. */
  pending(): number;
}

export function createSenderQueues(limits: QueueLimits, deps: { onError(err: Error): void }): SenderQueues {
  const concurrency = Math.max(1, limits.concurrency ?? 4);
  const chunk = Math.max(1, limits.chunk ?? 16);
  const queues = new Map<string, (() => Promise<void>)[]>();
  /** senders with work, not being served, in the order they are next served */
  const ready: string[] = [];
  let serving = 0;
  let total = 0;

  const pump = () => {
    while (serving < concurrency && ready.length > 0) {
      serving++;
      void serve(ready.shift()!);
    }
  };

  async function serve(sender: string): Promise<void> {
    const queue = queues.get(sender)!;
    for (let n = 0; n < chunk && queue.length > 0; n++) {
      try {
        await queue[0]!();
      } catch (err) {
        deps.onError(err as Error);
      }
      queue.shift();
      total--;
    }
    if (queue.length > 0) ready.push(sender);
    else queues.delete(sender);
    // Give the event loop back before the next turn, even when every task finished in microtasks.
    setImmediate(() => {
      serving--;
      pump();
    });
  }

  return {
    push(sender, task) {
      if (total >= limits.total) return "busy";
      let queue = queues.get(sender);
      if (queue && queue.length >= limits.perSender) return "queue";
      if (!queue) {
        queue = [];
        queues.set(sender, queue);
        ready.push(sender);
      }
      queue.push(task);
      total++;
      pump();
      return "queued";
    },
    pending: () => total,
  };
}
