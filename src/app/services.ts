// The composition root (docs/design.md §Rooms), its services part: what the gateway offers its users and
// administrators over the link (accounts, roster names, spam decisions, presence badges, retention) and the
// chat commands over all of them.
import type { Knex } from "knex";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { XmppLink } from "../xmpp/link-api.ts";
import { createAccountServices, type AccountsDeps } from "../services/accounts.ts";
import { createChatDispatcher } from "../services/chat-commands.ts";
import { createMailboxChatCommands, noMailboxAnswer } from "../services/mailbox-chat.ts";
import type { AccountStore } from "../store/accounts.ts";
import type { DeliveryStore } from "../store/deliveries.ts";
import type { MailboxStore } from "../store/mailboxes.ts";
import type { SubscriptionStore } from "../store/subscriptions.ts";
import { createRosterStore } from "../store/roster.ts";
import { createRosterService } from "../services/roster.ts";
import { createBadgeStore } from "../store/badges.ts";
import { createBadges } from "../services/badges.ts";
import { createRspamd } from "../mail/rspamd.ts";
import { createSpamStore } from "../store/spam.ts";
import { createSpamServices } from "../services/spam.ts";
import { createSpamChatCommands } from "../services/spam-chat.ts";
import { createRetentionStore } from "../store/retention.ts";
import { createForgetCommand, createRetentionChatCommands } from "../services/retention.ts";
import { bind } from "./bind.ts";

export interface ServicesDeps {
  knex: Knex;
  log: Logger;
  mailboxes: MailboxStore;
  accounts: AccountStore;
  deliveries: DeliveryStore;
  subscriptions: SubscriptionStore;
  acceptChat: AccountsDeps["acceptChat"];
  /** the link this instance holds (throws on a standby: docs/design.md §Several instances) */
  linked(): XmppLink;
  newSecret(): string;
}

export function createServices(config: Config, deps: ServicesDeps) {
  const { mailboxes, subscriptions } = deps;
  // XEP-0356 (docs/design.md §Roster and privileges): within what the server grants the link in hand.
  const roster = createRosterService({ componentDomain: config.xmpp.domain, ...config.roster }, {
    store: createRosterStore(deps.knex), subscriptions, log: deps.log,
    link: () => { const link = deps.linked(); return { ...link.privilege, askSubscription: (from, to, nick) => link.askSubscription(from, to, nick),
      announceContact: (contact, to) => link.announceContact(contact, to),
      suggestContact: (user, contact, name, group) => link.suggestContact(user, contact, name, group) }; },
  });
  // Content filtering and the user's own decisions about senders (docs/design.md §Spam).
  const rspamd = config.rspamd && createRspamd(config.rspamd);
  const spam = createSpamServices({ mailboxes, spam: createSpamStore(deps.knex), learnSpam: rspamd && ((raw) => rspamd.learnSpam(raw)) });
  const accountServices = createAccountServices({ ...config, componentDomain: config.xmpp.domain }, {
    mailboxes, accounts: deps.accounts, deliveries: deps.deliveries, subscriptions, acceptChat: deps.acceptChat,
    sentCopy: (user, contact, body, subject) => deps.linked().privilege.sendAsUser(user, contact, body, subject),
    commands: [...spam.contactCommands, ...spam.gatewayCommands], heldSummary: (jid) => spam.heldSummary(jid),
  });
  const badgeStore = createBadgeStore(deps.knex);
  const badges = createBadges({ publicUrl: config.web.publicUrl }, {
    store: badgeStore, hasMailbox: async (user) => (await mailboxes.ownedBy(user)).length > 0,
    seesPresence: async (user) => (await subscriptions.get(user, config.xmpp.domain)).toUser,
    forgetPresence: async (user) => void await subscriptions.set(user, config.xmpp.domain, { toUser: false }),
    sendPresence: async (user, type) => deps.linked().sendPresence(user, type), newId: deps.newSecret,
    onError: (err) => deps.log.warn({ err: err.message }, "presence badge not updated"),
  });
  const retention = createRetentionStore(deps.knex);
  const forgetting = { retentionDays: config.retention.days, batch: config.retention.batch };
  const forget = createForgetCommand(forgetting, bind(retention, "addressesOf", "purge"));
  // The user's own commands first, then the administrators'.
  const services = { ...accountServices, commands: [...accountServices.commands.filter((c) => !c.admin), badges.command, forget,
    ...accountServices.commands.filter((c) => c.admin)],
    userPresence: (from: string, presence: Parameters<typeof badges.onPresence>[1]) => badges.onPresence(from, presence) };
  // Chat commands (docs/design.md §Chat commands): every service's words, one dispatcher.
  const chatCommand = createChatDispatcher({
    commands: [...createMailboxChatCommands({ componentDomain: config.xmpp.domain }, {
      specs: services.commands, contactName: services.contactName,
      mailboxOf: async (jid) => (await mailboxes.ownedBy(jid))[0]?.address ?? null,
      addContact: (user, address, name) => roster.addContact(user, address, name),
    }), ...badges.chatCommands, ...createSpamChatCommands({ spam }),
    ...createRetentionChatCommands(forgetting, bind(retention, "addressesOf", "purge"))],
    isAdmin: services.isAdmin, hasMailbox: async (jid) => (await mailboxes.ownedBy(jid)).length > 0,
    noMailbox: (jid) => noMailboxAnswer(jid, config.xmpp.domain, services.registration),
  });
  return { services: { ...services, chatCommand }, roster, badges, badgeStore, rspamd };
}
