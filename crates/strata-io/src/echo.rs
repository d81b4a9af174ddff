//! The echo service (RFC 862) over any `Read + Write` stream, and a client
//! that checks the echo byte for byte.

use std::io::{self, Read, Write};

/// Echoes everything read back to the writer until the peer closes its
/// sending side. Returns the number of bytes echoed.
pub fn echo_stream<S: Read + Write>(mut stream: S) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
    stream.flush()?;
    Ok(total)
}

/// Sends `data` in pieces of at most `piece` bytes, reading each piece's
/// echo back before sending the next (so neither side's buffers can fill
/// up and deadlock). Returns what came back.
pub fn echo_roundtrip<S: Read + Write>(
    mut stream: S,
    data: &[u8],
    piece: usize,
) -> io::Result<Vec<u8>> {
    let piece = piece.max(1);
    let mut back = Vec::with_capacity(data.len());
    for chunk in data.chunks(piece) {
        stream.write_all(chunk)?;
        stream.flush()?;
        let want = back.len() + chunk.len();
        let mut buf = [0u8; 16 * 1024];
        while back.len() < want {
            let cap = (want - back.len()).min(buf.len());
            match stream.read(&mut buf[..cap]) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => back.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(back)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Shutdown, TcpListener, TcpStream};

    #[test]
    fn echo_over_loopback() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || echo_stream(l.accept().unwrap().0).unwrap());
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let s = TcpStream::connect(addr).unwrap();
        let back = echo_roundtrip(&s, &data, 7000).unwrap();
        assert_eq!(back, data);
        s.shutdown(Shutdown::Write).unwrap();
        assert_eq!(h.join().unwrap(), data.len() as u64);
    }

    #[test]
    fn roundtrip_reports_early_close() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let h = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0u8; 3];
            s.read_exact(&mut b).unwrap();
            s.write_all(&b[..2]).unwrap();
        });
        let err = echo_roundtrip(TcpStream::connect(addr).unwrap(), b"abc", 3).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        h.join().unwrap();
    }
}
