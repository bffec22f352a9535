// What the web page of a mail reads, by secret token: the stored fields,
// structure and built page; the raw bytes only by part (store/messages.ts partBytes).
import type { Knex } from "knex";
import type { WebMail } from "../web/mail-page.ts";

export function createWebStore(knex: Knex) {
  return {
    /**
     * The inbound mail whose web token is `token`, while its link lives: `received_at + linkDays` is
     * computed here, at every request, so a change of WEB_LINK_DAYS applies to old links too. An unknown
     * and an expired token both give undefined (the caller answers both alike).
     */
    async byToken(token: string, linkDays: number): Promise<WebMail | undefined> {
      const row = await knex("messages")
        .where({ web_token: token, direction: "inbound" })
        .whereRaw("received_at + make_interval(days => ?) > now()", [linkDays])
        .first<WebMail | undefined>("id", "page", "parts", "subject", "from_name AS fromName", "from_address AS fromAddress",
          "body", "attachments", "spam");
      return row && { ...row, id: Number(row.id) };
    },
    /** The page built at the first request; a second builder racing it changes nothing. */
    async savePage(id: number, html: string): Promise<void> {
      await knex("messages").where({ id }).whereNull("page").update({ page: html });
    },
  };
}

export type WebStore = ReturnType<typeof createWebStore>;
