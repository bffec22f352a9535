// The MIME structure of a stored mail (docs/design.md §Parsing once). Intake stores it with the mail. A
// mail stored before structures were kept has none, yet lists attachments (a mail the parser could not
// read lists none): it is read once more, in the parse pool with its limits, and its structure stored,
// so that from then on it too is read by byte ranges.
import type { MailRead } from "../mail/parse.ts";
import type { MailStructure } from "../mail/mime-parts.ts";

export interface StructureDeps {
  partsOf(id: number): Promise<MailStructure | null>;
  /** the raw mail when it has no structure but lists attachments (store/messages.ts) */
  unstructuredRaw(id: number): Promise<Buffer | undefined>;
  read(raw: Buffer): Promise<MailRead>;
  saveParts(id: number, structure: MailStructure): Promise<void>;
}

export function createStructureReader(deps: StructureDeps) {
  // Several deliveries of one mail, or a page and its images, ask at once: one read for them all.
  const reading = new Map<number, Promise<MailStructure | null>>();
  const backfill = async (id: number): Promise<MailStructure | null> => {
    const raw = await deps.unstructuredRaw(id);
    if (!raw) return null;
    const { structure } = await deps.read(raw);
    if (structure) await deps.saveParts(id, structure);
    return structure;
  };
  return async function structureOf(id: number): Promise<MailStructure | null> {
    const stored = await deps.partsOf(id);
    if (stored) return stored;
    let pending = reading.get(id);
    if (!pending) {
      pending = backfill(id).finally(() => reading.delete(id));
      reading.set(id, pending);
    }
    return pending;
  };
}
