// The pregreet test: RFC 5321 §3.1, a client waits for the `220` greeting before it speaks; one that talks
// first gets `421` and is closed. smtp-server holds every greeting a fixed 100 ms for that, which caps a
// sender at ten mails a second per connection. Like Postfix's postscreen (postscreen_greet_wait,
// postscreen_greet_ttl), an address that once waited for the greeting and went on to start a mail
// transaction is remembered for a while and greeted at once; a new address, or one remembered too long
// ago, waits and is tested again. A client that talks early never reaches MAIL and is never remembered.
// smtp-server-adapter.ts applies the policy.

export interface GreetingConfig {
  /** how long a new client's greeting is held (smtp-server's own: 100 ms) */
  waitMs: number;
  /** how long an address that passed is greeted at once; 0: always wait */
  passTtlMs: number;
  /** at most this many addresses remembered; the oldest go first */
  max: number;
}

export interface GreetingPolicy {
  /** milliseconds to hold the greeting for a client at this address */
  waitFor(address: string | undefined): number;
  /** the client at this address waited for the greeting and began a transaction */
  passed(address: string | undefined): void;
}

export function createGreetingPolicy(config: GreetingConfig, deps: { now(): number }): GreetingPolicy {
  const passedAt = new Map<string, number>();
  return {
    waitFor(address) {
      const at = address === undefined ? undefined : passedAt.get(address);
      return at !== undefined && deps.now() - at < config.passTtlMs ? 0 : config.waitMs;
    },
    passed(address) {
      if (address === undefined || config.passTtlMs <= 0) return;
      passedAt.delete(address);
      if (passedAt.size >= config.max) passedAt.delete(passedAt.keys().next().value!);
      passedAt.set(address, deps.now());
    },
  };
}
