// XEP-0077 registration with the gateway: a self-service mailbox for the user's account, named by the
// rules of src/core/policy.ts (its own name, normalised and checked), never a look-alike of another.
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
  const names: NamePolicy = { repertoire: config.selfServiceNames,
    freeNameDomains: config.selfServiceFreeNames.map((d) => d.toLowerCase()), delimiters: config.recipientDelimiters ?? "" };
  return {
    async info(jid) {
      const existing = (await deps.mailboxes.ownedBy(jid))[0];
      if (existing) return { allowed: true, address: existing.address, suggested: null };
      if (!mayRegister(jid, config.selfServiceDomains)) return { allowed: false, address: null, suggested: null, why: NOT_HERE };
      const earlier = await deps.accounts.selfServiceOf(jid);
      if (earlier) return { allowed: true, address: null, suggested: earlier, instructions: `Register to have your mailbox ${earlier} back.` };
      const domain = mailboxDomain(jid, config.mailDomains);
      const own = chooseName(jid, null, domain, names);
      const free = names.freeNameDomains;
      if (!own.ok && free.length === 0) return { allowed: false, address: null, suggested: null, why: own.why };
      const choice = free.includes(domain) ? "To choose another name, enter it as the username."
        : free.length ? `To choose a name at ${free.join(", ")}, enter name@${free[0]} as the username.` : "";
      return { allowed: true, address: null, suggested: own.ok ? own.address : null,
        instructions: [own.ok ? `Register to get the mailbox ${own.address}.` : own.why, choice].filter(Boolean).join(" ") };
    },
    async register(jid, wanted) {
      if (!mayRegister(jid, config.selfServiceDomains)) return { type: "cancel", condition: "not-allowed", text: NOT_HERE };
      const existing = (await deps.mailboxes.ownedBy(jid))[0];
      if (existing) return { address: existing.address };
      // One name per account, ever: registering again after removing gives the same mailbox back, so
      // removing and registering cannot collect names.
      const earlier = await deps.accounts.selfServiceOf(jid);
      const verdict = chooseName(jid, wanted, mailboxDomain(jid, config.mailDomains), names);
      const refuse = (text: string): RegisterResult => ({ type: "modify", condition: "not-acceptable", text });
      let address: MailAddress;
      if (earlier) {
        if (wanted !== null && !(verdict.ok && verdict.address.toLowerCase() === earlier.toLowerCase())) {
          return refuse(`An account holds one name: yours is ${earlier}; register with it, or with no name, to have it back.`);
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
      return { address };
    },
    unregister: async (jid) => (await deps.accounts.disableSelfService(jid)) > 0,
  };
}
