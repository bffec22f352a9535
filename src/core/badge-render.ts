// What a presence badge shows (docs/design.md §Presence badges): pure renderings of one status as SVG,
// JSON, plain text and an embeddable HTML snippet. Nothing in them loads anything.
import type { BadgeStatus } from "./presence-status.ts";

export interface BadgeView { status: BadgeStatus; message: string | null; since: Date }

const LABELS: Record<string, Record<BadgeStatus, string>> = {
  en: { chat: "Free to chat", online: "Online", away: "Away", xa: "Not available", dnd: "Busy", offline: "Offline" },
  fr: { chat: "Disponible pour discuter", online: "En ligne", away: "Absent", xa: "Indisponible", dnd: "Occupé", offline: "Hors ligne" },
  de: { chat: "Gesprächsbereit", online: "Online", away: "Abwesend", xa: "Nicht verfügbar", dnd: "Beschäftigt", offline: "Offline" },
  es: { chat: "Libre para charlar", online: "Conectado", away: "Ausente", xa: "No disponible", dnd: "Ocupado", offline: "Desconectado" },
};
export const BADGE_LANGUAGES = Object.keys(LABELS);

const COLOURS: Record<BadgeStatus, string> = {
  chat: "#1e8e3e", online: "#1e8e3e", away: "#e37400", xa: "#b06000", dnd: "#c5221f", offline: "#5f6368",
};

/** RFC 9110 §12.5.4: the first language range with a q above 0 that we speak (by primary subtag), else English. */
export function pickLanguage(acceptLanguage: string | undefined): string {
  const ranges = (acceptLanguage ?? "").split(",").slice(0, 20).map((part, i) => {
    const [tag = "", ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const weight = q ? Number(q.slice(2)) : 1;
    return { primary: tag.split("-")[0]!, weight: Number.isFinite(weight) ? weight : 0, i };
  }).filter((r) => r.weight > 0 && LABELS[r.primary]).sort((a, b) => b.weight - a.weight || a.i - b.i);
  return ranges[0]?.primary ?? "en";
}

export function statusLabel(status: BadgeStatus, language: string): string {
  return (LABELS[language] ?? LABELS.en!)[status];
}

const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A shields-like image: a coloured dot and the status (and message, when shown). Width from the text length. */
export function badgeSvg(view: BadgeView, language: string): string {
  const text = view.message ? `${statusLabel(view.status, language)}: ${view.message}` : statusLabel(view.status, language);
  const width = Math.ceil(28 + [...text].length * 6.6);
  const t = escapeXml(text);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="20" viewBox="0 0 ${width} 20" role="img" aria-label="${t}">`
    + `<title>${t}</title><rect width="${width}" height="20" rx="3" fill="#333"/>`
    + `<circle cx="11" cy="10" r="5" fill="${COLOURS[view.status]}"/>`
    + `<text x="21" y="14" fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">${t}</text></svg>`;
}

export function badgeJson(view: BadgeView): string {
  return JSON.stringify({ status: view.status, message: view.message, since: view.since.toISOString() });
}

export function badgeText(view: BadgeView, language: string): string {
  return `${statusLabel(view.status, language)}${view.message ? `: ${view.message}` : ""}\n`;
}

/** The HTML a page embeds (an <img> of the SVG, its text as alt), with the badge's own address. */
export function badgeSnippet(badgeUrl: string, view: BadgeView, language: string): string {
  const alt = escapeXml(badgeText(view, language).trim());
  return `<img src="${escapeXml(`${badgeUrl}.svg`)}" alt="${alt}" height="20">`;
}
