// Server-sent events over fetch, so that the token travels in the Authorization header.
//
// The browser's EventSource cannot send headers, and a token in the URL ends up in access logs
// and browser history. fetch() can stream a response body and send any header, so this reader
// parses the text/event-stream format itself (https://html.spec.whatwg.org/#parsing-an-event-stream)
// and resumes after a drop with Last-Event-ID, as EventSource would.

const MAX_DELAY_MS = 15000;

export function openStream({ url, token, onEvent, onState, lastEventId = null }) {
  let stopped = false;
  let controller = null;
  let last = lastEventId;
  let retryMs = 1000;
  let soon = false; // reconnect() asked: go again at once, without the back-off
  let wake = null; // ends the back-off wait early

  function dispatch(block) {
    const data = [];
    let event = "message";
    let id = null;
    for (const line of block.split("\n")) {
      if (line === "" || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") data.push(value);
      else if (field === "event") event = value;
      else if (field === "id" && !value.includes("\0")) id = value;
      else if (field === "retry" && /^\d+$/.test(value)) retryMs = Number(value);
    }
    if (id !== null) last = id;
    if (data.length) onEvent(event, data.join("\n"), last);
  }

  async function run() {
    let delay = retryMs;
    while (!stopped) {
      onState("connecting");
      controller = new AbortController();
      try {
        const headers = { Authorization: `Bearer ${token}`, Accept: "text/event-stream" };
        if (last !== null) headers["Last-Event-ID"] = last;
        const response = await fetch(url, { headers, signal: controller.signal, cache: "no-store" });
        if (response.status === 401 || response.status === 403) {
          onState("unauthorized");
          return;
        }
        if (!response.ok || !response.body) throw new Error(`status ${response.status}`);
        onState("connected");
        delay = retryMs;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          // Normalise line ends, but keep a trailing CR: its LF may be in the next chunk.
          const keep = buffer.endsWith("\r") ? "\r" : "";
          buffer = (keep ? buffer.slice(0, -1) : buffer).replace(/\r\n?/g, "\n") + keep;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            dispatch(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch (error) {
        if (stopped) return;
      }
      if (stopped) return;
      onState("lost");
      if (soon) {
        soon = false;
        continue;
      }
      await new Promise((resolve) => {
        wake = resolve;
        setTimeout(resolve, delay);
      });
      wake = null;
      soon = false;
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }

  run();
  return {
    close() {
      stopped = true;
      controller?.abort();
    },
    // Drop the connection and open a new one now, resuming with Last-Event-ID: for a phone that
    // wakes up, whose old connection may be dead without the page having been told.
    reconnect() {
      if (stopped) return;
      soon = true;
      controller?.abort();
      wake?.();
    },
    get lastEventId() {
      return last;
    },
  };
}
