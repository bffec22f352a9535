// The XMPP link's state machine (docs/design.md §XMPP link): every state against every event, then the
// races seen on a real link, as sequences of xmpp.js events.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INITIAL, isStatusEvent, next, type Link, type LinkEvent } from "../../../src/xmpp/link-state.ts";

const EVENTS: LinkEvent[] = ["connecting", "connect", "opening", "open", "online",
  "closing", "close", "disconnecting", "disconnect", "offline", "error", "stop"];

const LINKS: Record<string, Link> = {
  offline: { state: "offline" },
  "connecting/socket": { state: "connecting", step: "socket" },
  "connecting/stream": { state: "connecting", step: "stream" },
  "connecting/handshake": { state: "connecting", step: "handshake" },
  online: { state: "online" },
  closing: { state: "closing" },
  stopped: { state: "stopped" },
};

// Rows: the link before; columns: EVENTS in order. "!" after a state: the socket is dropped.
// Abbreviations: sock/strm/hand = connecting at that step, off, on, clos, stop.
const TABLE: Record<string, string[]> = {
  //                      connecting connect opening open   online closing close   disconnecting disconnect offline error    stop
  offline:                ["sock",    "off",  "off",  "off",  "off", "off",  "off",  "off",        "off",     "stop",  "off",   "stop"],
  "connecting/socket":    ["sock",    "strm", "strm", "hand", "sock","clos", "clos!","clos",       "off",     "stop",  "sock",  "stop"],
  "connecting/stream":    ["sock",    "strm", "strm", "hand", "strm","clos", "clos!","clos",       "off",     "stop",  "strm",  "stop"],
  "connecting/handshake": ["sock",    "hand", "hand", "hand", "on",  "clos", "clos!","clos",       "off",     "stop",  "clos!", "stop"],
  online:                 ["sock",    "on",   "on",   "on",   "on",  "clos", "clos!","clos",       "off",     "stop",  "on",    "stop"],
  closing:                ["sock",    "clos", "clos", "clos", "clos","clos", "clos", "clos",       "off",     "stop",  "clos",  "stop"],
  stopped:                ["stop",    "stop", "stop", "stop", "stop","stop", "stop", "stop",       "stop",    "stop",  "stop",  "stop"],
};

const NAMES: Record<string, Link> = {
  sock: LINKS["connecting/socket"]!, strm: LINKS["connecting/stream"]!, hand: LINKS["connecting/handshake"]!,
  off: LINKS.offline!, on: LINKS.online!, clos: LINKS.closing!, stop: LINKS.stopped!,
};

/** Feed events from a link; the links passed through and the events that dropped the socket. */
function run(from: Link, events: LinkEvent[]): { link: Link; drops: LinkEvent[] } {
  let link = from;
  const drops: LinkEvent[] = [];
  for (const event of events) {
    const t = next(link, event);
    if (t.drop) drops.push(event);
    link = t.link;
  }
  return { link, drops };
}

describe("xmpp link state machine", () => {
  for (const [name, link] of Object.entries(LINKS)) {
    it(`from ${name}: every event`, () => {
      const row = TABLE[name]!;
      assert.equal(row.length, EVENTS.length);
      EVENTS.forEach((event, i) => {
        const cell = row[i]!;
        const expected = NAMES[cell.replace("!", "")]!;
        const t = next(link, event);
        assert.deepEqual(t.link, expected, `${name} + ${event}`);
        assert.equal(t.drop, cell.endsWith("!"), `${name} + ${event}: drop`);
      });
    });
  }

  it("starts offline and knows xmpp.js's status names", () => {
    assert.deepEqual(INITIAL, { state: "offline" });
    for (const e of EVENTS.filter((e) => e !== "error" && e !== "stop")) assert.ok(isStatusEvent(e), e);
    assert.equal(isStatusEvent("error"), false);
    assert.equal(isStatusEvent("reconnecting"), false);
  });

  it("an attempt: connecting, then online only once the handshake is answered", () => {
    const { link, drops } = run(INITIAL, ["connecting", "connect", "opening", "open", "online"]);
    assert.deepEqual(link, { state: "online" });
    assert.deepEqual(drops, []);
  });

  it("a disconnect during the handshake: offline, and its late online or timeout changes nothing", () => {
    const lost = run(INITIAL, ["connecting", "connect", "opening", "open", "disconnect"]);
    assert.deepEqual(lost.link, { state: "offline" });
    // The handshake's wait on the old socket ends later: an element of nothing, or its timeout error.
    assert.deepEqual(run(lost.link, ["online"]).link, { state: "offline" });
    assert.deepEqual(run(lost.link, ["error"]), { link: { state: "offline" }, drops: [] });
  });

  it("a stale timeout from the old socket's handshake while the new one's waits: dropped, retried, online", () => {
    // The old handshake's timeout rejects the new one's wait too (both listen for `error`): xmpp.js
    // would never say online on this socket, though the server accepted the handshake.
    const stuck = run(INITIAL, ["connecting", "connect", "opening", "open", "disconnect",
      "connecting", "connect", "opening", "open", "error"]);
    assert.deepEqual(stuck, { link: { state: "closing" }, drops: ["error"] });
    const again = run(stuck.link, ["disconnect", "connecting", "connect", "opening", "open", "online"]);
    assert.deepEqual(again, { link: { state: "online" }, drops: [] });
  });

  it("a stale event from an old socket after a new one opened, before its handshake: ignored", () => {
    const opening = run(INITIAL, ["connecting", "connect", "opening", "open", "disconnect", "connecting", "connect", "opening"]);
    assert.deepEqual(opening.link, { state: "connecting", step: "stream" });
    // An old handshake's `online` cannot answer a handshake not yet sent; its timeout does not stop this one.
    assert.deepEqual(run(opening.link, ["online", "error"]), { link: { state: "connecting", step: "stream" }, drops: [] });
    assert.deepEqual(run(opening.link, ["online", "error", "open", "online"]).link, { state: "online" });
  });

  it("two online for one handshake (an old wait answered by the new stream too): one online", () => {
    const t = run(INITIAL, ["connecting", "connect", "opening", "open", "online", "online"]);
    assert.deepEqual(t, { link: { state: "online" }, drops: [] });
  });

  it("a link lost while online, then each retry refused, then online again", () => {
    let t = run(INITIAL, ["connecting", "connect", "opening", "open", "online", "disconnect"]);
    assert.deepEqual(t.link, { state: "offline" });
    for (let i = 0; i < 3; i++) {
      t = run(t.link, ["connecting", "error", "disconnect"]); // ECONNREFUSED: error, then close
      assert.deepEqual(t, { link: { state: "offline" }, drops: [] });
    }
    assert.deepEqual(run(t.link, ["connecting", "connect", "opening", "open", "online"]).link, { state: "online" });
  });

  it("the server ends its stream: closing, the socket dropped, then offline", () => {
    const t = run(INITIAL, ["connecting", "connect", "opening", "open", "online", "close", "disconnect"]);
    assert.deepEqual(t, { link: { state: "offline" }, drops: ["close"] });
  });

  it("a stream error while online: closing through xmpp.js's own close, nothing dropped", () => {
    const t = run({ state: "online" }, ["error", "closing", "close", "disconnecting", "disconnect"]);
    assert.deepEqual(t, { link: { state: "offline" }, drops: [] });
  });

  it("a refused handshake (not-authorized): the socket dropped at the error", () => {
    const t = run(INITIAL, ["connecting", "connect", "opening", "open", "error", "closing", "disconnect"]);
    assert.deepEqual(t, { link: { state: "offline" }, drops: ["error"] });
  });

  it("stop: stopped for good, whatever xmpp.js says after", () => {
    const t = run({ state: "online" }, ["stop", "closing", "close", "disconnecting", "disconnect", "offline", "connecting", "online"]);
    assert.deepEqual(t, { link: { state: "stopped" }, drops: [] });
  });
});
