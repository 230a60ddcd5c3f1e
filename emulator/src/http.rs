//! A small HTTP/1.1 server: one thread per connection, keep-alive, bodies by Content-Length,
//! optional TLS (rustls). `httparse` reads the request head; the rest is here because the
//! emulator must be able to close a connection without answering (`lost-response`), which
//! higher-level servers do not allow (tiny_http answers 500 for a dropped request).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The largest request head accepted.
const MAX_HEAD: usize = 64 << 10;
/// The largest body accepted: 10,000 device names of 32 characters form ~500 KB.
const MAX_BODY: usize = 16 << 20;
/// An idle keep-alive connection is closed after this long.
const IDLE: Duration = Duration::from_secs(60);

/// A request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// Method.
    pub method: String,
    /// Path, without the query.
    pub path: String,
    /// Query string without `?` (empty when there is none).
    pub query: String,
    /// Headers, names lowercase, in order.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// A response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    /// Answer it.
    Answer(Response),
    /// Close the connection without a word.
    Hangup,
    /// Hold the connection this long, then close it without a word (the handler has returned,
    /// so other connections are served meanwhile: each has its own thread).
    Stall(Duration),
}

/// Handles one request.
pub(crate) type Handler = Arc<dyn Fn(Request) -> Reply + Send + Sync>;

/// A running server.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `listener` until [`Server::shutdown`], over TLS when `tls` is given.
    pub(crate) fn spawn(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: Handler,
    ) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let accept = std::thread::Builder::new().name("emulator-accept".into()).spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, tls) = (Arc::clone(&handler), tls.clone());
                let _ = std::thread::Builder::new()
                    .name("emulator-conn".into())
                    .spawn(move || connection(stream, tls, &handler));
            }
        })?;
        Ok(Server { addr, stop, accept: Some(accept) })
    }

    /// Stops accepting connections (open ones end when their client leaves or idles out).
    pub(crate) fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn connection(stream: TcpStream, tls: Option<Arc<rustls::ServerConfig>>, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = stream.set_write_timeout(Some(IDLE));
    let _ = stream.set_nodelay(true);
    match tls {
        None => serve(stream, handler),
        Some(config) => {
            let Ok(session) = rustls::ServerConnection::new(config) else { return };
            serve(rustls::StreamOwned::new(session, stream), handler);
        }
    }
}

fn serve<S: Read + Write>(stream: S, handler: &Handler) {
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader) {
            Ok(Some(request)) => request,
            Ok(None) => return,
            Err(status) => {
                let text = format!("{status} {}\n", reason(status));
                let response = Response { status, content_type: "text/plain", body: text.into_bytes() };
                let _ = write_response(reader.get_mut(), &response, false);
                return;
            }
        };
        let keep_alive =
            !request.headers.iter().any(|(name, value)| name == "connection" && value.eq_ignore_ascii_case("close"));
        match handler(request) {
            Reply::Hangup => return,
            Reply::Stall(held) => {
                std::thread::sleep(held);
                return;
            }
            Reply::Answer(response) => {
                if write_response(reader.get_mut(), &response, keep_alive).is_err() || !keep_alive {
                    return;
                }
            }
        }
    }
}

/// Reads one request; `Ok(None)` at a clean end of the connection, `Err(status)` for a request
/// that cannot be served.
fn read_request<R: BufRead>(reader: &mut R) -> Result<Option<Request>, u16> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8];
        match reader.read(&mut byte) {
            Ok(0) if head.is_empty() => return Ok(None),
            Ok(0) | Err(_) => return if head.is_empty() { Ok(None) } else { Err(400) },
            Ok(_) => head.push(byte[0]),
        }
        if head.len() > MAX_HEAD {
            return Err(431);
        }
    }
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut slots);
    if !matches!(parsed.parse(&head), Ok(httparse::Status::Complete(_))) {
        return Err(400);
    }
    let target = parsed.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|header| (header.name.to_ascii_lowercase(), String::from_utf8_lossy(header.value).into_owned()))
        .collect();
    if headers.iter().any(|(name, _)| name == "transfer-encoding") {
        return Err(411);
    }
    let length = match headers.iter().find(|(name, _)| name == "content-length") {
        None => 0,
        Some((_, value)) => value.trim().parse::<usize>().map_err(|_| 400u16)?,
    };
    if length > MAX_BODY {
        return Err(413);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|_| 400u16)?;
    Ok(Some(Request {
        method: parsed.method.unwrap_or("GET").to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
    }))
}

fn write_response<W: Write>(writer: &mut W, response: &Response, keep_alive: bool) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&response.body);
    writer.write_all(&bytes)?;
    writer.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        411 => "Length Required",
        413 => "Payload Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<Option<Request>, u16> {
        read_request(&mut BufReader::new(bytes))
    }

    #[test]
    fn reads_a_request_with_a_body_and_refuses_what_it_cannot_serve() {
        let request = read(b"POST /?a=1&b=2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcNEXT").unwrap().unwrap();
        assert_eq!((request.method.as_str(), request.path.as_str(), request.query.as_str()), ("POST", "/", "a=1&b=2"));
        assert_eq!(request.headers[0], ("host".to_string(), "x".to_string()));
        assert_eq!(request.body, b"abc");
        assert_eq!(read(b""), Ok(None));
        assert_eq!(read(b"GARBAGE\r\n\r\n"), Err(400));
        assert_eq!(read(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort"), Err(400));
        assert_eq!(read(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), Err(411));
        assert_eq!(read(format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", MAX_BODY + 1).as_bytes()), Err(413));
    }
}
