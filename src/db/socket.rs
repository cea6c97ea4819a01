//! The database connection's byte stream over a Workers TCP socket (what Hyperdrive's `connect()`
//! returns), for tokio-postgres. workers-rs has one (`worker::Socket`), but it takes the stream's
//! reader and writer afresh for every read and every write, releases them after, and makes every
//! write wait for its promise before the next: under load that glue was about a tenth of a busy
//! hub's time, and each query's write cost a promise round trip before its read could begin.
//!
//! This one holds the reader and the writer for the life of the connection, and hands writes to
//! the stream without waiting: the stream sends them in order, they are checked on the
//! connection's next call (which their completion wakes), and waited for only once more than
//! `MAX_UNCONFIRMED_BYTES` are outstanding. A write that fails makes the next write, flush or
//! read fail, so tokio-postgres ends the connection (and the hub opens another).

use js_sys::Uint8Array;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use worker::worker_sys::web_sys::{ReadableStreamDefaultReader, WritableStreamDefaultWriter};

/// Bytes handed to the stream whose writes have not completed, past which writing waits for the
/// stream to catch up. A send statement is a few kilobytes; a sync answer is read, not written.
const MAX_UNCONFIRMED_BYTES: usize = 256 * 1024;

#[wasm_bindgen]
extern "C" {
    /// What `ReadableStreamDefaultReader.read()` resolves to.
    type ReadResult;
    #[wasm_bindgen(method, getter)]
    fn done(this: &ReadResult) -> bool;
    #[wasm_bindgen(method, getter)]
    fn value(this: &ReadResult) -> Option<Uint8Array>;
}

pub struct StreamSocket {
    socket: worker::worker_sys::Socket,
    reader: ReadableStreamDefaultReader,
    writer: WritableStreamDefaultWriter,
    /// The read in flight, if any.
    reading: Option<JsFuture>,
    /// What the last read brought that did not fit into the caller's buffer.
    unread: Option<Uint8Array>,
    /// Writes handed to the stream and not yet seen to complete, oldest first, with their sizes.
    writes: VecDeque<(JsFuture, usize)>,
    unconfirmed_bytes: usize,
    /// The first write that failed.
    failure: Option<String>,
    closing: Option<JsFuture>,
}

fn io_error(value: JsValue) -> io::Error {
    let text = value
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| value.as_string())
        .unwrap_or_else(|| "the socket failed".to_string());
    io::Error::other(text)
}

impl StreamSocket {
    pub fn new(socket: worker::worker_sys::Socket) -> Result<Self, JsValue> {
        let reader = socket.readable()?.get_reader().unchecked_into::<ReadableStreamDefaultReader>();
        let writer = socket.writable()?.get_writer()?;
        Ok(Self {
            socket,
            reader,
            writer,
            reading: None,
            unread: None,
            writes: VecDeque::new(),
            unconfirmed_bytes: 0,
            failure: None,
            closing: None,
        })
    }

    /// Takes the writes that completed off the front, keeping the first failure; `cx` (the
    /// connection's one task) is woken when the oldest outstanding one completes, so a failed
    /// write is seen even while nothing is read.
    fn settle(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        while let Some((write, size)) = self.writes.front_mut() {
            match Pin::new(write).poll(cx) {
                Poll::Pending => break,
                Poll::Ready(result) => {
                    self.unconfirmed_bytes -= *size;
                    if let Err(e) = result {
                        self.failure.get_or_insert_with(|| io_error(e).to_string());
                    }
                    self.writes.pop_front();
                }
            }
        }
        match &self.failure {
            Some(failure) => Err(io::Error::other(failure.clone())),
            None => Ok(()),
        }
    }

    /// Copies what fits of `chunk` into `buf`, keeping the rest for the next read.
    fn fill(&mut self, chunk: Uint8Array, buf: &mut ReadBuf<'_>) {
        let length = chunk.length() as usize;
        let taken = length.min(buf.remaining());
        let target = buf.initialize_unfilled_to(taken);
        chunk.subarray(0, taken as u32).copy_to(target);
        buf.advance(taken);
        if taken < length {
            self.unread = Some(chunk.subarray(taken as u32, length as u32));
        }
    }
}

impl AsyncRead for StreamSocket {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Some(chunk) = self.unread.take() {
            self.fill(chunk, buf);
            return Poll::Ready(Ok(()));
        }
        if let Err(e) = self.settle(cx) {
            return Poll::Ready(Err(e));
        }
        loop {
            let mut reading = self.reading.take().unwrap_or_else(|| JsFuture::from(self.reader.read()));
            match Pin::new(&mut reading).poll(cx) {
                Poll::Pending => {
                    self.reading = Some(reading);
                    return Poll::Pending;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(io_error(e))),
                Poll::Ready(Ok(result)) => {
                    let result = result.unchecked_into::<ReadResult>();
                    match (result.done(), result.value()) {
                        // An empty chunk is not the end: read on (returning nothing would say it is).
                        (false, Some(chunk)) if chunk.length() == 0 => continue,
                        (false, Some(chunk)) => self.fill(chunk, buf),
                        // Done (the other side closed): a read of nothing tells the caller so.
                        _ => {}
                    }
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

impl AsyncWrite for StreamSocket {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if let Err(e) = self.settle(cx) {
            return Poll::Ready(Err(e));
        }
        if self.unconfirmed_bytes > MAX_UNCONFIRMED_BYTES {
            return Poll::Pending; // woken when the oldest write completes
        }
        let written = JsFuture::from(self.writer.write_with_chunk(&Uint8Array::from(buf)));
        self.writes.push_back((written, buf.len()));
        self.unconfirmed_bytes += buf.len();
        Poll::Ready(Ok(buf.len()))
    }

    /// Ready once every write is handed to the stream, which sends them in order, not once they
    /// are sent: tokio-postgres flushes to have its requests go out, and waits for their answers
    /// (which cannot come before them) rather than for the flush. A failed write fails the flush.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.settle(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut closing = self.closing.take().unwrap_or_else(|| JsFuture::from(self.writer.close()));
        match Pin::new(&mut closing).poll(cx) {
            Poll::Pending => {
                self.closing = Some(closing);
                Poll::Pending
            }
            Poll::Ready(result) => Poll::Ready(result.map(|_| ()).map_err(io_error)),
        }
    }
}

impl Drop for StreamSocket {
    /// Closes the socket when tokio-postgres lets go of the connection (its client dropped, or
    /// the connection failed); both sides are done with it by then.
    fn drop(&mut self) {
        if let Ok(closed) = self.socket.close() {
            // Nothing waits for it, but its outcome is taken, so a failure is not left unhandled.
            wasm_bindgen_futures::spawn_local(async move {
                let _ = JsFuture::from(closed).await;
            });
        }
    }
}
