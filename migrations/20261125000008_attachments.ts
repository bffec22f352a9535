// Attachments sent to the chat as files (issue #4): where each was uploaded, so a retry or another
// recipient reuses the URL instead of uploading again. {"<index>": "<GET URL>"}
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE messages ADD COLUMN uploads jsonb NOT NULL DEFAULT '{}'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE messages DROP COLUMN uploads");
}
