// XEP-0363 HTTP File Upload: ask the server's upload service for a slot, PUT the file, keep the GET URL.
import xmppComponent, { type Element } from "@xmpp/component";
import { sanitizeLine } from "../core/sanitize.ts";

const { xml } = xmppComponent;
const NS_UPLOAD = "urn:xmpp:http:upload:0";
/** XEP-0363 §5: the only headers a client may copy from <put/> to its PUT request. */
const ALLOWED_HEADERS = new Set(["authorization", "cookie", "expires"]);

export interface UploadFile { filename: string; contentType: string; content: Buffer }

export type IqRequest = (stanza: Element, timeoutMs?: number) => Promise<Element>;

export function createUploader(config: { domain: string; service: string }, request: IqRequest) {
  return async function upload(file: UploadFile): Promise<string> {
    const reply = await request(xml("iq", { type: "get", from: config.domain, to: config.service },
      xml("request", { xmlns: NS_UPLOAD, filename: sanitizeLine(file.filename), size: String(file.content.length),
        "content-type": sanitizeLine(file.contentType) })), 15_000);
    const slot = reply.getChild("slot", NS_UPLOAD);
    const put = slot?.getChild("put")?.attrs.url;
    const get = slot?.getChild("get")?.attrs.url;
    if (typeof put !== "string" || typeof get !== "string" || !/^https?:\/\//.test(put) || !/^https?:\/\//.test(get)) {
      throw new Error("the upload service answered without usable put/get URLs");
    }
    const headers: Record<string, string> = { "content-type": file.contentType };
    for (const h of slot!.getChild("put")!.getChildren("header")) {
      const name = String(h.attrs.name ?? "").toLowerCase();
      if (ALLOWED_HEADERS.has(name)) headers[name] = h.getText().replace(/[\r\n]/g, "");
    }
    const res = await fetch(put, { method: "PUT", headers, body: new Uint8Array(file.content), redirect: "error",
      signal: AbortSignal.timeout(60_000) });
    if (res.status !== 200 && res.status !== 201) throw new Error(`the upload service refused the file: HTTP ${res.status}`);
    await res.body?.cancel();
    return get;
  };
}
