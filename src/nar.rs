/*!
Nix's view of an output: the streaming NAR sha256 of a folder, hash encodings (SRI, nix32, hex), and the
store path of a recursive sha256 fixed-output derivation. Pure computation: never a subprocess.
*/

use crate::error::{Error, Kind, Result, usage};
use crate::layout::{Node, Tree};
use crate::regions::{Regions, Wait};
use base64::prelude::{BASE64_STANDARD, Engine};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

pub type Hash = [u8; 32];

pub const STORE_DIR: &str = "/nix/store";

/// The sha256 of the NAR serialisation of `path`, in constant memory.
pub fn nar_sha256(path: &Path) -> Result<Hash> {
    Ok(dump(path, io::sink())?.0)
}

/// Streams the NAR serialisation of `path` into `out`, hashing it on the way: its sha256 and size.
fn dump(path: &Path, out: impl io::Write) -> Result<(Hash, u64)> {
    let nar_error =
        |e: nix_nar::NarError| Error::new(Kind::Failed, format!("serialising {} as a NAR: {e}", path.display()));
    let mut encoder = nix_nar::Encoder::builder(path).internal_buffer_size(1 << 20).build().map_err(nar_error)?;
    let mut tee = HashingWriter { hasher: Sha256::new(), out };
    let size = io::copy(&mut encoder, &mut tee)?;
    Ok((tee.hasher.finalize().into(), size))
}

struct HashingWriter<W> {
    hasher: Sha256,
    out: W,
}

impl<W: io::Write> io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The NAR of a `layout::Tree` but for the contents of its blobs: every other byte, in chunks at their
/// offsets, and where each blob's contents go. A file of `size` bytes with the chunks written at their
/// offsets and every blob at its own is the NAR: a sink that downloads write straight into.
#[derive(Debug, Default)]
pub struct Skeleton {
    pub size: u64,
    pub chunks: Vec<(u64, Vec<u8>)>,
    /// Etag to offset.
    pub blobs: BTreeMap<String, u64>,
}

impl Skeleton {
    pub fn of(tree: &Tree) -> Skeleton {
        let mut sk = Skeleton::default();
        let mut buf = Vec::new();
        put(&mut buf, b"nix-archive-1");
        sk.dir(tree, &mut buf);
        sk.flush(&mut buf);
        sk
    }

    /// Writes the chunks into `file`, sized to hold the whole NAR (the blobs' places stay zeros).
    pub fn write(&self, file: &std::fs::File) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        file.set_len(self.size)?;
        self.chunks.iter().try_for_each(|(offset, bytes)| file.write_all_at(bytes, *offset))
    }

    fn dir(&mut self, tree: &Tree, buf: &mut Vec<u8>) {
        for token in ["(", "type", "directory"] {
            put(buf, token.as_bytes());
        }
        for (name, node) in &tree.0 {
            for token in ["entry", "(", "name", name, "node"] {
                put(buf, token.as_bytes());
            }
            self.node(node, buf);
            put(buf, b")");
        }
        put(buf, b")");
    }

    fn node(&mut self, node: &Node, buf: &mut Vec<u8>) {
        match node {
            Node::Dir(sub) => return self.dir(sub, buf),
            Node::Bytes(bytes) => {
                for token in ["(", "type", "regular", "contents"] {
                    put(buf, token.as_bytes());
                }
                put(buf, bytes);
            }
            Node::Blob { etag, size } => {
                for token in ["(", "type", "regular", "contents"] {
                    put(buf, token.as_bytes());
                }
                buf.extend_from_slice(&size.to_le_bytes());
                self.flush(buf);
                self.blobs.insert(etag.clone(), self.size);
                self.size += size;
                buf.resize(padding(*size), 0);
            }
            Node::Link(target) => {
                for token in ["(", "type", "symlink", "target", target] {
                    put(buf, token.as_bytes());
                }
            }
        }
        put(buf, b")");
    }

    fn flush(&mut self, buf: &mut Vec<u8>) {
        if !buf.is_empty() {
            let len = buf.len() as u64;
            self.chunks.push((self.size, std::mem::take(buf)));
            self.size += len;
        }
    }
}

/// A NAR string: its length (u64, little-endian), its bytes, zeros up to a multiple of 8.
fn put(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    buf.extend_from_slice(bytes);
    buf.resize(buf.len() + padding(bytes.len() as u64), 0);
}

fn padding(len: u64) -> usize {
    ((8 - len % 8) % 8) as usize
}

/// Makes `dir` a binary cache for one path (`nix-cache-info` and `nar/`) and gives the file its NAR goes
/// in, uncompressed; `add_narinfo` then lists it.
pub fn binary_cache(dir: &Path, name: &str) -> Result<std::path::PathBuf> {
    check_store_name(name)?;
    let nar_dir = dir.join("nar");
    std::fs::create_dir_all(&nar_dir)?;
    std::fs::write(dir.join("nix-cache-info"), format!("StoreDir: {STORE_DIR}\n"))?;
    Ok(nar_dir.join(format!("{name}.nar")))
}

/// The narinfo of the NAR `binary_cache` gave for `name`, of sha256 `hash` and `size` bytes, as the
/// recursive sha256 fixed-output path it is: its `CA` field lets Nix take it without a signature.
/// Returns the store path.
pub fn add_narinfo(dir: &Path, name: &str, hash: &Hash, size: u64) -> Result<String> {
    let path = fixed_output_path(hash, name)?;
    let hash32 = nix32(hash);
    let narinfo = format!(
        "StorePath: {path}\nURL: nar/{name}.nar\nCompression: none\nFileHash: sha256:{hash32}\nFileSize: {size}\n\
         NarHash: sha256:{hash32}\nNarSize: {size}\nReferences: \nCA: fixed:r:sha256:{hash32}\n"
    );
    let hash_part = &path[STORE_DIR.len() + 1..STORE_DIR.len() + 33];
    std::fs::write(dir.join(format!("{hash_part}.narinfo")), narinfo)?;
    Ok(path)
}

/// The sha256 and size of `file`, read in order as `regions` says its bytes are final (`None` if a
/// final region was written again).
pub fn sha256_following(file: &std::fs::File, regions: &Regions) -> io::Result<Option<(Hash, u64)>> {
    use std::os::unix::fs::FileExt;
    let (mut hasher, mut pos, mut buf) = (Sha256::new(), 0u64, vec![0u8; 1 << 20]);
    loop {
        match regions.wait_beyond(pos) {
            Wait::Upto(end) => {
                while pos < end {
                    let n = buf.len().min(usize::try_from(end - pos).unwrap_or(usize::MAX));
                    file.read_exact_at(&mut buf[..n], pos)?;
                    hasher.update(&buf[..n]);
                    pos += n as u64;
                }
            }
            Wait::Closed => return Ok(Some((hasher.finalize().into(), pos))),
            Wait::Spoiled => return Ok(None),
        }
    }
}

/// Nix's base-32 (its own alphabet, read from the last byte), as store paths and `sha256:` hashes use it.
pub fn nix32(bytes: &[u8]) -> String {
    nix_base32::to_nix_base32(bytes)
}

pub fn sri(hash: &Hash) -> String {
    format!("sha256-{}", BASE64_STANDARD.encode(hash))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a sha256 written as SRI (`sha256-…`), nix32 (optionally `sha256:`-prefixed) or hex.
pub fn parse_hash(s: &str) -> Result<Hash> {
    let bad = || usage(format!("invalid sha256 hash {s:?}: expected SRI (sha256-…), nix32 or hex"));
    if let Some(b64) = s.strip_prefix("sha256-") {
        return BASE64_STANDARD.decode(b64).ok().and_then(|v| v.try_into().ok()).ok_or_else(bad);
    }
    let s = s.strip_prefix("sha256:").unwrap_or(s);
    match s.len() {
        64 => (0..32)
            .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(bad),
        52 => nix_base32::from_nix_base32(s).and_then(|v| v.try_into().ok()).ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// The store path of a recursive sha256 fixed-output derivation: Nix's `makeFixedOutputPath`, the
/// sha256 of `source:sha256:<hex>:<store>:<name>` folded to 20 bytes, in nix32.
pub fn fixed_output_path(hash: &Hash, name: &str) -> Result<String> {
    store_path(&format!("source:sha256:{}", hex(hash)), name)
}

/// The store path of a flat sha256 fixed-output derivation (the file itself is the output), whose
/// content has the sha256 `hash`: the inner hash is of `fixed:out:sha256:<hex>:`.
pub fn flat_output_path(hash: &Hash, name: &str) -> Result<String> {
    let inner = hex(&Sha256::digest(format!("fixed:out:sha256:{}:", hex(hash))));
    store_path(&format!("output:out:sha256:{inner}"), name)
}

/// `<store>/<nix32 of the sha256 of "<what>:<store>:<name>" folded to 20 bytes>-<name>`.
fn store_path(what: &str, name: &str) -> Result<String> {
    check_store_name(name)?;
    let inner = format!("{what}:{STORE_DIR}:{name}");
    let digest: Hash = Sha256::digest(inner.as_bytes()).into();
    let mut folded = [0u8; 20];
    for (i, b) in digest.iter().enumerate() {
        folded[i % 20] ^= b;
    }
    Ok(format!("{STORE_DIR}/{}-{name}", nix32(&folded)))
}

pub fn check_store_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 207
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-._?=".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(usage(format!(
            "{name:?} is not a valid Nix store name (at most 207 characters among A-Za-z0-9+-._?=, not starting with '.')"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_round_trip() {
        let h: Hash = Sha256::digest(b"nix-hug").into();
        for s in [sri(&h), nix32(&h), hex(&h), format!("sha256:{}", nix32(&h))] {
            assert_eq!(parse_hash(&s).unwrap(), h, "{s}");
        }
        for bad in ["", "sha256-abc", "md5-xyz", &"z".repeat(52), &"g".repeat(64), "sha256-!!!!"] {
            assert!(parse_hash(bad).is_err(), "{bad:?}");
        }
        // Nix's nix32 of the empty sha256, a well-known constant.
        let empty: Hash = Sha256::digest(b"").into();
        assert_eq!(nix32(&empty), "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73");
    }

    /// As `nix-store --print-fixed-path sha256 <hex> hf-blob-<hex>` prints it.
    #[test]
    fn flat_output_paths() {
        let hash: Hash = Sha256::digest(b"hello").into();
        let name = format!("hf-blob-{}", hex(&hash));
        let want = format!("{STORE_DIR}/n58vamijpsp5cmkf9pz87c0hilsjccbs-{name}");
        assert_eq!(flat_output_path(&hash, &name).unwrap(), want);
    }

    /// A tree of folders, small files, links and blobs (contents given), with names a listing may have.
    fn trees() -> impl proptest::strategy::Strategy<Value = Vec<(String, Leaf)>> {
        use proptest::prelude::*;
        let name = "[a-zA-Z0-9._ #%éü-]{1,6}".prop_filter("not . or ..", |n| n != "." && n != "..");
        let leaf = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(Leaf::Bytes),
            proptest::collection::vec(any::<u8>(), 0..300).prop_map(Leaf::Blob),
            "[a-z./]{1,12}".prop_map(Leaf::Link),
            Just(Leaf::Dir),
        ];
        proptest::collection::vec((proptest::collection::vec(name, 1..4).prop_map(|p| p.join("/")), leaf), 0..24)
    }

    #[derive(Clone, Debug)]
    enum Leaf {
        Bytes(Vec<u8>),
        Blob(Vec<u8>),
        Link(String),
        Dir,
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// The NAR sink (the skeleton, then each blob at its offset) is byte for byte the NAR of what
        /// the directory sink writes, as nix-nar serialises it.
        #[test]
        fn the_nar_sink_is_the_nar_of_the_directory_sink(leaves in trees()) {
            let mut tree = Tree::default();
            let mut contents = BTreeMap::new();
            for (i, (path, leaf)) in leaves.into_iter().enumerate() {
                let node = match leaf {
                    Leaf::Bytes(b) => Node::Bytes(b),
                    Leaf::Blob(b) => {
                        let etag = format!("{i:040}");
                        let node = Node::Blob { etag: etag.clone(), size: b.len() as u64 };
                        contents.insert(etag, (path.clone(), b));
                        node
                    }
                    Leaf::Link(t) => Node::Link(t),
                    Leaf::Dir => Node::Dir(Tree::default()),
                };
                tree.insert(&path, node);
            }
            // A blob a later path turned into a folder, or that an earlier entry held, is not in the tree.
            let skeleton = Skeleton::of(&tree);
            contents.retain(|etag, _| skeleton.blobs.contains_key(etag));

            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("out");
            for (path, bytes) in contents.values() {
                let path = out.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, bytes).unwrap();
            }
            tree.write(&out).unwrap();
            let mut from_dir = Vec::new();
            dump(&out, &mut from_dir).unwrap();

            let file = std::fs::File::create_new(dir.path().join("sink.nar")).unwrap();
            skeleton.write(&file).unwrap();
            for (etag, offset) in &skeleton.blobs {
                std::os::unix::fs::FileExt::write_all_at(&file, &contents[etag].1, *offset).unwrap();
            }
            let from_sink = std::fs::read(dir.path().join("sink.nar")).unwrap();
            proptest::prop_assert_eq!(from_sink.len() as u64, skeleton.size);
            proptest::prop_assert!(from_sink == from_dir, "the sink differs from the NAR of the folder");
        }
    }

    #[test]
    fn store_names() {
        assert!(check_store_name("hf-model-acme-tiny-bert-0123").is_ok());
        for bad in ["", ".hidden", "a b", "a/b", "ü", &"a".repeat(208)] {
            assert!(check_store_name(bad).is_err(), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod vectors {
    //! `tests/vectors/store-paths.json`: trees hashed and named by real Nix.
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Case {
        nar_hash: String,
        nix32: String,
        hex: String,
        name: String,
        path: String,
        tree: Vec<Node>,
    }

    #[derive(Deserialize)]
    struct Node {
        path: String,
        kind: String,
        #[serde(default)]
        contents: String,
        #[serde(default)]
        target: String,
    }

    #[test]
    fn agree_with_nix() {
        let cases: Vec<Case> = serde_json::from_str(include_str!("../tests/vectors/store-paths.json")).unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let hash = parse_hash(&case.nar_hash).unwrap();
            assert_eq!(parse_hash(&case.nix32).unwrap(), hash, "{}", case.name);
            assert_eq!(parse_hash(&case.hex).unwrap(), hash, "{}", case.name);
            assert_eq!((sri(&hash), nix32(&hash), hex(&hash)), (case.nar_hash.clone(), case.nix32, case.hex));
            assert_eq!(fixed_output_path(&hash, &case.name).unwrap(), case.path);

            let dir = tempfile::tempdir().unwrap();
            let root = dir.path().join("root");
            std::fs::create_dir(&root).unwrap();
            for node in &case.tree {
                let p = root.join(&node.path);
                match node.kind.as_str() {
                    "dir" => std::fs::create_dir_all(&p).unwrap(),
                    "file" => std::fs::write(&p, &node.contents).unwrap(),
                    "symlink" => std::os::unix::fs::symlink(&node.target, &p).unwrap(),
                    other => panic!("unknown node kind {other}"),
                }
            }
            assert_eq!(sri(&nar_sha256(&root).unwrap()), case.nar_hash, "{}", case.name);
        }
    }
}
