// @xmpp/component 0.13 publishes no types (xmpp.js issue #542): the small surface Passerelle uses.
declare module "@xmpp/component" {
  import type { EventEmitter } from "node:events";

  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: Array<Element | string>;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildren(name: string, xmlns?: string): Element[];
    getChildElements(): Element[];
    getChildText(name: string, xmlns?: string): string | null;
    getText(): string;
    is(name: string, xmlns?: string): boolean;
    append(...children: Array<Element | string>): Element;
    toString(): string;
  }

  export type XmlChild = Element | string | null | undefined | false;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: XmlChild[]): Element;

  export interface IqContext { stanza: Element; element: Element; from: unknown; to: unknown }
  export type IqHandler = (ctx: IqContext) => Element | true | undefined | Promise<Element | true | undefined>;

  export interface Component extends EventEmitter {
    status: string;
    jid: { toString(): string } | null;
    /** The TCP socket of the stream in course, null between sockets. */
    socket: import("node:net").Socket | null;
    options: { service: string; domain: string };
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    disconnect(timeout?: number): Promise<void>;
    send(element: Element): Promise<void>;
    reconnect: EventEmitter & { delay: number; stop(): void };
    iqCaller: { request(stanza: Element, timeout?: number): Promise<Element> };
    /** @xmpp/middleware: incoming stanzas pass `use` handlers in the order added; a handler after the
     * IQ callee's own sees iq get/set only after it checked them, and its Element reply becomes the answer. */
    middleware: { use(handler: (ctx: { stanza: Element }, next: () => Promise<unknown>) => unknown): unknown };
    iqCallee: {
      get(ns: string, name: string, handler: IqHandler): void;
      set(ns: string, name: string, handler: IqHandler): void;
    };
  }

  export function component(options: { service: string; domain: string; password: string }): Component;

  const _default: { component: typeof component; xml: typeof xml };
  export default _default;
}
