// Where the installed ejabberd lives and how one test instance's config is written (ejabberd.ts).
import { access, readFile } from "node:fs/promises";
import { delimiter, join } from "node:path";

export interface Install {
  erl: string;
  erlLibs: string; // where the package put ejabberd's Erlang applications
}

export interface ConfigValues {
  domain: string;
  componentDomain: string;
  componentSecret: string;
  c2sPort: number;
  componentPort: number;
  /** XEP-0356 permissions for the component (mod_privilege, which in 23.01 speaks urn:xmpp:privilege:1) */
  privilege?: boolean;
}

/** The `erl` binary and ERL_LIBS, read from the installed ejabberdctl (Debian's or a source build's). */
export async function findInstall(): Promise<Install> {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const dir of dirs) {
    const script = await readFile(join(dir, "ejabberdctl"), "utf8").catch(() => undefined);
    if (script === undefined) continue;
    const erl = /^ERL="?([^"\n]+)"?$/m.exec(script)?.[1];
    const erlLibs = /^ERL_LIBS='?([^'\n]+)'?$/m.exec(script)?.[1];
    if (erl === undefined || erlLibs === undefined) throw new Error(`${join(dir, "ejabberdctl")}: no ERL= or ERL_LIBS= line`);
    await access(erl);
    return { erl, erlLibs };
  }
  throw new Error("ejabberdctl not found: install ejabberd (apt-get install ejabberd)");
}

export function renderConfig(template: string, ejabberd: ConfigValues): string {
  const values: Record<string, string> = {
    C2S_PORT: String(ejabberd.c2sPort),
    COMPONENT_PORT: String(ejabberd.componentPort),
    DOMAIN: yamlString(ejabberd.domain),
    COMPONENT_DOMAIN: yamlString(ejabberd.componentDomain),
    MUC_DOMAIN: yamlString(`conference.${ejabberd.domain}`),
    COMPONENT_SECRET: yamlString(ejabberd.componentSecret),
    PRIVILEGE_MODULE: ejabberd.privilege ? "  mod_privilege:\n    roster:\n      both: all\n    message:\n      outgoing: all" : "",
  };
  const config = template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`ejabberd template: unknown placeholder ${name}`);
    return value;
  });
  if (config.includes("{{")) throw new Error("ejabberd template: unreplaced placeholder");
  return config;
}

/** A YAML double-quoted scalar: JSON's string syntax is a subset of it. */
function yamlString(value: string): string {
  return JSON.stringify(value);
}

/** An Erlang string literal, as `-mnesia dir` wants it. */
export function erlangString(value: string): string {
  return `"${value.replace(/[\\"]/g, "\\$&")}"`;
}
