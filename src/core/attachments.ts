// Which attachments of a mail travel to the chat as files: a size and type policy. Pure.
import { formatSize } from "./translate.ts";

export interface AttachmentPolicy {
  maxBytes: number;
  /** MIME type patterns (`image/*`, `application/pdf`, `*`) */
  types: string[];
}

/** Programs and scripts a click would run (Windows and macOS handle these by extension, not type). */
const EXECUTABLE = /\.(exe|scr|com|bat|cmd|pif|msi|msp|jar|js|jse|vbs|vbe|wsf|wsh|ps1|hta|cpl|lnk|reg|app|dmg|apk|iso)$/i;

export type AttachmentVerdict = { forward: true } | { forward: false; why: string };

export function judgeAttachment(a: { filename: string | null; contentType: string; size: number; related?: boolean },
  policy: AttachmentPolicy): AttachmentVerdict {
  if (a.related) return { forward: false, why: "inline image of the HTML mail" };
  if (a.filename && EXECUTABLE.test(a.filename)) return { forward: false, why: "a program: not forwarded" };
  if (a.size > policy.maxBytes) return { forward: false, why: `larger than ${formatSize(policy.maxBytes)}` };
  const type = a.contentType.toLowerCase().split(";")[0]!.trim();
  const allowed = policy.types.some((p) => p === "*" || p === "*/*" || p === type
    || (p.endsWith("/*") && type.startsWith(p.slice(0, -1))));
  return allowed ? { forward: true } : { forward: false, why: `type ${type} is not forwarded` };
}

/** A file name safe in a URL path and in a Content-Disposition: the last path segment, no controls. */
export function safeFilename(name: string | null, index: number): string {
  const base = (name ?? "").split(/[\\/]/).pop()!.replace(/[\u0000-\u001f\u007f"]/g, "").trim().slice(0, 200);
  return base || `attachment-${index + 1}`;
}
