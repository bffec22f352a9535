// @xmpp/client 0.14 (tests only: the chat clients) publishes no types either; the surface the tests use.
declare module "@xmpp/client" {
  import type { EventEmitter } from "node:events";
  import type { Element, XmlChild } from "@xmpp/component";

  export type { Element };
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: XmlChild[]): Element;

  export interface Client extends EventEmitter {
    status: string;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: Element): Promise<void>;
    reconnect: EventEmitter & { delay: number; stop(): void };
    iqCaller: { request(stanza: Element, timeout?: number): Promise<Element> };
    iqCallee: { get(ns: string, name: string, handler: (ctx: { stanza: Element; element: Element }) => Element | true | undefined): void };
  }

  export type Authenticate = (credentials: { username: string; password: string }, mechanism: string) => Promise<void>;

  export function client(options: {
    service: string; domain?: string; username?: string; password?: string; resource?: string;
    credentials?: (authenticate: Authenticate, mechanisms: string[]) => Promise<void>;
  }): Client;
}
