// knex migration source over the files in migrations/ (TypeScript, loaded by Node's type stripping).
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Knex } from "knex";

const dir = fileURLToPath(new URL("../../migrations/", import.meta.url));

interface Migration { up(knex: Knex): Promise<void>; down(knex: Knex): Promise<void> }

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => readdirSync(dir).filter((f) => /^\d+.*\.ts$/.test(f)).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => (await import(pathToFileURL(dir + name).href)) as Migration,
};
