//! A small HTTP/1.1 server on `std::net`: one thread per connection, keep-alive, and the ability to drop a
//! connection without answering (fault injection needs the TCP connection to really go away).

use std::io::{BufReader, BufWriter, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::request::{ReadError, Request};
use super::response::Response;

/// What to do with a request.
pub enum Outcome {
    /// Send this response.
    Respond(Response),
    /// Close the connection without a response.
    Drop,
}

/// Something that answers requests.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, req: &Request) -> Outcome;
}

/// How long an idle keep-alive connection stays open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Accepts connections until `stop` is set, one thread each.
pub fn run(listener: TcpListener, handler: Arc<dyn Handler>, stop: Arc<AtomicBool>) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let handler = handler.clone();
        let spawned = thread::Builder::new().name("http-conn".into()).spawn(move || connection(stream, handler));
        if spawned.is_err() {
            // Out of threads: the stream was moved into the failed closure and is closed with it.
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn connection(stream: TcpStream, handler: Arc<dyn Handler>) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(write_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    let mut writer = BufWriter::new(write_half);
    // Every loop iteration reads one request; a connection ends on close, error, timeout or drop.
    loop {
        let head = Request::read_head(&mut reader).and_then(|mut req| {
            if req.expects_continue() {
                let _ = writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").and_then(|_| writer.flush());
            }
            req.read_body(&mut reader).map(|_| req)
        });
        let req = match head {
            Ok(r) => r,
            Err(ReadError::Closed) | Err(ReadError::Io) => return,
            Err(ReadError::Bad(status, msg)) => {
                let resp = Response::error(status, "0x80060888", &msg);
                let _ = resp.write_to(&mut writer, false);
                return;
            }
        };
        let keep_alive = !req.wants_close();
        match handler.handle(&req) {
            Outcome::Respond(resp) => {
                if resp.write_to(&mut writer, keep_alive).is_err() || !keep_alive {
                    let _ = writer.get_ref().shutdown(Shutdown::Both);
                    return;
                }
            }
            Outcome::Drop => {
                let _ = writer.get_ref().shutdown(Shutdown::Both);
                return;
            }
        }
    }
}
