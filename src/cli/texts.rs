/*!
The prose of the help texts: the main one and one per command. `%options%`, `%commands%`, `%target%`,
`%persist%` and `%download%` stand for what `help` fills in, from the tables or from here.
*/

pub const MAIN_HELP: &str = "\
nix-hug: declarative Hugging Face model and dataset fetching for Nix.

Usage: nix-hug [--debug] COMMAND [ARGS...]

Commands:
%commands%

Options:
%options%

Run `nix-hug COMMAND --help` for the options of a command.

Shell completions come with the Nix package. Elsewhere, print the script and save it where the
shell looks (`--generate complete-zsh` for zsh as `_nix-hug` in a folder of $fpath):
  nix-hug --generate complete-bash > ~/.local/share/bash-completion/completions/nix-hug
  nix-hug --generate complete-fish > ~/.config/fish/completions/nix-hug.fish

Examples:
  nix-hug ls mistralai/Mistral-7B-Instruct-v0.3
  nix-hug fetch mistralai/Mistral-7B-Instruct-v0.3 --include '*.safetensors'
  nix-hug fetch google-bert/bert-base-uncased
  nix-hug export google-bert/bert-base-uncased
  nix-hug import --all
";

/// Where exports go, at the `%persist%` of the commands that use it.
pub const PERSIST_HELP: &str = "\
Persist directory: persist_dir= in $XDG_CONFIG_HOME/nix-hug/config (default:
~/.config/nix-hug/config), or NIX_HUG_PERSIST_DIR, which wins. It is a local Nix binary cache,
uncompressed, with the manifest nix-hug-manifest.json.";

/// What `fetch` and `ls` share (URL forms, options, filters, environment), at their `%target%`.
pub const TARGET_HELP: &str = "\
URL is org/repo, hf:org/repo, datasets/org/repo, hf-datasets:org/repo, or a web address
[https://]huggingface.co/[datasets/]org/repo (or hf.co), whose ?query and #fragment are ignored.
A web address may go on with the ref and the files: /tree/REF; /tree/REF/DIR, the large files
under DIR (as --include 'DIR/*'); /blob/REF/FILE or /resolve/REF/FILE (as --ref REF --file FILE).
A legacy id such as gpt2 may stand for org/repo in each. A bare org/repo is looked up as a model
first, then as a dataset.

Options:
%options%

Filters: --include and --exclude choose among the large (LFS) files; the small files (config,
tokenizer, README) always come along, so the result still loads. In a GLOB, * matches any
characters including /, ? one character and [...] a class. --file takes exactly the files named
and cannot be combined with --include or --exclude.

Environment:
  HF_TOKEN     Token for private and gated repos (else $HF_HOME/token, as `hf auth login` writes it)
  HF_ENDPOINT  A Hub mirror (default: https://huggingface.co)";

/// The environment of a download, at the `%download%` of the commands that download.
pub const DOWNLOAD_HELP: &str = "  TMPDIR       Where the download is assembled before it goes into the store
  HF_HUB_DOWNLOAD_TIMEOUT
               Seconds a download may receive nothing before the attempt is retried (default:
               10); five failed attempts in a row that bring less than 1 MiB more end the fetch";

pub const FETCH_HELP: &str = "\
Download a Hugging Face model or dataset at one commit, add it to the Nix store, and print the
fetchModel/fetchDataset expression that pins it. Building that expression later finds the output
already in the store instead of downloading it again.

Usage: nix-hug fetch URL [OPTIONS]

%target%
%download%

Auto-persist: with auto_persist=true in the config file (or NIX_HUG_AUTO_PERSIST=true), fetch
first looks in the persist directory (see `nix-hug export --help`). An output exported there at the
commit the ref points at, with the same filters, is put back into the store if it was garbage-
collected, without downloading; a fresh download is exported. Only where the ref points is asked
of the Hub, and when it cannot be reached, a ref is looked up by the name it was exported as.

Examples:
  nix-hug fetch google-bert/bert-base-uncased
  nix-hug fetch mistralai/Mistral-7B-Instruct-v0.3 --include '*.safetensors'
  nix-hug fetch datasets/rajpurkar/squad --ref refs/convert/parquet --json
";

pub const LS_HELP: &str = "\
List the files of a Hugging Face model or dataset at one commit, without downloading them: path,
size, LFS for the large files, and + for the files that `nix-hug fetch` with the same filters
takes (- for the others). The last line sums up what that fetch would download.

Usage: nix-hug ls URL [OPTIONS]

%target%

Examples:
  nix-hug ls mistralai/Mistral-7B-Instruct-v0.3
  nix-hug ls mistralai/Mistral-7B-Instruct-v0.3 --include '*.safetensors' --exclude 'consolidated*'
  nix-hug ls google-bert/bert-base-uncased --file config.json
  nix-hug ls datasets/rajpurkar/squad --ref refs/convert/parquet --json
";

pub const REFS_HELP: &str = "\
List the refs of a Hugging Face model or dataset, each with the commit it points at: branches, tags,
conversions (refs/convert/...) and pull requests (refs/pr/N). The first column is what --ref takes.

Usage: nix-hug refs URL [OPTIONS]

Options:
%options%

Examples:
  nix-hug refs google-bert/bert-base-uncased
  nix-hug refs datasets/rajpurkar/squad --json
";

pub const EXPORT_HELP: &str = "\
Fetch a Hugging Face model or dataset as `nix-hug fetch` does (an output still in the Nix store
costs no download), copy it into the persist directory with `nix copy`, record it in the manifest
there, and print the expression. After garbage collection, `nix-hug import` puts it back into the
store without downloading it again.

Usage: nix-hug export URL [OPTIONS]

%target%
%download%

%persist%

Examples:
  nix-hug export openai-community/gpt2
  nix-hug export openai-community/gpt2 --include '*.safetensors'
";

pub const IMPORT_HELP: &str = "\
Put outputs exported with `nix-hug export` back into the Nix store from the persist directory
(`nix copy --from`), without a request to the Hub: those of the repository URL names (at the
commits starting with --ref, when given), or all of them with --all. Outputs still in the store
are skipped. They are content-addressed: Nix checks each one against its hash, so no signature
and no confirmation are needed. An output Nix refuses is reported by name; the others are still
imported, and the exit code is 1.

Usage: nix-hug import URL [OPTIONS]
       nix-hug import --all

Options:
%options%

%persist%

Examples:
  nix-hug import openai-community/gpt2
  nix-hug import openai-community/gpt2 --ref 607a30d
  nix-hug import --all
";

pub const STORE_HELP: &str = "\
The persist directory, where `nix-hug export` keeps models and datasets across garbage collection.

Usage: nix-hug store COMMAND

Commands:
%commands%

Options:
%options%

%persist%

Examples:
  nix-hug store ls
  nix-hug store path
";

pub const STORE_LS_HELP: &str = "\
List the outputs exported to the persist directory: repository, type, commit, size, when it was
exported, whether it is still in the Nix store or was garbage-collected (until `nix-hug import`
puts it back), and its filters, as the globs they were made from.

Usage: nix-hug store ls [OPTIONS]

Options:
%options%

%persist%

Examples:
  nix-hug store ls
  nix-hug store ls --json
";

pub const STORE_PATH_HELP: &str = "\
Print the persist directory.

Usage: nix-hug store path

Options:
%options%

%persist%

Examples:
  nix-hug store path
  ls \"$(nix-hug store path)\"
";
