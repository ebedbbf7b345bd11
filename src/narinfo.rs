/*!
The `.narinfo` files of a binary cache, as `nix copy` writes them: the store path each describes,
where its NAR is and how it is compressed, the hashes and sizes of the NAR and of its file, the paths
it refers to, and its `CA` field when it is content-addressed. Pure: never reads a file itself.
*/

use crate::nar::STORE_DIR;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NarInfo {
    pub store_path: String,
    /// The NAR's file, relative to the cache: `nar/<hash>.nar`.
    pub url: String,
    /// `none`, `xz`, `zstd`…
    pub compression: String,
    /// Of the file as stored (compressed), `sha256:<nix32>`; Nix writes both.
    pub file_hash: Option<String>,
    pub file_size: Option<u64>,
    /// Of the NAR itself, `sha256:<nix32>`.
    pub nar_hash: String,
    pub nar_size: u64,
    /// The store paths it refers to, as base names (`<hash>-<name>`).
    pub references: Vec<String>,
    /// `fixed:r:sha256:<nix32>` for a recursive fixed-output path.
    pub ca: Option<String>,
}

impl NarInfo {
    /// The fields a narinfo must have, and those above that it may; others are ignored.
    pub fn parse(text: &str) -> Result<NarInfo, String> {
        let field = |name: &str| text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(": ")).map(str::trim);
        let need = |name: &str| field(name).ok_or_else(|| format!("no {name} field"));
        let size = |name: &str, v: &str| v.parse::<u64>().map_err(|_| format!("{name}: not a size: {v:?}"));
        let store_path = need("StorePath")?.to_owned();
        if hash_part(&store_path).is_none() {
            return Err(format!("StorePath: not a path in {STORE_DIR}: {store_path:?}"));
        }
        Ok(NarInfo {
            store_path,
            url: need("URL")?.to_owned(),
            compression: field("Compression").unwrap_or("bzip2").to_owned(),
            file_hash: field("FileHash").map(str::to_owned),
            file_size: field("FileSize").map(|v| size("FileSize", v)).transpose()?,
            nar_hash: need("NarHash")?.to_owned(),
            nar_size: size("NarSize", need("NarSize")?)?,
            references: field("References").unwrap_or_default().split_whitespace().map(str::to_owned).collect(),
            ca: field("CA").map(str::to_owned),
        })
    }

    /// The 32 characters that name its files in the cache (`<hash>.narinfo`).
    pub fn hash_part(&self) -> &str {
        hash_part(&self.store_path).unwrap_or_default()
    }

    /// The store name after the hash: `hf-model-acme-tiny-bert-<rev>`.
    pub fn name(&self) -> &str {
        self.store_path.get(STORE_DIR.len() + 34..).unwrap_or_default()
    }
}

/// The hash part of a store path (`/nix/store/<hash>-<name>`) or of its base name.
pub fn hash_part(path: &str) -> Option<&str> {
    let base = path.strip_prefix(STORE_DIR).and_then(|p| p.strip_prefix('/')).unwrap_or(path);
    let (hash, name) = (base.get(..32)?, base.get(32..)?);
    let nix32 = |c: char| c.is_ascii_digit() || c.is_ascii_lowercase() && !"eotu".contains(c);
    (hash.chars().all(nix32) && name.starts_with('-') && name.len() > 1).then_some(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRITTEN: &str = "\
StorePath: /nix/store/ysx76az3lrsi7xp1i0vxbz5j45fg72sf-hf-model-acme-tiny-bert-96e8b76aa8ed13c5952c4750e817de301f27a6a8
URL: nar/0xjmwnrawav179sk8yacdw1wn270ldy751yv2pdm1xnhznk70r0j.nar
Compression: none
FileHash: sha256:0xjmwnrawav179sk8yacdw1wn270ldy751yv2pdm1xnhznk70r0j
FileSize: 3432
NarHash: sha256:0xjmwnrawav179sk8yacdw1wn270ldy751yv2pdm1xnhznk70r0j
NarSize: 3432
References: 3jiv062846m97sdjqd7z7r9w1f5h67jq-hf-blob-ec73 hyzsmy0r3mcbs3ah5ib40hmg6iv2rrnz-small-files
CA: fixed:r:sha256:0xjmwnrawav179sk8yacdw1wn270ldy751yv2pdm1xnhznk70r0j
";

    #[test]
    fn what_nix_copy_writes() {
        let info = NarInfo::parse(WRITTEN).unwrap();
        assert_eq!(info.hash_part(), "ysx76az3lrsi7xp1i0vxbz5j45fg72sf");
        assert_eq!(info.name(), "hf-model-acme-tiny-bert-96e8b76aa8ed13c5952c4750e817de301f27a6a8");
        assert_eq!(info.url, "nar/0xjmwnrawav179sk8yacdw1wn270ldy751yv2pdm1xnhznk70r0j.nar");
        assert_eq!((info.compression.as_str(), info.nar_size, info.file_size), ("none", 3432, Some(3432)));
        assert_eq!(info.references.len(), 2);
        assert!(info.ca.as_deref().is_some_and(|ca| ca.starts_with("fixed:r:sha256:")));
        let bare = "StorePath: /nix/store/ysx76az3lrsi7xp1i0vxbz5j45fg72sf-x\nURL: nar/a.nar.xz\nNarHash: sha256:1\nNarSize: 1\nReferences: \n";
        let info = NarInfo::parse(bare).unwrap();
        assert_eq!((info.compression.as_str(), info.references.len(), info.ca), ("bzip2", 0, None));
    }

    #[test]
    fn refusals() {
        let without = |field: &str| WRITTEN.lines().filter(|l| !l.starts_with(field)).collect::<Vec<_>>().join("\n");
        assert_eq!(NarInfo::parse(&without("URL:")).unwrap_err(), "no URL field");
        assert_eq!(NarInfo::parse(&without("NarHash:")).unwrap_err(), "no NarHash field");
        assert_eq!(NarInfo::parse("").unwrap_err(), "no StorePath field");
        let bad = WRITTEN.replace("NarSize: 3432", "NarSize: lots");
        assert_eq!(NarInfo::parse(&bad).unwrap_err(), "NarSize: not a size: \"lots\"");
        let bad = WRITTEN.replace("/nix/store/ysx76az3lrsi7xp1i0vxbz5j45fg72sf-", "/elsewhere/");
        assert!(NarInfo::parse(&bad).unwrap_err().starts_with("StorePath: not a path in /nix/store"));
        assert_eq!(hash_part("ysx76az3lrsi7xp1i0vxbz5j45fg72sf-x"), Some("ysx76az3lrsi7xp1i0vxbz5j45fg72sf"));
        for bad in ["ysx76az3lrsi7xp1i0vxbz5j45fg72sf", "ysx76az3lrsi7xp1i0vxbz5j45fg72se-x", "short-x"] {
            assert_eq!(hash_part(bad), None, "{bad}");
        }
    }
}
