// What the web page of a mail reads (issue #4, Full mail on the web): the raw bytes, by secret token.
import type { Knex } from "knex";

export interface WebMail {
  receivedAt: Date;
  /** octet_length(raw): checked before the bytes are read */
  size: number;
  raw: Buffer | null;
}

export function createWebStore(knex: Knex) {
  return {
    /**
     * The inbound mail whose web token is `token`, while its link lives: `received_at + linkDays` is
     * computed here, at every request, so a change of WEB_LINK_DAYS applies to old links too. An unknown
     * and an expired token both give undefined (the caller answers both alike). The bytes are read only
     * when they are at most `maxBytes`.
     */
    async byToken(token: string, linkDays: number, maxBytes: number): Promise<WebMail | undefined> {
      const row = await knex("messages")
        .where({ web_token: token, direction: "inbound" })
        .whereRaw("received_at + make_interval(days => ?) > now()", [linkDays])
        .first<{ receivedAt: Date; size: number; raw: Buffer | null } | undefined>(
          "received_at AS receivedAt",
          knex.raw("octet_length(raw)::int AS size"),
          knex.raw("CASE WHEN octet_length(raw) <= ? THEN raw END AS raw", [maxBytes]),
        );
      return row;
    },
  };
}

export type WebStore = ReturnType<typeof createWebStore>;
