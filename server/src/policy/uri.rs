//! S3's URI encoding, which signatures are computed over and URLs are written in.
//! <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>

use std::fmt::Write as _;

/// `text` with every byte but `A-Z a-z 0-9 - . _ ~` as `%XX`, and `/` too unless `keep_slash`
/// (it then separates path segments).
pub fn encoded(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreserved_bytes_stay() {
        assert_eq!(encoded("a b/ü+%~*.txt", true), "a%20b/%C3%BC%2B%25~%2A.txt");
        assert_eq!(encoded("x/y=", false), "x%2Fy%3D");
    }
}
