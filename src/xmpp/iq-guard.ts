// IQ requests to the gateway and its contacts count against their sender's budgets and wait in its queue
// like presence and messages (docs/design.md §Budgets). Installed before the gateway's IQ handlers.
import xmppComponent, { type Component, type Element } from "@xmpp/component";
import type { StanzaBudget } from "../core/stanza-budget.ts";
import type { SenderQueues } from "./sender-queues.ts";
import { NS } from "./stanzas.ts";

const { xml } = xmppComponent;

/** RFC 6120 §8.3.3 resource-constraint, type wait, with words in `<text>`. */
function constraint(text: string): Element {
  return xml("error", { type: "wait" }, xml("resource-constraint", { xmlns: NS.stanzas }),
    xml("text", { xmlns: NS.stanzas, "xml:lang": "en" }, text));
}

export function installIqGuard(xmpp: Pick<Component, "middleware">, deps: {
  budget: StanzaBudget; queues: SenderQueues; onStanza?(outcome: string): void;
}): void {
  xmpp.middleware.use((ctx, next) => {
    const { stanza } = ctx;
    // Answers to our own requests were taken by the IQ caller before; only requests are counted here.
    if (!stanza.is("iq") || (stanza.attrs.type !== "get" && stanza.attrs.type !== "set")) return next();
    const from = stanza.attrs.from;
    const spent = deps.budget.admit("iq", from);
    // RFC 6120 §8.2.3: every request is answered, a refused one too.
    if (spent) {
      deps.onStanza?.(spent);
      return constraint(deps.budget.text(spent, from));
    }
    return new Promise((resolve, reject) => {
      const pushed = deps.queues.push(String(from ?? "").split("/")[0]!.toLowerCase(), () => next().then(resolve, reject)
        .finally(() => deps.onStanza?.("handled")));
      if (pushed === "queued") {
        deps.onStanza?.("accepted");
      } else {
        deps.onStanza?.(pushed);
        resolve(constraint(deps.budget.text(pushed, from)));
      }
    });
  });
}
