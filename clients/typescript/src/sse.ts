/** One Server-Sent Event. */
export interface SSEEvent {
  event: string;
  data: string;
  id?: string;
  retry?: number;
}

/**
 * Reads a text/event-stream body into events (the WHATWG parsing rules:
 * lines end in LF, CRLF or CR; `:` lines are comments; an empty line
 * dispatches; a `retry:` alone is reported with an empty event name).
 */
export async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  let retry: number | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buf);
        if (!m) break;
        // A CR at the very end may be the first half of a CRLF: wait for more.
        if (m[0] === "\r" && m.index === buf.length - 1) break;
        const line = buf.slice(0, m.index);
        buf = buf.slice(m.index + m[0].length);
        if (line === "") {
          if (data.length > 0 || retry !== undefined) {
            yield { event: event || (data.length ? "message" : ""), data: data.join("\n"), id, retry };
          }
          event = "";
          data = [];
          id = undefined;
          retry = undefined;
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        switch (field) {
          case "event":
            event = val;
            break;
          case "data":
            data.push(val);
            break;
          case "id":
            id = val;
            break;
          case "retry":
            if (/^\d+$/.test(val)) retry = Number(val);
            break;
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}
