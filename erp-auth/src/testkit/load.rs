//! A small loopback load generator for benchmarks: keep-alive HTTP/1.1 connections
//! sending one request in a loop, bounded in time, stopping by itself.

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// How to load a route.
#[derive(Debug, Clone)]
pub struct Load {
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Not counted.
    pub warmup: Duration,
    /// Counted.
    pub measure: Duration,
}

impl Default for Load {
    fn default() -> Self {
        Self {
            connections: 64,
            warmup: Duration::from_secs(1),
            measure: Duration::from_secs(5),
        }
    }
}

/// The outcome of one scenario.
#[derive(Debug, Clone, Copy)]
pub struct LoadResult {
    /// Completed requests per second.
    pub per_second: f64,
    /// Share of 200 answers.
    pub ok_share: f64,
}

/// Reads one response with a Content-Length body; returns its status.
async fn read_response(reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>) -> Option<u16> {
    let mut line = String::new();
    reader.read_line(&mut line).await.ok()?;
    let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
    let mut length = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).await.ok()?;
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.ok()?;
    Some(status)
}

/// Sends `GET path` (with a bearer token if given) to `addr` (a loopback address).
pub async fn run(addr: SocketAddr, path: &str, bearer: Option<&str>, load: &Load) -> LoadResult {
    assert!(addr.ip().is_loopback(), "load tests target loopback only");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: bench\r\n");
    if let Some(token) = bearer {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    let request: Arc<[u8]> = request.into_bytes().into();
    let counting = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, all) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut tasks = Vec::new();
    for _ in 0..load.connections {
        let (request, counting, stop, ok, all) = (
            Arc::clone(&request),
            Arc::clone(&counting),
            Arc::clone(&stop),
            Arc::clone(&ok),
            Arc::clone(&all),
        );
        tasks.push(tokio::spawn(async move {
            let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
                return;
            };
            stream.set_nodelay(true).ok();
            let (read, mut write) = stream.into_split();
            let mut reader = BufReader::new(read);
            while !stop.load(Ordering::Relaxed) {
                if write.write_all(&request).await.is_err() {
                    break;
                }
                let Some(status) = read_response(&mut reader).await else {
                    break;
                };
                if counting.load(Ordering::Relaxed) {
                    all.fetch_add(1, Ordering::Relaxed);
                    if status == 200 {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(load.warmup).await;
    counting.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(load.measure).await;
    counting.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let all = all.load(Ordering::Relaxed) as f64;
    LoadResult {
        per_second: all / elapsed,
        ok_share: ok.load(Ordering::Relaxed) as f64 / all.max(1.0),
    }
}
