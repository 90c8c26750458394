//! The one path normalisation function.
//!
//! Every path a caller sends goes through [`normalize`] before anything else
//! looks at it. The result is relative to the namespace root, has no leading
//! or trailing '/', and contains only segments that are safe everywhere: no
//! empty, `.` or `..` segments, no NUL or control characters, and no segment
//! or path longer than the configured limits. Paths never reach a filesystem
//! or object key directly (content is stored under object ids), but the rules
//! still refuse anything a caller could use to confuse a listing or a client.

use crate::error::{Error, Result, invalid};

/// Limits on path length, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct PathLimits {
    /// Longest accepted path, in bytes.
    pub max_path_bytes: usize,
    /// Longest accepted segment, in bytes.
    pub max_segment_bytes: usize,
}

impl Default for PathLimits {
    fn default() -> Self {
        PathLimits {
            max_path_bytes: 4096,
            max_segment_bytes: 255,
        }
    }
}

/// Normalises a caller's path. `""` and `"/"` are the root, returned as `""`.
///
/// One leading '/' is accepted and dropped, and so is one trailing '/'
/// (`"dir/"` names the directory `dir`). Anything else irregular is refused
/// with INVALID_ARGUMENT, never silently repaired: `a//b` is not `a/b`.
pub fn normalize(raw: &str, limits: PathLimits) -> Result<String> {
    if raw.len() > limits.max_path_bytes {
        return Err(invalid(format!(
            "path is {} bytes, longer than the limit of {}",
            raw.len(),
            limits.max_path_bytes
        )));
    }
    let trimmed = raw.strip_prefix('/').unwrap_or(raw);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(invalid("path has an empty segment ('//')"));
    }
    for segment in trimmed.split('/') {
        check_segment(segment, limits)?;
    }
    Ok(trimmed.to_owned())
}

/// Like [`normalize`], but the root is refused: the path must name an entry.
pub fn normalize_entry(raw: &str, limits: PathLimits) -> Result<String> {
    let path = normalize(raw, limits)?;
    if path.is_empty() {
        return Err(invalid(
            "the path must name a file or directory, not the root",
        ));
    }
    Ok(path)
}

/// Like [`normalize_entry`], for a file about to be written: a trailing
/// '/' names a directory, so `"notes/"` is refused rather than written as
/// the file `notes`.
pub fn normalize_file(raw: &str, limits: PathLimits) -> Result<String> {
    if raw.ends_with('/') {
        return Err(invalid(format!(
            "{raw:?} ends with '/', which names a directory; a file path may not"
        )));
    }
    normalize_entry(raw, limits)
}

fn check_segment(segment: &str, limits: PathLimits) -> Result<()> {
    match segment {
        "" => return Err(invalid("path has an empty segment ('//')")),
        "." => return Err(invalid("path has a '.' segment")),
        ".." => return Err(invalid("path has a '..' segment")),
        _ => {}
    }
    if segment.len() > limits.max_segment_bytes {
        return Err(invalid(format!(
            "path segment is {} bytes, longer than the limit of {}",
            segment.len(),
            limits.max_segment_bytes
        )));
    }
    if let Some(c) = segment.chars().find(|c| c.is_control()) {
        let what = if c == '\0' {
            "NUL".to_owned()
        } else {
            format!("control character U+{:04X}", c as u32)
        };
        return Err(Error::InvalidArgument(format!("path contains {what}")));
    }
    if segment.contains('\\') {
        return Err(invalid("path contains '\\'; use '/' as the separator"));
    }
    Ok(())
}

/// The parent of a normalised path (`""` for top-level entries).
pub fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// The last segment of a normalised path.
pub fn file_name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// Every proper ancestor of a normalised path, outermost first, root excluded.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Joins a normalised directory and a relative normalised path.
pub fn join(dir: &str, rel: &str) -> String {
    match (dir.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_owned(),
        (_, true) => dir.to_owned(),
        _ => format!("{dir}/{rel}"),
    }
}

/// Whether `path` is `dir` itself or lies beneath it.
pub fn is_within(path: &str, dir: &str) -> bool {
    dir.is_empty()
        || path == dir
        || (path.starts_with(dir) && path.as_bytes().get(dir.len()) == Some(&b'/'))
}

/// The key range prefix of everything strictly beneath `dir`.
pub fn subtree_prefix(dir: &str) -> String {
    if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn norm(p: &str) -> Result<String> {
        normalize(p, PathLimits::default())
    }

    #[test]
    fn accepts_regular_paths() {
        assert_eq!(norm("").unwrap(), "");
        assert_eq!(norm("/").unwrap(), "");
        assert_eq!(norm("/a/b.txt").unwrap(), "a/b.txt");
        assert_eq!(norm("a/b/").unwrap(), "a/b");
        assert_eq!(norm("..a/b..").unwrap(), "..a/b..");
        assert_eq!(norm("日本/ファイル").unwrap(), "日本/ファイル");
    }

    #[test]
    fn refuses_every_bad_class() {
        for bad in [
            "..", "a/../b", "/..", "a/./b", ".", "a//b", "//", "a\0b", "a\nb", "a\u{7f}", "a\\b",
            "///a",
        ] {
            let err = norm(bad).unwrap_err();
            assert!(
                matches!(err, Error::InvalidArgument(_)),
                "{bad:?} gave {err:?}"
            );
        }
        assert!(norm(&"a".repeat(256)).is_err());
        assert!(norm(&"a".repeat(255)).is_ok());
        let long = vec!["abcdefgh"; 600].join("/");
        assert!(norm(&long).is_err());
    }

    #[test]
    fn a_file_path_may_not_name_a_directory() {
        let limits = PathLimits::default();
        for bad in ["trail/", "a/b/", "/", ""] {
            assert!(
                matches!(normalize_file(bad, limits), Err(Error::InvalidArgument(_))),
                "{bad:?}"
            );
        }
        assert_eq!(normalize_file("/a/b.txt", limits).unwrap(), "a/b.txt");
        // Directory paths keep their trailing slash.
        assert_eq!(normalize_entry("a/b/", limits).unwrap(), "a/b");
    }

    #[test]
    fn helpers() {
        assert_eq!(parent("a/b/c"), "a/b");
        assert_eq!(parent("a"), "");
        assert_eq!(file_name("a/b/c"), "c");
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), vec!["a", "a/b"]);
        assert!(is_within("a/b", "a"));
        assert!(!is_within("ab", "a"));
        assert!(is_within("x", ""));
    }

    proptest! {
        #[test]
        fn normalized_paths_are_safe_and_stable(raw in "[a-z./\\\\\\x00\\n]{0,40}") {
            if let Ok(p) = norm(&raw) {
                prop_assert!(!p.starts_with('/') && !p.ends_with('/'));
                for seg in p.split('/').filter(|_| !p.is_empty()) {
                    prop_assert!(!seg.is_empty() && seg != "." && seg != "..");
                    prop_assert!(!seg.contains('\0') && !seg.contains('\n'));
                }
                // Normalising again changes nothing.
                prop_assert_eq!(norm(&p).unwrap(), p.clone());
            }
        }

        #[test]
        fn file_paths_are_entry_paths_without_a_trailing_slash(raw in "[a-z./]{0,20}") {
            let limits = PathLimits::default();
            match normalize_file(&raw, limits) {
                Ok(p) => prop_assert_eq!(Some(p), normalize_entry(&raw, limits).ok()),
                Err(_) => prop_assert!(raw.ends_with('/') || normalize_entry(&raw, limits).is_err()),
            }
        }

        #[test]
        fn traversal_never_survives(prefix in "[a-z/]{0,10}", suffix in "[a-z/]{0,10}") {
            let raw = format!("{prefix}/../{suffix}");
            prop_assert!(norm(&raw).is_err());
        }

        #[test]
        fn any_unicode_input_is_either_refused_or_clean(raw in "\\PC{0,30}|.{0,30}") {
            if let Ok(p) = norm(&raw) {
                prop_assert!(!p.chars().any(|c| c.is_control()));
                prop_assert!(!p.split('/').any(|s| s == ".." || s == "."));
            }
        }
    }
}
