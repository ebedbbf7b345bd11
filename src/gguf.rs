/*!
GGUF quantizations, found as llama.cpp's `-hf org/repo:QUANT` finds them: what a GGUF file's name says
(`tiny-Q4_K_M.gguf`, `Q4_K_M/tiny-Q4_K_M-00001-of-00003.gguf`, `mmproj-F16.gguf`), the quants of a
listing, and the files each one takes. Pure: paths and sizes in, paths out.

The quant is the last word of the name, after a `-` or a `.`, once the shard suffix and `.gguf` are
off; it looks like a ggml type (`Q4_K_M`, `IQ2_XS`, `TQ1_0`, `F16`, `BF16`, `MXFP4_MOE`), with the
`UD-` of Unsloth's dynamic quants kept (`UD-Q4_K_XL`), so that a name's other words (`8B`, `v2`,
`Instruct`) are never taken for one. The folder a quant's shards are in plays no part, as in llama.cpp.
*/

use regex::Regex;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// `-00001-of-00003` at the end of a name without `.gguf`, as `llama-gguf-split` writes it.
static SHARD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(.*)-([0-9]{5})-of-([0-9]{5})$").expect("a valid regex"));

/// The quant at the end of a file name without `.gguf` and shard suffix.
static QUANT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[-.])((?:UD-)?(?:I?Q[0-9]|TQ[0-9]|B?F[0-9]|MXFP[0-9]|NVFP[0-9])[A-Z0-9_]*)$")
        .expect("a valid regex")
});

/// The multimodal projector preferred when a repo has several: F16 loads on every backend.
const MMPROJ_QUANT: &str = "F16";

/// What the path of a GGUF file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    /// The path without the shard suffix and `.gguf`: what the shards of one model share.
    pub model: String,
    /// The quant, upper-cased (`Q4_K_M`, `UD-Q4_K_XL`, `BF16`); `None` when the name ends in none.
    pub quant: Option<String>,
    /// Shard `i` of `n`.
    pub shard: Option<(u32, u32)>,
    /// A multimodal projector (`mmproj` in the file name), which goes with a model rather than being one.
    pub mmproj: bool,
}

impl Name {
    /// `None` for a path that does not end in `.gguf`.
    pub fn parse(path: &str) -> Option<Name> {
        let stem = path.strip_suffix(".gguf")?;
        let (model, shard) = match SHARD.captures(stem) {
            Some(c) => (c.get(1).map_or("", |m| m.as_str()), Some((c[2].parse().ok()?, c[3].parse().ok()?))),
            None => (stem, None),
        };
        let base = model.rsplit('/').next().unwrap_or(model);
        Some(Name {
            model: model.to_owned(),
            quant: QUANT.captures(base).map(|c| c[1].to_ascii_uppercase()),
            shard,
            mmproj: base.contains("mmproj"),
        })
    }
}

/// A quant of a repository: the files `org/repo:QUANT` takes. Serialised as `ls --json` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Quant {
    /// Upper-cased, as the file names spell it otherwise: `Q4_K_M`.
    #[serde(rename = "quant")]
    pub name: String,
    /// The model's files, in lexical order: one, or every shard.
    pub files: Vec<String>,
    /// The size of `files`.
    pub bytes: u64,
    /// The multimodal projector that goes with the model, if the repo has one.
    pub mmproj: Option<String>,
}

impl Quant {
    /// Every file the quant takes: the model's, then the mmproj.
    pub fn paths(&self) -> Vec<String> {
        self.files.iter().chain(&self.mmproj).cloned().collect()
    }
}

/// The quants of a listing of paths and sizes, smallest first. A model is its files of one name and one
/// number of shards; when several models of a repo have the same quant, it takes the first in lexical
/// order, as llama.cpp does.
pub fn quants<'a>(listing: impl IntoIterator<Item = (&'a str, u64)>) -> Vec<Quant> {
    let mut ggufs: Vec<(&str, u64, Name)> =
        listing.into_iter().filter_map(|(path, size)| Some((path, size, Name::parse(path)?))).collect();
    ggufs.sort_by(|a, b| a.0.cmp(b.0));
    let mmprojs: Vec<(&str, &Name)> = ggufs.iter().filter(|g| g.2.mmproj).map(|g| (g.0, &g.2)).collect();
    let mut found: BTreeMap<&str, ((&str, Option<u32>), Quant)> = BTreeMap::new();
    for (path, size, name) in &ggufs {
        let Some(quant) = name.quant.as_deref().filter(|_| !name.mmproj) else { continue };
        let this = (name.model.as_str(), name.shard.map(|(_, n)| n));
        let (model, q) = found
            .entry(quant)
            .or_insert_with(|| (this, Quant { name: quant.to_owned(), files: Vec::new(), bytes: 0, mmproj: None }));
        if *model == this {
            q.files.push((*path).to_owned());
            q.bytes += size;
        }
    }
    let mut quants: Vec<Quant> =
        found.into_values().map(|(_, q)| Quant { mmproj: mmproj_for(&q.files[0], &mmprojs), ..q }).collect();
    quants.sort_by(|a, b| a.bytes.cmp(&b.bytes).then_with(|| a.name.cmp(&b.name)));
    quants
}

/// The quant `tag` names, in any case.
pub fn find<'a>(quants: &'a [Quant], tag: &str) -> Option<&'a Quant> {
    quants.iter().find(|q| q.name.eq_ignore_ascii_case(tag))
}

/// The mmproj of the model at `model`: one in the model's folder or a folder above it, the nearest, an
/// F16 one rather than another, then the first in lexical order (`mmprojs` is in that order).
fn mmproj_for(model: &str, mmprojs: &[(&str, &Name)]) -> Option<String> {
    let model_folder = folder(model);
    let above = |dir: &str| {
        dir.is_empty() || model_folder == dir || model_folder.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
    };
    let candidates = mmprojs.iter().filter(|(path, _)| above(folder(path)));
    let depth = |path: &str| folder(path).split('/').filter(|s| !s.is_empty()).count();
    let best = candidates
        .min_by_key(|(path, name)| (std::cmp::Reverse(depth(path)), name.quant.as_deref() != Some(MMPROJ_QUANT)))?;
    Some(best.0.to_owned())
}

/// The folder of a repo path: `""` at the top.
fn folder(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn name(model: &str, quant: Option<&str>, shard: Option<(u32, u32)>, mmproj: bool) -> Name {
        Name { model: model.into(), quant: quant.map(Into::into), shard, mmproj }
    }

    #[test]
    fn names() {
        let cases = [
            ("tiny-Q4_K_M.gguf", name("tiny-Q4_K_M", Some("Q4_K_M"), None, false)),
            ("Llama-3.2-1B-Instruct-q8_0.gguf", name("Llama-3.2-1B-Instruct-q8_0", Some("Q8_0"), None, false)),
            ("llama-2-7b.Q4_K_S.gguf", name("llama-2-7b.Q4_K_S", Some("Q4_K_S"), None, false)),
            ("Q4_K_M/tiny-Q4_K_M-00002-of-00003.gguf", name("Q4_K_M/tiny-Q4_K_M", Some("Q4_K_M"), Some((2, 3)), false)),
            (
                "UD-Q4_K_XL/Qwen3-30B-UD-Q4_K_XL-00001-of-00002.gguf",
                name("UD-Q4_K_XL/Qwen3-30B-UD-Q4_K_XL", Some("UD-Q4_K_XL"), Some((1, 2)), false),
            ),
            ("Qwen3-8B-UD-IQ1_S.gguf", name("Qwen3-8B-UD-IQ1_S", Some("UD-IQ1_S"), None, false)),
            ("tiny-IQ2_XS.gguf", name("tiny-IQ2_XS", Some("IQ2_XS"), None, false)),
            ("tiny-TQ1_0.gguf", name("tiny-TQ1_0", Some("TQ1_0"), None, false)),
            ("gpt-oss-20b-MXFP4.gguf", name("gpt-oss-20b-MXFP4", Some("MXFP4"), None, false)),
            ("tiny-bf16.gguf", name("tiny-bf16", Some("BF16"), None, false)),
            ("tiny-f16.gguf", name("tiny-f16", Some("F16"), None, false)),
            ("tiny-Q4_0_4_4.gguf", name("tiny-Q4_0_4_4", Some("Q4_0_4_4"), None, false)),
            ("F16.gguf", name("F16", Some("F16"), None, false)),
            ("mmproj-F16.gguf", name("mmproj-F16", Some("F16"), None, true)),
            ("mmproj-model-f16.gguf", name("mmproj-model-f16", Some("F16"), None, true)),
            ("vision/tiny-mmproj.gguf", name("vision/tiny-mmproj", None, None, true)),
            // Words that are not quants.
            ("tiny-8B.gguf", name("tiny-8B", None, None, false)),
            ("tiny-v2.gguf", name("tiny-v2", None, None, false)),
            ("tiny-Instruct.gguf", name("tiny-Instruct", None, None, false)),
            ("imatrix.gguf", name("imatrix", None, None, false)),
            ("tinyQ4_K_M.gguf", name("tinyQ4_K_M", None, None, false)),
            // A folder named after a quant does not make one.
            ("Q4_K_M/model.gguf", name("Q4_K_M/model", None, None, false)),
            // Five digits, as llama-gguf-split writes them.
            ("tiny-Q8_0-0001-of-0002.gguf", name("tiny-Q8_0-0001-of-0002", None, None, false)),
        ];
        for (path, want) in cases {
            assert_eq!(Name::parse(path).as_ref(), Some(&want), "{path}");
        }
        assert_eq!(Name::parse("tiny-Q4_K_M.safetensors"), None);
        assert_eq!(Name::parse("tiny-Q4_K_M.GGUF"), None, "llama.cpp takes only .gguf");
    }

    fn listing() -> Vec<(&'static str, u64)> {
        vec![
            ("README.md", 10),
            ("tiny-Q8_0.gguf", 800),
            ("tiny-IQ2_XS.gguf", 200),
            ("Q4_K_M/tiny-Q4_K_M-00002-of-00003.gguf", 150),
            ("Q4_K_M/tiny-Q4_K_M-00001-of-00003.gguf", 150),
            ("Q4_K_M/tiny-Q4_K_M-00003-of-00003.gguf", 100),
            ("mmproj-BF16.gguf", 50),
            ("mmproj-F16.gguf", 50),
            ("model.safetensors", 5000),
        ]
    }

    #[test]
    fn quants_of_a_listing() {
        let quants = quants(listing());
        let shards = (1..=3).map(|i| format!("Q4_K_M/tiny-Q4_K_M-0000{i}-of-00003.gguf")).collect();
        let mmproj = Some("mmproj-F16.gguf".to_owned());
        assert_eq!(
            quants,
            vec![
                Quant {
                    name: "IQ2_XS".into(),
                    files: vec!["tiny-IQ2_XS.gguf".into()],
                    bytes: 200,
                    mmproj: mmproj.clone()
                },
                Quant { name: "Q4_K_M".into(), files: shards, bytes: 400, mmproj: mmproj.clone() },
                Quant { name: "Q8_0".into(), files: vec!["tiny-Q8_0.gguf".into()], bytes: 800, mmproj },
            ]
        );
        assert_eq!(find(&quants, "q4_k_m").map(|q| q.paths().len()), Some(4));
        assert_eq!(find(&quants, "Q4_K"), None, "a tag names a quant, not the start of one");
        assert_eq!(super::quants([("README.md", 1), ("model.safetensors", 2)]), vec![]);
    }

    #[test]
    fn the_first_model_of_a_quant_in_lexical_order() {
        let quants = quants([
            ("b-Q8_0.gguf", 5),
            ("a-Q8_0-00002-of-00002.gguf", 1),
            ("a-Q8_0-00001-of-00002.gguf", 1),
            ("a-Q8_0-00002-of-00003.gguf", 1),
        ]);
        assert_eq!(quants[0].files, ["a-Q8_0-00001-of-00002.gguf", "a-Q8_0-00002-of-00002.gguf"]);
        assert_eq!(quants[0].bytes, 2, "a shard of another split is another model");
    }

    #[test]
    fn the_mmproj_nearest_the_model() {
        let mmproj = |listing: &[(&'static str, u64)]| quants(listing.iter().copied()).remove(0).mmproj;
        assert_eq!(mmproj(&[("m-Q8_0.gguf", 1)]), None);
        assert_eq!(mmproj(&[("m-Q8_0.gguf", 1), ("mmproj-F32.gguf", 1)]).as_deref(), Some("mmproj-F32.gguf"));
        let nested =
            [("a/b/m-Q8_0.gguf", 1), ("mmproj-F16.gguf", 1), ("a/mmproj-F32.gguf", 1), ("c/mmproj-F16.gguf", 1)];
        assert_eq!(mmproj(&nested).as_deref(), Some("a/mmproj-F32.gguf"), "the nearest folder above the model");
        assert_eq!(mmproj(&[("ab/m-Q8_0.gguf", 1), ("a/mmproj-F16.gguf", 1)]), None, "a/ is not above ab/");
    }

    proptest! {
        #[test]
        fn written_names_read_back(
            model in "[A-Za-z0-9]([A-Za-z0-9._-]{0,12}[A-Za-z0-9])?",
            folder in proptest::option::of("[A-Za-z0-9_-]{1,8}/"),
            quant in "(UD-)?(I?Q[2-8]|TQ[12]|B?F(16|32)|MXFP4)(_[A-Z0-9]{1,3}){0,3}",
            sep in "[-.]",
            shard in proptest::option::of((1u32..99999).prop_flat_map(|n| (1..=n, Just(n)))),
            lower in any::<bool>(),
        ) {
            let written = if lower { quant.to_ascii_lowercase() } else { quant.clone() };
            let stem = format!("{}{model}{sep}{written}", folder.unwrap_or_default());
            let path = match shard {
                Some((i, n)) => format!("{stem}-{i:05}-of-{n:05}.gguf"),
                None => format!("{stem}.gguf"),
            };
            let name = Name::parse(&path).unwrap();
            prop_assert_eq!(name.shard, shard);
            prop_assert_eq!(&name.model, &stem);
            // A model name ending in `-UD` gives `UD-…` its `UD-`; anything else reads back as written.
            let quant = if name.quant.as_deref() == Some(&format!("UD-{quant}")) { format!("UD-{quant}") } else { quant };
            prop_assert_eq!(name.quant, Some(quant));
        }
    }
}
