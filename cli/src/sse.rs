//! Server-sent events as `GET /api/v1/stream` writes them: blocks separated
//! by a blank line, `event:` and `data:` fields, comment lines starting with
//! `:` (the relay's keep-alive). Bytes arrive in chunks that may split a block
//! (or a UTF-8 character) anywhere; the buffer keeps the rest for the next.

/// One message: its event name (`message` when unnamed) and its data lines
/// joined by newlines.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub event: String,
    pub data: String,
}

#[derive(Debug, Default)]
pub struct SseBuffer {
    pending: Vec<u8>,
}

impl SseBuffer {
    /// Adds a chunk; returns the messages it completed (comments are dropped).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Message> {
        self.pending.extend_from_slice(chunk);
        let mut messages = Vec::new();
        while let Some(end) = find_blank_line(&self.pending) {
            let block: Vec<u8> = self.pending.drain(..end + 2).collect();
            if let Some(message) = parse_block(&String::from_utf8_lossy(&block[..end])) {
                messages.push(message);
            }
        }
        messages
    }
}

fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\n\n")
}

fn parse_block(block: &str) -> Option<Message> {
    let mut event = "message".to_string();
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            event = name.trim().to_string();
        } else if let Some(value) = line.strip_prefix("data:") {
            data.push(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    (!data.is_empty()).then(|| Message {
        event,
        data: data.join("\n"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_cut_at_blank_lines_whatever_the_chunks() {
        let stream = ": connected\n\nevent: event\ndata: {\"id\":\"evt_1\",\"note\":\"é\"}\n\n: keep-alive\n\nevent: event\ndata: {\"id\":\"evt_2\"}\n\n";
        let bytes = stream.as_bytes();
        for split in 1..bytes.len() {
            let mut buffer = SseBuffer::default();
            let mut got = buffer.push(&bytes[..split]);
            got.extend(buffer.push(&bytes[split..]));
            assert_eq!(got.len(), 2, "split at {split}");
            assert_eq!(got[0].event, "event");
            assert_eq!(got[0].data, "{\"id\":\"evt_1\",\"note\":\"é\"}");
            assert_eq!(got[1].data, "{\"id\":\"evt_2\"}");
        }
    }

    #[test]
    fn data_lines_join_and_an_unnamed_message_is_a_message() {
        let mut buffer = SseBuffer::default();
        let got = buffer.push(b"data: a\ndata:b\n\n");
        assert_eq!(
            got,
            [Message {
                event: "message".into(),
                data: "a\nb".into()
            }]
        );
        assert!(buffer.push(b": only a comment\n\n").is_empty());
        assert!(
            buffer.push(b"event: event\ndata: {}").is_empty(),
            "incomplete"
        );
    }
}
