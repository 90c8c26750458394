//! Order-preserving encoding of tuple keys into bytes.
//!
//! Every engine stores keys as plain bytes compared byte by byte (redb's
//! `&[u8]`, PostgreSQL's `bytea`), so a tuple of strings must encode to
//! bytes whose order is the tuple's order, and a tuple's encoding must be a
//! prefix of exactly the keys that begin with it. Each component is its
//! UTF-8 bytes with every NUL escaped as `00 FF`, then the terminator
//! `00 01`: a terminator sorts before any byte that continues a longer
//! component, and an escaped NUL can never be mistaken for one.
//!
//! `("a")` < `("a\0")` < `("ab")` because `61 00 01` < `61 00 FF 00 01` <
//! `61 62 00 01`; `("a", "z")` < `("ab", "a")` because the first components
//! decide. The conformance suite pins these orders on every engine.

use crate::error::{Error, Result};

const ESCAPE: u8 = 0x00;
const ESCAPED_NUL: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;

/// Appends one string component, escaped but not terminated: the bytes
/// every key whose component starts with `part` begins with.
pub fn push_partial(out: &mut Vec<u8>, part: &str) {
    for &b in part.as_bytes() {
        out.push(b);
        if b == ESCAPE {
            out.push(ESCAPED_NUL);
        }
    }
}

/// Appends one complete component.
pub fn push(out: &mut Vec<u8>, part: &str) {
    push_partial(out, part);
    out.extend_from_slice(&[ESCAPE, TERMINATOR]);
}

/// The encoding of a tuple of complete components.
pub fn tuple(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len() + 2).sum());
    for part in parts {
        push(&mut out, part);
    }
    out
}

/// The prefix shared by every key whose first components are `complete` and
/// whose next component starts with `partial`.
pub fn prefix(complete: &[&str], partial: &str) -> Vec<u8> {
    let mut out = tuple(complete);
    push_partial(&mut out, partial);
    out
}

/// Splits an encoded key back into its components.
pub fn parts(mut bytes: &[u8]) -> Result<Vec<String>> {
    let corrupt = || Error::Metadata("corrupt key: not a tuple encoding".into());
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let mut part = Vec::new();
        loop {
            let (&b, rest) = bytes.split_first().ok_or_else(corrupt)?;
            bytes = rest;
            if b != ESCAPE {
                part.push(b);
                continue;
            }
            let (&next, rest) = bytes.split_first().ok_or_else(corrupt)?;
            bytes = rest;
            match next {
                ESCAPED_NUL => part.push(ESCAPE),
                TERMINATOR => break,
                _ => return Err(corrupt()),
            }
        }
        out.push(String::from_utf8(part).map_err(|_| corrupt())?);
    }
    Ok(out)
}

/// The smallest byte string greater than every string starting with
/// `prefix` (`None`: there is none, scan to the end).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The smallest byte string greater than `key` (for "strictly after").
pub fn successor(key: &[u8]) -> Vec<u8> {
    let mut next = Vec::with_capacity(key.len() + 1);
    next.extend_from_slice(key);
    next.push(0);
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Encoding preserves the order of tuples and round-trips, NULs and
        /// all; a tuple's encoding prefixes exactly its extensions.
        #[test]
        fn tuples_keep_their_order(a in proptest::collection::vec("[a\\x00b/\\x7f-\u{10ffff}]{0,6}", 1..4),
                                   b in proptest::collection::vec("[a\\x00b/\\x7f-\u{10ffff}]{0,6}", 1..4)) {
            let (ka, kb) = (tuple(&a.iter().map(String::as_str).collect::<Vec<_>>()),
                            tuple(&b.iter().map(String::as_str).collect::<Vec<_>>()));
            proptest::prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
            proptest::prop_assert_eq!(parts(&ka).unwrap(), a.clone());
            let first = tuple(&[a[0].as_str()]);
            proptest::prop_assert_eq!(kb.starts_with(&first), b[0] == a[0]);
            let partial = prefix(&[], &a[0]);
            proptest::prop_assert_eq!(kb.starts_with(&partial), b[0].starts_with(a[0].as_str()));
            if let Some(end) = prefix_end(&partial) {
                proptest::prop_assert_eq!(kb.starts_with(&partial), kb >= partial && kb < end);
            }
        }
    }

    #[test]
    fn corrupt_keys_are_refused() {
        for bad in [
            &[0x61, 0x00][..],
            &[0x61],
            &[0x00, 0x02],
            &[0xC3, 0x00, 0x01],
        ] {
            assert!(parts(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parts(&[]).unwrap(), Vec::<String>::new());
    }
}
