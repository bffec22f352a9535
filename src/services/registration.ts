// XEP-0077 registration with the gateway: a self-service mailbox for the user's account, named by the
// rules of src/core/policy.ts (its own name, normalised and checked), never a look-alike of another. Every
// answer says what actually happened, in words (docs/design.md §Registration).
import { chooseName, mailboxDomain, mayRegister, type NamePolicy } from "../core/policy.ts";
import type { NameRepertoire } from "../core/precis.ts";
import type { AccountStore } from "../store/accounts.ts";
import type { MailboxStore } from "../store/mailboxes.ts";
import type { MailAddress } from "../core/types.ts";
import type { GatewayServices, RegisterResult } from "../xmpp/gateway.ts";

export interface RegistrationConfig {
  mailDomains: string[];
  /** XMPP domains whose accounts may register; empty: registration off */
  selfServiceDomains: string[];
  selfServiceNames: NameRepertoire;
  /** mail domains where an account may choose a name other than its own */
  selfServiceFreeNames: string[];
  /** RECIPIENT_DELIMITER: no self-service name holds one (core/policy.ts) */
  recipientDelimiters?: string;
}

const NOT_HERE = "Mailboxes are offered to accounts of this server only.";

export function createRegistration(config: RegistrationConfig, deps: { mailboxes: MailboxStore; accounts: AccountStore }):
  GatewayServices["registration"] {
  if (config.selfServiceDomains.length === 0) return null;
  const policy: NamePolicy = { repertoire: config.selfServiceNames,
    freeNameDomains: config.selfServiceFreeNames.map((d) => d.toLowerCase()), delimiters: config.recipientDelimiters ?? "" };
  const domainFor = (jid: string) => mailboxDomain(jid, config.mailDomains);
  /** The form's username for an address: its localpart on the account's own mail domain, else all of it. */
  const username = (jid: string, address: string) => {
    const at = address.lastIndexOf("@");
    return address.slice(at + 1).toLowerCase() === domainFor(jid).toLowerCase() ? address.slice(0, at) : address;
  };
  /** Does `wanted` name `address`, as typed or as the name rules make it? */
  const isNameOf = (jid: string, wanted: string, address: string) => {
    const full = wanted.includes("@") ? wanted : `${wanted}@${domainFor(jid)}`;
    const verdict = chooseName(jid, wanted, domainFor(jid), policy);
    return full.toLowerCase() === address.toLowerCase() || (verdict.ok && verdict.address.toLowerCase() === address.toLowerCase());
  };
  /** The account's enabled mailbox, and whether an administrator made it (docs/design.md §Registration). */
  const current = async (jid: string) => {
    const existing = (await deps.mailboxes.ownedBy(jid))[0];
    if (!existing) return null;
    const own = await deps.accounts.selfServiceOf(jid);
    return { address: existing.address, byAdmin: own?.toLowerCase() !== existing.address.toLowerCase() };
  };

  return {
    async info(jid) {
      const existing = await current(jid);
      if (existing) {
        return { allowed: true, address: existing.address, suggested: null, username: username(jid, existing.address),
          instructions: existing.byAdmin
            ? `Your mailbox is ${existing.address}, made by an administrator: unregistering does not disable it (an administrator does that), and registering again changes nothing.`
            : `Your mailbox is ${existing.address}. Unregistering disables it: its mail is kept, and registering again gives it back.` };
      }
      if (!mayRegister(jid, config.selfServiceDomains)) return { allowed: false, address: null, suggested: null, why: NOT_HERE };
      const earlier = await deps.accounts.selfServiceOf(jid);
      if (earlier) {
        return { allowed: true, address: null, suggested: earlier, username: username(jid, earlier),
          instructions: `Register to have your mailbox ${earlier} back, with the mail it kept.` };
      }
      const domain = domainFor(jid);
      const own = chooseName(jid, null, domain, policy);
      const free = policy.freeNameDomains;
      if (!own.ok && free.length === 0) return { allowed: false, address: null, suggested: null, why: own.why };
      const choice = free.includes(domain) ? "To choose another name, enter it as the username."
        : free.length ? `To choose a name at ${free.join(", ")}, enter name@${free[0]} as the username.` : "";
      return { allowed: true, address: null, suggested: own.ok ? own.address : null, username: own.ok ? username(jid, own.address) : "",
        instructions: [own.ok ? `Register to get the mailbox ${own.address}.` : own.why, choice].filter(Boolean).join(" ") };
    },
    async register(jid, wanted) {
      const refuse = (text: string): RegisterResult => ({ type: "modify", condition: "not-acceptable", text });
      // An account has one mailbox: asking again changes nothing, and says so (whoever made it).
      const existing = await current(jid);
      if (existing) {
        if (wanted === null || isNameOf(jid, wanted, existing.address)) {
          return { address: existing.address, text: `You already have the mailbox ${existing.address}; nothing changed.` };
        }
        return refuse(existing.byAdmin
          ? `You already have the mailbox ${existing.address}, made by an administrator; "${wanted}" was not used: an account has one mailbox.`
          : `You already have the mailbox ${existing.address}; "${wanted}" was not used: an account holds one name.`);
      }
      if (!mayRegister(jid, config.selfServiceDomains)) return { type: "cancel", condition: "not-allowed", text: NOT_HERE };
      // One name per account, ever: registering again after removing gives the same mailbox back, so
      // removing and registering cannot collect names.
      const earlier = await deps.accounts.selfServiceOf(jid);
      const verdict = chooseName(jid, wanted, domainFor(jid), policy);
      let address: MailAddress;
      if (earlier) {
        if (wanted !== null && !isNameOf(jid, wanted, earlier)) {
          return refuse(`An account holds one name: yours is ${earlier}; register with it, or with no name, to have it back ("${wanted}" was not used).`);
        }
        address = earlier;
      } else {
        if (!verdict.ok) return refuse(verdict.why);
        address = verdict.address;
      }
      const claimed = await deps.accounts.claim(address, jid);
      if (claimed === "taken") return { type: "cancel", condition: "conflict", text: `${address} is already someone else's mailbox.` };
      if (typeof claimed === "object") {
        return { type: "cancel", condition: "conflict",
          text: `${address} looks like ${claimed.lookalike}, someone else's mailbox; a name that can be mistaken for another is refused.` };
      }
      return { address, text: claimed === "enabled"
        ? `Your mailbox ${address} is enabled again, with the mail it kept; mail to it arrives here.`
        : `Your mailbox is ${address}: mail to it arrives here, each sender as a contact.` };
    },
    async unregister(jid) {
      const before = await deps.mailboxes.ownedBy(jid);
      const disabled = await deps.accounts.disableSelfService(jid);
      const after = await deps.mailboxes.ownedBy(jid);
      const gone = before.filter((m) => !after.some((a) => a.address === m.address)).map((m) => m.address);
      const kept = after.map((m) => m.address);
      // XEP-0077 §3.2: not registered, or a registration this entity may not cancel.
      if (disabled === 0 && kept.length === 0) return { type: "cancel", condition: "registration-required", text: "You have no mailbox on this gateway to remove." };
      if (disabled === 0) {
        return { type: "auth", condition: "forbidden",
          text: `Your mailbox ${kept.join(", ")} was made by an administrator: unregistering does not disable it; ask an administrator.` };
      }
      return { address: null, text: [`Your mailbox ${gone.join(", ")} is disabled: mail to it is refused, the mail it had is kept, and registering again gives it back.`,
        ...(kept.length ? [`${kept.join(", ")}, made by an administrator, stays.`] : [])].join(" ") };
    },
  };
}
