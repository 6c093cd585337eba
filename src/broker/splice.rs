//! Record bytes sent from segment files (zero-copy fetch): a fetch answer's records are not
//! read into memory; the response carries a placeholder of the right length where they go,
//! and the connection sends the file region there with `sendfile(2)` (or, on a file with no
//! OS file behind it, in bounded reads).
//!
//! A placeholder is a slice of the splice area, a zeroed allocation that is never read: it
//! only gives the generated encoder a `Bytes` of the right length, which the encoder hands on
//! as a chunk of its own (regions are at least `ZERO_COPY_MIN_BYTES`, so it never copies them),
//! and which the writer recognises by its address. The area is allocated zeroed once and never
//! touched, so it is address space, not memory (the allocator maps fresh zero pages). If a segment shrinks or disappears while it is being sent (retention, truncation),
//! the connection is closed rather than sending bytes that are not there.
//!
//! Must not: decide what a fetch returns. Called by: `handlers::fetch`, `connection`.

use crate::limits::{SPLICE_MAX_BYTES, SPLICE_MIN_BYTES};
use crate::replication::FileRegion;
use bytes::Bytes;
use std::io;
use std::os::fd::AsRawFd;
use tokio::io::{AsyncWrite, AsyncWriteExt, Interest};
use tokio::net::tcp::OwnedWriteHalf;

static SPLICE_AREA: std::sync::OnceLock<&'static [u8]> = std::sync::OnceLock::new();

fn splice_area() -> &'static [u8] {
    SPLICE_AREA.get_or_init(|| Box::leak(vec![0u8; SPLICE_MAX_BYTES].into_boxed_slice()))
}

/// A placeholder for `region`'s bytes, when the region is to be sent from its file.
pub fn placeholder(region: &FileRegion) -> Option<Bytes> {
    let len = usize::try_from(region.length).ok()?;
    (SPLICE_MIN_BYTES..=SPLICE_MAX_BYTES)
        .contains(&len)
        .then(|| Bytes::from_static(&splice_area()[..len]))
}

/// Whether a response chunk is a placeholder.
pub fn is_placeholder(chunk: &Bytes) -> bool {
    !chunk.is_empty()
        && SPLICE_AREA
            .get()
            .is_some_and(|a| chunk.as_ptr() == a.as_ptr())
}

fn shrank(region: &FileRegion, sent: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!(
            "a segment shrank while it was sent: {sent} of {} bytes from position {}",
            region.length, region.position
        ),
    )
}

/// Sends `region` to the socket: `sendfile(2)` from its OS file, else bounded reads.
pub async fn send_region(writer: &mut OwnedWriteHalf, region: &FileRegion) -> io::Result<()> {
    writer.flush().await?;
    match region.file.os_file() {
        Some(file) => sendfile_all(writer, file.as_raw_fd(), region).await,
        None => copy_region(writer, region).await,
    }
}

async fn sendfile_all(
    writer: &OwnedWriteHalf,
    file_fd: i32,
    region: &FileRegion,
) -> io::Result<()> {
    let socket: &tokio::net::TcpStream = writer.as_ref();
    let socket_fd = socket.as_raw_fd();
    let mut offset = i64::try_from(region.position).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut sent = 0u64;
    while sent < region.length {
        socket.writable().await?;
        let count = usize::try_from(region.length - sent).unwrap_or(usize::MAX);
        let result = socket.try_io(Interest::WRITABLE, || {
            // SAFETY: both descriptors are open for the duration of the call (the socket is
            // borrowed, the file is held by the region's Arc), and `offset` is a valid i64
            // that sendfile reads and advances.
            let n = unsafe { libc::sendfile(socket_fd, file_fd, &mut offset, count) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as u64)
            }
        });
        match result {
            Ok(0) => return Err(shrank(region, sent)),
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends a region by reading it a window at a time (files without an OS file).
async fn copy_region(
    writer: &mut (impl AsyncWrite + Unpin),
    region: &FileRegion,
) -> io::Result<()> {
    const WINDOW: u64 = 256 << 10;
    let mut sent = 0u64;
    let mut buf = Vec::new();
    while sent < region.length {
        let len = WINDOW.min(region.length - sent);
        buf.resize(len as usize, 0);
        region
            .file
            .read_exact_at(&mut buf, region.position + sent)
            .map_err(|_| shrank(region, sent))?;
        writer.write_all(&buf).await?;
        sent += len;
    }
    Ok(())
}
