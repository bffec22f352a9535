// The instance's role as a state machine (docs/design.md §Several instances). Pure: the keeper
// (ops/role-keeper.ts) feeds it the lock's answers and carries out what it says.

/** `link`: this instance holds the lock and the XMPP link; `standby`: it accepts mail and relays, nothing more. */
export type Role = "standby" | "link" | "stopped";

/**
 * `acquired`/`refused`: a try of the lock (standby) or a check of its session (link) succeeded or not;
 * `lost`: the lock's session ended by itself; `failed`: the link could not be opened (the lock is given back);
 * `stop`: the gateway is shutting down.
 */
export type RoleEvent = "acquired" | "refused" | "lost" | "failed" | "stop";

/** `open`: start the link and the inbound worker; `close`: stop both at once and give the lock back. */
export type RoleAction = "open" | "close" | null;

export interface RoleTransition { role: Role; action: RoleAction }

export const INITIAL_ROLE: Role = "standby";

export function nextRole(role: Role, event: RoleEvent): RoleTransition {
  if (role === "stopped") return { role, action: null };
  if (event === "stop") return { role: "stopped", action: role === "link" ? "close" : null };
  if (role === "standby") return event === "acquired" ? { role: "link", action: "open" } : { role, action: null };
  // A holder whose session no longer answers must assume another instance may take the lock any moment:
  // it closes its link before anyone could open a second one.
  if (event === "refused" || event === "lost" || event === "failed") return { role: "standby", action: "close" };
  return { role, action: null };
}
