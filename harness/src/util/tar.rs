//! Reads the tar stream `docker cp CONTAINER:PATH -` writes: just the names,
//! kinds and sizes of its entries (ustar, with the PAX and GNU long-name
//! records Go's `archive/tar` may add). Enough to tell what a stopped node
//! had on its disk without unpacking anything on the host.

/// One entry of a tar stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The path as archived (`net.d/00-multus.conf`).
    pub path: String,
    /// The tar type flag (`b'0'` a file, `b'5'` a folder, `b'2'` a symlink).
    pub kind: u8,
    /// The size in bytes.
    pub size: u64,
}

impl Entry {
    /// The last path component, without a trailing `/`.
    pub fn file_name(&self) -> &str {
        let p = self.path.trim_end_matches('/');
        p.rsplit('/').next().unwrap_or(p)
    }

    /// A regular file (type `0` or the old NUL).
    pub fn is_file(&self) -> bool {
        self.kind == b'0' || self.kind == 0
    }
}

const BLOCK: usize = 512;

/// The entries of `bytes`, a whole tar stream. An error names the offset
/// and what was wrong; a stream cut short is an error, so a failed copy is
/// never read as "the folder is empty".
pub fn entries(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    let mut at = 0usize;
    let mut long_name: Option<String> = None;
    loop {
        let Some(header) = bytes.get(at..at + BLOCK) else {
            return Err(format!(
                "the tar stream ends at byte {} inside a header (no end-of-archive blocks)",
                bytes.len()
            ));
        };
        if header.iter().all(|b| *b == 0) {
            return Ok(out);
        }
        let size = octal(&header[124..136])
            .ok_or_else(|| format!("tar header at byte {at}: the size field is not octal"))?;
        let kind = header[156];
        let data = at + BLOCK;
        let size_usize = usize::try_from(size)
            .map_err(|_| format!("tar header at byte {at}: size {size} is too large"))?;
        let end = data
            .checked_add(size_usize)
            .filter(|e| *e <= bytes.len())
            .ok_or_else(|| {
                format!("tar entry at byte {at} claims {size} bytes, past the end of the stream")
            })?;
        let body = &bytes[data..end];
        match kind {
            // GNU long name: the next entry's name.
            b'L' => long_name = Some(cstr(body)),
            // PAX extended header: a `path=` record renames the next entry.
            b'x' => {
                if let Some(p) = pax_path(body) {
                    long_name = Some(p);
                }
            }
            // PAX global header: nothing this reader needs.
            b'g' => {}
            _ => {
                let path = long_name.take().unwrap_or_else(|| {
                    let name = cstr(&header[0..100]);
                    let prefix = cstr(&header[345..500]);
                    if prefix.is_empty() {
                        name
                    } else {
                        format!("{prefix}/{name}")
                    }
                });
                out.push(Entry { path, kind, size });
            }
        }
        at = data + size_usize.div_ceil(BLOCK) * BLOCK;
    }
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

fn octal(field: &[u8]) -> Option<u64> {
    let text = cstr(field);
    let text = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// The `path` of PAX records (`<len> path=<value>\n`).
fn pax_path(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    text.lines().find_map(|line| {
        let (_, record) = line.split_once(' ')?;
        record.strip_prefix("path=").map(str::to_string)
    })
}

/// A tar stream of `(path, type flag, contents)` entries, for tests and
/// scripted runs.
pub fn build(entries: &[(&str, u8, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, kind, body) in entries {
        let mut h = [0u8; BLOCK];
        let name = path.as_bytes();
        if name.len() > 100 {
            // A GNU long-name record first.
            let mut l = [0u8; BLOCK];
            l[..13].copy_from_slice(b"././@LongLink");
            write_octal(&mut l[124..136], name.len() as u64 + 1);
            l[156] = b'L';
            checksum(&mut l);
            out.extend_from_slice(&l);
            let mut body = name.to_vec();
            body.push(0);
            pad(&mut body);
            out.extend_from_slice(&body);
            h[..100].copy_from_slice(&name[..100]);
        } else {
            h[..name.len()].copy_from_slice(name);
        }
        write_octal(&mut h[100..108], 0o644);
        write_octal(&mut h[124..136], body.len() as u64);
        h[156] = *kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        checksum(&mut h);
        out.extend_from_slice(&h);
        let mut body = body.to_vec();
        pad(&mut body);
        out.extend_from_slice(&body);
    }
    out.extend_from_slice(&[0u8; BLOCK * 2]);
    out
}

fn write_octal(field: &mut [u8], v: u64) {
    let s = format!("{:0width$o}\0", v, width = field.len() - 1);
    field.copy_from_slice(s.as_bytes());
}

fn checksum(h: &mut [u8; BLOCK]) {
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| u64::from(*b)).sum();
    let s = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(s.as_bytes());
}

fn pad(body: &mut Vec<u8>) {
    let rem = body.len() % BLOCK;
    if rem != 0 {
        body.resize(body.len() + BLOCK - rem, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_a_folder_as_docker_cp_writes_it() {
        let long = format!("net.d/{}.conflist", "x".repeat(120));
        let bytes = build(&[
            ("net.d/", b'5', b""),
            (
                "net.d/00-multus.conf",
                b'0',
                b"{\"name\":\"multus-cni-network\"}",
            ),
            ("net.d/01-kube-ovn.conflist", b'0', b"{}"),
            (&long, b'0', b""),
        ]);
        let e = entries(&bytes).unwrap();
        let names: Vec<&str> = e.iter().map(Entry::file_name).collect();
        assert_eq!(
            names[..3],
            ["net.d", "00-multus.conf", "01-kube-ovn.conflist"]
        );
        assert_eq!(e[3].path, long);
        assert!(!e[0].is_file() && e[1].is_file());
        assert_eq!(e[1].size, 29);
    }

    #[test]
    fn pax_paths_rename_the_next_entry() {
        let record = "31 path=net.d/renamed.conflist\n";
        let mut bytes = build(&[("PaxHeaders/x", b'x', record.as_bytes())]);
        bytes.truncate(bytes.len() - BLOCK * 2);
        bytes.extend(build(&[("short", b'0', b"")]));
        let e = entries(&bytes).unwrap();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].path, "net.d/renamed.conflist");
    }

    #[test]
    fn a_stream_cut_short_is_an_error_not_an_empty_folder() {
        let bytes = build(&[("net.d/00-multus.conf", b'0', &[b'x'; 1000])]);
        assert!(entries(&bytes[..600]).unwrap_err().contains("past the end"));
        assert!(
            entries(&bytes[..100])
                .unwrap_err()
                .contains("inside a header")
        );
        assert!(entries(b"").is_err());
        assert_eq!(entries(&[0u8; 1024]).unwrap(), Vec::new());
    }
}
