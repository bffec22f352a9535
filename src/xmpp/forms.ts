// XEP-0004 data forms: plain data (core/types.ts) to XML and back.
import xmppComponent, { type Element } from "@xmpp/component";
import type { Form, Table } from "../core/types.ts";
import { sanitizeText } from "../core/sanitize.ts";

const { xml } = xmppComponent;
export const NS_DATA = "jabber:x:data";
const s = (v: string) => sanitizeText(v);

/** `<x type="form">` for a command stage, or type "result" for an answer without a table. */
export function formElement(form: Form, type: "form" | "result" = "form"): Element {
  return xml("x", { xmlns: NS_DATA, type },
    xml("title", {}, s(form.title)),
    form.instructions ? xml("instructions", {}, s(form.instructions)) : null,
    ...form.fields.map((f) => xml("field", { var: f.var, type: f.type, ...(f.label ? { label: s(f.label) } : {}) },
      f.required ? xml("required") : null,
      ...(f.options ?? []).map((o) => xml("option", { label: s(o.label) }, xml("value", {}, s(o.value)))),
      // XEP-0004 §3.3: text-multi carries one <value/> per line.
      ...(f.value === undefined ? [] : (f.type === "text-multi" ? f.value.split("\n") : [f.value]).map((v) => xml("value", {}, s(v)))))));
}

/** XEP-0004 §3.4: a result with reported columns and one item per row. */
export function tableElement(table: Table): Element {
  return xml("x", { xmlns: NS_DATA, type: "result" },
    xml("title", {}, s(table.title)),
    xml("reported", {}, ...table.columns.map((c) => xml("field", { var: c.var, label: s(c.label) }))),
    ...table.rows.map((row) => xml("item", {},
      ...table.columns.map((c) => xml("field", { var: c.var }, xml("value", {}, s(row[c.var] ?? "")))))));
}

/** The submitted values of a form: each field's values joined by newlines (text-multi), by var. */
export function readForm(x: Element | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!x || x.attrs.type !== "submit") return out;
  for (const field of x.getChildren("field")) {
    if (typeof field.attrs.var !== "string") continue;
    out.set(field.attrs.var, field.getChildren("value").map((v) => v.getText()).join("\n"));
  }
  return out;
}

/** XEP-0004 §3.3 boolean: "1"/"true" are true. */
export const isTrue = (v: string | undefined) => v === "1" || v === "true";
