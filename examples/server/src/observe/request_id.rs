//! Request ids: a random per-process prefix and a counter (`3f9a0c1e5b7d2e44-1a`), unique
//! across instances and restarts without asking the OS for randomness on every request
//! (a UUID v4 per request was one `getrandom` system call each).

use std::sync::{
    OnceLock,
    atomic::{AtomicU64, Ordering},
};

use http::HeaderValue;

/// The header carrying the id, in both directions.
pub const HEADER: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// The next request id of this process.
pub fn next() -> HeaderValue {
    // 64 random bits once per process: two instances share a prefix with probability
    // about n²/2⁶⁵ for n instances started over the deployment's life. Kept written out
    // (`<16 hex digits>-`): formatting it per request was a third of this function.
    static PREFIX: OnceLock<[u8; 17]> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        let mut prefix = [b'-'; 17];
        hex(
            uuid::Uuid::new_v4().as_u64_pair().0,
            &mut prefix[..16],
            true,
        );
        prefix
    });
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut buf = [0u8; 33];
    buf[..17].copy_from_slice(prefix);
    let len = 17 + hex(n, &mut buf[17..], false);
    HeaderValue::from_bytes(&buf[..len]).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Writes `v` in lower-case hex into `out` (16 digits when `pad`, else no leading zeros);
/// returns the digits written.
fn hex(v: u64, out: &mut [u8], pad: bool) -> usize {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let width = if pad {
        16
    } else {
        (16 - (v.leading_zeros() as usize / 4)).max(1)
    };
    for (i, slot) in out[..width].iter_mut().enumerate() {
        let shift = 4 * (width - 1 - i);
        *slot = DIGITS[((v >> shift) & 0xf) as usize];
    }
    width
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_distinct_and_share_the_process_prefix() {
        let (a, b) = (next(), next());
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        assert_ne!(a, b);
        let (pa, na) = a.split_once('-').unwrap();
        let (pb, nb) = b.split_once('-').unwrap();
        assert_eq!(pa, pb);
        assert_eq!(pa.len(), 16);
        assert!(u64::from_str_radix(nb, 16).unwrap() > u64::from_str_radix(na, 16).unwrap());
    }

    #[test]
    fn hex_digits() {
        let text = |v: u64, pad: bool| {
            let mut buf = [0u8; 16];
            let n = hex(v, &mut buf, pad);
            String::from_utf8(buf[..n].to_vec()).unwrap()
        };
        assert_eq!(text(0, false), "0");
        assert_eq!(text(0x1a, false), "1a");
        assert_eq!(text(u64::MAX, false), "ffffffffffffffff");
        assert_eq!(text(0xab, true), "00000000000000ab");
    }
}
