// Each mail is parsed once, in the parse pool (docs/design.md §Parsing once, §What is stored):
// `parts` is its MIME structure — each leaf part's byte range in `raw`, its type, encoding, name and the
// attachment verdict (src/mail/mime-parts.ts MailStructure) — read back by byte range afterwards; null for
// a mail the parser could not finish (and for mail stored before this column). `page` is its web page,
// built once in the pool at the first request and kept (mail does not change).
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE messages ADD COLUMN parts jsonb, ADD COLUMN page text");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE messages DROP COLUMN parts, DROP COLUMN page");
}
