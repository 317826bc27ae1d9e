// A reader of a `text/event-stream` answer: messages (`event`, `data` parsed
// as JSON) and comments, each with when it arrived, and a wait for one.
export async function openStream(url, headers) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const stream = { status: res.status, headers: res.headers, messages: [], comments: [], closed: false };
  if (!res.ok) {
    stream.text = await res.text();
    return stream;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          parse(block, stream);
        }
      }
    } catch {
      // aborted
    }
    stream.closed = true;
  })();
  stream.close = () => controller.abort();
  /** Resolves with the first message (or comment, with `{ comment: true }`) `predicate` accepts. */
  stream.next = async (predicate, { timeoutMs = 10_000, comment = false } = {}) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (comment ? stream.comments : stream.messages).find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no such ${comment ? "comment" : "message"} within ${timeoutMs} ms; got ${JSON.stringify(stream.messages.map((m) => m.data))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return stream;
}

function parse(block, stream) {
  const at = Date.now();
  const lines = block.split("\n");
  if (lines.every((l) => l.startsWith(":"))) {
    stream.comments.push({ text: lines.map((l) => l.slice(1).trim()).join("\n"), at });
    return;
  }
  let event = "message";
  const data = [];
  for (const line of lines) {
    if (line.startsWith("event:")) event = line.slice(6).trim();
    else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
  }
  stream.messages.push({ event, data: JSON.parse(data.join("\n")), at });
}
