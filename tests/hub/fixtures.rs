//! The fixture repos, built in code so that every run serves the same bytes. The model and the
//! dataset are real enough for `transformers` and `datasets` to load from the fetched cache; the space
//! is a small Gradio app.

use super::{Commit, File, Kind, Repo, fake_sha};
use serde_json::json;

const VOCAB: &[&str] = &[
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "an", "of", "to", "and", "in", "is", "it", "that", "for",
    "on", "with", "as", "was", "hello", "world", "nix", "hug", "model", "data", "set", "test", "tiny", "bert", "token",
    "##s", "##ing", "##ed", ".", ",",
];

/// Model `acme/tiny-bert`, once called `acme/bert-tiny`: commit 2 on `main`, commit 1 on `v1.0` and
/// `refs/pr/1`.
pub fn tiny_bert() -> Repo {
    let vocab: String = VOCAB.iter().map(|w| format!("{w}\n")).collect();
    let config = json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": VOCAB.len(),
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 37,
        "hidden_act": "gelu",
        "max_position_embeddings": 64,
        "type_vocab_size": 2,
        "pad_token_id": 0,
    });
    let special = json!({
        "cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]",
        "sep_token": "[SEP]", "unk_token": "[UNK]",
    });
    let common = vec![
        File::new("config.json", pretty(&config)),
        File::new("tokenizer_config.json", pretty(&json!({"do_lower_case": true, "tokenizer_class": "BertTokenizer"}))),
        File::new("vocab.txt", vocab),
        File::new("special_tokens_map.json", pretty(&special)),
        File::lfs("model.safetensors", safetensors()),
    ];
    let v1 = [File::new("README.md", "# tiny-bert\n\nFirst version.\n")];
    let v2 = [
        File::new("README.md", "---\nlicense: mit\n---\n# tiny-bert\n\nA tiny BERT for tests.\n"),
        File::new("nested/deeper/notes.txt", "notes in a nested folder\n"),
        File::new("with space.txt", "a name with a space\n"),
        File::new("unicod\u{e9} \u{fc}n\u{ef}.txt", "a non-ASCII name\n"),
        File::new("odd#name?x%.txt", "a name with URL metacharacters\n"),
        File::lfs("onnx/model.onnx", noise(5000)),
    ];
    let (sha1, sha2) = (fake_sha("tiny-bert-1"), fake_sha("tiny-bert-2"));
    Repo {
        kind: Kind::Model,
        id: "acme/tiny-bert".into(),
        commits: vec![
            Commit { sha: sha1.clone(), files: common.iter().cloned().chain(v1).collect() },
            Commit { sha: sha2.clone(), files: common.into_iter().chain(v2).collect() },
        ],
        refs: vec![("main".into(), sha2), ("v1.0".into(), sha1.clone()), ("refs/pr/1".into(), sha1)],
        token: None,
        old_ids: vec!["acme/bert-tiny".into()],
    }
}

/// Dataset `acme/tiny-ds`: the README's `configs:` header points `datasets` at the parquet file.
pub fn tiny_dataset() -> Repo {
    let readme = "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train.parquet\n---\n# tiny-ds\n";
    single_commit(
        Kind::Dataset,
        "acme/tiny-ds",
        "tiny-ds-1",
        vec![
            File::new("README.md", readme),
            File::lfs("data/train.parquet", include_bytes!("fixtures/train.parquet").as_slice()),
            File::new("data/extra.json", "{\"note\": \"not part of the train split\"}\n"),
        ],
    )
}

/// Space `acme/tiny-space`: a Gradio app whose images are LFS files.
pub fn tiny_space() -> Repo {
    let readme = "---\ntitle: Tiny space\nsdk: gradio\nsdk_version: 5.0.0\napp_file: app.py\n---\n# tiny-space\n";
    let app = "import gradio as gr\n\ngr.Interface(fn=str.upper, inputs=\"text\", outputs=\"text\").launch()\n";
    single_commit(
        Kind::Space,
        "acme/tiny-space",
        "tiny-space-1",
        vec![
            File::new("README.md", readme),
            File::new("app.py", app),
            File::new("requirements.txt", "gradio\n"),
            File::lfs("assets/logo.png", noise(500)),
            File::lfs("examples/cat.png", noise(2000)),
        ],
    )
}

/// Model `acme/many-files`: 1,234 files in `dNN/sN/` folders, more than one tree page.
pub fn many_files() -> Repo {
    let files = (0..1234)
        .map(|i| File::new(&format!("d{:02}/s{}/f{i:04}.txt", i / 100, i / 10 % 10), format!("file {i}\n")))
        .collect();
    single_commit(Kind::Model, "acme/many-files", "many-files-1", files)
}

/// Model `acme/huge`: `n` small files, 1,000 to a folder (`dNNN/fNNNNNN.txt`), every 1,000th of them
/// LFS: a listing of `n / 1000` pages.
pub fn huge(n: usize) -> Repo {
    let files = (0..n)
        .map(|i| {
            let path = format!("d{:03}/f{i:06}.txt", i / 1000);
            if i % 1000 == 999 { File::lfs(&path, format!("large {i}\n")) } else { File::new(&path, format!("{i}\n")) }
        })
        .collect();
    single_commit(Kind::Model, "acme/huge", "huge-1", files)
}

/// Model `acme/large`: two LFS shards large enough for bars of their own in the progress of a fetch
/// (12 MiB and 9 MiB, of the same MiB of noise over and over), beside a config.
pub fn large() -> Repo {
    let mib = noise(1 << 20);
    let files = vec![
        File::new("config.json", "{\"model_type\": \"bert\"}\n"),
        File::lfs("model-00001-of-00002.safetensors", mib.repeat(12)),
        File::lfs("model-00002-of-00002.safetensors", mib.repeat(9)),
    ];
    single_commit(Kind::Model, "acme/large", "large-1", files)
}

/// Model `acme/gated`: needs `Authorization: Bearer hf_testtoken`.
pub fn gated() -> Repo {
    let files = vec![File::new("config.json", "{\"model_type\": \"bert\"}\n"), File::lfs("weights.bin", noise(300))];
    Repo { token: Some("hf_testtoken".into()), ..single_commit(Kind::Model, "acme/gated", "gated-1", files) }
}

/// Model `openai-community/gpt2`, which the legacy id `gpt2` redirects to, as on the real Hub.
pub fn gpt2() -> Repo {
    let config = json!({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_layer": 2});
    let files = vec![
        File::new("config.json", pretty(&config)),
        File::new("README.md", "# gpt2\n\nA stand-in for the legacy id.\n"),
        File::lfs("model.safetensors", safetensors()),
    ];
    Repo { old_ids: vec!["gpt2".into()], ..single_commit(Kind::Model, "openai-community/gpt2", "gpt2-1", files) }
}

/// Dataset `rajpurkar/squad`, which the legacy id `squad` redirects to.
pub fn squad() -> Repo {
    let files = vec![
        File::new("README.md", "# squad\n"),
        File::lfs("plain_text/train.parquet", include_bytes!("fixtures/train.parquet").as_slice()),
    ];
    Repo { old_ids: vec!["squad".into()], ..single_commit(Kind::Dataset, "rajpurkar/squad", "squad-1", files) }
}

/// A GGUF file of `fixtures/gguf/`, written by `tests/python/make_gguf.py`, as an LFS file at `path`.
macro_rules! gguf {
    ($repo:literal, $path:literal) => {
        File::lfs($path, include_bytes!(concat!("fixtures/gguf/", $repo, "/", $path)).as_slice())
    };
}

/// Model `acme/tiny-gguf`: three quants, one of them split in three shards in a folder of its own, and
/// two multimodal projectors, as llama.cpp repos have them.
pub fn tiny_gguf() -> Repo {
    let files = vec![
        File::new("README.md", "---\nlibrary_name: gguf\n---\n# tiny-gguf\n"),
        gguf!("tiny-gguf", "tiny-IQ2_XS.gguf"),
        gguf!("tiny-gguf", "tiny-Q8_0.gguf"),
        gguf!("tiny-gguf", "Q4_K_M/tiny-Q4_K_M-00001-of-00003.gguf"),
        gguf!("tiny-gguf", "Q4_K_M/tiny-Q4_K_M-00002-of-00003.gguf"),
        gguf!("tiny-gguf", "Q4_K_M/tiny-Q4_K_M-00003-of-00003.gguf"),
        gguf!("tiny-gguf", "mmproj-BF16.gguf"),
        gguf!("tiny-gguf", "mmproj-F16.gguf"),
    ];
    single_commit(Kind::Model, "acme/tiny-gguf", "tiny-gguf-1", files)
}

/// Model `acme/one-gguf`: one quant, no multimodal projector.
pub fn one_gguf() -> Repo {
    let files = vec![File::new("README.md", "# one-gguf\n"), gguf!("one-gguf", "one-Q8_0.gguf")];
    single_commit(Kind::Model, "acme/one-gguf", "one-gguf-1", files)
}

pub fn all() -> Vec<Repo> {
    vec![tiny_bert(), tiny_dataset(), tiny_space(), many_files(), gated(), gpt2(), squad(), tiny_gguf(), one_gguf()]
}

fn single_commit(kind: Kind, id: &str, seed: &str, files: Vec<File>) -> Repo {
    let sha = fake_sha(seed);
    Repo {
        kind,
        id: id.into(),
        commits: vec![Commit { sha: sha.clone(), files }],
        refs: vec![("main".into(), sha)],
        token: None,
        old_ids: Vec::new(),
    }
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

/// A valid safetensors file: u64 LE header length, JSON header padded with spaces to a multiple
/// of 8, then one F32 tensor of shape [2, 3].
fn safetensors() -> Vec<u8> {
    let mut header = r#"{"weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#.to_string();
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    for x in [0.5f32, -1.0, 2.0, 0.25, 3.5, -0.75] {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// Deterministic incompressible-looking bytes (xorshift64).
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect()
}
