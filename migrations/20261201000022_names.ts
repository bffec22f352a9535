// Confusable self-service names (Unicode TR39 §4): each mailbox's skeleton, `skeleton(local)@domain` as
// src/core/skeleton.ts computes it, so a registration finds a look-alike with one index probe. Rows written
// without it (SQL, the admin command, the CLI) have NULL and get theirs at the next registration; a changed
// address clears it, so a skeleton never describes another address.
import type { Knex } from "knex";

export async function up(knex: Knex): Promise<void> {
  await knex.raw("ALTER TABLE mailboxes ADD COLUMN skeleton text");
  await knex.raw("CREATE INDEX mailboxes_skeleton ON mailboxes (skeleton)");
  await knex.raw("CREATE INDEX mailboxes_skeleton_missing ON mailboxes (address) WHERE skeleton IS NULL");
  await knex.raw(`CREATE FUNCTION mailboxes_skeleton_stale() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.address IS DISTINCT FROM OLD.address AND NEW.skeleton IS NOT DISTINCT FROM OLD.skeleton THEN
        NEW.skeleton := NULL;
      END IF;
      RETURN NEW;
    END $$`);
  await knex.raw(`CREATE TRIGGER mailboxes_skeleton_stale BEFORE UPDATE OF address ON mailboxes
    FOR EACH ROW EXECUTE FUNCTION mailboxes_skeleton_stale()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DROP TRIGGER mailboxes_skeleton_stale ON mailboxes");
  await knex.raw("DROP FUNCTION mailboxes_skeleton_stale()");
  await knex.raw("ALTER TABLE mailboxes DROP COLUMN skeleton");
}
